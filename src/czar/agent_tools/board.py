"""The board: who works on what, how far along, which paths they hold, and what they last said."""

from __future__ import annotations

from dataclasses import dataclass

from czar.store.store import Store, Tx


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


def board(conn: Tx) -> list[BoardRow]:
    """Every worker, with its task and that task's claims."""
    claims = Store.all_claims(conn)
    workers = Store.all_workers(conn)
    tasks = Store.tasks_named(conn, {w.task_id for w in workers if w.task_id is not None})
    out = []
    for w in workers:
        task = tasks.get(w.task_id) if w.task_id is not None else None
        out.append(
            BoardRow(
                worker=w.id,
                state=w.state,
                task=task.id if task else None,
                title=task.title if task else "",
                checkpoint=task.checkpoint if task else 0,
                checkpoints=len(task.spec.subtasks) if task else 0,
                claims=claims.get(task.id, ()) if task else (),
                note=task.last_note if task else None,
                blocked_on=task.blocked_on if task else None,
            )
        )
    return out


EXCERPT_LINES = 12  # a prompt carries this much of the board; `czar board` shows all of it


def excerpt(conn: Tx, for_worker: str) -> list[str]:
    """The board lines a worker's prompt carries: the others that hold a task (the first few)."""
    lines = [row.line() for row in board(conn) if row.worker != for_worker and row.task is not None]
    if len(lines) > EXCERPT_LINES:
        more = len(lines) - EXCERPT_LINES
        lines = [*lines[:EXCERPT_LINES], f"... and {more} more workers: `czar board` shows them all"]
    return lines
