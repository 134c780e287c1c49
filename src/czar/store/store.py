"""The store: SQLite in WAL mode, shared safely by the supervisor, worker hosts and views.

Writes take the write lock up front (``BEGIN IMMEDIATE``) and stay short; no transaction is held
across I/O. After a write commits, the project's doorbell rings so that waiting readers wake.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, case, create_engine, event, func, insert, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DatabaseError, OperationalError

from czar.core import host_commands
from czar.core.events import EventKind
from czar.core.host_commands import HostCommand, Unreadable
from czar.core.states import TaskState, WorkerState, can_transition
from czar.errors import StoreError
from czar.paths import ProjectPaths
from czar.store import doorbell
from czar.store.schema import attempts, events, inbox, meta, migrate, tasks, workers


@dataclass(frozen=True)
class Event:
    id: int
    ts: float
    kind: str
    actor: str
    task_id: str | None
    worker_id: str | None
    attempt_id: int | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class Posted:
    """An inbox row: a command one worker host must carry out, once."""

    id: int
    worker_id: str
    command: HostCommand | Unreadable


class TransitionRefused(StoreError):
    """A task was asked to move along a transition the table does not allow."""


LOCK_WAIT_SECONDS = 30.0  # how long a write waits for the lock before it fails


def _engine(paths: ProjectPaths) -> Engine:
    engine = create_engine(
        f"sqlite:///{paths.db}",
        connect_args={"check_same_thread": False, "timeout": 30},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves; pysqlite's implicit transactions would defer the lock.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_SECONDS * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("czar_write", False):
            _begin_immediate(conn)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _begin_immediate(conn: Connection) -> None:
    """Take the write lock, retrying every millisecond or so while another process holds it.

    SQLite's own busy handler backs off to sleeps of up to 100 ms: with a hundred worker hosts
    writing short transactions, that costs the supervisor whole tenths of a second per decision.
    """
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        pause = 0.0005
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 1.5, 0.004)
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(LOCK_WAIT_SECONDS * 1000)}")


def _owner_only(paths: ProjectPaths) -> None:
    """The store readable and writable by its owner only (0600), its -wal and -shm too.

    Created with that mode before SQLite opens it (SQLite gives its -wal and -shm the database's
    mode), and an older store's files put right; a file czar may not change is left as it is.
    """
    with contextlib.suppress(OSError):
        os.close(os.open(paths.db, os.O_RDWR | os.O_CREAT, 0o600))
    for path in (paths.db, paths.db.with_name(paths.db.name + "-wal"), paths.db.with_name(paths.db.name + "-shm")):
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)


class Store:
    """Tasks, attempts, workers, events and inboxes of one project."""

    def __init__(self, paths: ProjectPaths) -> None:
        self.paths = paths
        try:
            paths.ensure()
        except OSError as exc:
            raise StoreError(f"cannot open the store at {paths.db}: {exc.strerror or exc}") from exc
        _owner_only(paths)
        try:
            self.engine = _engine(paths)
            with self.write() as conn:
                migrate(conn)
        except StoreError as exc:
            raise StoreError(f"cannot open {exc}") from exc
        except RuntimeError as exc:
            raise StoreError(f"cannot open the store at {paths.db}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    # -- transactions ------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A short write transaction; after it commits, rings the bells of those it concerns.

        ``emit`` marks the observers (supervisor, followers), ``post`` the addressed worker; a
        write that marks nobody rings the observers, to be safe.
        """
        with self._unusable(), self.engine.connect() as conn:
            conn.execution_options(czar_write=True)
            with conn.begin():
                yield conn
            workers_rung: set[str] = conn.info.pop("czar_workers", set())
            observers = conn.info.pop("czar_observers", not workers_rung)
        doorbell.ring(self.paths.bells, workers=workers_rung, observers=observers)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A consistent read snapshot."""
        with self._unusable(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _unusable(self) -> Iterator[None]:
        """SQLite's refusals (a removed -wal file, a read-only file or folder, a damaged file) as
        one line for a person, in SQLite's own words: SQLAlchemy's text adds a second line."""
        try:
            yield
        except OperationalError as exc:
            raise StoreError(f"the store at {self.paths.db}: {exc.orig or exc}") from exc
        except DatabaseError as exc:
            if type(exc) is not DatabaseError:  # integrity and programming errors are czar's bugs
                raise
            raise StoreError(f"the store at {self.paths.db}: {exc.orig or exc}") from exc

    def listen(self, name: str) -> doorbell.Listener:
        """An observer's doorbell: rung by every event."""
        return doorbell.Listener(self.paths.bells, name)

    def listen_as_worker(self, worker_id: str) -> doorbell.Listener:
        """A worker host's doorbell: rung only by commands posted to that worker."""
        return doorbell.Listener(self.paths.bells, doorbell.worker_bell(worker_id))

    # -- events ------------------------------------------------------------------------------

    @staticmethod
    def emit(
        conn: Connection,
        kind: EventKind,
        *,
        actor: str = "supervisor",
        task: str | None = None,
        worker: str | None = None,
        attempt: int | None = None,
        **payload: Any,
    ) -> int:
        """Append one event; returns its id."""
        conn.info["czar_observers"] = True
        result = conn.execute(
            insert(events).values(
                ts=time.time(),
                kind=kind.value,
                actor=actor,
                task_id=task,
                worker_id=worker,
                attempt_id=attempt,
                payload=json.dumps(payload, sort_keys=True, default=str),
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    @staticmethod
    def alert(
        conn: Connection,
        level: str,
        message: str,
        *,
        task: str | None = None,
        worker: str | None = None,
        actor: str = "supervisor",
        **evidence: Any,
    ) -> int:
        """Raise an alert for people: ``warning`` (needs a look) or ``critical`` (needs a person)."""
        return Store.emit(
            conn, EventKind.ALERT, actor=actor, task=task, worker=worker, level=level, message=message, **evidence
        )

    def last_event_id(self) -> int:
        with self.read() as conn:
            return int(conn.execute(select(func.max(events.c.id))).scalar_one() or 0)

    def events_after(self, after: int = 0, limit: int = 1000, kinds: Sequence[EventKind] = ()) -> list[Event]:
        """Events with ids above ``after``, oldest first; only of ``kinds`` if given."""
        query = select(events).where(events.c.id > after)
        if kinds:
            query = query.where(events.c.kind.in_(kinds))
        with self.read() as conn:
            rows = conn.execute(query.order_by(events.c.id).limit(limit)).all()
        return [
            Event(
                id=r.id,
                ts=r.ts,
                kind=r.kind,
                actor=r.actor,
                task_id=r.task_id,
                worker_id=r.worker_id,
                attempt_id=r.attempt_id,
                payload=json.loads(r.payload),
            )
            for r in rows
        ]

    # -- tasks -------------------------------------------------------------------------------

    @staticmethod
    def move_task(
        conn: Connection,
        task_id: str,
        new: TaskState,
        *,
        reason: str,
        actor: str = "supervisor",
        expect: TaskState | Sequence[TaskState] | None = None,
        **fields: Any,
    ) -> TaskState:
        """Move a task to ``new`` if the table allows it, and log why. Returns the old state.

        ``expect`` guards against a race: if the task is not in (one of) those states, the
        move is refused with ``TransitionRefused`` and nothing is written.
        """
        row = conn.execute(select(tasks.c.state).where(tasks.c.id == task_id)).first()
        if row is None:
            raise StoreError(f"unknown task {task_id!r}")
        old = TaskState(row.state)
        allowed = (expect,) if isinstance(expect, TaskState) else tuple(expect or ())
        if (allowed and old not in allowed) or not can_transition(old, new):
            raise TransitionRefused(f"task {task_id}: {old} -> {new} refused")
        conn.execute(
            update(tasks).where(tasks.c.id == task_id).values(state=new.value, updated_at=time.time(), **fields)
        )
        Store.emit(conn, EventKind.TASK_STATE, actor=actor, task=task_id, old=old.value, new=new.value, reason=reason)
        return old

    @staticmethod
    def task_row(conn: Connection, task_id: str) -> Any:
        row = conn.execute(select(tasks).where(tasks.c.id == task_id)).first()
        if row is None:
            raise StoreError(f"unknown task {task_id!r}")
        return row

    @staticmethod
    def attempt_row(conn: Connection, attempt_id: int) -> Any:
        row = conn.execute(select(attempts).where(attempts.c.id == attempt_id)).first()
        if row is None:
            raise StoreError(f"unknown attempt {attempt_id}")
        return row

    @staticmethod
    def attempt_update(attempt_id: int, **values: Any) -> Any:
        """An UPDATE of one attempt's columns, to execute inside a transaction."""
        return update(attempts).where(attempts.c.id == attempt_id).values(**values)

    def tasks(self) -> list[Any]:
        with self.read() as conn:
            return list(conn.execute(select(tasks).order_by(tasks.c.ord)).all())

    def workers(self) -> list[Any]:
        with self.read() as conn:
            return list(conn.execute(select(workers).order_by(workers.c.id)).all())

    # -- workers -----------------------------------------------------------------------------

    @staticmethod
    def set_worker(conn: Connection, worker_id: str, **fields: Any) -> None:
        now = time.time()
        fields.setdefault("updated_at", now)
        if "state" in fields:
            fields["state"] = WorkerState(fields["state"]).value
            # ``state_since`` keeps the time the state last really changed.
            fields.setdefault(
                "state_since", case((workers.c.state != fields["state"], now), else_=workers.c.state_since)
            )
        conn.execute(update(workers).where(workers.c.id == worker_id).values(**fields))

    @staticmethod
    def worker_row(conn: Connection, worker_id: str) -> Any:
        row = conn.execute(select(workers).where(workers.c.id == worker_id)).first()
        if row is None:
            raise StoreError(f"unknown worker {worker_id!r}")
        return row

    # -- settings the run shares with processes that have no plan ---------------------------

    @staticmethod
    def set_meta(conn: Connection, key: str, value: Any) -> None:
        stmt = sqlite_insert(meta).values(key=key, value=json.dumps(value))
        conn.execute(stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": stmt.excluded.value}))

    @staticmethod
    def get_meta(conn: Connection, key: str, default: Any = None) -> Any:
        row = conn.execute(select(meta.c.value).where(meta.c.key == key)).first()
        return default if row is None else json.loads(row.value)

    # -- inbox -------------------------------------------------------------------------------

    @staticmethod
    def post(conn: Connection, worker_id: str, command: HostCommand) -> int:
        """Queue a command for one worker host, in the same transaction as the decision."""
        conn.info.setdefault("czar_workers", set()).add(worker_id)
        kind, payload = host_commands.encode(command)
        result = conn.execute(
            insert(inbox).values(worker_id=worker_id, kind=kind, payload=json.dumps(payload), created_at=time.time())
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    @staticmethod
    def queued(conn: Connection, worker_id: str) -> list[Posted]:
        """The commands waiting for one worker host, oldest first."""
        rows = conn.execute(
            select(inbox).where(inbox.c.worker_id == worker_id, inbox.c.done_at.is_(None)).order_by(inbox.c.id)
        ).all()
        return [Posted(r.id, r.worker_id, _decode(r.kind, r.payload)) for r in rows]

    def open_commands(self, worker_id: str) -> list[Posted]:
        with self.read() as conn:
            return self.queued(conn, worker_id)

    @staticmethod
    def mark_done(conn: Connection, command_id: int) -> bool:
        """Record a command as carried out; False if it already was (a repeat to ignore)."""
        result = conn.execute(
            update(inbox).where(inbox.c.id == command_id, inbox.c.done_at.is_(None)).values(done_at=time.time())
        )
        return result.rowcount == 1


def _decode(kind: str, payload: str) -> HostCommand | Unreadable:
    try:
        fields = json.loads(payload)
    except ValueError:
        return Unreadable(kind, "its fields are not JSON")
    return host_commands.decode(kind, fields)
