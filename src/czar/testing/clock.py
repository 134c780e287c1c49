"""A clock that moves only when told to, for ``czar.core.clock.Clock``."""

from __future__ import annotations

import math


class FakeClock:
    """Wall time and monotonic time, moved together by ``advance``; the monotonic one never goes
    back. ``jump`` moves the wall clock alone, as a machine's sleep or a person setting it does."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._wall = start
        self._elapsed = 0.0

    def time(self) -> float:
        return self._wall + self._elapsed

    def monotonic(self) -> float:
        return self._elapsed

    def advance(self, seconds: float) -> None:
        if not seconds >= 0:  # also refuses nan
            raise ValueError(f"a clock does not go back (advance by {seconds})")
        self._elapsed += seconds

    def jump(self, seconds: float) -> None:
        """The wall clock alone moves (back, if negative): Linux's monotonic clock stands still
        while the machine sleeps, and setting the clock does not move it."""
        if not math.isfinite(seconds):
            raise ValueError(f"a clock jumps by a number of seconds, not {seconds}")
        self._wall += seconds
