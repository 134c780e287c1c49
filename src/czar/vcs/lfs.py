"""Git LFS: the large files a task's agent adds live in its clone's own store (``.git/lfs/objects``),
not among git's objects. A fetch of its branch brings their pointers only, and the merge's checkout,
which turns each pointer into its file, finds nothing: every task that added one failed its merge,
and the file itself was lost with the clone. So each harvest also brings the clone's large files
into the repository's store.

The clone is the agent's to write: a file is brought only if it is a regular file reached through
no link, and its content hashes to its name (its SHA-256), since under another's name it would
become that file for everyone who checks it out later.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

from czar.errors import GitError
from czar.runtime import untrusted
from czar.vcs.git import Git

log = logging.getLogger("czar.lfs")
_OID = re.compile(r"^[0-9a-f]{64}$")
_PART = re.compile(r"^[0-9a-f]{2}$")
_CHUNK = 1 << 20
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@functools.cache
def store(repo: Path) -> Path:
    """The repository's store of large files: ``lfs/objects`` in its git folder, or where its
    ``lfs.storage`` says (a relative one is in the git folder)."""
    git = Git(repo)
    common = git.common_dir()
    try:
        configured = git.out("config", "--get", "lfs.storage")
    except GitError:  # not set
        configured = ""
    return (common / configured if configured else common / "lfs") / "objects"


def bring(clone: Path, repo: Path) -> list[str]:
    """The large files of ``clone``'s store that the store of ``repo`` lacks, copied into it;
    returns their ids. A clone without a store (a repository without LFS) costs one failed open."""
    brought: list[str] = []
    try:
        with untrusted.folder(clone / ".git", ("lfs", "objects")) as top:
            into = store(repo)
            for first, second, oid, fd in _files(top):
                target = into / first / second / oid
                if target.exists():
                    continue
                if _copy(fd, target, oid):
                    brought.append(oid)
                else:
                    log.warning("large file %s in %s not brought: its content is not what its name says", oid, clone)
    except FileNotFoundError:
        pass  # the clone has no large files
    except OSError as exc:  # the merge will say which file it misses
        log.warning("large files of %s not brought: %s", clone, exc)
    return brought


def _files(top: int) -> Iterator[tuple[str, str, str, int]]:
    """Each regular file ``aa/bb/<oid>`` of the open store ``top`` whose name fits where it lies,
    open for reading (closed when the next is asked for)."""
    for first in _names(top, _PART):
        with _opened(first, _DIR, top) as one:
            for second in _names(one, _PART) if one >= 0 else []:
                with _opened(second, _DIR, one) as two:
                    for oid in _names(two, _OID) if two >= 0 else []:
                        if oid[:2] != first or oid[2:4] != second:
                            continue
                        with _opened(oid, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, two) as fd:
                            if fd >= 0 and stat.S_ISREG(os.fstat(fd).st_mode):
                                yield first, second, oid, fd


def _names(folder: int, pattern: re.Pattern[str]) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if pattern.match(e.name))


@contextlib.contextmanager
def _opened(name: str, flags: int, folder: int) -> Iterator[int]:
    """``name`` in the open ``folder``, opened with ``flags``; -1 if it cannot be (a link, gone)."""
    try:
        fd = os.open(name, flags, dir_fd=folder)
    except OSError:
        yield -1
        return
    try:
        yield fd
    finally:
        os.close(fd)


def _copy(source: int, target: Path, oid: str) -> bool:
    """``source`` written to ``target`` if its content hashes to ``oid``: beside it first, then
    renamed, so that no reader sees half a file. False (and nothing written) otherwise."""
    if source < 0:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(f"{oid}.czar-{os.getpid()}")
    digest = hashlib.sha256()
    try:
        with open(part, "wb") as out:
            offset = 0
            while chunk := os.pread(source, _CHUNK, offset):
                digest.update(chunk)
                out.write(chunk)
                offset += len(chunk)
        if digest.hexdigest() != oid:
            part.unlink()
            return False
        part.chmod(0o644)
        os.replace(part, target)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            part.unlink()
        raise
