"""git as czar uses it, on real repositories: the meanings of 'changed' and 'ahead', worktrees, merges."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from czar.vcs.git import Git
from helpers import git, make_repo


def _commit(repo: Path, path: str, content: str, msg: str) -> str:
    (repo / path).write_text(content)
    git(repo, "add", path)
    git(repo, "commit", "-q", "-m", msg)
    return git(repo, "rev-parse", "HEAD")


def test_changed_means_since_the_merge_base_and_ahead_counts_commits(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    g.ensure_branch("czar/integration", "main")
    wt = tmp_path / "wt"
    g.ensure_branch("czar/t", "czar/integration")
    g.ensure_worktree(wt, "czar/t")
    _commit(wt, "t.txt", "t\n", "task work")
    _commit(wt, "t2.txt", "t\n", "more task work")
    # The integration branch moves on after the task branched: that must not count as the task's change.
    integ = tmp_path / "integ"
    g.ensure_worktree(integ, "czar/integration")
    _commit(integ, "other.txt", "o\n", "someone else's merge")
    assert g.changed_files("czar/integration", "czar/t") == ["t.txt", "t2.txt"]
    assert g.commits_ahead("czar/integration", "czar/t") == 2
    assert g.commits_ahead("czar/t", "czar/integration") == 1


def test_worktrees_are_reused_and_a_stale_folder_is_replaced(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    g.ensure_branch("czar/t", "main")
    wt = tmp_path / "data" / "worktrees" / "t"
    g.ensure_worktree(wt, "czar/t")
    (wt / "wip.txt").write_text("uncommitted\n")
    g.ensure_worktree(wt, "czar/t")  # already registered: left as it is
    assert (wt / "wip.txt").exists()
    g.remove_worktree(wt)
    wt.mkdir(parents=True)
    (wt / "junk").write_text("left by a crash\n")
    g.ensure_worktree(wt, "czar/t")
    assert (wt / "README.md").exists() and not (wt / "junk").exists()
    assert g.ensure_branch("czar/t", "main") is False


def test_a_worktree_of_yours_whose_folder_is_away_is_not_forgotten(tmp_path: Path) -> None:
    """Found by a probe: czar ran `git worktree prune` on your repository, which forgets every
    worktree whose folder is out of reach: one of yours on a drive not mounted, or moved a while."""
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    yours = tmp_path / "yours"
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", "-b", "feature", str(yours)], check=True)
    yours.rename(tmp_path / "away")
    ours = tmp_path / "data" / "integration"
    g.ensure_worktree(ours, "main", detach=True)
    shutil.rmtree(ours)  # czar's own folder deleted: its registration is czar's to forget
    g.clean_worktree_if_present(ours)
    g.ensure_worktree(ours, "main", detach=True)
    shutil.rmtree(ours)
    g.ensure_worktree(ours, "main", detach=True)  # registered still, its folder gone: made again
    g.remove_worktree(ours)
    assert not ours.exists() and ours.resolve() not in g.worktrees()
    (tmp_path / "away").rename(yours)
    assert subprocess.run(["git", "-C", str(yours), "status", "--short"], capture_output=True).returncode == 0
    assert yours.resolve() in g.worktrees()


def test_a_link_or_a_file_where_a_worktree_goes_is_replaced_and_never_followed(tmp_path: Path) -> None:
    """Seen trying a supervisor start on a damaged data folder: a file there raised a traceback;
    and a link there was resolved before the removal of a leftover, which deletes a folder whole:
    whatever it pointed at would have gone."""
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    g.ensure_branch("czar/t", "main")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("yours\n")
    wt = tmp_path / "data" / "worktrees" / "t"
    wt.parent.mkdir(parents=True)
    wt.symlink_to(precious)
    g.ensure_worktree(wt, "czar/t")
    assert (precious / "keep.txt").read_text() == "yours\n" and not wt.is_symlink()
    assert (wt / "README.md").exists()
    g.remove_worktree(wt)
    wt.write_text("a file where a folder goes\n")
    g.ensure_worktree(wt, "czar/t")
    assert (wt / "README.md").exists()


def test_a_conflicting_merge_is_undone(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    for name in ("czar/integration", "czar/x", "czar/y"):
        g.ensure_branch(name, "main")
    integ, wx, wy = tmp_path / "integ", tmp_path / "x", tmp_path / "y"
    g.ensure_worktree(integ, "czar/integration")
    g.ensure_worktree(wx, "czar/x")
    g.ensure_worktree(wy, "czar/y")
    _commit(wx, "README.md", "x\n", "x edits readme")
    _commit(wy, "README.md", "y\n", "y edits readme")
    assert g.merge(integ, "czar/x", "merge x").ok
    head = git(integ, "rev-parse", "HEAD")
    result = g.merge(integ, "czar/y", "merge y")
    assert not result.ok and "CONFLICT" in result.output
    assert git(integ, "rev-parse", "HEAD") == head
    assert git(integ, "status", "--porcelain") == ""
    assert g.is_ancestor(git(wx, "rev-parse", "HEAD"), "czar/integration")


def test_a_branchs_changes_name_its_binary_and_empty_files_too(tmp_path: Path) -> None:
    from czar.core import hunks

    repo = make_repo(tmp_path / "repo")
    (repo / "run.sh").write_text("echo\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a script")
    git(repo, "checkout", "-q", "-b", "work")
    (repo / "logo.bin").write_bytes(bytes(range(256)))
    (repo / "sp ace é.txt").write_text("")
    (repo / "run.sh").chmod(0o755)
    (repo / "code.py").write_text("x = 1\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "work")
    changes = hunks.parse(Git(repo).diff_zero("main", "work"))
    assert sorted(changes) == sorted(["logo.bin", "sp ace é.txt", "run.sh", "code.py"])
    assert changes["logo.bin"].created and changes["code.py"].added_lines == ["x = 1"]


def test_a_clone_ignores_what_you_ignore_in_gits_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from czar.vcs import checkout

    config = tmp_path / "config"
    (config / "git").mkdir(parents=True)
    (config / "git" / "ignore").write_text("# yours\n*.log\n.idea/\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    repo = make_repo(tmp_path / "repo")
    (repo / ".git" / "info" / "exclude").write_text("!keep.log\nnotes.local\n")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    checkout.exclude(clone, ("node_modules",), (*checkout.CACHES, *checkout.yours_ignored(Git(repo))))
    for name in ("a.log", "keep.log", ".idea/ws.xml", "notes.local", "__pycache__/m.pyc", "node_modules/x", "work.py"):
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        (clone / name).write_text("x\n")
    shown = git(clone, "status", "--porcelain", "--untracked-files=all").splitlines()
    # The repository's own file outranks yours, as in your checkout: keep.log is shown.
    assert sorted(line[3:] for line in shown) == ["keep.log", "work.py"]


class _Counting(Git):
    def __init__(self, repo: Path, *, remember: bool = True) -> None:
        super().__init__(repo, remember=remember)
        self.asked: list[str] = []

    def run(self, *args: str, **kwargs: Any) -> Any:
        command = list(args)
        while command[:1] == ["-c"]:  # (settings for this command: its name follows)
            command = command[2:]
        self.asked.append(command[0])
        return super().run(*args, **kwargs)


def test_what_git_says_of_commits_by_id_is_asked_once_and_what_it_cannot_tell_again(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    first = git(repo, "rev-parse", "HEAD")
    second = _commit(repo, "b.txt", "b\n", "second")
    g = _Counting(repo)
    for _ in range(2):
        assert g.is_ancestor(first, second) and not g.is_ancestor(second, first)
        assert g.merge_base(first, second) == first
        assert "+b" in g.diff_zero(first, second)
        assert g.tree(second) == git(repo, "rev-parse", f"{second}^{{tree}}")
    assert g.asked.count("merge-base") == 3 and g.asked.count("diff") == 1
    assert g.asked.count("rev-parse") == 2  # the tree, and where a shallow repository's list would be
    # Of a checkout an agent controls, nothing is kept.
    agents = _Counting(repo, remember=False)
    assert agents.is_ancestor(first, second) and agents.is_ancestor(first, second)
    assert agents.asked.count("merge-base") == 2
    # Names move: asked each time.
    g.asked.clear()
    assert g.is_ancestor("main", second) and g.is_ancestor("main", second)
    assert g.asked.count("merge-base") == 2
    # A commit this repository does not have yet: git cannot tell; once fetched, it can. (A clone:
    # two repositories made alike share their first commit only when made in the same second.)
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(repo), str(other))
    theirs = _commit(other, "c.txt", "c\n", "theirs")
    assert not g.is_ancestor(first, theirs) and g.merge_base(first, theirs) is None
    git(repo, "fetch", "-q", str(other), "main:refs/heads/theirs")
    assert g.merge_base(first, theirs) == first and g.is_ancestor(first, theirs)


def test_a_merge_base_git_cannot_find_is_logged_and_unrelated_histories_are_not(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    repo = make_repo(tmp_path / "repo")
    first = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "--orphan", "alone")
    alone = _commit(repo, "z.txt", "z\n", "no history in common")
    g = Git(repo)
    with caplog.at_level(logging.WARNING, logger="czar.git"):
        assert g.merge_base(first, alone) is None  # an answer (git's exit 1): nothing to say
        assert not caplog.records
        missing = "0" * 39 + "1"
        assert g.merge_base(first, missing) is None
    [record] = caplog.records
    assert f"git merge-base {first} {missing} failed in {repo} (exit 128): fatal: Not a valid commit name" in (
        record.getMessage()
    )


def test_a_shallow_repositorys_answers_are_not_kept(tmp_path: Path) -> None:
    """Its history grows when it is deepened: what was no ancestor may become one."""
    origin = make_repo(tmp_path / "origin")
    first = git(origin, "rev-parse", "HEAD")
    git(origin, "branch", "old")
    _commit(origin, "b.txt", "b\n", "second")
    third = _commit(origin, "c.txt", "c\n", "third")
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", f"file://{origin}", str(shallow))
    g = Git(shallow)
    assert not g.is_ancestor(first, third)  # both here, the history between them not
    git(shallow, "fetch", "-q", "--unshallow")
    assert g.is_ancestor(first, third)


def test_the_answers_kept_are_the_newest_within_their_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from czar.vcs import git as git_module

    repo = make_repo(tmp_path / "repo")
    commits = [git(repo, "rev-parse", "HEAD")]
    for i in range(3):
        commits.append(_commit(repo, f"f{i}.txt", "x\n" * 50, f"commit {i}"))
    one = git_module._size(("diff-zero", commits[0], commits[1]), Git(repo).diff_zero(commits[0], commits[1]))
    monkeypatch.setattr(git_module, "KNOWN_CHARS", 2 * one + 10)
    g = _Counting(repo)
    for a, b in pairwise(commits):
        g.diff_zero(a, b)  # three diffs of the same size: the first goes when the third comes
    g.asked.clear()
    g.diff_zero(commits[2], commits[3])
    g.diff_zero(commits[1], commits[2])
    assert g.asked == []
    g.diff_zero(commits[0], commits[1])
    assert g.asked == ["diff"]


def test_what_git_ignores_is_named_with_its_rule_and_a_path_it_will_not_look_at_is_left_out(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / ".gitignore").write_text("*.log\n!keep.log\nbuild/\n")
    (repo / "tracked.log").write_text("x\n")
    git(repo, "add", "-f", ".gitignore", "tracked.log")
    git(repo, "commit", "-q", "-m", "rules")
    (repo / "link").symlink_to(tmp_path)
    g = Git(repo)
    asked = ["a b.log", "keep.log", "tracked.log", "build/out", "src/x.py", "link/y.log", "z.log"]
    assert g.ignored(asked) == {
        "a b.log": ".gitignore:1: *.log",
        "build/out": ".gitignore:3: build/",
        "z.log": ".gitignore:1: *.log",
    }  # keep.log taken back by `!`, tracked.log tracked, link/y.log beyond a link (git refuses it)
    assert g.ignored([]) == {} and g.ignored(["src/x.py"]) == {}


def test_yes_and_no_answers_count_against_the_budget_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from czar.vcs import git as git_module

    repo = make_repo(tmp_path / "repo")
    first = git(repo, "rev-parse", "HEAD")
    commits = [_commit(repo, f"f{i}.txt", "x\n", f"commit {i}") for i in range(4)]
    monkeypatch.setattr(git_module, "KNOWN_CHARS", 2 * git_module._size(("is-ancestor", first, first), True))
    g = _Counting(repo)
    for c in commits:
        assert g.is_ancestor(first, c)
    g.asked.clear()
    assert g.is_ancestor(first, commits[3]) and g.is_ancestor(first, commits[2]) and g.asked == []
    assert g.is_ancestor(first, commits[0]) and g.asked == ["merge-base"]


def test_a_huge_text_file_is_diffed_as_binary_not_line_by_line(tmp_path: Path) -> None:
    """Found by a probe: an agent's 40 MB text file took the supervisor past 3 GB of memory, the
    diff's lines parsed one by one for the radar and the verification."""
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    before = g.tip("main")
    (repo / "big.txt").write_text("x\n" * (5 << 20))  # 10 MB
    (repo / "small.txt").write_text("one\ntwo\n")
    git(repo, "add", "big.txt", "small.txt")
    git(repo, "commit", "-qm", "big")
    diff = g.diff_zero(before, g.tip("main"))
    assert len(diff) < 10_000 and "Binary files /dev/null and b/big.txt differ" in diff and "+two" in diff
    assert len(g.own_changes(before, g.tip("main"))) < 10_000


def test_gits_variables_of_another_repository_in_czars_environment_change_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by a probe: with GIT_OBJECT_DIRECTORY exported (a hook's, a script's), czar said the
    # base branch was not there; an agent started so would work on your checkout (GIT_DIR).
    from czar.agents.base import base_env
    from czar.vcs.git import UNSIGNED

    repo = make_repo(tmp_path / "repo")
    elsewhere = make_repo(tmp_path / "elsewhere")
    monkeypatch.setenv("GIT_DIR", str(elsewhere / ".git"))
    monkeypatch.setenv("GIT_OBJECT_DIRECTORY", str(tmp_path / "nowhere"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "index"))
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")  # a parent git's own settings, kept, czar's after them
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "commit.gpgsign")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "true")
    git_ = Git(repo)
    assert git_.tip("main") == subprocess.run(
        ["git", "-C", str(repo), "--git-dir", str(repo / ".git"), "rev-parse", "main"],
        capture_output=True, text=True, check=True, env={"PATH": os.environ["PATH"]},
    ).stdout.strip()  # fmt: skip
    assert git_.out("config", "--get", "commit.gpgsign") == UNSIGNED["commit.gpgsign"]
    ctx = type("Ctx", (), {"env": {}, "settings": type("S", (), {"env": {}})()})()
    agent = base_env(ctx)  # type: ignore[arg-type]
    assert not {"GIT_DIR", "GIT_OBJECT_DIRECTORY", "GIT_INDEX_FILE"} & set(agent)


def _task_clone(root: Path) -> tuple[Path, Git, Path]:
    """A repository with task branch czar/a, and the task's clone (``root/clone``) made of it."""
    from czar.vcs import checkout

    repo = make_repo(root / "repo")
    g = Git(repo)
    git(repo, "branch", "czar/a", "main")
    clone = root / "clone"
    checkout.make(g, clone, "czar/a")
    return repo, g, clone


def test_a_commit_of_yours_on_a_task_branch_is_kept_when_its_agents_work_replaces_it(tmp_path: Path) -> None:
    # Found by a probe: a person's commit on czar/mul was replaced by the next fetch of the agent's
    # work, forced, and lost without a word.
    from czar.vcs import checkout

    repo, g, clone = _task_clone(tmp_path)
    checkout.replaced()  # (of other tests in this process)

    def agent_commits(text: str, *, amend: bool = False) -> None:
        (clone / "a.txt").write_text(text)
        git(clone, "add", "a.txt")
        git(clone, "commit", "-q", *(["--amend"] if amend else []), "-m", text)

    agent_commits("one\n")
    first = checkout.harvest(g, clone, "czar/a", g.tip("czar/a"))
    agent_commits("one, amended\n", amend=True)  # its own history rewritten: nobody else's lost
    checkout.harvest(g, clone, "czar/a", first)
    assert checkout.replaced() == []
    yours = git(repo, "commit-tree", "-p", "czar/a", "-m", "a person's commit", "main^{tree}")
    git(repo, "update-ref", "refs/heads/czar/a", yours)
    agent_commits("two\n")
    checkout.harvest(g, clone, "czar/a", yours)
    assert checkout.replaced() == [("czar/a", yours, f"refs/czar-kept/czar/a/{yours[:12]}")]
    assert git(repo, "rev-parse", f"refs/czar-kept/czar/a/{yours[:12]}") == yours
    assert checkout.replaced() == []  # said once


def test_what_an_agent_committed_after_its_hand_in_is_kept_when_its_checkout_goes(tmp_path: Path) -> None:
    # Found by a probe: told something while its work was under review, an agent committed again;
    # the reviewed commit merged, and the new one went with its clone, without a word.
    from czar.vcs import checkout

    repo, g, clone = _task_clone(tmp_path)
    (clone / "a.txt").write_text("one\n")
    git(clone, "add", "a.txt")
    git(clone, "commit", "-q", "-m", "one")
    handed_in = git(clone, "rev-parse", "HEAD")
    assert checkout.harvest_commit(g, clone, "czar/a", handed_in)
    assert checkout.keep_unmerged(g, clone, "czar/a") == []  # all it has is brought in
    (clone / "a.txt").write_text("one, and a late change\n")
    git(clone, "commit", "-q", "-am", "late change")
    late = git(clone, "rev-parse", "HEAD")
    git(clone, "checkout", "-q", "-b", "aside")  # on a branch of its own, another commit
    (clone / "b.txt").write_text("aside\n")
    git(clone, "add", "b.txt")
    git(clone, "commit", "-q", "-m", "aside")
    aside = git(clone, "rev-parse", "HEAD")
    # A clone that made git wait before is not asked again: what it holds is said, not brought in.
    checkout._stuck[clone] = time.monotonic() + 60
    assert checkout.keep_unmerged(g, clone, "czar/a") == [(late, None), (aside, None)]
    del checkout._stuck[clone]
    kept = checkout.keep_unmerged(g, clone, "czar/a")
    assert kept == [(late, f"refs/czar-kept/czar/a/{late[:12]}"), (aside, f"refs/czar-kept/czar/a/{aside[:12]}")]
    checkout.remove(g, clone)
    assert git(repo, "show", f"refs/czar-kept/czar/a/{late[:12]}:a.txt") == "one, and a late change"
    assert git(repo, "rev-parse", "czar/a") == handed_in  # the task's branch is what was handed in


def test_a_repository_without_its_large_files_says_how_to_bring_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by a probe: a clone made with GIT_LFS_SKIP_SMUDGE=1 could not be started, in git's words only.
    from czar.errors import GitError
    from helpers import lfs_repo

    monkeypatch.setenv("HOME", str(tmp_path / "person"))
    repo = lfs_repo(tmp_path, tmp_path / "person", "data\n")
    shutil.rmtree(repo / ".git" / "lfs" / "objects")
    with pytest.raises(
        GitError, match=r"smudge filter lfs failed \(the repository lacks Git LFS files .*git lfs fetch --all"
    ):
        Git(repo).ensure_worktree(tmp_path / "checkout", "main", detach=True)
