"""czar's own git keeps to what it must do whatever the person's ~/.gitconfig says: it runs none
of their hooks (a global core.hooksPath, or the repository's .git/hooks) but the pre-push one,
and signs nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from czar.vcs.git import Git
from czar.vcs.remote import Remote
from helpers import git, make_repo

HOOKS = ("pre-commit", "commit-msg", "prepare-commit-msg", "pre-merge-commit", "post-merge", "post-checkout")


def _failing_hooks(folder: Path, names: tuple[str, ...]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text(f"#!/bin/sh\necho 'your {name} hook ran' >&2\nexit 1\n")
        (folder / name).chmod(0o755)


def test_czar_runs_none_of_your_hooks_but_the_pre_push_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "repo")
    git(repo, "switch", "-q", "-c", "czar/a")
    (repo / "a.txt").write_text("a\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a")
    git(repo, "switch", "-q", "main")
    bare = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    git(repo, "remote", "add", "origin", str(bare))
    home = tmp_path / "person"
    _failing_hooks(home / "hooks", (*HOOKS, "pre-push"))
    (home / ".gitconfig").write_text(f"[core]\n\thooksPath = {home / 'hooks'}\n[commit]\n\tgpgsign = true\n")
    _failing_hooks(repo / ".git" / "hooks", HOOKS)  # the repository's own, too (tools install them)
    monkeypatch.setenv("HOME", str(home))
    ours = Git(repo)
    worktree = tmp_path / "integration"
    ours.ensure_worktree(worktree, "main", detach=True)  # post-checkout
    merged = ours.merge(worktree, "czar/a", "czar: merge a")  # the merge's hooks
    assert merged.ok, merged.output
    assert (worktree / "a.txt").read_text() == "a\n"
    # A push goes through your pre-push hook: it refuses, and czar hears why.
    refused = Remote(ours, "origin", "czar/integration").push("czar/a", git(repo, "rev-parse", "czar/a"), replace=True)
    assert refused is not None and "pre-push" in refused
