"""The benchmark's numbers, computed from a run's events alone."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from czar.core.events import EventKind
from czar.core.graph import topological_order
from czar.store.store import Event

# How each injected failure shows in the events: the event that injects it (kind, and the text of
# an activity), and the detection that must follow for the same task.
FAULTS: dict[str, tuple[EventKind, str | None, EventKind, str | None]] = {
    # failure kind: (injected by event kind, its text, detected by event kind, its problem)
    "crash": (EventKind.AGENT_ACTIVITY, "crash", EventKind.HEALTH_DETECTED, "agent_exited"),
    "quit": (EventKind.AGENT_ACTIVITY, "quit", EventKind.HEALTH_DETECTED, "agent_exited"),
    "hang": (EventKind.AGENT_ACTIVITY, "hang", EventKind.HEALTH_DETECTED, "silent"),
    "idle": (EventKind.AGENT_ACTIVITY, "idle", EventKind.HEALTH_DETECTED, "idle"),
    "loop": (EventKind.AGENT_ACTIVITY, "loop", EventKind.HEALTH_DETECTED, "looping"),
    "wrong_task": (EventKind.AGENT_ACK, None, EventKind.HEALTH_DETECTED, "wrong_task"),
    "finish_early": (EventKind.AGENT_FINISHED, None, EventKind.VERIFY_FAILED, None),
    "permission": (EventKind.PERMISSION_DECIDED, None, EventKind.PERMISSION_DECIDED, None),
    "duplicate": (EventKind.AGENT_COMMIT, None, EventKind.RADAR_DUPLICATE, None),
}


@dataclass(frozen=True)
class Detection:
    kind: str
    task: str
    seconds: float | None  # None: never detected


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summary(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> dict[str, float | int | None]:
    p50, p99 = percentile(values, 50), percentile(values, 99)
    return {
        "p50": None if p50 is None else round(p50 * scale, digits),
        "p99": None if p99 is None else round(p99 * scale, digits),
        "n": len(values),
    }


def _injected(e: Event, kind: EventKind, text: str | None) -> bool:
    if e.kind != kind:
        return False
    if kind == EventKind.AGENT_ACTIVITY:
        return str(e.payload.get("text", "")).split(":")[0] == text
    if kind == EventKind.AGENT_ACK:
        return e.payload.get("confirmed") is False
    return True


def detections(events: Sequence[Event], injected: Iterable[tuple[str, str]]) -> list[Detection]:
    """For each injected (failure kind, task), how long until czar detected it."""
    out = []
    for kind, task in injected:
        source_kind, text, found_kind, problem = FAULTS[kind]
        start = next((e for e in events if e.task_id == task and _injected(e, source_kind, text)), None)
        if kind == "duplicate":
            start = _overlap_began(events, task)
        if start is None:
            out.append(Detection(kind, task, None))
            continue
        found = next(
            (
                e
                for e in events
                if e.id >= start.id
                and e.task_id == task
                and e.kind == found_kind
                and (problem is None or e.payload.get("problem") == problem)
            ),
            None,
        )
        out.append(Detection(kind, task, None if found is None else max(0.0, found.ts - start.ts)))
    return out


def _overlap_began(events: Sequence[Event], task: str) -> Event | None:
    """Work is duplicated once both tasks have committed it: the later of their first commits."""
    found = next((e for e in events if e.kind == EventKind.RADAR_DUPLICATE and e.task_id == task), None)
    tasks = (task, found.payload.get("other")) if found is not None else (task,)
    firsts = [next((e for e in events if e.kind == EventKind.AGENT_COMMIT and e.task_id == t), None) for t in tasks]
    if any(f is None for f in firsts):
        return firsts[0]
    return max((f for f in firsts if f is not None), key=lambda e: e.id)


def reaction_times(events: Sequence[Event]) -> tuple[list[float], list[float]]:
    """Two delays, in seconds, of handing out work.

    - reaction: a worker finished while a task was ready and waiting; from the finish to that
      worker's next task delivered (verification of the finished work included);
    - unblock: a task became ready while a worker waited idle; from then to its delivery.
    """
    last_finish: dict[str, float] = {}
    ready_at: dict[str, float] = {}
    reaction, unblock = [], []
    for e in events:
        if e.kind == EventKind.TASK_STATE and e.payload.get("new") == "ready" and e.task_id:
            ready_at[e.task_id] = e.ts
        elif e.kind == EventKind.AGENT_FINISHED and e.worker_id and not e.payload.get("refused"):
            last_finish[e.worker_id] = e.ts
        elif e.kind == EventKind.AGENT_STARTED and e.worker_id and e.worker_id in last_finish and e.task_id:
            finished, ready = last_finish.pop(e.worker_id), ready_at.get(e.task_id, 0.0)
            if ready <= finished:
                reaction.append(max(0.0, e.ts - finished))
            else:
                unblock.append(max(0.0, e.ts - ready))
    return reaction, unblock


def makespan(events: Sequence[Event]) -> float:
    """Seconds from the first assignment to the last merge."""
    assigned = [e.ts for e in events if e.kind == EventKind.TASK_ASSIGNED]
    merged = [e.ts for e in events if e.kind == EventKind.TASK_MERGED]
    return max(merged) - min(assigned) if assigned and merged else 0.0


def lower_bound(durations: dict[str, float], edges: dict[str, tuple[str, ...]], workers: int) -> float:
    """No schedule finishes faster than the longest dependency chain or the total work shared out."""
    finish: dict[str, float] = {}
    for t in topological_order({t: edges.get(t, ()) for t in durations}):
        finish[t] = durations[t] + max((finish[d] for d in edges.get(t, ()) if d in finish), default=0.0)
    critical = max(finish.values(), default=0.0)
    return max(critical, sum(durations.values()) / workers)
