"""The run over time, as the timeline (a Gantt chart of tasks per worker) and the report's charts
show it: who worked on what when, and how long each task spent in each state. Read from the
store; computed from its records and events alone."""

from __future__ import annotations

import time
from dataclasses import dataclass

from czar.core.events import EventKind
from czar.core.states import TERMINAL_TASK_STATES, AttemptOutcome
from czar.store.store import Store
from czar.supervisor.project import Project


@dataclass(frozen=True)
class Span:
    """A worker on a task for a while: an author's attempt, or a reviewer's review."""

    worker: str
    task: str
    start: float
    end: float
    what: str  # "work" or "review"
    outcome: str  # the attempt's outcome, or the review's state ("open" while it lasts)


@dataclass(frozen=True)
class History:
    start: float  # the run's first moment on record
    end: float  # its last (now, while it runs)
    spans: list[Span]
    # task -> state -> seconds spent in it (the current state counted until ``end``)
    time_in_state: dict[str, dict[str, float]]
    # (time, task, new state), oldest first
    moves: list[tuple[float, str, str]]


def history(project: Project, now: float | None = None) -> History:
    now = time.time() if now is None else now
    with project.store.read() as conn:
        attempts = Store.all_attempts(conn)
        reviews = Store.all_reviews(conn)
        moves = project.store.all_events_after(0, (EventKind.TASK_STATE,))
        tasks = Store.all_tasks(conn)
    # A review runs as an attempt of the reviewer's (with no branch) that stays open: its review is
    # its span, or the reviewer would show working twice, the second time until now.
    reviewing = {r.attempt_id for r in reviews}
    spans = [
        Span(
            a.worker_id,
            a.task_id,
            a.started_at,
            a.finished_at or a.agent_exited_at or (now if a.outcome is AttemptOutcome.OPEN else a.started_at),
            "work",
            a.outcome.value,
        )
        for a in attempts
        if a.id not in reviewing
    ] + [Span(r.worker_id, r.task_id, r.started_at, r.finished_at or now, "review", r.state.value) for r in reviews]
    spans.sort(key=lambda s: (s.start, s.worker))
    created = {t.id: t.created_at for t in tasks}
    start = min([*created.values(), *(s.start for s in spans)], default=now)
    in_state: dict[str, dict[str, float]] = {t.id: {} for t in tasks}
    since: dict[str, tuple[str, float]] = {t.id: ("pending", t.created_at) for t in tasks}
    moved: list[tuple[float, str, str]] = []
    for e in moves:
        if e.task_id is None or e.task_id not in since:
            continue
        old, at = since[e.task_id]
        bucket = in_state[e.task_id]
        bucket[old] = bucket.get(old, 0.0) + max(0.0, e.ts - at)
        new = str(e.payload.get("new"))
        since[e.task_id] = (new, e.ts)
        moved.append((e.ts, e.task_id, new))
    terminal = {s.value for s in TERMINAL_TASK_STATES}
    end = max([now if any(s not in terminal for s, _ in since.values()) else start, *(m[0] for m in moved)])
    for task, (state, at) in since.items():
        if state not in terminal:
            in_state[task][state] = in_state[task].get(state, 0.0) + max(0.0, end - at)
    return History(start, max(end, start), spans, in_state, moved)
