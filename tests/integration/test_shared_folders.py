"""The folders of your checkout shown read-only in each task's clone (``[sandbox] shared``): by
default node_modules, and only what git ignores there."""

from __future__ import annotations

from pathlib import Path

from czar.supervisor.project import open_project
from helpers import git, make_repo, sim_task, write_plan


def test_node_modules_is_shared_by_default_where_git_ignores_it(tmp_path: Path, czar_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    plan = write_plan(tmp_path, "shared", [sim_task("a")])
    assert open_project(plan).shared == ()  # none installed
    (repo / "node_modules" / "x").mkdir(parents=True)
    assert open_project(plan).shared == ()  # not ignored: it would be the task's to change
    (repo / ".gitignore").write_text("node_modules/\n")
    assert open_project(plan).shared == ("node_modules",)
    plan.write_text(plan.read_text().replace("[workers]", '[sandbox]\nshared = [".venv", "build"]\n\n[workers]'))
    (repo / "build").mkdir()
    (repo / "build" / "kept.txt").write_text("tracked\n")
    git(repo, "add", "build")
    git(repo, "commit", "-qm", "a tracked build folder")
    assert open_project(plan).shared == ()  # .venv missing, build tracked, node_modules not asked for


def test_a_link_is_never_shared(tmp_path: Path, czar_home: Path) -> None:
    # From a review: `.venv` in .gitignore (no slash) also ignores a link named so, and a link into
    # your home would have shown all of it, credentials unmasked.
    repo = make_repo(tmp_path / "repo")
    (repo / ".gitignore").write_text(".venv\nnode_modules\n")
    elsewhere = tmp_path / "home"
    (elsewhere / "pkg").mkdir(parents=True)
    (repo / ".venv").symlink_to(elsewhere)
    (repo / "node_modules").symlink_to(elsewhere)
    plan = write_plan(tmp_path, "links", [sim_task("a")])
    assert open_project(plan).shared == ()
