"""`czar prs` and `czar pr show N` read the local forge; a number that is not there is one line."""

from __future__ import annotations

import json
from pathlib import Path

from czar.core.forge import CheckRun, FileStat, PullDraft
from czar.forge.local import LocalForge
from czar.supervisor.project import open_project
from helpers import czar, make_repo, sim_task, write_plan


def test_the_pull_requests_listed_and_shown(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    plan = write_plan(tmp_path, "prs", [sim_task("a"), sim_task("b")], workers=1)
    assert "no pull requests yet" in czar("prs", str(plan), check=True).stdout
    project = open_project(plan)
    forge = LocalForge(project.store)
    files = (FileStat("a.txt", 4, 1),)
    checks = (CheckRun("pytest -q", True, "4 passed"),)
    first = forge.open_or_update(
        PullDraft("a", "czar/a", "czar/integration", "1" * 40, "a: A", "Body [x]", files, 1, 0.5, checks)
    )
    forge.open_or_update(
        PullDraft("a", "czar/a", "czar/integration", "2" * 40, "a: A", "Body [x]", files, 2, 0.75, checks)
    )
    forge.merge(first.number, "2" * 40, "3" * 40)

    listed = json.loads(czar("prs", str(plan), "--json", check=True).stdout)
    assert [(p["number"], p["task"], p["state"], p["checks_passed"], p["updates"]) for p in listed] == [
        (1, "a", "merged", 1, 1)
    ]
    assert (listed[0]["added"], listed[0]["removed"], listed[0]["rounds"], listed[0]["cost_usd"]) == (4, 1, 2, 0.75)
    table = czar("prs", str(plan), check=True).stdout
    assert "#1" in table and "merged" in table and "1/1" in table

    shown = json.loads(czar("pr", "show", "1", str(plan), "--json", check=True).stdout)
    assert shown["body"] == "Body [x]" and shown["merged_as"] == "3" * 40
    assert [h["what"] for h in shown["history"]] == ["opened", "checks", "updated", "checks", "merged"]
    text = czar("pr", "show", "1", str(plan), check=True).stdout
    assert "Body [x]" in text and "merged as 3333333333" in text  # as written, not as markup

    missing = czar("pr", "show", "7", str(plan))
    assert missing.returncode != 0 and "no pull request #7" in missing.stderr
    assert "Traceback" not in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
    assert czar("pr", "show", "x", str(plan)).returncode != 0
