"""Telling a jump of the wall clock (a machine's sleep, a clock set) from its slow drift."""

from __future__ import annotations

import pytest

from czar.supervisor.clock_jumps import JUMP_SECONDS, ClockJumps, SinceJump
from czar.testing import FakeClock


def test_a_jump_is_seen_once_either_way_and_drift_never_adds_up_to_one() -> None:
    clock = FakeClock()
    jumps = ClockJumps(clock)
    assert jumps.look() == 0.0
    for _ in range(100):  # a thousand seconds of drift, a second at a time
        clock.jump(1.0)
        clock.advance(30)
        assert jumps.look() == 0.0
    clock.jump(JUMP_SECONDS + 0.5)
    assert jumps.look() == JUMP_SECONDS + 0.5
    assert jumps.look() == 0.0
    clock.jump(-600)
    assert jumps.look() == -600


@pytest.mark.parametrize(
    ("at", "now", "counted"),
    [
        (None, 200.0, None),  # nothing stored
        (90.0, 200.0, 100.0),  # before the jump: from the jump
        (150.0, 200.0, 150.0),  # after it: as it is
        (200.5, 200.0, 200.5),  # written just after the round read its now (found by a review): as it is
        (250.0, 200.0, 100.0),  # well past now: stored before the clock was set back
    ],
)
def test_times_before_a_jump_count_from_it(at: float | None, now: float, counted: float | None) -> None:
    since = SinceJump()
    assert since(at, now) == at  # no jump seen: every time as it is
    since.jumped(100.0)
    assert since(at, now) == counted


def test_a_time_ahead_of_a_clock_set_back_stays_before_the_jump_when_the_clock_catches_up() -> None:
    since = SinceJump()
    since.jumped(1000.0)  # set back an hour: an agent's last output reads as at 4000
    assert since(4000.0, 1000.0) == 1000.0
    assert since(4000.0, 4100.0) == 1000.0  # its silence counts from the jump, not from 4000
    since.jumped(5000.0)
    assert since(4000.0, 5000.0) == 5000.0  # (a new jump: counted from it)


def test_a_fake_clock_jumps_by_a_number_of_seconds() -> None:
    with pytest.raises(ValueError, match="number of seconds"):
        FakeClock().jump(float("nan"))


def test_a_host_on_its_way_when_the_machine_slept_is_still_on_its_way_on_waking() -> None:
    # Found by a review: started just before a sleep, it read as a start that never came, and was
    # started again.
    from czar.core.states import WorkerRole, WorkerState
    from czar.store.records import Worker
    from czar.supervisor.healer import host_alive

    before = 1000.0
    starting = Worker(
        "w1", "sim", WorkerState.STARTING, None, None, None, None, before, None, before, None, None, None, None, 0,
        WorkerRole.AUTHOR,
    )  # fmt: skip
    since = SinceJump()
    now = before + 3600.0  # the lid opened an hour later
    assert not host_alive(starting, now, {"w1"})
    since.jumped(now)
    assert host_alive(starting, now, {"w1"}, since)
