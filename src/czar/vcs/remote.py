"""The project's remote (``[project] remote``): czar's branches fetched from it and pushed to it.

Only czar's own branches travel: a fetch brings the remote's ``czar/*`` (and the integration
branch) into ``refs/remotes/<remote>/`` and prunes those the remote no longer has, nothing else
of the user's; a push sends one branch at one commit. A task branch is pushed with a lease (it may
be made again from scratch: it replaces the remote's only if that is still what czar last saw
there); the integration branch only moves forward, so a remote that moved it otherwise refuses,
and the refusal is said, never skipped. Network commands have a time limit: a remote that hangs
costs a line in the log, not a stuck supervisor.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass

from czar.errors import GitError
from czar.vcs.git import Git

NETWORK_TIMEOUT = 60.0  # seconds a fetch or a push may take


@dataclass(frozen=True)
class AheadBehind:
    """Commits ``ahead`` on a branch that the other side lacks, and ``behind``: the other way."""

    ahead: int
    behind: int


class Remote:
    def __init__(self, git: Git, name: str, integration: str, prefix: str = "czar/") -> None:
        self.git = git
        self.name = name
        self.integration = integration
        self.prefix = prefix

    def exists(self) -> bool:
        """Whether the repository has a remote of that name."""
        return self.name in self.git.out("remote").split()

    def url(self) -> str:
        """Where the remote is (``git remote get-url``): a forge's repository is read from it.
        As configured: it may hold a credential (``without_secrets`` before showing it)."""
        return self.git.out("remote", "get-url", "--end-of-options", self.name).strip()

    def reachable(self, timeout: float = NETWORK_TIMEOUT) -> tuple[bool, str]:
        """Whether the remote answers (``git ls-remote``): how many branches it has, or what git said."""
        result = self.git.run("ls-remote", "--heads", "--end-of-options", self.name, check=False, timeout=timeout)
        if not result.ok:
            return False, _said(result.output)
        return True, f"{len(result.output.splitlines())} branch(es)"

    def tracking(self, branch: str) -> str:
        """Where the remote's copy of ``branch`` is kept here, as of the last fetch."""
        return f"refs/remotes/{self.name}/{branch}"

    def fetch(self, timeout: float = NETWORK_TIMEOUT) -> str | None:
        """Bring the remote's czar branches in, pruning the ones it dropped; the remote's message
        if it could not be done, else None."""
        specs = [f"+refs/heads/{self.prefix}*:refs/remotes/{self.name}/{self.prefix}*"]
        if not self.integration.startswith(self.prefix):
            specs.append(f"+refs/heads/{self.integration}:{self.tracking(self.integration)}")
        result = self.git.run(
            "fetch",
            "--prune",
            "--quiet",
            "--no-tags",
            "--end-of-options",
            self.name,
            *specs,
            check=False,
            timeout=timeout,
        )
        return None if result.ok else _said(result.output)

    def push(self, branch: str, commit: str, *, replace: bool, timeout: float = NETWORK_TIMEOUT) -> str | None:
        """Point the remote's ``branch`` at ``commit``: forward only, or (``replace``) whatever it
        holds as long as that is what the last fetch saw. The remote's message if it refused."""
        lease: list[str] = []
        if replace:
            try:
                seen = self.git.tip(self.tracking(branch))
            except GitError:
                seen = ""  # the remote had no such branch: it must still have none
            lease = [f"--force-with-lease=refs/heads/{branch}:{seen}"]
        result = self.git.run(
            "push",
            "--quiet",
            "--porcelain",
            *lease,
            "--end-of-options",
            self.name,
            f"{commit}:refs/heads/{branch}",
            check=False,
            timeout=timeout,
            hooks=True,  # your pre-push hook guards what leaves the machine
        )
        if not result.ok:
            return _said(result.output)
        # Known at once, without waiting for the next fetch.
        self.git.run("update-ref", self.tracking(branch), commit, check=False)
        return None

    def tips(self) -> dict[str, str]:
        """The remote's czar branches and their commits, as of the last fetch."""
        out = self.git.out(
            "for-each-ref", "--format=%(refname) %(objectname)", "--end-of-options", f"refs/remotes/{self.name}/"
        )
        strip = f"refs/remotes/{self.name}/"
        return {
            ref.removeprefix(strip): sha for ref, _, sha in (line.partition(" ") for line in out.splitlines() if line)
        }


def without_secrets(text: str) -> str:
    """``text`` with any password or token in a URL (``https://user:TOKEN@host``) blanked."""
    return re.sub(r"(\w+://)[^/@\s]+@", r"\1***@", text)


def _said(output: str) -> str:
    """What git and the remote said, in a line or a few (its progress and hints left out; a
    credential in a URL blanked)."""
    lines = [
        line.strip()
        for line in output.splitlines()
        if line.strip() and not line.startswith(("hint:", "To ", "Done")) and line.strip() != "="
    ]
    return without_secrets(" | ".join(lines[-4:])) or "(no message)"


def ahead_behind(git: Git, branch: str, other: str) -> AheadBehind | None:
    """``branch`` against ``other`` (None if either is not there)."""
    result = git.run("rev-list", "--left-right", "--count", f"{branch}...{other}", "--", check=False)
    parts = result.output.split()
    if not result.ok or len(parts) != 2:
        return None
    return AheadBehind(int(parts[0]), int(parts[1]))


# Counts between two commits never change: a live view that looks again and again asks git only
# about the branches that moved (else a hundred branches cost a hundred git processes each look).
_COUNTED: dict[tuple[str, str], AheadBehind | None] = {}
_COUNTED_MOST = 20_000


# For a view that lets counts lag: when each tip was last counted against a branch (by name, in a
# repository), and against which of its commits.
_LAST: dict[tuple[str, str, str], tuple[float, tuple[str, str]]] = {}
_CACHES = threading.Lock()  # the web server counts from a thread per project


def _counted(
    git: Git, branch: str, tip: str, other: str, other_tip: str | None, lag: float = 0.0
) -> AheadBehind | None:
    if other_tip is None:
        return ahead_behind(git, branch, other)
    key, mine = (tip, other_tip), (str(git.repo), tip, other)
    with _CACHES:
        if key in _COUNTED:
            return _COUNTED[key]
        last = _LAST.get(mine)
        if lag and last is not None and last[1] in _COUNTED and time.monotonic() - last[0] < lag:
            return _COUNTED[last[1]]  # only the other branch moved, a moment ago: as it was then
    counted = ahead_behind(git, tip, other_tip)  # outside the lock: a git process
    with _CACHES:
        if len(_COUNTED) >= _COUNTED_MOST:
            _COUNTED.clear()
            _LAST.clear()
        _COUNTED[key] = counted
        _LAST[mine] = (time.monotonic(), key)
    return counted


def positions(
    git: Git,
    integration: str,
    base: str,
    remote: Remote | None,
    only: Collection[str] | None = None,
    lag: float = 0.0,
) -> list[dict[str, object]]:
    """Each czar branch (the tasks' and the integration branch): its tip, ahead and behind the
    integration branch (the integration branch: the base branch), and, with a remote, ahead and
    behind the remote's copy as of the last fetch (None when the remote has none). ``only``: of
    these branches alone (the integration branch always): every merge moves the integration
    branch, and a count for each branch is a git process. ``lag``: a branch that did not move is
    counted again against a moved integration branch at most every ``lag`` seconds (a live view
    under a stream of merges); one that moved, at once."""
    tips = git.tips()
    if integration not in tips and git.has_branch(integration):
        tips[integration] = git.tip(integration)
    if only is not None:
        tips = {b: sha for b, sha in tips.items() if b == integration or b in only}
    base_tip = git.tip(base) if git.has_branch(base) else None
    tracked = remote.tips() if remote is not None else {}
    rows: list[dict[str, object]] = []
    for branch in sorted(tips, key=lambda b: (b != integration, b)):
        against = base if branch == integration else integration
        local = _counted(
            git, branch, tips[branch], against, base_tip if branch == integration else tips.get(integration), lag
        )
        there = tracked.get(branch)
        if remote is None or there is None:
            far = None
        elif there == tips[branch]:
            far = AheadBehind(0, 0)
        else:
            far = _counted(git, branch, tips[branch], remote.tracking(branch), there)
        rows.append(
            {
                "branch": branch,
                "tip": tips[branch],
                "against": against,
                "ahead": local.ahead if local else None,
                "behind": local.behind if local else None,
                "on_remote": there is not None if remote is not None else None,
                "remote_ahead": far.ahead if far else None,
                "remote_behind": far.behind if far else None,
            }
        )
    return rows
