"""Queries on tasks: read as records, written through ``Store.move_task`` or the setters here."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, insert, select, update

from czar.core.events import EventKind
from czar.core.states import TERMINAL_TASK_STATES, TaskState, can_transition
from czar.errors import StoreError
from czar.store.columns import rows_of
from czar.store.events import Events
from czar.store.records import Task, TaskAtWork, TaskBrief, TaskSpec, recalled
from czar.store.schema import attempts, tasks

# Several thousand tasks' records (each state of a task is another), remembered by their values.
_brief = recalled(TaskBrief.from_values, 8192)
_at_work = recalled(TaskAtWork.from_values, 8192)


class TransitionRefused(StoreError):
    """A task was asked to move along a transition the table does not allow."""


class Tasks:
    @staticmethod
    def task(conn: Connection, task_id: str) -> Task:
        found = Tasks.find_task(conn, task_id)
        if found is None:
            raise StoreError(f"unknown task {task_id!r}")
        return found

    @staticmethod
    def find_task(conn: Connection, task_id: str) -> Task | None:
        row = conn.execute(select(tasks).where(tasks.c.id == task_id)).first()
        return None if row is None else Task.from_row(row)

    @staticmethod
    def all_tasks(conn: Connection) -> list[Task]:
        """Every task, in the plan's order."""
        return [Task.from_row(r) for r in rows_of(conn.execute(select(tasks).order_by(tasks.c.ord)))]

    @staticmethod
    def task_briefs(conn: Connection) -> list[TaskBrief]:
        """Every task without its text, in the plan's order."""
        query = select(*(tasks.c[name] for name in TaskBrief.COLUMNS)).order_by(tasks.c.ord)
        return [_brief(r) for r in conn.execute(query).all()]

    @staticmethod
    def tasks_named(conn: Connection, task_ids: Iterable[str]) -> dict[str, Task]:
        """The tasks of these ids (those that exist), by id."""
        rows = rows_of(conn.execute(select(tasks).where(tasks.c.id.in_(list(task_ids)))))
        return {r.id: Task.from_row(r) for r in rows}

    @staticmethod
    def tasks_in(conn: Connection, states: Iterable[TaskState]) -> list[Task]:
        wanted = [s.value for s in states]
        rows = rows_of(conn.execute(select(tasks).where(tasks.c.state.in_(wanted)).order_by(tasks.c.ord)))
        return [Task.from_row(r) for r in rows]

    @staticmethod
    def all_finished(conn: Connection) -> bool:
        """Every task merged, failed or cancelled (``czar.core.decide.run_finished``, without
        reading the run: a follower asks at every change of a task)."""
        left = select(tasks.c.id).where(tasks.c.state.not_in([s.value for s in TERMINAL_TASK_STATES])).limit(1)
        return conn.execute(left).first() is None

    @staticmethod
    def waiting_tasks(conn: Connection) -> list[Task]:
        """The tasks that wait for something (``blocked_on`` set)."""
        rows = rows_of(conn.execute(select(tasks).where(tasks.c.blocked_on.is_not(None)).order_by(tasks.c.ord)))
        return [Task.from_row(r) for r in rows]

    @staticmethod
    def move_task(
        conn: Connection,
        task_id: str,
        new: TaskState,
        *,
        reason: str,
        actor: str = "supervisor",
        expect: TaskState | Iterable[TaskState] | None = None,
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
        if "fresh" in fields:
            fields["fresh"] = int(fields["fresh"])
        conn.execute(
            update(tasks).where(tasks.c.id == task_id).values(state=new.value, updated_at=time.time(), **fields)
        )
        Events.emit(conn, EventKind.TASK_STATE, actor=actor, task=task_id, old=old.value, new=new.value, reason=reason)
        return old

    @staticmethod
    def start_afresh(conn: Connection, task_id: str, note: str) -> None:
        """A task not at work will start from a fresh branch (what its branch holds is thrown
        away), and is told why: a new state is no part of it (it moves when it starts)."""
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(fresh=1, note=note, updated_at=time.time()))

    @staticmethod
    def set_waits(conn: Connection, task_id: str, blocked_on: str | None) -> None:
        """What the task waits for now (``core.waits.render``), or None."""
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(blocked_on=blocked_on))

    @staticmethod
    def record_report(conn: Connection, task_id: str, *, note: str | None, checkpoint: int | None) -> None:
        """The agent's last report and the checkpoint it reached, for the board."""
        fields: dict[str, Any] = {}
        if note is not None:
            fields["last_note"] = note
        if checkpoint is not None:
            fields["checkpoint"] = checkpoint
        if fields:
            conn.execute(update(tasks).where(tasks.c.id == task_id).values(**fields))

    @staticmethod
    def count_confusion(conn: Connection, task_id: str) -> None:
        conn.execute(update(tasks).where(tasks.c.id == task_id).values(confusions=tasks.c.confusions + 1))

    @staticmethod
    def add_task(conn: Connection, task_id: str, *, order: int, title: str, body: str, spec: TaskSpec) -> None:
        now = time.time()
        conn.execute(
            insert(tasks).values(
                id=task_id,
                ord=order,
                title=title,
                body=body,
                spec=spec.to_json(),
                state=TaskState.PENDING.value,
                created_at=now,
                updated_at=now,
            )
        )

    @staticmethod
    def set_task_text(conn: Connection, task_id: str, *, order: int, title: str, body: str, spec: TaskSpec) -> None:
        """A task not started yet takes the plan's current text."""
        conn.execute(
            update(tasks)
            .where(tasks.c.id == task_id)
            .values(ord=order, title=title, body=body, spec=spec.to_json(), updated_at=time.time())
        )

    @staticmethod
    def tasks_at_work(conn: Connection, states: Iterable[TaskState]) -> list[TaskAtWork]:
        """The tasks in ``states`` as the radar reads them, each with its current attempt's part."""
        wanted = [s.value for s in states]
        query = (
            select(
                *(tasks.c[name] for name in TaskAtWork.TASK_COLUMNS),
                *(attempts.c[name] for name in TaskAtWork.ATTEMPT_COLUMNS),
            )
            .select_from(tasks)
            .outerjoin(attempts, attempts.c.id == tasks.c.attempt_id)
            .where(tasks.c.state.in_(wanted))
            .order_by(tasks.c.ord)
        )
        return [_at_work(r) for r in conn.execute(query).all()]
