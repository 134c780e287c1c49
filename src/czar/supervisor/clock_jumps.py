"""The wall clock moving apart from the monotonic one: the machine slept (a laptop's lid closed;
Linux's monotonic clock stands still meanwhile) or its clock was set.

The health rounds judge silence, progress and unanswered requests by wall-clock times that several
processes stored, so an hour's sleep read as an hour of silence from every agent: on waking, each
was nudged, pending permission requests were denied, stalled tasks were reported. After a jump,
the times stored before it count from the moment it was noticed (see ``Healer``): nobody is judged
for time in which nothing could run.
"""

from __future__ import annotations

from typing import overload

from czar.core.clock import Clock

JUMP_SECONDS = 10.0  # a step of the wall clock this large is a jump; NTP slews far more slowly


class ClockJumps:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._offset = clock.time() - clock.monotonic()

    def look(self) -> float:
        """How far the wall clock jumped since the last look (negative: it was set back), or 0.0.
        Small drifts are taken in as they come, so that they never add up to a jump."""
        offset = self.clock.time() - self.clock.monotonic()
        jumped, self._offset = offset - self._offset, offset
        return jumped if abs(jumped) >= JUMP_SECONDS else 0.0


AHEAD_SECONDS = 1.0  # a time this far past the round's now was written before a jump back, not since


class SinceJump:
    """Stored times counted from the last jump noticed, when they came before it: earlier than the
    jump (the clock moved on), or, after the clock was set back, ahead of it. A time ahead stays
    one of before the jump once seen, also when the clock has caught up with it (an agent silent
    since then would otherwise look silent only from that time on). A time written just after the
    round read its ``now`` (another process at work meanwhile) is taken as it is."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.ahead: set[float] = set()

    def jumped(self, now: float) -> None:
        self.at, self.ahead = now, set()

    @overload
    def __call__(self, t: float, now: float) -> float: ...
    @overload
    def __call__(self, t: float | None, now: float) -> float | None: ...
    def __call__(self, t: float | None, now: float) -> float | None:
        if t is None or self.at is None:
            return t
        if t < self.at:
            return self.at
        if t > now + AHEAD_SECONDS or t in self.ahead:
            self.ahead.add(t)
            return self.at
        return t
