"""The benchmark's numbers, from hand-made event streams."""

from __future__ import annotations

from typing import Any

from czar.bench.metrics import detections, lower_bound, makespan, percentile, reaction_times, summary
from czar.store.store import Event

_ids = iter(range(1, 10_000))


def ev(ts: float, kind: str, task: str | None = None, worker: str | None = None, **payload: Any) -> Event:
    return Event(next(_ids), ts, kind, worker or "supervisor", task, worker, None, payload)


def test_percentiles_use_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50 and percentile(values, 99) == 99 and percentile(values, 100) == 100
    assert percentile([3.0], 99) == 3.0 and percentile([], 50) is None
    assert summary([0.1, 0.2], scale=1000) == {"p50": 100.0, "p99": 200.0, "n": 2}


def test_detection_runs_from_the_injected_event_to_the_finding_for_the_same_task() -> None:
    events = [
        ev(10.0, "agent.activity", "a", "w1", text="crash"),
        ev(10.5, "health.detected", "b", "w2", problem="agent_exited"),  # another task
        ev(11.0, "health.detected", "a", "w1", problem="agent_exited"),
        ev(20.0, "agent.activity", "h", "w2", text="hang"),
        ev(23.5, "health.detected", "h", "w2", problem="silent"),
        ev(30.0, "agent.ack", "x", "w3", named="y", confirmed=False),
        ev(30.1, "health.detected", "x", "w3", problem="wrong_task"),
    ]
    found = {
        (d.kind, d.task): d.seconds
        for d in detections(events, [("crash", "a"), ("hang", "h"), ("wrong_task", "x"), ("idle", "z")])
    }
    assert found[("crash", "a")] == 1.0 and found[("hang", "h")] == 3.5
    assert round(found[("wrong_task", "x")] or 0, 3) == 0.1
    assert found[("idle", "z")] is None  # never injected, never detected: counted as missed


def test_a_duplicate_exists_from_the_later_of_the_two_first_commits() -> None:
    events = [
        ev(1.0, "agent.commit", "later", "w2"),
        ev(3.0, "agent.commit", "first", "w1"),
        ev(3.2, "radar.duplicate", "later", other="first", files=["x.py"]),
    ]
    (d,) = detections(events, [("duplicate", "later")])
    assert d.seconds is not None and round(d.seconds, 3) == 0.2


def test_reaction_counts_from_the_finish_and_unblocking_from_readiness() -> None:
    events = [
        ev(0.0, "task.state", "b", new="ready"),
        ev(5.0, "agent.finished", "a", "w1"),
        ev(5.2, "agent.started", "b", "w1"),  # b waited: 0.2 s from the finish
        ev(6.0, "agent.finished", "b", "w1", refused=True),  # refused: not a finish
        ev(9.0, "agent.finished", "b", "w1"),
        ev(20.0, "task.state", "c", new="ready"),
        ev(20.1, "agent.started", "c", "w1"),  # c became ready later: 0.1 s from then
    ]
    reaction, unblock = reaction_times(events)
    assert [round(x, 3) for x in reaction] == [0.2] and [round(x, 3) for x in unblock] == [0.1]


def test_makespan_and_its_lower_bound() -> None:
    events = [ev(2.0, "task.assigned", "a"), ev(5.0, "task.merged", "a"), ev(9.0, "task.merged", "b")]
    assert makespan(events) == 7.0
    durations = {"a": 2.0, "b": 3.0, "c": 4.0}
    assert lower_bound(durations, {"c": ("a",)}, workers=1) == 9.0  # all the work, one worker
    assert lower_bound(durations, {"c": ("a",)}, workers=3) == 6.0  # the chain a -> c
