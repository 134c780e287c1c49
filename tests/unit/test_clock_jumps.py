"""Telling a jump of the wall clock (a machine's sleep, a clock set) from its slow drift."""

from __future__ import annotations

import pytest

from czar.supervisor.clock_jumps import JUMP_SECONDS, ClockJumps, since_jump
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
        (250.0, 200.0, 100.0),  # later than now: stored before the clock was set back
    ],
)
def test_times_before_a_jump_count_from_it(at: float | None, now: float, counted: float | None) -> None:
    assert since_jump(at, 100.0, now) == counted
    assert since_jump(at, None, now) == at  # no jump seen: every time as it is


def test_a_fake_clock_jumps_by_a_number_of_seconds() -> None:
    with pytest.raises(ValueError, match="number of seconds"):
        FakeClock().jump(float("nan"))
