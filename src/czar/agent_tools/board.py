"""The board: who works on what, how far along, which paths they hold, and what they last said."""

from __future__ import annotations

from czar.core.board import BoardRow
from czar.store.store import Store, Tx


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
