"""Pull requests, forge-neutral: what czar asks of the place its pull requests live (``Forge``),
and the pull request, its checks and its reviews as czar sees them.

One pull request per task, from ``czar/<task>`` into the integration branch, opened when the task
is first verified and updated on every later attempt. The local forge keeps them in the store
(``czar.forge.local``); GitHub and GitLab implement the same port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from czar.core import hunks, markdown
from czar.core.hunks import FileChange
from czar.core.repository import Repository


class PullState(StrEnum):
    OPEN = "open"
    MERGED = "merged"
    CLOSED = "closed"  # its task failed, or was taken out of the plan


class Verdict(StrEnum):
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"


@dataclass(frozen=True)
class CheckRun:
    """One check of a pull request's head commit: an acceptance command, the project's checks."""

    name: str
    passed: bool
    output: str = ""  # the end of what it printed
    timed_out: bool = False
    pending: bool = False  # still running (a forge's CI): neither passed nor failed yet
    url: str = ""  # where a person sees it (a forge's CI)


@dataclass(frozen=True)
class Finding:
    """A reviewer's finding on one line: what would fail, and how bad it is."""

    path: str
    line: int
    severity: str  # "blocking" or "note"
    failure: str  # the failure it would cause


@dataclass(frozen=True)
class Review:
    verdict: Verdict
    commit: str  # the head commit it saw: a later commit needs a review of its own
    reviewer: str
    summary: str = ""
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class Remark:
    """What a person wrote on a pull request on the forge: a review, a comment on a line, a comment."""

    id: str  # the forge's own, unique within the pull request
    author: str
    body: str
    changes_requested: bool = False  # a review that asks for changes
    commit: str | None = None  # the commit it was written on, when the forge says
    path: str | None = None  # a comment on a line: where
    line: int | None = None


@dataclass(frozen=True)
class FileStat:
    path: str
    added: int  # lines (-1 for a binary file)
    removed: int


@dataclass(frozen=True)
class PullDraft:
    """What a task's pull request says at a head commit (opened, or updated to it)."""

    task: str
    head_branch: str
    base_branch: str
    head_commit: str
    title: str
    body: str
    files: tuple[FileStat, ...] = ()
    rounds: int = 0
    cost_usd: float = 0.0
    checks: tuple[CheckRun, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class PullRef:
    """A pull request as the forge numbers it."""

    number: int
    task: str
    state: PullState
    head_commit: str
    url: str = ""  # where a person sees it (none for the local forge)


class Forge(Protocol):
    """Where czar's pull requests live."""

    def open_or_update(self, draft: PullDraft) -> PullRef:
        """The task's pull request, opened, or updated to the draft's head (its history kept)."""
        ...

    def post_review(self, number: int, review: Review) -> None: ...

    def checks(self, number: int) -> tuple[CheckRun, ...]:
        """The checks of the pull request's head commit."""
        ...

    def remarks(self, number: int) -> tuple[Remark, ...]:
        """What people (not czar) wrote on the pull request, oldest first."""
        ...

    def merge(self, number: int, head_commit: str, merged_as: str) -> None:
        """Record the pull request merged: only at ``head_commit``, the commit that was verified
        (``ForgeRefused`` if its head moved since)."""
        ...

    def close(self, number: int, reason: str) -> None: ...

    def closed_there(self, number: int) -> str | None:
        """Why czar must not merge the pull request: a person closed it on the forge (czar's
        record has it open), or None. Asked before czar merges a task for a remote forge."""
        ...

    def blocked(self, number: int) -> str | None:
        """Why the forge would not merge the pull request now (its required checks or reviews
        not satisfied yet), or None: asked before czar merges and checks it here for the forge."""
        ...

    def land(self, number: int, head_commit: str) -> str:
        """Merge the pull request on the forge itself, only at ``head_commit`` (the commit that was
        verified and reviewed), so the forge's rules apply (branch protection, required checks);
        the merge commit it made. ``ForgeRefused`` with the forge's words if its head moved or the
        forge will not merge it."""
        ...


def file_stats(changes: Mapping[str, FileChange]) -> tuple[FileStat, ...]:
    """Lines added and removed per file, from a diff's hunks (``czar.core.hunks.parse``)."""
    return tuple(
        FileStat(path, sum(len(h.added) for h in change.hunks), sum(h.old_count for h in change.hunks))
        for path, change in sorted(changes.items())
    )


def changes_since(repo: Repository, base: str, head: str) -> tuple[FileStat, ...]:
    """What ``head`` changed since it left ``base`` (from their merge base), file by file."""
    start = repo.merge_base(base, head) or base
    return file_stats(hunks.parse(repo.diff_zero(start, head)))


def describe(
    *,
    task: str,
    title: str,
    text: str,
    summary: str | None,
    checks: Sequence[CheckRun],
    log_tail: str,
    files: Sequence[FileStat],
    rounds: int,
    cost_usd: float,
) -> str:
    """A pull request's body (Markdown): the task, what its agent says it did, the checks and
    their output, the files changed, the rounds it took and what it cost. What is not czar's own
    (the agent's words, its files' names, the plan's text) is shown as code
    (``czar.core.markdown``): it can neither pass for czar's sections nor notify anyone."""
    said = (summary or "").strip() or "(nothing said)"
    marks = markdown.fence(text, said, log_tail)
    lines = [f"Task **{task}**: {markdown.code(title)}", "", *markdown.block(text.strip(), marks), ""]
    lines += ["## What the agent says it did", "", *markdown.block(said, marks), ""]
    lines += ["## Checks", ""]
    if checks:
        for c in checks:
            mark = "passed" if c.passed else "timed out" if c.timed_out else "failed"
            lines.append(f"- {markdown.code(c.name)}: {mark}")
        if log_tail.strip():
            lines += ["", "Their output, the end:", "", *markdown.block(log_tail.rstrip(), marks)]
    else:
        lines.append("(the plan names no acceptance command for this task)")
    added, removed = sum(max(f.added, 0) for f in files), sum(max(f.removed, 0) for f in files)
    lines += ["", f"## Files: {len(files)} changed, +{added} -{removed}", ""]
    lines += [f"- {markdown.code(f.path)} +{f.added} -{f.removed}" for f in files]
    lines += ["", f"Rounds: {rounds}. Cost: ${cost_usd:.4f}."]
    return "\n".join(lines) + "\n"
