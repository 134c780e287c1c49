"""A clock that moves only when told to, for ``czar.core.clock.Clock``."""

from __future__ import annotations


class FakeClock:
    """Wall time and monotonic time, moved together by ``advance``; neither ever goes back."""

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
