"""Queries on workers, alone or with the task and attempt each holds."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update

from czar.core import waits
from czar.core.states import WorkerRole, WorkerState
from czar.errors import StoreError
from czar.store.columns import Columns, rows_of
from czar.store.records import Attempt, HeldTask, Station, Worker, WorkerBrief, recalled
from czar.store.schema import attempts, tasks, workers

_WORKER_COLUMNS = tuple(c.name for c in workers.c)
_ATTEMPT_COLUMNS = tuple(c.name for c in attempts.c if c.name != "prompt")  # (the largest, read alone)

# Each worker's record (and each state of it) remembered by its values: read several times a second.
_brief = recalled(WorkerBrief.from_values, 4096)
_held = recalled(HeldTask.from_values, 4096)
_worker = recalled(lambda values: Worker.from_row(Columns(zip(_WORKER_COLUMNS, values, strict=True))), 4096)
_attempt = recalled(lambda values: Attempt.from_row(Columns(zip(_ATTEMPT_COLUMNS, values, strict=True))), 4096)


class Workers:
    @staticmethod
    def worker(conn: Connection, worker_id: str) -> Worker:
        row = conn.execute(select(workers).where(workers.c.id == worker_id)).first()
        if row is None:
            raise StoreError(f"unknown worker {worker_id!r}")
        return Worker.from_row(row)

    @staticmethod
    def workers_named(conn: Connection, worker_ids: Iterable[str]) -> dict[str, Worker]:
        """The workers of these ids (those that exist), by id."""
        rows = rows_of(conn.execute(select(workers).where(workers.c.id.in_(list(worker_ids)))))
        return {r.id: Worker.from_row(r) for r in rows}

    @staticmethod
    def worker_briefs(conn: Connection) -> list[WorkerBrief]:
        """Every worker as decisions read it, in the order of their ids."""
        query = select(*(workers.c[name] for name in WorkerBrief.COLUMNS)).order_by(workers.c.id)
        return [_brief(r) for r in conn.execute(query).all()]

    @staticmethod
    def all_workers(conn: Connection) -> list[Worker]:
        return [Worker.from_row(r) for r in rows_of(conn.execute(select(workers).order_by(workers.c.id)))]

    @staticmethod
    def workers_holding(conn: Connection) -> list[Worker]:
        """The workers that hold a task (one the store has), in the order of their ids."""
        query = select(workers).join(tasks, tasks.c.id == workers.c.task_id).order_by(workers.c.id)
        return [_worker(r) for r in conn.execute(query).all()]

    @staticmethod
    def idle_count(conn: Connection) -> int:
        """Authors idle and without a task (reviewers take no task)."""
        query = (
            select(func.count())
            .select_from(workers)
            .where(
                workers.c.state == WorkerState.IDLE.value,
                workers.c.task_id.is_(None),
                workers.c.role == WorkerRole.AUTHOR.value,
            )
        )
        return int(conn.execute(query).scalar_one())

    @staticmethod
    def stations(conn: Connection) -> list[Station]:
        """Every worker with the task it holds (without its text) and that task's current attempt."""
        query = (
            select(
                *workers.c,
                *(tasks.c[name] for name in HeldTask.COLUMNS),
                *(attempts.c[name] for name in _ATTEMPT_COLUMNS),
            )
            .select_from(workers)
            .outerjoin(tasks, tasks.c.id == workers.c.task_id)
            .outerjoin(attempts, attempts.c.id == tasks.c.attempt_id)
            .order_by(workers.c.id)
        )
        held, ends = len(_WORKER_COLUMNS), len(_WORKER_COLUMNS) + len(HeldTask.COLUMNS)
        out = []
        for row in conn.execute(query).all():
            values = tuple(row)
            task = _held(values[held:ends]) if values[held] is not None else None
            attempt = _attempt(values[ends:]) if values[ends] is not None else None
            out.append(Station(_worker(values[:held]), task, attempt))
        return out

    @staticmethod
    def add_worker(conn: Connection, worker_id: str, agent: str, role: WorkerRole = WorkerRole.AUTHOR) -> None:
        conn.execute(
            insert(workers).values(
                id=worker_id, agent=agent, role=role.value, state=WorkerState.STOPPED.value, updated_at=time.time()
            )
        )

    @staticmethod
    def set_worker(conn: Connection, worker_id: str, **fields: Any) -> None:
        conn.execute(update(workers).where(workers.c.id == worker_id).values(**_stamped(fields)))

    @staticmethod
    def set_worker_unless_asking(conn: Connection, worker_id: str, state: WorkerState, **fields: Any) -> bool:
        """Set a worker's state (and ``fields``) unless it waits for a person's answer to a
        permission request shown to them: that request stays shown, for its waiting call takes any
        other state for its withdrawal and denies it before anyone answered (the answer then sets
        the state the task's waits call for: ``after_answer``). Returns whether it was set."""
        asking = workers.c.state == WorkerState.WAITING_PERMISSION.value
        values = _stamped({**fields, "state": state})
        return conn.execute(update(workers).where(workers.c.id == worker_id, ~asking).values(**values)).rowcount > 0

    @staticmethod
    def after_answer(conn: Connection, worker_id: str, blocked_on: str | None) -> None:
        """A permission request answered (by a person, or denied at the timeout): the worker waits
        again if its task waits for tasks or a person, else for the reset of a rate limit its agent
        met meanwhile; else it works."""
        waiting = waits.parse(blocked_on)
        if waiting:
            Workers.set_worker(conn, worker_id, state=WorkerState.BLOCKED, detail=waits.said(waiting))
            return
        limit = Workers.worker(conn, worker_id).wait_until
        if limit is not None and limit > time.time():
            Workers.set_worker(
                conn, worker_id, state=WorkerState.RATE_LIMITED, detail="rate limited (met while it asked)"
            )
        else:
            Workers.set_worker(conn, worker_id, state=WorkerState.WORKING, detail=None, wait_until=None)

    @staticmethod
    def idle_unless_given_a_task(conn: Connection, worker_id: str) -> None:
        """A starting host's worker is idle, unless the supervisor gave it a task meanwhile."""
        conn.execute(
            update(workers)
            .where(workers.c.id == worker_id, workers.c.task_id.is_(None))
            .values(state=WorkerState.IDLE.value, state_since=time.time())
        )


def _stamped(fields: dict[str, Any]) -> dict[str, Any]:
    """A worker's new values as the table keeps them, with the time of the change; ``state_since``
    keeps the time the state last really changed."""
    now = time.time()
    fields.setdefault("updated_at", now)
    if "role" in fields:
        fields["role"] = WorkerRole(fields["role"]).value
    if "state" in fields:
        fields["state"] = WorkerState(fields["state"]).value
        fields.setdefault("state_since", case((workers.c.state != fields["state"], now), else_=workers.c.state_since))
    return fields
