"""A run with a remote (``[project] remote``, ``push``): sim agents, real git and tmux, a bare
repository on disk as the remote."""

from __future__ import annotations

import json
from pathlib import Path

from czar.core.events import EventKind
from helpers import czar, git, make_repo, project_events, sim_task, write_plan


def _project(tmp_path: Path, name: str) -> tuple[Path, Path, Path]:
    repo = make_repo(tmp_path / "repo")
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    plan = write_plan(
        tmp_path, name, [sim_task("a"), sim_task("b", deps=("a",))], project_extra='remote = "origin"\npush = true\n'
    )
    return repo, bare, plan


def test_verified_branches_and_the_integration_branch_are_pushed_and_status_shows_them(
    tmp_path: Path, czar_home: Path
) -> None:
    repo, bare, plan = _project(tmp_path, "pushed")
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2
    for branch in ("czar/a", "czar/b", "czar/integration"):
        assert git(bare, "rev-parse", branch) == git(repo, "rev-parse", branch), branch
    pushed = project_events("pushed", EventKind.REMOTE_PUSHED)
    assert {p["branch"] for p in pushed} == {"czar/a", "czar/b", "czar/integration"}
    assert not project_events("pushed", EventKind.REMOTE_PUSH_REFUSED)

    data = json.loads(czar("status", str(plan), "--json", check=True).stdout)
    assert data["remote"] == {"name": "origin", "fetch_problem": None}
    rows = {b["branch"]: b for b in data["branches"]}
    assert rows["czar/integration"]["against"] == "main" and rows["czar/integration"]["ahead"] >= 2
    assert (rows["czar/a"]["remote_ahead"], rows["czar/a"]["remote_behind"]) == (0, 0)
    shown = czar("status", str(plan), check=True).stdout
    assert "branches (remote origin)" in shown and "same" in shown


def test_a_push_the_remote_refuses_is_an_event_and_an_alert_and_the_run_goes_on(
    tmp_path: Path, czar_home: Path
) -> None:
    repo, bare, plan = _project(tmp_path, "refused")
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\nwhile read old new ref; do\n"
        '  [ "$ref" = refs/heads/czar/integration ] && '
        '{ echo "protected: merge through a pull request" >&2; exit 1; }\n'
        "done\nexit 0\n"
    )
    hook.chmod(0o755)
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2  # merged here, whatever the remote says
    refused = project_events("refused", EventKind.REMOTE_PUSH_REFUSED)
    assert refused and {r["branch"] for r in refused} == {"czar/integration"}
    assert "protected: merge through a pull request" in str(refused[0]["message"])
    alerts = [a for a in project_events("refused", EventKind.ALERT) if "refused the push" in str(a["message"])]
    assert alerts and "protected" in str(alerts[0]["message"])
    assert git(bare, "rev-parse", "czar/a") == git(repo, "rev-parse", "czar/a")  # task branches went
