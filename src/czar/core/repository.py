"""The repository port: what the supervisor's radar and merge queue ask of git, and nothing more.

``czar.vcs.repository.GitRepository`` is git; ``czar.testing.FakeRepository`` keeps git's
semantics in memory (commits, three-way merges, ``diff -U0``), so that the radar's holds and the
merge queue's batches and bisection are tested in milliseconds. A contract test holds the two to
the same answers (``tests/integration/test_repository_contract.py``).

Refs are branch names or commit ids; paths are the integration worktree (where merges are made,
on a detached HEAD) and the tasks' checkouts (clones the agents commit in).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Protocol


class MergeResult(NamedTuple):
    ok: bool
    output: str  # what git said: on a conflict, the files and its message
    stopped: bool = False  # git was killed (by a signal): it said nothing of the work


class Repository(Protocol):
    # -- reading -----------------------------------------------------------------------------

    def tip(self, ref: str) -> str:
        """The commit ``ref`` names (GitError if none)."""
        ...

    def tips(self, prefix: str = "czar/") -> dict[str, str]:
        """Every branch under ``prefix`` and its commit."""
        ...

    def checked_out(self) -> dict[str, Path]:
        """Each branch checked out in a worktree of the repository (yours included), and where."""
        ...

    def is_ancestor(self, ancestor: str, descendant: str) -> bool: ...

    def roots(self, ref: str) -> list[str]:
        """The commits ``ref``'s history starts from: which repository this is."""
        ...

    def has_commit(self, commit: str) -> bool: ...

    def merge_base(self, a: str, b: str) -> str | None: ...

    def diff_zero(self, base: str, tip: str) -> str:
        """``git diff -U0`` from ``base`` to ``tip`` (read with ``czar.core.hunks.parse``)."""
        ...

    def commits_ahead(self, base: str, branch: str) -> int:
        """Commits on ``branch`` not in ``base``."""
        ...

    def changed_files(self, base: str, branch: str) -> list[str]:
        """What ``branch`` changed since it left ``base`` (from their merge base)."""
        ...

    def files_between(self, a: str, b: str) -> list[str]:
        """The files that differ between two commits (``git diff --name-only a b``)."""
        ...

    def merge_commit(self, a: str, b: str, message: str) -> str | None:
        """A merge commit of ``a`` and ``b`` on no branch (their files merged three ways); None
        if they conflict."""
        ...

    def own_changes(self, base: str, tip: str) -> str:
        """The ``git diff -U0`` of each commit of ``tip`` that ``base`` lacks, merges left out
        (what the branch changed in commits of its own, not in a merge's resolution)."""
        ...

    def first_parent(self, commit: str) -> str | None:
        """The commit's first parent (a merge's: the branch it was made on); None for a root."""
        ...

    def merge_tree(self, a: str, b: str) -> list[str] | None:
        """The files a merge of ``a`` and ``b`` would conflict in; None if it merges cleanly."""
        ...

    # -- the integration worktree ------------------------------------------------------------

    def head(self, worktree: Path) -> str: ...

    def detach(self, worktree: Path, ref: str) -> None:
        """Check ``ref`` out, detached, discarding what the worktree held."""
        ...

    def merge(self, worktree: Path, branch: str, message: str) -> MergeResult:
        """Merge ``branch`` into the worktree's HEAD with a merge commit; undone on a conflict."""
        ...

    def reset_hard(self, worktree: Path, ref: str) -> None: ...

    def clean_worktree(self, worktree: Path) -> None:
        """Drop a half-done merge and stray changes."""
        ...

    def unlock_worktree(self, worktree: Path) -> list[str]:
        """Remove the locks a killed git left in a worktree of the repository's that only czar
        works in (the integration worktree); what was removed."""
        ...

    def move_branch(self, branch: str, new: str, old: str) -> None:
        """Point ``branch`` at ``new`` if it still points at ``old`` (GitError if not)."""
        ...

    # -- the tasks' branches and checkouts ---------------------------------------------------

    def ensure_branch(self, branch: str, start: str) -> bool:
        """Create ``branch`` at ``start`` unless it exists; True if created."""
        ...

    def reset_branch(self, branch: str, to: str) -> None:
        """Point ``branch`` at ``to``, discarding its commits."""
        ...

    def has_checkout(self, checkout: Path) -> bool: ...

    def make_checkout(self, checkout: Path, branch: str) -> None:
        """A clone at ``checkout`` with ``branch`` (which must exist) checked out, replacing
        whatever was there."""
        ...

    def make_review_checkout(self, checkout: Path, commit: str) -> None:
        """A clone at ``checkout`` with ``commit`` checked out, detached (a reviewer reads it),
        replacing whatever was there."""
        ...

    def harvest(self, checkout: Path, branch: str, known: str | None) -> str | None:
        """Bring the checkout's ``branch`` into the repository if it moved from ``known``; the
        repository's tip of it afterwards (``known`` if nothing moved or it cannot be read)."""
        ...

    def harvest_commit(self, checkout: Path, branch: str, commit: str) -> bool:
        """Point the repository's ``branch`` at the checkout's ``commit``; False if it cannot be had."""
        ...

    def discard_checkout(self, checkout: Path) -> None:
        """Remove a task's checkout (a merged task's, say)."""
        ...

    def keep_unmerged(self, checkout: Path, branch: str) -> list[tuple[str, str | None]]:
        """Before a merged task's checkout goes: the commits it holds (on ``branch``, or checked
        out) that the repository's ``branch`` does not (its agent committed after it handed its
        work in), kept under refs of their own: (commit, the ref that keeps it; None if it could
        not be brought in)."""
        ...

    def replaced(self) -> list[tuple[str, str, str]]:
        """Commits a task branch held that someone else put there (a person committing on it), which
        a harvest replaced with its agent's work since the last call: (branch, commit, the ref
        that keeps it)."""
        ...
