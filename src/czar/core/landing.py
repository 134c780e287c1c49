"""What follows a task's turn in the merge queue: merged, held back, made again, or failed. Pure.

The merge queue finds how each task's merge went (``Landing``); ``after_landing`` says where the
task goes and what it costs: only work at fault (its merge conflicted, or broke the project's
checks) uses a round, and the last round fails it (``czar.core.rounds``). Waiting for a task that
comes first, or making the work again because the integration branch moved under it, costs
nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from czar.core.rounds import Setback, after_setback
from czar.core.states import TaskState


class Landing(StrEnum):
    MERGED = "merged"  # in the integration branch
    HELD = "held"  # its work overlaps a task in flight that comes first: it merges after it
    NEXT_BATCH = "next_batch"  # a task before it in its batch broke the checks: it merges with the next
    MOVED_UNDER = "moved_under"  # the integration branch changed its lines since it was verified
    BROKE = "broke"  # its merge conflicted, or broke the project's checks


@dataclass(frozen=True)
class AfterLanding:
    state: TaskState  # where the task goes: merged, approved (waits), ready (made again) or failed
    rounds: int  # the rounds it has used after it
    charged: bool  # the landing used a round


def after_landing(landing: Landing, rounds: int, limit: int) -> AfterLanding:
    """Where a task that had used ``rounds`` of its ``limit`` goes after ``landing``."""
    match landing:
        case Landing.MERGED:
            return AfterLanding(TaskState.MERGED, rounds, False)
        case Landing.HELD | Landing.NEXT_BATCH:
            return AfterLanding(TaskState.APPROVED, rounds, False)
        case Landing.MOVED_UNDER:
            return AfterLanding(TaskState.READY, after_setback(Setback.MOVED_UNDER, rounds, limit).rounds, False)
        case Landing.BROKE:
            after = after_setback(Setback.MERGE_BROKE, rounds, limit)
            return AfterLanding(TaskState.FAILED if after.fails else TaskState.READY, after.rounds, True)
        case _:
            assert_never(landing)
