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


@overload
def since_jump(at: float, jumped_at: float | None, now: float) -> float: ...
@overload
def since_jump(at: float | None, jumped_at: float | None, now: float) -> float | None: ...
def since_jump(at: float | None, jumped_at: float | None, now: float) -> float | None:
    """A stored time, counted from the last jump noticed (``jumped_at``) when it came before it:
    earlier than the jump (the clock moved on), or later than now (it was set back)."""
    if at is None or jumped_at is None:
        return at
    return jumped_at if at < jumped_at or at > now else at
