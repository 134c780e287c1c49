"""Queries on workers, alone or with the task and attempt each holds."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update

from czar.core.states import WorkerRole, WorkerState
from czar.errors import StoreError
from czar.store.columns import rows_of
from czar.store.joins import parts, prefixed
from czar.store.records import Attempt, Station, Task, Worker, WorkerBrief
from czar.store.schema import attempts, tasks, workers


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
        return [WorkerBrief.from_values(r) for r in conn.execute(query).all()]

    @staticmethod
    def all_workers(conn: Connection) -> list[Worker]:
        return [Worker.from_row(r) for r in rows_of(conn.execute(select(workers).order_by(workers.c.id)))]

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
        """Every worker with the task it holds and that task's current attempt."""
        rows = parts(
            conn.execute(
                select(*prefixed(workers, "w_"), *prefixed(tasks, "t_"), *prefixed(attempts, "a_", skip=("prompt",)))
                .select_from(workers)
                .outerjoin(tasks, tasks.c.id == workers.c.task_id)
                .outerjoin(attempts, attempts.c.id == tasks.c.attempt_id)
                .order_by(workers.c.id)
            ),
            "w_",
            "t_",
            "a_",
        )
        out = []
        for w, t, a in rows:
            task = Task.from_row(t) if t.present() else None
            attempt = Attempt.from_row(a) if a.present() else None
            out.append(Station(Worker.from_row(w), task, attempt))
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
        now = time.time()
        fields.setdefault("updated_at", now)
        if "role" in fields:
            fields["role"] = WorkerRole(fields["role"]).value
        if "state" in fields:
            fields["state"] = WorkerState(fields["state"]).value
            # ``state_since`` keeps the time the state last really changed.
            fields.setdefault(
                "state_since", case((workers.c.state != fields["state"], now), else_=workers.c.state_since)
            )
        conn.execute(update(workers).where(workers.c.id == worker_id).values(**fields))

    @staticmethod
    def idle_unless_given_a_task(conn: Connection, worker_id: str) -> None:
        """A starting host's worker is idle, unless the supervisor gave it a task meanwhile."""
        conn.execute(
            update(workers)
            .where(workers.c.id == worker_id, workers.c.task_id.is_(None))
            .values(state=WorkerState.IDLE.value, state_since=time.time())
        )
