"""czar.vcs.lfs: a harvest brings the large files of a task's clone (Git LFS keeps them apart from
git's objects) into the repository's store, and nothing else the agent put there."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from czar.vcs import checkout, lfs
from czar.vcs.git import Git
from helpers import git, lfs_repo, make_repo


def _put(objects: Path, content: bytes, *, oid: str | None = None) -> str:
    oid = oid or hashlib.sha256(content).hexdigest()
    folder = objects / oid[:2] / oid[2:4]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / oid).write_bytes(content)
    return oid


def test_the_clones_large_files_are_brought_checked_against_their_names(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    lfs.store.cache_clear()
    clone = make_repo(tmp_path / "clone")
    theirs = clone / ".git" / "lfs" / "objects"
    good = _put(theirs, b"a large file\n")
    # Under the name of another content: it would become that file for whoever checks it out.
    forged = _put(theirs, b"not what the name says\n", oid=hashlib.sha256(b"your file\n").hexdigest())
    second = _put(theirs, b"another large file\n")
    misplaced = hashlib.sha256(b"elsewhere\n").hexdigest()
    (theirs / "00" / "00").mkdir(parents=True)
    (theirs / "00" / "00" / misplaced).write_bytes(b"elsewhere\n")  # not where its name says it lies
    # A FIFO in a file's place must not block czar; a name with a line's end after it is no name.
    fifo = hashlib.sha256(b"fifo\n").hexdigest()
    (theirs / fifo[:2] / fifo[2:4]).mkdir(parents=True, exist_ok=True)
    os.mkfifo(theirs / fifo[:2] / fifo[2:4] / fifo)
    trailing = hashlib.sha256(b"trailing\n").hexdigest()
    _put(theirs, b"trailing\n", oid=trailing + "\n")
    # Links the agent planted, to a file and to a folder of files of this machine (valid ones).
    outside = tmp_path / "outside"
    linked = _put(outside, b"a secret of this machine\n")
    os.symlink(outside / linked[:2], theirs / linked[:2])
    other = hashlib.sha256(b"another secret\n").hexdigest()
    (outside / "another").write_bytes(b"another secret\n")
    (theirs / other[:2] / other[2:4]).mkdir(parents=True, exist_ok=True)
    os.symlink(outside / "another", theirs / other[:2] / other[2:4] / other)

    ours = repo / ".git" / "lfs" / "objects"
    brought = lfs.bring(clone, repo)
    expected = sorted([good, second])
    assert sorted(brought) == expected
    found = sorted(p.name for p in ours.rglob("*") if p.is_file())
    assert found == expected  # nothing half-written beside them either
    assert (ours / good[:2] / good[2:4] / good).read_bytes() == b"a large file\n"
    assert oct((ours / good[:2] / good[2:4] / good).stat().st_mode & 0o777) == "0o644"
    assert not {forged, linked, other, misplaced, fifo, trailing, trailing + "\n"} & set(found)
    # Each once: a file the store has is left as it is.
    assert lfs.bring(clone, repo) == []


def test_a_clone_without_large_files_brings_nothing_and_lfs_storage_is_followed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    clone = make_repo(tmp_path / "clone")
    lfs.store.cache_clear()
    assert lfs.bring(clone, repo) == []
    assert not (repo / ".git" / "lfs").exists()

    git(repo, "config", "lfs.storage", "elsewhere")  # relative: in the git folder
    lfs.store.cache_clear()
    assert lfs.store(repo) == (repo / ".git" / "elsewhere" / "objects").resolve()
    oid = _put(clone / ".git" / "lfs" / "objects", b"x\n")
    assert lfs.bring(clone, repo) == [oid]
    assert (repo / ".git" / "elsewhere" / "objects" / oid[:2] / oid[2:4] / oid).read_bytes() == b"x\n"
    lfs.store.cache_clear()


def test_a_clone_czar_makes_of_a_repository_with_large_files_owns_its_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From a review: git-lfs hard-links the repository's large files into a clone that borrows its
    # objects, and the agent (or a check) writing into its clone's file rewrote yours.
    monkeypatch.setenv("HOME", str(tmp_path / "person"))
    repo = lfs_repo(tmp_path, tmp_path / "person", "yours\n")
    oid = hashlib.sha256(b"yours\n").hexdigest()
    yours = repo / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    assert yours.read_text() == "yours\n"

    clone = tmp_path / "clone"
    checkout.make(Git(repo), clone, "main")
    assert (clone / "data.bin").read_text() == "yours\n"  # the file, not its pointer
    theirs = clone / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    assert theirs.stat().st_ino != yours.stat().st_ino and yours.stat().st_nlink == 1
    theirs.chmod(0o644)
    theirs.write_text("rewritten by the agent\n")
    assert yours.read_text() == "yours\n"
    with checkout.throwaway(Git(repo), tmp_path / "checks", git(repo, "rev-parse", "HEAD")) as checks:
        assert (checks / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid).stat().st_nlink == 1
    assert lfs.own_copies(clone) == 0  # nothing left to copy


def test_a_file_that_grows_while_brought_is_read_as_it_was(tmp_path: Path) -> None:
    # From a review: an agent growing a file as czar read it kept czar copying until the disk filled.
    source = tmp_path / "source"
    source.write_bytes(b"what it held\n")
    fd = os.open(source, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        with open(source, "ab") as grows:
            grows.write(b"x" * 4096)
        assert lfs._copied(fd, tmp_path / "part", size) == hashlib.sha256(b"what it held\n").hexdigest()
    finally:
        os.close(fd)
    assert (tmp_path / "part").read_bytes() == b"what it held\n"
