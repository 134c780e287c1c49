"""The store: a project's tasks, attempts, workers, claims, events and inboxes, shared safely by
the supervisor, the worker hosts and the views.

``Store`` is the only way in: callers get frozen records (``czar.store.records``), never rows,
and pass the transaction they hold (``Tx``) to its queries. The queries live in one module per
table, gathered here; the database under them is a port (``czar.store.database``). After a write
commits, the project's doorbell rings so that waiting readers wake.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from czar.core.events import EventKind
from czar.core.host_commands import Posted
from czar.errors import StoreError
from czar.paths import ProjectPaths
from czar.store import doorbell
from czar.store.attempts import Attempts
from czar.store.claims import Claims
from czar.store.database import Database, Tx
from czar.store.events import Event, Events
from czar.store.inbox import Inbox
from czar.store.meta import Meta
from czar.store.pulls import Pulls
from czar.store.radar import RadarFindings
from czar.store.records import Task, Worker
from czar.store.reviews import Reviews
from czar.store.sqlite import SqliteDatabase
from czar.store.tasks import Tasks, TransitionRefused
from czar.store.workers import Workers

__all__ = ["Event", "Posted", "Store", "TransitionRefused", "Tx"]


class Store(Events, Tasks, Workers, Attempts, Claims, RadarFindings, Inbox, Meta, Pulls, Reviews):
    """Tasks, attempts, workers, events and inboxes of one project."""

    def __init__(self, paths: ProjectPaths, database: Database | None = None) -> None:
        self.paths = paths
        if database is None:
            try:
                paths.ensure()
            except OSError as exc:
                raise StoreError(f"cannot open the store at {paths.db}: {exc.strerror or exc}") from exc
            database = SqliteDatabase(paths.db)
        self.db = database

    def close(self) -> None:
        self.db.close()

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A short write transaction; after it commits, rings the bells of those it concerns.

        ``emit`` marks the observers (supervisor, followers), ``post`` the addressed worker; a
        write that marks nobody rings the observers, to be safe.
        """
        with self.db.write() as conn:
            conn.info.pop("czar_workers", None)
            conn.info.pop("czar_observers", None)
            yield conn
            workers_rung: set[str] = conn.info.pop("czar_workers", set())
            observers = conn.info.pop("czar_observers", not workers_rung)
        doorbell.ring(self.paths.bells, workers=workers_rung, observers=observers)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A consistent read snapshot."""
        with self.db.read() as conn:
            yield conn

    def listen(self, name: str) -> doorbell.Listener:
        """An observer's doorbell: rung by every event."""
        return doorbell.Listener(self.paths.bells, name)

    def listen_as_worker(self, worker_id: str) -> doorbell.Listener:
        """A worker host's doorbell: rung only by commands posted to that worker."""
        return doorbell.Listener(self.paths.bells, doorbell.worker_bell(worker_id))

    # -- reads in a transaction of their own -------------------------------------------------

    def last_event_id(self) -> int:
        with self.read() as conn:
            return self.newest_event_id(conn) or 0

    def events_after(self, after: int = 0, limit: int = 1000, kinds: Sequence[EventKind] = ()) -> list[Event]:
        """Events with ids above ``after``, oldest first; only of ``kinds`` if given."""
        with self.read() as conn:
            return self.read_events(conn, after, limit, kinds)

    def all_events_after(self, after: int = 0, kinds: Sequence[EventKind] = ()) -> list[Event]:
        """Every event with an id above ``after`` (of ``kinds``, if given), read page by page."""
        found: list[Event] = []
        while batch := self.events_after(after, limit=10_000, kinds=kinds):
            found += batch
            after = batch[-1].id
        return found

    def tasks(self) -> list[Task]:
        with self.read() as conn:
            return self.all_tasks(conn)

    def workers(self) -> list[Worker]:
        with self.read() as conn:
            return self.all_workers(conn)

    def open_commands(self, worker_id: str) -> list[Posted]:
        with self.read() as conn:
            return self.queued(conn, worker_id)
