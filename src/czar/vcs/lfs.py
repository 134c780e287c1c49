"""Git LFS: a large file lives in a store of its own (``.git/lfs/objects/aa/bb/<oid>``, its name the
SHA-256 of its content), and git's objects hold only a pointer to it. Two things follow for the
clones czar makes, which borrow the repository's objects:

- A task's agent adds large files to its clone's store. A fetch of its branch brings their
  pointers only: the merge's checkout found nothing to make the files from, every task that added
  one failed its merge, and the files were lost with the clone. ``bring`` copies them into the
  repository's store with each harvest.
- Making a clone, git-lfs hard-links the repository's large files into the clone's store (it finds
  them through the borrowed objects): whatever runs in the clone (the agent, the checks) could
  rewrite your files through the link. ``own_copies`` makes each one the clone's own copy before
  anything runs there.

The clone is untrusted: a file is brought only if it is a regular file reached through no link, no
bigger than the disk can take, and its content hashes to its name (under another's name it would
become that file for everyone who checks it out later).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from czar.errors import GitError
from czar.runtime import untrusted
from czar.vcs.git import Git

log = logging.getLogger("czar.lfs")
_OID = re.compile(r"[0-9a-f]{64}")
_PART = re.compile(r"[0-9a-f]{2}")
_CHUNK = 1 << 20
_SPARE = 1 << 30  # bytes of the disk a copy leaves free: an agent's file must not fill your disk
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO in its place must not block

# Files found false once, by (id, inode, change time, size): not read again at every harvest.
_refused: set[tuple[str, int, int, int]] = set()


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
            for first, second, oid in _names_in(top):
                target = into / first / second / oid
                if target.exists():
                    continue
                try:
                    if _bring_one(top, (first, second, oid), target):
                        brought.append(oid)
                except OSError as exc:  # this one; the others may still come (a full disk says so here)
                    log.warning("large file %s of %s not brought: %s", oid, clone, exc)
    except FileNotFoundError:
        pass  # no large files
    except (OSError, GitError) as exc:  # the merge will say which file it misses
        log.warning("large files of %s not brought: %s", clone, exc)
    return brought


def own_copies(clone: Path) -> int:
    """Each file of a clone czar just made (nothing has run in it yet) that is linked elsewhere
    (git-lfs links the repository's files into it) replaced by a copy of its own; returns how many."""
    objects = clone / ".git" / "lfs" / "objects"
    copied = 0
    for folder, _, files in os.walk(objects, followlinks=False):
        for name in files:
            path = Path(folder) / name
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                part = _beside(path)
                shutil.copyfile(path, part)
                os.chmod(part, stat.S_IMODE(info.st_mode))
                os.replace(part, path)
                copied += 1
    return copied


def _names_in(top: int) -> Iterator[tuple[str, str, str]]:
    """The ids in the open store ``top``, each with the two folders it lies in (which must fit it)."""
    for first in _listed(top, (), _PART):
        for second in _listed(top, (first,), _PART):
            for oid in _listed(top, (first, second), _OID):
                if oid[:2] == first and oid[2:4] == second:
                    yield first, second, oid


def _listed(top: int, folders: tuple[str, ...], pattern: re.Pattern[str]) -> list[str]:
    """The names fitting ``pattern`` in the folder ``folders`` below ``top``, reached through no
    link; none if it cannot be listed."""
    try:
        with _opened(top, folders) as fd, os.scandir(fd) as entries:
            return sorted(e.name for e in entries if pattern.fullmatch(e.name))
    except OSError:
        return []


@contextlib.contextmanager
def _opened(top: int, folders: tuple[str, ...]) -> Iterator[int]:
    fd = os.dup(top)
    try:
        for name in folders:
            inner = os.open(name, _DIR, dir_fd=fd)
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def _bring_one(top: int, where: tuple[str, str, str], target: Path) -> bool:
    """The file ``where`` below ``top`` written to ``target`` if its content hashes to its name:
    beside it first (a name of its own: two harvests may bring one file at once), then renamed, so
    that no reader sees half a file. False (and nothing written) otherwise."""
    first, second, oid = where
    with _opened(top, (first, second)) as folder:
        source = os.open(oid, _FILE, dir_fd=folder)
    try:
        info = os.fstat(source)
        seen = (oid, info.st_ino, info.st_ctime_ns, info.st_size)
        if not stat.S_ISREG(info.st_mode) or seen in _refused:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        if info.st_size > shutil.disk_usage(target.parent).free - _SPARE:
            raise OSError(f"{info.st_size} bytes, more than the disk has to spare")
        part = _beside(target)
        try:
            if _copied(source, part, info.st_size) != oid:
                if len(_refused) > 10_000:
                    _refused.clear()
                _refused.add(seen)
                log.warning("large file %s not brought: its content is not what its name says", oid)
                os.unlink(part)
                return False
            os.replace(part, target)
            return True
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(part)
            raise
    finally:
        os.close(source)


def _beside(path: Path) -> Path:
    """A new file of a name of its own beside ``path`` (made, empty, readable by all)."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name[:8]}.", suffix=".czar", dir=path.parent)
    os.close(fd)
    os.chmod(name, 0o644)
    return Path(name)


def _copied(source: int, part: Path, size: int) -> str:
    """The first ``size`` bytes of ``source`` (what it held when opened: a file still growing is
    not followed) written to ``part``; returns their SHA-256."""
    digest = hashlib.sha256()
    with open(part, "wb") as out:
        offset = 0
        while offset < size and (chunk := os.pread(source, min(_CHUNK, size - offset), offset)):
            digest.update(chunk)
            out.write(chunk)
            offset += len(chunk)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()
