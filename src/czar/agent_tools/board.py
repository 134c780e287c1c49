"""The board: who works on what, how far along, which paths they hold, and what they last said."""

from __future__ import annotations

from czar.core.board import BoardRow
from czar.store.records import Worker
from czar.store.store import Store, Tx


def board(conn: Tx, workers: list[Worker] | None = None) -> list[BoardRow]:
    """Every worker (or these ``workers``), with its task and that task's claims."""
    workers = Store.all_workers(conn) if workers is None else workers
    held = {w.task_id for w in workers if w.task_id is not None}
    claims = Store.all_claims(conn, only=held)
    tasks = Store.tasks_named(conn, held)
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
    """The board lines a worker's prompt carries: the others that hold a task (the first few).
    Only those are read: every assignment makes one, a hundred workers' tasks read whole would
    cost more than the rest of it."""
    holding = [w for w in Store.workers_holding(conn) if w.id != for_worker]
    lines = [row.line() for row in board(conn, holding[:EXCERPT_LINES]) if row.task is not None]
    if len(holding) > EXCERPT_LINES:
        more = len(holding) - EXCERPT_LINES
        lines.append(f"... and {more} more workers: `czar board` shows them all")
    return lines
