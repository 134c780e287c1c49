"""The clock port: what czar's shell reads the time from, so that what depends on time (a stall,
a deadline) is tested by moving a fake clock (``czar.testing.FakeClock``), not by waiting."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def time(self) -> float:
        """Seconds since the epoch: what the store records."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going back: for durations."""
        ...
