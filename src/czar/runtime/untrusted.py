"""Reading a file an agent can write, from outside its sandbox (a ref in its checkout, its
transcript): never through a link it planted, never blocking on a FIFO it put in the file's place,
never more than a bound (a link to ``/dev/zero`` or a file of gigabytes must not take czar down).
Removing one the same way: a link, never what it points at.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator, Sequence
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


@contextlib.contextmanager
def folder(start: Path, names: Sequence[str] = (), *, follow: bool = False, make: bool = False) -> Iterator[int]:
    """The folder ``start/names...``, open, reached one folder at a time: none of ``names`` (nor
    ``start`` itself, unless ``follow``: a folder czar trusts) may be a link, so a folder on the
    way that an agent swapped for one leads nowhere. ``make``: those missing are made. Raises
    ``OSError``."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    fd = os.open(start, flags if follow else flags | os.O_NOFOLLOW)
    try:
        for name in names:
            if make:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=fd)
            inner = os.open(name, flags | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def replace(folder_fd: int, name: str, text: str) -> None:
    """``name`` in the open folder made to hold ``text``: written beside and renamed over it, so
    that a link or a FIFO in its place is replaced, never followed. Raises ``OSError``."""
    part = f"{name}.czar-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(part, dir_fd=folder_fd)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=folder_fd)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.rename(part, name, src_dir_fd=folder_fd, dst_dir_fd=folder_fd)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(part, dir_fd=folder_fd)  # left behind, it could be read as what it stands beside
        raise


def read_beneath(root: Path, path: Path, *, offset: int = 0, limit: int = LIMIT) -> bytes | None:
    """``read`` of ``path``, which must lie in ``root`` (a folder czar trusts: the agent's home)
    and is reached from it through no link (``folder``). None if it does not lie there."""
    try:
        rel = path.relative_to(root) if path.is_absolute() else path
    except ValueError:
        return None
    if not rel.parts or any(part in ("..", ".") for part in rel.parts):
        return None
    try:
        with folder(root, rel.parts[:-1], follow=True) as fd:
            return read(rel.parts[-1], offset=offset, limit=limit, dir_fd=fd)
    except OSError:
        return None


def read_text(path: Path, *, limit: int = LIMIT) -> str | None:
    data = read(path, limit=limit)
    return data.decode("utf-8", errors="replace") if data is not None else None


def remove(path: Path, *, ignore_errors: bool = False) -> None:
    """Whatever is at ``path`` gone: a folder with all in it (links inside are removed, not
    followed), a file, or a link itself, never what it points at. Nothing there: nothing to do.
    Raises ``OSError`` unless ``ignore_errors``."""
    try:
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            path.unlink()
        elif path.exists():
            shutil.rmtree(path, ignore_errors=ignore_errors)
    except OSError:
        if not ignore_errors:
            raise
