"""The event log: every change, with why, appended in the transaction that made it."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select

from czar.core.events import EventKind
from czar.store.columns import rows_of
from czar.store.records import from_columns
from czar.store.schema import events


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

    @staticmethod
    def from_row(row: Any) -> Event:
        return from_columns(Event, row, payload=json.loads(row.payload))


class Events:
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
        return Events.emit(
            conn, EventKind.ALERT, actor=actor, task=task, worker=worker, level=level, message=message, **evidence
        )

    @staticmethod
    def newest_event_id(conn: Connection, after: int = 0, kinds: Sequence[EventKind] = ()) -> int | None:
        """The id of the newest event above ``after`` (only of ``kinds``, if given), or None."""
        query = select(func.max(events.c.id)).where(events.c.id > after)
        if kinds:
            query = query.where(events.c.kind.in_(kinds))
        value = conn.execute(query).scalar()
        return None if value is None else int(value)

    @staticmethod
    def read_events(
        conn: Connection, after: int = 0, limit: int = 1000, kinds: Sequence[EventKind] = ()
    ) -> list[Event]:
        query = select(events).where(events.c.id > after)
        if kinds:
            query = query.where(events.c.kind.in_(kinds))
        rows = rows_of(conn.execute(query.order_by(events.c.id).limit(limit)))
        return [Event.from_row(r) for r in rows]

    @staticmethod
    def marked(conn: Connection, task_id: str, kind: EventKind, mark: str) -> bool:
        """True if the task has an event of ``kind`` whose payload's ``mark`` is ``mark``: a call
        carried out once already (sent again after its answer was lost)."""
        query = select(events.c.id).where(
            events.c.task_id == task_id,
            events.c.kind == kind,
            events.c.payload.contains(json.dumps({"mark": mark})[1:-1]),
        )
        return conn.execute(query.limit(1)).first() is not None

    @staticmethod
    def events_of_task(conn: Connection, task_id: str, kinds: Sequence[EventKind]) -> list[Event]:
        """The task's events of ``kinds``, oldest first."""
        query = select(events).where(events.c.task_id == task_id, events.c.kind.in_(kinds)).order_by(events.c.id)
        return [Event.from_row(r) for r in rows_of(conn.execute(query))]

    @staticmethod
    def all_events_of_task(conn: Connection, task_id: str, limit: int = 5_000) -> list[Event]:
        """The task's newest ``limit`` events, oldest first."""
        query = select(events).where(events.c.task_id == task_id).order_by(events.c.id.desc()).limit(limit)
        return [Event.from_row(r) for r in reversed(rows_of(conn.execute(query)))]

    @staticmethod
    def stack_records(conn: Connection, task_id: str) -> list[dict[str, Any]]:
        """A stacked task's starts (``[project] stack``), oldest first: each assignment that made
        its branch on its dependencies' approved work, and each restack since, with what it was
        built on (``built_on``: each dependency's commit) and from where (``base``, None for a
        restack that waits for their merge)."""
        found = Events.events_of_task(conn, task_id, (EventKind.TASK_ASSIGNED, EventKind.TASK_RESTACKED))
        return [e.payload for e in found if isinstance(e.payload.get("built_on"), dict)]

    @staticmethod
    def last_event_of(conn: Connection, attempt_id: int, kind: EventKind) -> Event | None:
        """The attempt's newest event of ``kind``."""
        row = conn.execute(
            select(events)
            .where(events.c.attempt_id == attempt_id, events.c.kind == kind)
            .order_by(events.c.id.desc())
            .limit(1)
        ).first()
        return None if row is None else Event.from_row(row)

    @staticmethod
    def host_started_since(conn: Connection, worker_id: str, event_id: int) -> bool:
        """A worker host of ``worker_id`` started (a new process: one saying it again records
        nothing) after event ``event_id``."""
        row = conn.execute(
            select(events.c.id)
            .where(
                events.c.kind == EventKind.WORKER_HOST_STARTED,
                events.c.worker_id == worker_id,
                events.c.id > event_id,
            )
            .limit(1)
        ).first()
        return row is not None

    @staticmethod
    def run_span(conn: Connection) -> tuple[float, float] | None:
        """From the run's first supervisor start to the last change of a task's state."""
        began = conn.execute(
            select(func.min(events.c.ts)).where(events.c.kind == EventKind.SUPERVISOR_STARTED)
        ).scalar()
        ended = conn.execute(select(func.max(events.c.ts)).where(events.c.kind == EventKind.TASK_STATE)).scalar()
        return None if began is None or ended is None else (float(began), float(ended))

    @staticmethod
    def count_events_by(conn: Connection, actor: str) -> int:
        """What ``actor`` did: its events, less the task moves they caused (a person's retry is one
        act, whatever number of tasks it sends back)."""
        query = select(func.count()).select_from(events).where(events.c.actor == actor)
        return int(conn.execute(query.where(events.c.kind != EventKind.TASK_STATE.value)).scalar() or 0)

    @staticmethod
    def count_events_of_kinds(
        conn: Connection, kinds: Sequence[EventKind] = (), actor: str | None = None
    ) -> dict[str, int]:
        """How many events of each kind there are (only of ``kinds``, and only by ``actor``, if
        given); a kind with none is left out."""
        query = select(events.c.kind, func.count()).group_by(events.c.kind)
        if kinds:
            query = query.where(events.c.kind.in_(kinds))
        if actor is not None:
            query = query.where(events.c.actor == actor)
        return {str(kind): int(n) for kind, n in conn.execute(query).all()}
