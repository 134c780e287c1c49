"""No value from a plan reaches git as an option, and czar's branch names are the ones git accepts."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from czar.core.branches import branch_name_problem
from czar.errors import GitError
from czar.vcs.git import Git
from helpers import git, make_repo


def _git_accepts(name: str) -> bool:
    # Outside any repository: `--branch` then judges the name alone (no `@{-1}` to expand).
    result = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True, cwd="/", check=False)
    return result.returncode == 0


NAMES = [
    "main", "czar/integration", "feature/a-b_c", "v1.2", "a@b", "ünïcode",
    "", "-D", "--delete", "a..b", "a/.b", ".a", "a.lock", "a/b.lock/c", "a/", "/a", "a//b", "a.",
    "a b", "a~1", "a^", "a:b", "a?", "a*", "a[b", "a\\b", "a@{1}", "@", "HEAD", "a\tb", "a\x7fb",
]  # fmt: skip


# Stricter than git on purpose: git reads both as the current commit in most commands.
RESERVED = ("@", "HEAD")


@pytest.mark.parametrize("name", NAMES)
def test_branch_names_are_judged_as_git_judges_them(name: str) -> None:
    if name in RESERVED:
        assert branch_name_problem(name) == "is a name git reserves"
        return
    assert (branch_name_problem(name) is None) == _git_accepts(name), name


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="ab/.-@{}~^: ?*[\\\tlock", max_size=12))
def test_any_name_is_judged_as_git_judges_it(name: str) -> None:
    if name in RESERVED:
        return
    assert (branch_name_problem(name) is None) == _git_accepts(name), name


def test_a_hostile_value_never_acts_as_an_option(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "branch", "other")
    g = Git(repo)
    g.ensure_branch("czar/t", "main")
    work = tmp_path / "wt"
    g.ensure_worktree(work, "czar/t")
    main = g.tip("main")
    pwned = tmp_path / "pwned"
    before = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    hostile = ["-D", "--delete", "-fD", f"--output={pwned}", "-h", "--force", f"--orphan={pwned}"]
    calls: list[Callable[[str], object]] = [
        g.has_branch,
        g.tip,
        g.commit_of,
        lambda v: g.is_ancestor(v, "main"),
        lambda v: g.is_ancestor("main", v),
        lambda v: g.commits_ahead(v, "main"),
        lambda v: g.commits_ahead("main", v),
        lambda v: g.changed_files(v, "main"),
        lambda v: g.changed_files("main", v),
        lambda v: g.merge_base(v, "main"),
        lambda v: g.diff_zero(v, "main"),
        lambda v: g.diff_zero("main", v),
        lambda v: g.merge_tree(v, "main"),
        lambda v: g.merge_tree("main", v),
        g.tips,
        lambda v: g.ensure_branch(v, "main"),
        lambda v: g.ensure_branch("czar/new", v),
        lambda v: g.ensure_worktree(tmp_path / "wt2", v, detach=True),
        lambda v: g.ensure_worktree(tmp_path / "wt3", "czar/new3", new_branch_at=v),
        lambda v: g.merge(work, v, "message"),
        lambda v: g.merge(work, "main", v),
        lambda v: g.move_branch(v, main, main),
        lambda v: g.move_branch("other", v, main),
        lambda v: g.reset_branch(v, "main"),
        lambda v: g.reset_branch("other", v),
        lambda v: g.reset_branch("czar/t", v, work),
        lambda v: g.reset_hard(work, v),
        lambda v: g.detach(work, v),
        lambda v: g.files_between(v, "main"),
        lambda v: g.files_between("main", v),
    ]
    for value in hostile:
        for call in calls:
            with contextlib.suppress(GitError):  # refused: what a bad value should get
                call(value)
            # Nothing was deleted, moved, forced or written by a value taken for an option.
            assert git(repo, "for-each-ref", "--format=%(refname) %(objectname)") == before, (value, call)
            assert not pwned.exists(), (value, call)
            assert git(repo, "symbolic-ref", "HEAD") == "refs/heads/main"
