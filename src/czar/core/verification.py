"""What follows a task's verification: approved, deferred, sent back with the evidence, or failed.

Pure, as ``decide()`` is: the supervisor gathers what the radar and the checks found, asks
``judge``, and carries the verdict out in one transaction (``Actions.verify``). Deferring costs
nothing (the work overlaps a task that comes first, or the integration branch moved under it:
no fault of the work); a verification that finds problems uses a round, and the last round fails
the task (``czar.core.rounds``).
"""

from __future__ import annotations

from dataclasses import dataclass

from czar.core.host_commands import MessageKind
from czar.core.rounds import Setback, after_setback


@dataclass(frozen=True)
class Blocker:
    """What the radar found against the work: the message its agent gets, the evidence, and
    the tasks it must wait for (none: it must bring the integration branch in)."""

    kind: MessageKind
    evidence: str
    waits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Approve:
    rounds: int  # the rounds used, this verification included


@dataclass(frozen=True)
class Defer:
    blocker: Blocker


@dataclass(frozen=True)
class SendBack:
    rounds: int
    evidence: str  # every problem found, for the agent


@dataclass(frozen=True)
class Fail:
    rounds: int
    evidence: str


Verdict = Approve | Defer | SendBack | Fail


UNRESOLVED = 3  # hand-ins in a row still in conflict with the integration branch, before a round is used


def judge(blocker: Blocker | None, problems: tuple[str, ...], rounds: int, limit: int, unresolved: int = 0) -> Verdict:
    """The verdict on work that had used ``rounds`` of its ``limit``: ``blocker`` is the radar's
    finding, ``problems`` what the verification found (no commits, files outside its scope,
    failed checks), each as evidence. ``unresolved``: hand-ins of this round deferred already for
    a blocker its own agent had to resolve (one with no task to wait for: bring the integration
    branch in). Waiting costs nothing, but not for ever: an agent that hands in the same conflict
    again and again (found by a probe: 404 times in 194 s, no round used) is charged a round at
    the ``UNRESOLVED``th, and fails with the last, as for failing checks."""
    if blocker is not None and (blocker.waits or unresolved < UNRESOLVED - 1):
        return Defer(blocker)
    if blocker is not None:
        problems = (
            f"Handed in {unresolved + 1} times in a row without resolving this (a round is used):\n\n"
            f"{blocker.evidence}",
            *problems,
        )
    if not problems:
        return Approve(rounds + 1)
    after = after_setback(Setback.CHECKS_FAILED, rounds, limit)
    evidence = "\n\n".join(problems)
    return Fail(after.rounds, evidence) if after.fails else SendBack(after.rounds, evidence)
