"""A task's rounds: what a setback costs it, and when it has none left.

A *round* is one go at getting a task's work verified: each verification uses one, passed or
failed. Setbacks after it are charged as rounds too when the work is at fault: a merge it broke,
an attempt abandoned (its worker vanished, or it worked on the wrong task). Setbacks that say
nothing of the work are not: waiting for other tasks, or the integration branch moving under
verified work (then the verification it passed does not count either: it is verified again as
the same round). A task fails once a charged setback leaves it at the plan's limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never


class Setback(StrEnum):
    CHECKS_FAILED = "checks_failed"  # its verification failed: that round is used
    CI_FAILED = "ci_failed"  # the forge's CI failed on its pull request: that round is used
    PERSON_ASKED = "person_asked"  # a person asked for changes on its pull request: no round used
    MERGE_BROKE = "merge_broke"  # its merge conflicted or broke the project's checks
    ABANDONED = "abandoned"  # its attempt was taken back (worker gone, given up on, confused)
    MOVED_UNDER = "moved_under"  # the integration branch moved under its verified work
    GAVE_WAY = "gave_way"  # it gave its worker back to wait for other tasks


@dataclass(frozen=True)
class Next:
    rounds: int  # the rounds it has used after the setback
    fails: bool  # none left: the task fails


def after_setback(setback: Setback, rounds: int, limit: int) -> Next:
    """What ``setback`` leaves a task that had used ``rounds`` of its ``limit``."""
    match setback:
        case Setback.CHECKS_FAILED | Setback.CI_FAILED | Setback.MERGE_BROKE | Setback.ABANDONED:
            used = rounds + 1
            return Next(used, used >= limit)
        case Setback.MOVED_UNDER:
            return Next(max(0, rounds - 1), False)
        case Setback.GAVE_WAY | Setback.PERSON_ASKED:
            return Next(rounds, False)
        case _:
            assert_never(setback)
