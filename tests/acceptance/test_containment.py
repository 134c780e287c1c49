"""A whole run with an agent that tries to reach beyond its task: the sandbox holds, the run ends
merged, and the user's repository, the store and the other task's work are as they were."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from czar.runtime import sandbox
from helpers import czar, git, make_repo, sim_task, write_plan

pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")


def _attacks(repo: Path, store: Path, other: Path) -> list[str]:
    shell = [
        f"echo pwned > {repo}/README.md",
        f"git --git-dir={repo}/.git branch -f main HEAD",
        f"git --git-dir={repo}/.git stash",
        f"git fetch --update-head-ok {repo} HEAD:main",
        f"env git push --force {repo} HEAD:main",
        f"rm -rf {repo}/.git/objects",
        f"echo pwned > {store}",
        f"echo pwned > {other}/good.txt",
        # czar's own processes, were they visible: tmux, the worker hosts, the supervisor
        "pkill -9 -x tmux; pkill -9 -f 'czar.host --plan'; pkill -9 -f 'czar supervise'",
    ]
    return [f"run sh -c {shlex.quote(cmd)}" for cmd in shell]


def test_a_hostile_agent_is_contained_and_the_run_still_merges(tmp_path: Path, czar_home: Path) -> None:
    name = "contain"
    repo = make_repo(tmp_path / "repo")
    data = czar_home / "projects" / name
    attacks = _attacks(repo, data / "czar.db", data / "worktrees" / "good")
    good = sim_task("good", extra="sleep 1")
    evil = sim_task("evil", extra="\n".join(attacks))
    plan = write_plan(tmp_path, name, [good, evil], workers=2)
    main_before = git(repo, "rev-parse", "main")

    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 2, summary

    assert (repo / "README.md").read_text() == "# sample\n"
    assert git(repo, "rev-parse", "main") == main_before
    assert git(repo, "stash", "list") == ""
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "fsck", "--connectivity-only")
    assert git(repo, "show", "czar/integration:good.txt") == "good"
    assert git(repo, "show", "czar/integration:evil.txt") == "evil"
