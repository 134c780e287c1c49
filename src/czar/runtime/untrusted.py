"""Reading a file an agent can write, from outside its sandbox (a ref in its checkout, its
transcript): never through a link it planted, never blocking on a FIFO it put in the file's place,
never more than a bound (a link to ``/dev/zero`` or a file of gigabytes must not take czar down).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

LIMIT = 8 << 20  # bytes read at most in one go


def read(path: Path | str, *, offset: int = 0, limit: int = LIMIT, dir_fd: int | None = None) -> bytes | None:
    """Up to ``limit`` bytes of ``path`` (in the opened folder ``dir_fd``, if given) from
    ``offset``; None if it is missing, a link, not a regular file, or cannot be read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.pread(fd, limit, offset)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_beneath(root: Path, path: Path, *, offset: int = 0, limit: int = LIMIT) -> bytes | None:
    """``read`` of ``path``, which must lie in ``root`` (a folder czar trusts: the agent's home)
    and is reached from it one folder at a time, none of them a link: a folder on the way that
    the agent swapped for a link leads nowhere. None if it does not lie there."""
    try:
        rel = path.relative_to(root) if path.is_absolute() else path
    except ValueError:
        return None
    if not rel.parts or any(part in ("..", ".") for part in rel.parts):
        return None
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        for name in rel.parts[:-1]:
            inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = inner
        return read(rel.parts[-1], offset=offset, limit=limit, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_text(path: Path, *, limit: int = LIMIT) -> str | None:
    data = read(path, limit=limit)
    return data.decode("utf-8", errors="replace") if data is not None else None
