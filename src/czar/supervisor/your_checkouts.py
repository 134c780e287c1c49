"""czar's branches that a person has checked out in a checkout of their own (to look at a task's
work, say): czar moves none of them under it.

git moves a branch's ref, not the files of a checkout that has it: `git status` there would show
the work czar brought in undone, staged, for the next commit to revert. git refuses to fetch into
such a branch, and czar took the refusal for a task that committed nothing, and charged it a round
(found by a probe). So the integration branch merges nothing, and a task's work is not brought in
and verified, while a checkout of yours has its branch; a person hears it once, and czar goes on
when that checkout is on another branch.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from czar.store.store import Store
from czar.supervisor.project import Project

SECONDS = 2.0  # how old a look at the checkouts may be (git worktree list: milliseconds each)

_lock = threading.Lock()
_seen: dict[Path, tuple[float, dict[str, Path]]] = {}  # repository -> when looked at, what was found
_said: dict[tuple[Path, str], Path] = {}  # (repository, branch) -> the checkout a person heard of


def where(project: Project, branch: str, waits: str, *, fresh: bool = False) -> Path | None:
    """The checkout of yours that has ``branch``, or None. ``waits``: what waits until it is on
    another branch, said once to a person (an alert); ``fresh``: looked at now, not up to
    ``SECONDS`` ago (just before czar moves the branch)."""
    repo, now = project.plan.repo, time.monotonic()
    with _lock:
        looked, found = _seen.get(repo, (0.0, {}))
        if fresh or now - looked >= SECONDS:
            found = project.repo.checked_out()
            _seen[repo] = (now, found)
        there = found.get(branch)
        said = _said.get((repo, branch))
        if there is None or there == said:
            if there is None:
                _said.pop((repo, branch), None)
            return there
        _said[(repo, branch)] = there
    if there.exists():
        until = f"switch it to another branch (`git -C {there} switch {project.plan.project.base_branch}`)"
    else:  # a drive not mounted now, or a folder moved or deleted: git still counts it
        until = "switch it to another branch there, or, if that checkout is gone for good, `git worktree prune`"
    with project.store.write() as conn:
        Store.alert(
            conn,
            "warning",
            f"{branch} is checked out in {there}: czar moves no branch under your checkout, so {waits} until you "
            f"{until}",
        )
    return there


def holds_work_of(project: Project, task: str, *, fresh: bool = False) -> Path | None:
    """``where`` for a task's branch, whose work czar then cannot bring in (nor verify)."""
    return where(project, f"czar/{task}", f"task {task}'s work is not brought in", fresh=fresh)
