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


def test_checks_after_a_merge_cannot_plant_hooks_that_czar_would_run(tmp_path: Path, czar_home: Path) -> None:
    """The checks after a merge run the agents' code: it writes hooks and configuration into the
    git folder of wherever it runs. That is a throwaway clone, never czar's integration worktree,
    where czar runs git after: nothing planted there ever runs outside the sandbox."""
    marker = tmp_path / "outside" / "hook-ran"
    marker.parent.mkdir()
    plant = (
        "import pathlib, subprocess\n"
        "if pathlib.Path('.git').is_file():  # a worktree's pointer: make it a repository of its own\n"
        "    pathlib.Path('.git').unlink()\n"
        "    subprocess.run(['git', 'init', '-q'])\n"
        f"hook = '#!/bin/sh\\ntouch {marker}\\n'\n"
        "for name in ('post-checkout', 'post-merge', 'pre-merge-commit', 'reference-transaction'):\n"
        "    p = pathlib.Path('.git/hooks') / name\n"
        "    p.parent.mkdir(parents=True, exist_ok=True)\n"
        "    p.write_text(hook)\n"
        "    p.chmod(0o755)\n"
        "subprocess.run(['git', 'config', 'core.hooksPath', '.git/hooks'])\n"
    )
    repo = make_repo(tmp_path / "repo")
    first = sim_task("first", files={"check.py": plant})
    later = sim_task("later", deps=("first",))
    last = sim_task("last", deps=("later",))
    plan = write_plan(tmp_path, "hooks", [first, later, last], workers=1, project_extra='accept = ["python3 check.py"]')
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 3
    assert not marker.exists(), "a hook the agents' code planted ran outside the sandbox"
    assert "hookspath" not in git(repo, "config", "--list", "--local").lower()
