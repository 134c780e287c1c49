"""Review: what a reviewer may answer, and what follows its answer.

Pure, as ``decide()`` is. A reviewer reads one commit (the pull request's head when it started)
and answers with findings and a verdict on that commit. A blocking finding names a line that
exists there and the failure it would cause; ``request_changes`` needs one at least (the author
must have something to act on), ``approve`` allows none; zero findings is a valid answer. What
follows: approved, changes sent back to the author's session, or (the plan's
``max_review_rounds`` used, or no reviewer answers) the task fails and a person hears.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from czar.core.forge import Finding, Verdict

SEVERITIES = ("blocking", "note")  # a blocking finding stops the merge; a note is advice
LOST_LIMIT = 3  # reviews of one commit that end with no verdict before the task fails


class ReviewState(StrEnum):
    OPEN = "open"  # a reviewer reads the commit
    APPROVED = "approved"  # its verdict: approve
    CHANGES_REQUESTED = "changes_requested"  # its verdict: request changes (with blocking findings)
    LOST = "lost"  # it ended with no verdict (its agent exited, crashed, ran out of time): retried


def verdict_of(text: str) -> Verdict | None:
    """A verdict as a person or an agent writes it (``approve``, ``request-changes``)."""
    word = text.strip().lower().replace("-", "_").replace(" ", "_")
    return next((v for v in Verdict if v.value == word), None)


def finding_problem(finding: Finding, lines: int | None) -> str | None:
    """Why ``finding`` cannot be taken, or None: ``lines`` is how many lines its file has at
    the reviewed commit (None: no such file there)."""
    if finding.severity not in SEVERITIES:
        return f"severity is {' or '.join(SEVERITIES)}, not {finding.severity!r}"
    if finding.severity == "blocking" and len(finding.failure.strip()) < 10:
        return "a blocking finding says the failure it would cause (what breaks, and when)"
    if lines is None:
        return f"{finding.path} is not a file of the reviewed commit"
    if not 1 <= finding.line <= lines:
        return f"{finding.path} has {lines} line(s) at the reviewed commit: no line {finding.line}"
    return None


def verdict_problem(verdict: Verdict, findings: tuple[Finding, ...]) -> str | None:
    """Why ``verdict`` does not fit the findings given with it, or None."""
    blocking = sum(f.severity == "blocking" for f in findings)
    if verdict is Verdict.APPROVE and blocking:
        return f"approve with {blocking} blocking finding(s): request changes, or give them as notes"
    if verdict is Verdict.REQUEST_CHANGES and not blocking:
        return "request changes names the blocking finding(s) first (a line and the failure it would cause)"
    return None


@dataclass(frozen=True)
class Approved:
    pass


@dataclass(frozen=True)
class ChangesRequested:
    round: int  # the review rounds used, this one included


@dataclass(frozen=True)
class OutOfRounds:
    round: int


Outcome = Approved | ChangesRequested | OutOfRounds


def after_review(verdict: Verdict, changes_before: int, limit: int) -> Outcome:
    """What follows a verdict on a task whose reviews had requested changes ``changes_before``
    times: the plan's ``limit`` (``max_review_rounds``) is how many times changes may go back
    to the author; a request beyond that fails the task."""
    if verdict is Verdict.APPROVE:
        return Approved()
    used = changes_before + 1
    return OutOfRounds(used) if used > limit else ChangesRequested(used)


def findings_text(findings: tuple[Finding, ...]) -> str:
    """The findings as the author reads them."""
    return "\n".join(f"- {f.path}:{f.line} [{f.severity}] {f.failure}" for f in findings)
