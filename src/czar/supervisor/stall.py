"""A run that makes no progress: noticed, raised as an alert once, with a diagnosis of who waits
for whom and what is stuck (``run.stalled``), so that nobody watches a run that will never end."""

from __future__ import annotations

from collections.abc import Mapping

from czar.core import waits
from czar.core.clock import Clock
from czar.core.events import EventKind
from czar.core.states import TERMINAL_TASK_STATES, WorkerState
from czar.runtime.clock import SYSTEM
from czar.store.store import Store

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
        rows = Store.all_tasks(conn)
        wrows = {w.id: w for w in Store.all_workers(conn)}
        held = Store.held_tasks(conn)
    idle = sum(1 for w in wrows.values() if w.state is WorkerState.IDLE and w.task_id is None)
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
        if r.state not in TERMINAL_TASK_STATES
    ]
    return waits.diagnose(lines, idle)


def none_can_start(store: Store, who: str, what: str, agents: Mapping[str, str]) -> list[str]:
    """``cannot_go_on``: the agent of every ``who`` ("worker", "reviewer"; ``agents``: each one's
    kind) cannot start, and ``what`` is what none is left to do ("take a task")."""
    names = ", ".join(sorted(agents))
    settings = " and ".join(f"[agents.{k}]" for k in sorted(set(agents.values())))
    return cannot_go_on(
        store,
        f"no {who} can {what}: the agent of every one ({names}) cannot start. "
        f"Fix {settings} (`czar doctor`, `czar logs WORKER`), then run the plan again",
    )


def cannot_go_on(store: Store, why: str) -> list[str]:
    """The run cannot make progress whatever it waits for (``why``: nothing is left to take its
    tasks): said at once, as a stall is, with the same diagnosis."""
    lines = [why, *diagnosis(store)]
    with store.write() as conn:
        Store.alert(conn, "critical", f"the run cannot go on: {why}")
        Store.emit(conn, EventKind.RUN_STALLED, seconds=0, diagnosis=lines, why=why)
    return lines


class StallWatch:
    """Whether the run has made progress within ``after`` seconds; checked by the supervisor's loop."""

    def __init__(self, store: Store, after: float, clock: Clock = SYSTEM) -> None:
        self.store = store
        self.after = after
        self.clock = clock
        self.seen = store.last_event_id()  # the last event looked at
        self.progress_at = clock.monotonic()
        self.raised = False  # raised for the stall going on now

    def check(self, finished: bool) -> list[str] | None:
        """The diagnosis, the first time the run is found stalled (None otherwise)."""
        with self.store.read() as conn:
            last = Store.newest_event_id(conn, self.seen, PROGRESS)
            # Said already since (``cannot_go_on``): not again, for the same stall.
            said = Store.newest_event_id(conn, last or self.seen, (EventKind.RUN_STALLED,))
        if last is not None:
            self.seen = last
            self.progress_at = self.clock.monotonic()
            self.raised = False
        if said is not None:
            self.raised = True
        idle = self.clock.monotonic() - self.progress_at
        if finished or self.raised or idle < self.after:
            return None
        self.raised = True
        lines = diagnosis(self.store)
        with self.store.write() as conn:
            Store.alert(conn, "critical", f"the run has made no progress for {idle:.0f} s: " + "; ".join(lines[:5]))
            Store.emit(conn, EventKind.RUN_STALLED, seconds=round(idle), diagnosis=lines)
        return lines
