"""The words of the permission policy: decisions, verdicts, and where a task may write."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase


class Decision(StrEnum):
    ALLOW = "allow"  # go ahead
    DENY = "deny"  # refused; the agent is told why
    ASK = "ask"  # no rule decides: a person must (denied if nobody answers in time)


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    reason: str


def allow(reason: str) -> Verdict:
    return Verdict(Decision.ALLOW, reason)


def deny(reason: str) -> Verdict:
    return Verdict(Decision.DENY, reason)


def ask(reason: str) -> Verdict:
    return Verdict(Decision.ASK, reason)


@dataclass(frozen=True)
class Context:
    worktree: str  # absolute path of the task's checkout
    base_branch: str
    branch: str = ""  # the task's own branch, the one ref it may move
    integration_branch: str = ""
    writable: tuple[str, ...] = ()  # other folders it may write under (its temp folder)

    @property
    def protected(self) -> frozenset[str]:
        """Branches no agent may move: the base branch and the integration branch."""
        return frozenset(b for b in (self.base_branch, self.integration_branch) if b)


def inside(path: str, root: str) -> bool:
    """True if ``path`` (absolute, or relative to ``root``) stays within ``root``."""
    if not path or path.startswith(("~", "$")):
        return False  # a home folder or a variable: somewhere a shell would decide, not here
    full = posixpath.normpath(path if path.startswith("/") else posixpath.join(root, path))
    root = posixpath.normpath(root)
    return full == root or full.startswith(root + "/")


def writable(path: str, ctx: Context, *, git: bool = True) -> bool:
    """True if an agent may write ``path`` (absolute): in its checkout, or under a folder of its own,
    and (``git``) not in a repository's own files (``git_files``)."""
    full = posixpath.normpath(path)
    if git and git_files(full, ctx) is not None:
        return False
    return inside(full, ctx.worktree) or any(inside(full, w) and full != posixpath.normpath(w) for w in ctx.writable)


def git_files(path: str, ctx: Context) -> str | None:
    """``"own"`` if ``path`` (absolute) is the checkout's ``.git`` or in it, ``"nested"`` if it is
    another ``.git`` under the checkout or an agent's folder, else None. Written by hand, a ``.git``
    can point git anywhere (``gitdir: /home/you/repo/.git``): only git itself writes there. A
    glob is taken for every name it matches (``.gi?``); ``.git/info/exclude`` (patterns of files
    git ignores, nothing it runs) may be written."""
    full = posixpath.normpath(path)
    for root in (ctx.worktree, *ctx.writable):
        root = posixpath.normpath(root)
        if not full.startswith(root + "/"):
            continue
        parts = full[len(root) + 1 :].split("/")
        # (bash's globs match a leading dot only when they start with one: dotglob asks)
        # (and nocaseglob: `.GI[T]` matches .git)
        hit = next((k for k, part in enumerate(parts) if part[:1] == "." and fnmatchcase(".git", part.lower())), None)
        if hit is None or parts[hit:] == [".git", "info", "exclude"]:
            return None
        return "own" if root == posixpath.normpath(ctx.worktree) and hit == 0 else "nested"
    return None


def through_links(path: str) -> bool:
    """Whether ``path`` may lead elsewhere than its text says: a ``..`` after a name (which may be
    a link), or a glob that may match ``..`` (``.?``, when bash's globskipdots is off)."""
    named = False
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == ".." or (part[:1] == "." and any(c in part for c in "*?[") and fnmatchcase("..", part)):
            if named or part != "..":
                return True
        else:
            named = True
    return False


def worst(verdicts: Iterable[Verdict], fallback: Verdict) -> Verdict:
    """One verdict for several: any denial wins, then any question, else they all allow."""
    seen = list(verdicts)
    for decision in (Decision.DENY, Decision.ASK):
        for v in seen:
            if v.decision is decision:
                return v
    if not seen:
        return fallback
    return allow("; ".join(dict.fromkeys(v.reason for v in seen)))
