"""The board: who works on what, how far along, which paths they hold, and what they last said."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import Connection, select

from czar.store.schema import claims, tasks, workers


@dataclass(frozen=True)
class BoardRow:
    worker: str
    state: str
    task: str | None
    title: str
    checkpoint: int
    checkpoints: int
    claims: tuple[str, ...]
    note: str | None
    blocked_on: str | None

    def line(self) -> str:
        """One line for a prompt or a terminal."""
        if self.task is None:
            return f"{self.worker} ({self.state}): no task"
        parts = [f"{self.worker} ({self.state}) works on task {self.task}: {self.title}"]
        if self.checkpoints:
            parts.append(f"checkpoint {self.checkpoint}/{self.checkpoints}")
        if self.claims:
            parts.append("holds " + ", ".join(self.claims))
        if self.blocked_on:
            parts.append(f"waits for {self.blocked_on}")
        if self.note:
            parts.append(f"last note: {self.note[:120]}")
        return "; ".join(parts)


def board(conn: Connection) -> list[BoardRow]:
    """Every worker, with its task and that task's claims."""
    held: dict[str, list[str]] = {}
    for c in conn.execute(select(claims.c.task_id, claims.c.pattern).order_by(claims.c.id)).all():
        held.setdefault(c.task_id, []).append(c.pattern)
    rows = conn.execute(
        select(
            workers.c.id,
            workers.c.state,
            tasks.c.id.label("task"),
            tasks.c.title,
            tasks.c.checkpoint,
            tasks.c.spec,
            tasks.c.last_note,
            tasks.c.blocked_on,
        )
        .outerjoin(tasks, tasks.c.id == workers.c.task_id)
        .order_by(workers.c.id)
    ).all()
    out = []
    for r in rows:
        spec = json.loads(r.spec) if r.spec else {}
        out.append(
            BoardRow(
                worker=r.id,
                state=r.state,
                task=r.task,
                title=r.title or "",
                checkpoint=r.checkpoint or 0,
                checkpoints=len(spec.get("subtasks", ())),
                claims=tuple(held.get(r.task, ())) if r.task else (),
                note=r.last_note,
                blocked_on=r.blocked_on,
            )
        )
    return out


EXCERPT_LINES = 12  # a prompt carries this much of the board; `czar board` shows all of it


def excerpt(conn: Connection, for_worker: str) -> list[str]:
    """The board lines a worker's prompt carries: the others that hold a task (the first few)."""
    lines = [row.line() for row in board(conn) if row.worker != for_worker and row.task is not None]
    if len(lines) > EXCERPT_LINES:
        more = len(lines) - EXCERPT_LINES
        lines = [*lines[:EXCERPT_LINES], f"... and {more} more workers: `czar board` shows them all"]
    return lines
