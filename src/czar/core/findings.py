"""What the conflict radar finds about a branch in flight (see ``czar.supervisor.radar``)."""

from __future__ import annotations

from enum import StrEnum

from czar.core.events import EventKind


class FindingKind(StrEnum):
    DUPLICATE = "duplicate"  # the same lines (or the same new file): work done twice
    CONFLICT = "conflict"  # would not merge cleanly, or changes lines next to each other
    SCOPE = "scope"  # changes files outside the task's scope and claims

    @property
    def event(self) -> EventKind:
        return EventKind(f"radar.{self.value}")  # each has one in the catalogue


# The findings that order two tasks' merges: the later one waits for the other.
OVERLAPS = frozenset({FindingKind.DUPLICATE, FindingKind.CONFLICT})
