"""A repository in memory, for ``czar.core.repository.Repository``.

It keeps git's semantics where czar depends on them: commits with parents and whole trees;
branches; the merge base (the nearest common ancestor); ``git diff -U0`` (hunk headers as git
writes them); three-way merges line by line, where changes that overlap or touch conflict and
changes with an unchanged line between them merge, and identical changes on both sides merge once;
``merge --no-ff``; compare-and-swap on a branch; the tasks' checkouts as clones that branches are
brought in from. ``tests/integration/test_repository_contract.py`` holds it to real git.

What it does not do: renames, modes, binary files, diffs of files that repeat lines in ways git's
diff and Python's ``difflib`` may align differently, and criss-cross merges (two best common
ancestors: git merges against a base made of both, the fake against the nearest one). czar makes
no criss-cross: agents only merge the integration branch into their own.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from czar.core.repository import MergeResult
from czar.errors import GitError

Files = Mapping[str, str]  # path -> the file's text


@dataclass(frozen=True)
class Commit:
    id: str
    parents: tuple[str, ...]
    files: Files
    message: str


@dataclass(frozen=True)
class _Change:
    """Base lines ``start``..``end`` (half open) replaced by ``lines``."""

    start: int
    end: int
    lines: tuple[str, ...]


class FakeRepository:
    def __init__(self, files: Files | None = None, *, branch: str = "main") -> None:
        self.commits: dict[str, Commit] = {}
        self.branches: dict[str, str] = {}
        self.worktrees: dict[Path, str] = {}  # a worktree czar owns -> its (detached) HEAD
        self.checkouts: dict[Path, dict[str, str]] = {}  # a task's clone -> its branches
        self.yours: dict[str, Path] = {}  # a branch a person checked out -> where (``checked_out``)
        self.merges_made = 0
        first = {"README.md": "# sample\n"} if files is None else dict(files)
        self.branches[branch] = self._store((), first, "initial")

    # -- building history (for tests) -------------------------------------------------------

    def _store(self, parents: tuple[str, ...], files: Files, message: str) -> str:
        text = repr((parents, sorted(files.items()), message, len(self.commits)))
        cid = hashlib.sha1(text.encode()).hexdigest()
        self.commits[cid] = Commit(cid, parents, dict(files), message)
        return cid

    def branch(self, name: str, at: str) -> str:
        """Create or move ``name`` to ``at``; returns the commit."""
        self.branches[name] = self.tip(at)
        return self.branches[name]

    def commit(self, branch: str, changes: Mapping[str, str | None], message: str = "work") -> str:
        """A commit on ``branch`` (which must exist): each path's new text, None to delete it."""
        self.branches[branch] = self._child(self.tip(branch), changes, message)
        return self.branches[branch]

    def merge_by_hand(self, branch: str, other: str, changes: Mapping[str, str | None], message: str = "merge") -> str:
        """A merge of ``other`` into ``branch`` made by hand (an agent's resolution): ``branch``'s
        files with ``changes``, whatever ``other`` held."""
        files = dict(self.commits[self.tip(branch)].files)
        for path, text in changes.items():
            if text is None:
                files.pop(path, None)
            else:
                files[path] = text
        self.branches[branch] = self._store((self.tip(branch), self.tip(other)), files, message)
        return self.branches[branch]

    def _child(self, parent: str, changes: Mapping[str, str | None], message: str) -> str:
        files = dict(self.commits[parent].files)
        for path, text in changes.items():
            if text is None:
                files.pop(path, None)
            else:
                files[path] = text
        return self._store((parent,), files, message)

    def add_worktree(self, path: Path, ref: str) -> None:
        self.worktrees[path] = self.tip(ref)

    def clone(self, checkout: Path, branch: str) -> None:
        """A task's checkout with ``branch`` as the repository has it."""
        self.checkouts[checkout] = {branch: self.tip(branch)}

    def commit_in(self, checkout: Path, branch: str, changes: Mapping[str, str | None], message: str = "work") -> str:
        """A commit an agent makes in its checkout: the repository's branch does not move."""
        mine = self.checkouts[checkout]
        mine[branch] = self._child(mine[branch], changes, message)
        return mine[branch]

    def merge_in(
        self, checkout: Path, branch: str, other: str, changes: Mapping[str, str | None], message: str = "merge"
    ) -> str:
        """An agent merges ``other`` into its branch in its checkout (``git merge``), resolving
        what conflicts with ``changes`` (each path's text, None to delete it)."""
        mine = self.checkouts[checkout]
        files, _ = self._merged(mine[branch], self.tip(other))
        for path, text in changes.items():
            if text is None:
                files.pop(path, None)
            else:
                files[path] = text
        mine[branch] = self._store((mine[branch], self.tip(other)), files, message)
        return mine[branch]

    def reset_in(self, checkout: Path, branch: str, to: str) -> None:
        """An agent resets its branch in its checkout (to make its work again, say)."""
        self.checkouts[checkout][branch] = self.tip(to)

    def files(self, ref: str) -> Files:
        return self.commits[self.tip(ref)].files

    # -- reading -----------------------------------------------------------------------------

    def tip(self, ref: str) -> str:
        ref = ref.removeprefix("refs/heads/")
        if ref in self.branches:
            return self.branches[ref]
        if ref in self.commits:
            return ref
        raise GitError(f"git rev-parse --verify failed: fatal: Needed a single revision ({ref!r})")

    def tips(self, prefix: str = "czar/") -> dict[str, str]:
        return {b: c for b, c in sorted(self.branches.items()) if b.startswith(prefix)}

    def checked_out(self) -> dict[str, Path]:
        return dict(self.yours)  # czar's own worktrees are detached: only a person's have a branch

    def _ancestors(self, cid: str) -> dict[str, int]:
        """Every ancestor of ``cid`` (itself included) and its distance."""
        seen = {cid: 0}
        todo = [cid]
        while todo:
            c = todo.pop(0)
            for p in self.commits[c].parents:
                if p not in seen:
                    seen[p] = seen[c] + 1
                    todo.append(p)
        return seen

    def roots(self, ref: str) -> list[str]:
        return sorted(c for c in self._ancestors(self.tip(ref)) if not self.commits[c].parents)

    def has_commit(self, commit: str) -> bool:
        return commit in self.commits

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        try:
            return self.tip(ancestor) in self._ancestors(self.tip(descendant))
        except GitError:
            return False

    def merge_base(self, a: str, b: str) -> str | None:
        try:
            ours, theirs = self._ancestors(self.tip(a)), self._ancestors(self.tip(b))
        except GitError:
            return None
        common = ours.keys() & theirs.keys()
        # The best common ancestors: those no other common ancestor descends from.
        best = [c for c in common if not any(c != d and c in self._ancestors(d) for d in common)]
        return min(best, key=lambda c: (ours[c] + theirs[c], c)) if best else None

    def diff_zero(self, base: str, tip: str) -> str:
        old, new = self.files(base), self.files(tip)
        out: list[str] = []
        for path in sorted(old.keys() | new.keys()):
            a, b = old.get(path), new.get(path)
            if a == b:
                continue
            out.append(f"diff --git a/{path} b/{path}")
            if a is None:
                out.append("new file mode 100644")
            elif b is None:
                out.append("deleted file mode 100644")
            out.append(f"index {_blob(a)}..{_blob(b)}" + (" 100644" if a is not None and b is not None else ""))
            if not (a or b):
                continue  # an empty file made or removed: git writes no ---/+++ lines for it
            out.append(f"--- a/{path}" if a is not None else "--- /dev/null")
            out.append(f"+++ b/{path}" if b is not None else "+++ /dev/null")
            out.extend(_hunks(_lines(a), _lines(b)))
        return "".join(line + "\n" for line in out)

    def commits_ahead(self, base: str, branch: str) -> int:
        return len(self._ancestors(self.tip(branch)).keys() - self._ancestors(self.tip(base)).keys())

    def changed_files(self, base: str, branch: str) -> list[str]:
        start = self.merge_base(base, branch)
        return self.files_between(start, branch) if start is not None else sorted(self.files(branch))

    def files_between(self, a: str, b: str) -> list[str]:
        old, new = self.files(a), self.files(b)
        return sorted(p for p in old.keys() | new.keys() if old.get(p) != new.get(p))

    def merge_commit(self, a: str, b: str, message: str) -> str | None:
        files, conflicted = self._merged(self.tip(a), self.tip(b))
        return None if conflicted else self._store((self.tip(a), self.tip(b)), files, message)

    def own_changes(self, base: str, tip: str) -> str:
        distance = self._ancestors(self.tip(tip))
        mine = distance.keys() - self._ancestors(self.tip(base)).keys()
        newest_first = sorted(mine, key=lambda c: distance[c])  # as git log
        own = [c for c in newest_first if len(self.commits[c].parents) == 1]
        return "".join(self.diff_zero(self.commits[c].parents[0], c) for c in own)

    def first_parent(self, commit: str) -> str | None:
        parents = self.commits[self.tip(commit)].parents
        return parents[0] if parents else None

    def merge_tree(self, a: str, b: str) -> list[str] | None:
        _, conflicted = self._merged(self.tip(a), self.tip(b))
        return conflicted or None

    def _merged(self, a: str, b: str) -> tuple[dict[str, str], list[str]]:
        """The three-way merge of two commits' trees, and the files that conflict."""
        base_id = self.merge_base(a, b)
        base = self.commits[base_id].files if base_id else {}
        ours, theirs = self.commits[a].files, self.commits[b].files
        files: dict[str, str] = {}
        conflicted: list[str] = []
        for path in sorted(base.keys() | ours.keys() | theirs.keys()):
            o, x, t = base.get(path), ours.get(path), theirs.get(path)
            if x == t or o == t:
                merged = x
            elif o == x:
                merged = t
            elif o is None or x is None or t is None:
                conflicted.append(path)  # added twice differently, or changed on one side and deleted
                continue
            else:
                merged = _merge_lines(o, x, t)
                if merged is None:
                    conflicted.append(path)
                    continue
            if merged is not None:
                files[path] = merged
        return files, conflicted

    # -- the integration worktree ------------------------------------------------------------

    def _worktree(self, worktree: Path) -> str:
        if worktree not in self.worktrees:
            raise GitError(f"git rev-parse failed in {worktree}: fatal: not a git repository")
        return self.worktrees[worktree]

    def head(self, worktree: Path) -> str:
        return self._worktree(worktree)

    def detach(self, worktree: Path, ref: str) -> None:
        self._worktree(worktree)
        self.worktrees[worktree] = self.tip(ref)

    def merge(self, worktree: Path, branch: str, message: str) -> MergeResult:
        head, tip = self._worktree(worktree), self.tip(branch)
        if self.is_ancestor(tip, head):
            return MergeResult(True, "Already up to date.\n")
        files, conflicted = self._merged(head, tip)
        if conflicted:
            said = "".join(f"CONFLICT (content): Merge conflict in {p}\n" for p in conflicted)
            return MergeResult(False, said + "Automatic merge failed; fix conflicts and then commit the result.\n")
        self.worktrees[worktree] = self._store((head, tip), files, message)
        self.merges_made += 1
        return MergeResult(True, "Merge made by the 'ort' strategy.\n")

    def reset_hard(self, worktree: Path, ref: str) -> None:
        self.detach(worktree, ref)

    def clean_worktree(self, worktree: Path) -> None:
        self._worktree(worktree)  # nothing stray is ever left in memory

    def unlock_worktree(self, worktree: Path) -> list[str]:
        return []  # no git is ever killed in memory

    def move_branch(self, branch: str, new: str, old: str) -> None:
        if self.branches.get(branch) != old:
            raise GitError(f"git update-ref failed: cannot lock ref 'refs/heads/{branch}': is not at {old}")
        self.branches[branch] = self.tip(new)

    # -- the tasks' branches and checkouts ---------------------------------------------------

    def ensure_branch(self, branch: str, start: str) -> bool:
        if branch in self.branches:
            return False
        self.branches[branch] = self.tip(start)
        return True

    def reset_branch(self, branch: str, to: str) -> None:
        if branch in self.yours:  # as git: it moves no branch checked out in a worktree
            raise GitError(
                f"git branch --force failed: fatal: cannot force update the branch '{branch}' used by worktree"
            )
        self.branches[branch] = self.tip(to)

    def has_checkout(self, checkout: Path) -> bool:
        return checkout in self.checkouts

    def make_checkout(self, checkout: Path, branch: str) -> None:
        self.clone(checkout, branch)

    def make_review_checkout(self, checkout: Path, commit: str) -> None:
        if commit not in self.commits:
            raise GitError(f"not a commit id: {commit[:40]!r}")
        self.checkouts[checkout] = {"HEAD": commit}

    def harvest(self, checkout: Path, branch: str, known: str | None) -> str | None:
        now = self.checkouts.get(checkout, {}).get(branch)
        if now is None or now == known:
            return known
        self.branches[branch] = now
        return now

    def harvest_commit(self, checkout: Path, branch: str, commit: str) -> bool:
        if self.branches.get(branch) == commit:
            return True  # brought in already
        if checkout not in self.checkouts or commit not in self.commits:
            return False
        self.branches[branch] = commit
        return True

    def replaced(self) -> list[tuple[str, str, str]]:
        return []  # only czar moves the fake's task branches: nobody else's commit is on one

    def discard_checkout(self, checkout: Path) -> None:
        self.checkouts.pop(checkout, None)

    def keep_unmerged(self, checkout: Path, branch: str) -> list[tuple[str, str | None]]:
        held = self.branches.get(branch)
        kept: list[tuple[str, str | None]] = []
        for commit in dict.fromkeys(c for c in (self.checkouts.get(checkout, {}).get(branch),) if c):
            if commit in self.commits and not (held is not None and self.is_ancestor(commit, held)):
                ref = f"refs/czar-kept/{branch}/{commit[:12]}"
                self.branches[ref] = commit
                kept.append((commit, ref))
        return kept


def _blob(text: str | None) -> str:
    """git's name for a file holding ``text`` (all zeros: none), as ``--full-index`` writes it."""
    if text is None:
        return "0" * 40
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def _lines(text: str | None) -> list[str]:
    return [] if text is None else text.splitlines(keepends=True)


def _range(start: int, count: int) -> str:
    """A hunk's range as git writes it: an empty range names the line before it."""
    if count == 0:
        return f"{start},0"
    return f"{start + 1}" if count == 1 else f"{start + 1},{count}"


def _hunks(old: list[str], new: list[str]) -> Iterator[str]:
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        yield f"@@ -{_range(i1, i2 - i1)} +{_range(j1, j2 - j1)} @@"
        for side, lines in (("-", old[i1:i2]), ("+", new[j1:j2])):
            for line in lines:
                yield side + line.rstrip("\n")
                if not line.endswith("\n"):
                    yield "\\ No newline at end of file"


def _changes(base: list[str], side: list[str]) -> list[_Change]:
    matcher = difflib.SequenceMatcher(None, base, side, autojunk=False)
    return [_Change(i1, i2, tuple(side[j1:j2])) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def _merge_lines(base: str, ours: str, theirs: str) -> str | None:
    """The three-way merge of one file's lines; None on a conflict: changes that overlap or touch
    (no unchanged line between them), unless both sides made the same change."""
    lines = _lines(base)
    mine, other = _changes(lines, _lines(ours)), _changes(lines, _lines(theirs))
    for a in mine:
        for b in other:
            if a == b:
                continue
            if a.start <= b.end and b.start <= a.end:
                return None
    every = sorted({*mine, *other}, key=lambda c: (c.start, c.end))
    out: list[str] = []
    at = 0
    for c in every:
        out.extend(lines[at : c.start])
        out.extend(c.lines)
        at = c.end
    out.extend(lines[at:])
    return "".join(out)


if TYPE_CHECKING:  # mypy proves it fills the port
    from czar.core.repository import Repository

    _port: Repository = FakeRepository()
