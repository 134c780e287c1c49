"""A run that makes no progress: noticed, raised as an alert once, with a diagnosis of who waits
for whom and what is stuck (``run.stalled``), so that nobody watches a run that will never end."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from czar.core import waits
from czar.core.events import EventKind
from czar.core.states import TERMINAL_TASK_STATES, TaskState
from czar.store.schema import events, tasks, workers
from czar.store.store import Store
from czar.supervisor.snapshot import held_tasks

# What counts as progress: a task changing state, work committed, a checkpoint, a person acting.
PROGRESS = (
    EventKind.TASK_STATE,
    EventKind.AGENT_COMMIT,
    EventKind.AGENT_PROGRESS,
    EventKind.PERSON_TOLD,
    EventKind.PERMISSION_DECIDED,
)


def diagnosis(store: Store) -> list[str]:
    """One line per unfinished task: whom it waits for, what holds it, the cycles of waits."""
    with store.read() as conn:
        rows = conn.execute(select(tasks.c.id, tasks.c.state, tasks.c.worker_id, tasks.c.blocked_on)).all()
        wrows = {w.id: w for w in conn.execute(select(workers.c.id, workers.c.state, workers.c.task_id)).all()}
        held = held_tasks(conn)
    idle = sum(1 for w in wrows.values() if w.state == "idle" and w.task_id is None)
    lines = [
        waits.TaskLine(
            id=r.id,
            state=r.state,
            worker=r.worker_id,
            worker_state=wrows[r.worker_id].state if r.worker_id in wrows else None,
            waits=waits.parse(r.blocked_on),
            held_by=held.get(r.id, frozenset()),
        )
        for r in rows
        if TaskState(r.state) not in TERMINAL_TASK_STATES
    ]
    return waits.diagnose(lines, idle)


class StallWatch:
    """Whether the run has made progress within ``after`` seconds; checked by the supervisor's loop."""

    def __init__(self, store: Store, after: float) -> None:
        self.store = store
        self.after = after
        self.seen = store.last_event_id()  # the last event looked at
        self.progress_at = time.monotonic()
        self.raised = False  # raised for the stall going on now

    def check(self, finished: bool) -> list[str] | None:
        """The diagnosis, the first time the run is found stalled (None otherwise)."""
        with self.store.read() as conn:
            last = conn.execute(
                select(func.max(events.c.id)).where(events.c.id > self.seen, events.c.kind.in_(PROGRESS))
            ).scalar()
        if last is not None:
            self.seen = int(last)
            self.progress_at = time.monotonic()
            self.raised = False
        idle = time.monotonic() - self.progress_at
        if finished or self.raised or idle < self.after:
            return None
        self.raised = True
        lines = diagnosis(self.store)
        with self.store.write() as conn:
            Store.alert(conn, "critical", f"the run has made no progress for {idle:.0f} s: " + "; ".join(lines[:5]))
            Store.emit(conn, EventKind.RUN_STALLED, seconds=round(idle), diagnosis=lines)
        return lines
