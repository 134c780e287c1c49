"""Files an agent writes, read or used by czar outside its sandbox: a link, a FIFO or a huge file in
their place must neither mislead czar nor block it."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from czar.runtime import untrusted
from czar.vcs import checkout
from czar.vcs.git import Git
from helpers import git, make_repo


def test_links_fifos_and_devices_are_not_read_and_big_files_are_read_in_bounds(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("the user's\n")
    (tmp_path / "link").symlink_to(secret)
    os.mkfifo(tmp_path / "fifo")  # nobody writes it: an open for reading would wait forever
    (tmp_path / "zero").symlink_to("/dev/zero")
    (tmp_path / "big").write_bytes(b"x" * 100_000)
    assert untrusted.read(tmp_path / "link") is None
    assert untrusted.read(tmp_path / "fifo") is None
    assert untrusted.read(tmp_path / "zero") is None
    assert untrusted.read(Path("/dev/zero")) is None
    assert untrusted.read(tmp_path / "missing") is None
    assert untrusted.read(tmp_path / "big", limit=10) == b"x" * 10
    assert untrusted.read(tmp_path / "big", offset=99_995) == b"x" * 5
    assert untrusted.read_text(secret) == "the user's\n"


def _clone(tmp_path: Path) -> tuple[Git, Path]:
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    g.ensure_branch("czar/a", "main")
    place = tmp_path / "worktrees" / "a"
    checkout.make(g, place, "czar/a")
    return g, place


def test_a_transcript_is_read_only_beneath_the_agents_folder_and_through_no_link(tmp_path: Path) -> None:
    """The agent names its transcript's path (a hook's ``transcript_path``) and may swap any folder
    on the way for a link: czar reads it from the agent's folder down, one folder at a time."""
    home = tmp_path / "agent-home"
    (home / "projects" / "p").mkdir(parents=True)
    (home / "projects" / "p" / "t.jsonl").write_text('{"usage": 1}\n')
    secret = tmp_path / "elsewhere" / "p"
    secret.mkdir(parents=True)
    (secret / "t.jsonl").write_text("the user's\n")
    assert untrusted.read_beneath(home, home / "projects" / "p" / "t.jsonl") == b'{"usage": 1}\n'
    assert untrusted.read_beneath(home, home / "projects" / "p" / "t.jsonl", offset=2, limit=5) == b"usage"
    # A folder on the way swapped for a link to a folder elsewhere, with a file of the same name.
    (home / "projects" / "p" / "t.jsonl").unlink()
    (home / "projects" / "p").rmdir()
    (home / "projects" / "p").symlink_to(secret)
    assert (home / "projects" / "p" / "t.jsonl").read_text() == "the user's\n"  # what a plain open reads
    assert untrusted.read_beneath(home, home / "projects" / "p" / "t.jsonl") is None
    # Out of the folder by name, or climbing out of it.
    assert untrusted.read_beneath(home, secret / "t.jsonl") is None
    assert untrusted.read_beneath(home, home / ".." / "elsewhere" / "p" / "t.jsonl") is None
    assert untrusted.read_beneath(home, home) is None


def test_a_branch_whose_ref_is_a_fifo_or_a_link_has_no_tip_and_blocks_nothing(tmp_path: Path) -> None:
    _g, place = _clone(tmp_path)
    ref = place / ".git" / "refs" / "heads" / "czar" / "a"
    sha = checkout.tip(place, "czar/a")
    assert sha is not None
    ref.unlink()
    os.mkfifo(ref)
    assert checkout.tip(place, "czar/a") is None
    ref.unlink()
    other = tmp_path / "elsewhere"
    other.write_text(sha + "\n")
    ref.symlink_to(other)
    assert checkout.tip(place, "czar/a") is None


def test_objects_an_agent_points_its_clone_at_are_not_brought_into_the_repository(tmp_path: Path) -> None:
    g, place = _clone(tmp_path)
    # Another repository of the user's, with a commit the agent knows the id of.
    other = make_repo(tmp_path / "other")
    (other / "private.txt").write_text("not for this project\n")
    git(other, "add", "private.txt")
    git(other, "commit", "-qm", "private")
    private = git(other, "rev-parse", "HEAD")
    alternates = place / ".git" / "objects" / "info" / "alternates"
    alternates.write_text(alternates.read_text() + f"{other / '.git' / 'objects'}\n")
    git(place, "update-ref", "refs/heads/czar/a", private)
    assert not checkout.harvest_commit(g, place, "czar/a", private)
    assert subprocess.run(["git", "-C", str(g.repo), "cat-file", "-e", private], check=False).returncode != 0
    assert alternates.read_text() == f"{g.common_dir() / 'objects'}\n"  # made what czar made it
    # The clone's git folder made a link to another repository's: nothing is fetched from it.
    os.rename(place / ".git", tmp_path / "moved")
    (place / ".git").symlink_to(other / ".git")
    assert not checkout.harvest_commit(g, place, "czar/a", private)


def test_the_integration_branch_is_shown_in_a_clone_without_running_its_git_or_following_links(
    tmp_path: Path,
) -> None:
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    g.ensure_branch("czar/a", "main")
    clone = tmp_path / "clone"
    checkout.make(g, clone, "czar/a")
    tip = git(repo, "rev-parse", "main")
    # The agent planted a hook that git would run on any change of a ref in its clone.
    marker = tmp_path / "hook-ran"
    hook = clone / ".git" / "hooks" / "reference-transaction"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    assert checkout.show_ref(clone, "czar/integration", tip)
    assert git(clone, "rev-parse", "refs/heads/czar/integration") == tip
    assert not marker.exists()
    # Again, over a stale packed copy: the ref file wins, as git reads it.
    git(clone, "pack-refs", "--all")
    marker.unlink(missing_ok=True)  # the test's own git may have run it
    assert checkout.show_ref(clone, "czar/integration", tip)
    assert git(clone, "rev-parse", "refs/heads/czar/integration") == tip
    assert not marker.exists()
    # A folder on the way swapped for a link elsewhere: nothing is written there.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    heads = clone / ".git" / "refs" / "heads" / "czar"
    subprocess.run(["rm", "-rf", str(heads)], check=True)
    heads.symlink_to(elsewhere)
    assert not checkout.show_ref(clone, "czar/integration", tip)
    assert list(elsewhere.iterdir()) == []
    assert not checkout.show_ref(clone, "czar/../../../x", tip)
    assert not checkout.show_ref(clone, "czar/integration", "not-a-commit")


def test_a_link_or_a_file_where_a_clone_goes_is_replaced_and_never_followed(tmp_path: Path) -> None:
    """A task's and a reviewer's clone, and the throwaway clone of the checks, made where a link
    or a file stands: the link goes, not what it points at (rmtree raised on it, a traceback from
    the assignment), and a file goes (the same)."""
    repo = make_repo(tmp_path / "repo")
    g = Git(repo)
    g.ensure_branch("czar/a", "main")
    head = g.commit_of("main")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("yours\n")
    for n, made in enumerate(
        (
            lambda place: checkout.make(g, place, "czar/a"),
            lambda place: checkout.detached(g, place, head),
        )
    ):
        for planted in ("link", "file"):
            place = tmp_path / "clones" / f"{n}-{planted}"
            place.parent.mkdir(exist_ok=True)
            if planted == "link":
                place.symlink_to(precious)
            else:
                place.write_text("a file where a folder goes\n")
            made(place)
            assert not place.is_symlink() and (place / "README.md").is_file()
    # A link to a worktree of the repository (yours, or an older czar's) is not taken for an old
    # worktree of czar's in the clone's place: that one is removed, changes and all.
    yours = tmp_path / "your-worktree"
    g.run("worktree", "add", "--quiet", str(yours), "czar/a")
    (yours / "README.md").write_text("your change, not committed\n")
    place = tmp_path / "clones" / "to-a-worktree"
    place.symlink_to(yours)
    checkout.make(g, place, "main")
    assert (yours / "README.md").read_text() == "your change, not committed\n" and not place.is_symlink()
    place = tmp_path / "clones" / "throwaway"
    place.symlink_to(precious)
    with checkout.throwaway(g, place, head) as folder:
        assert not folder.is_symlink() and (folder / "README.md").is_file()
    assert not place.exists() and sorted(p.name for p in precious.iterdir()) == ["keep.txt"]
    untrusted.remove(tmp_path / "missing")  # nothing there: nothing to do


@pytest.mark.timeout(60)
def test_what_an_agent_puts_in_its_clones_configuration_neither_stalls_nor_redirects_a_fetch(tmp_path: Path) -> None:
    """Found by a probe: an include of a FIFO in the clone's configuration held czar's fetch (and
    the supervisor) until git's time-out, at every look. Nor may the configuration point the fetch
    at another git folder, or at a server for missing objects; the agent's other settings stay."""
    g, place = _clone(tmp_path)
    (place / "a.txt").write_text("work\n")
    git(place, "add", "a.txt")
    git(place, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "work")
    work = git(place, "rev-parse", "HEAD")
    gitdir = place / ".git"
    os.mkfifo(gitdir / "hang")
    with open(gitdir / "config", "a") as config:
        config.write(
            "[include]\n\tpath = hang\n"
            f'[includeIf "gitdir:/"]\n\tpath = {gitdir / "hang"}\n'
            '[remote "evil"]\n\turl = http://127.0.0.1:9/\n\tpromisor = true\n'
            "[extensions]\n\tpartialClone = evil\n"
            '[user]\n\tname = "Agent \\"quoted\\" \\\\ name"\n'
        )
    (gitdir / "commondir").write_text(f"{g.common_dir()}\n")  # the repository's own refs, not the clone's
    assert checkout.harvest(g, place, "czar/a", None) == work
    listed = git(place, "config", "--file", str(gitdir / "config"), "--list")
    assert "include" not in listed and "remote." not in listed and "partialclone" not in listed
    assert 'user.name=Agent "quoted" \\ name' in listed.splitlines()
    assert not (gitdir / "commondir").exists()


@pytest.mark.timeout(60)
def test_a_clone_whose_git_makes_a_fetch_wait_is_passed_by_for_a_while(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a review: a FIFO where git reads a file of the clone (packed-refs, HEAD, a ref)
    held each fetch from it until git's time-out (two minutes), at every look at every agent's
    work, merges included. A fetch is given a bound; a clone that took it is passed by a while."""
    monkeypatch.setattr(checkout, "FETCH_SECONDS", 1.0)
    g, place = _clone(tmp_path)
    known = g.tip("czar/a")
    (place / "a.txt").write_text("work\n")
    git(place, "add", "a.txt")
    git(place, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "work")
    (place / ".git" / "packed-refs").unlink(missing_ok=True)
    os.mkfifo(place / ".git" / "packed-refs")
    assert checkout.harvest(g, place, "czar/a", known) == known and checkout.stuck(place)
    started = time.monotonic()
    assert checkout.harvest(g, place, "czar/a", known) == known  # passed by: no wait at all
    assert time.monotonic() - started < 1.0


def test_a_fetch_that_fails_on_the_repositorys_side_says_why(tmp_path: Path) -> None:
    g, place = _clone(tmp_path)
    known = g.tip("czar/a")
    (place / "a.txt").write_text("work\n")
    git(place, "add", "a.txt")
    git(place, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "work")
    lock = g.repo / ".git" / "refs" / "heads" / "czar" / "a.lock"  # (as a full disk would, git cannot write there)
    lock.write_text("")
    try:
        assert checkout.harvest(g, place, "czar/a", known) == known
        assert "lock" in (checkout.fetch_failure(place) or "")
    finally:
        lock.unlink()
    assert checkout.harvest(g, place, "czar/a", known) != known and checkout.fetch_failure(place) is None
