"""A run that makes no progress is raised once per stall, with who waits for whom: on a fake
clock, in milliseconds, with the real store."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.core.events import EventKind
from czar.core.states import TaskState
from czar.paths import ProjectPaths
from czar.store.records import TaskSpec
from czar.store.store import Store
from czar.supervisor import stall
from czar.supervisor.stall import StallWatch
from czar.testing.clock import FakeClock


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(ProjectPaths(name="stall", root=tmp_path / "proj"))
    with store.write() as conn:
        for order, task in enumerate(("a", "b")):
            Store.add_task(conn, task, order=order, title=task, body="", spec=TaskSpec(agent="sim"))
        Store.move_task(conn, "a", TaskState.READY, reason="test")
        Store.set_waits(conn, "a", "b")
    return store


def progress(store: Store) -> None:
    with store.write() as conn:
        Store.emit(conn, EventKind.AGENT_COMMIT, task="a", sha="abc")


def stalls(store: Store) -> list[str]:
    return [e.kind for e in store.events_after(0) if e.kind in (EventKind.RUN_STALLED, EventKind.ALERT)]


def test_a_stall_is_raised_once_after_its_time_and_again_after_new_progress(store: Store) -> None:
    clock = FakeClock()
    watch = StallWatch(store, after=60, clock=clock)
    clock.advance(59)
    assert watch.check(finished=False) is None
    clock.advance(1)
    lines = watch.check(finished=False)
    assert lines and any("a" in line and "b" in line for line in lines)  # who waits for whom
    assert stalls(store) == ["alert", "run.stalled"]
    clock.advance(600)
    assert watch.check(finished=False) is None  # the same stall: raised once
    progress(store)
    assert watch.check(finished=False) is None
    clock.advance(59)
    assert watch.check(finished=False) is None  # its clock started again at the progress
    clock.advance(1)
    assert watch.check(finished=False)
    assert stalls(store) == ["alert", "run.stalled"] * 2
    store.close()


def test_progress_keeps_a_long_run_quiet_and_a_finished_run_never_stalls(store: Store) -> None:
    clock = FakeClock()
    watch = StallWatch(store, after=60, clock=clock)
    for _ in range(100):  # 100 minutes of steady progress
        clock.advance(59)
        progress(store)
        assert watch.check(finished=False) is None
    clock.advance(3600)
    assert watch.check(finished=True) is None
    assert stalls(store) == []
    store.close()


def test_a_fake_clock_never_goes_back() -> None:
    clock = FakeClock(start=100.0)
    clock.advance(2.5)
    assert (clock.time(), clock.monotonic()) == (102.5, 2.5)
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.advance(float("nan"))


def test_a_run_said_to_be_unable_to_go_on_is_not_raised_again_for_the_same_stall(store: Store) -> None:
    clock = FakeClock()
    watch = StallWatch(store, after=60, clock=clock)
    lines = stall.cannot_go_on(store, "no worker can take a task")
    assert lines[0] == "no worker can take a task" and len(lines) > 1  # why, then who waits for whom
    assert stalls(store) == ["alert", "run.stalled"]
    clock.advance(600)
    assert watch.check(finished=False) is None  # said already: the stall watch says it no second time
    assert stalls(store) == ["alert", "run.stalled"]
    progress(store)
    assert watch.check(finished=False) is None
    clock.advance(60)
    assert watch.check(finished=False)  # a new stall, after new progress, is its own
    assert stalls(store) == ["alert", "run.stalled"] * 2
    store.close()
