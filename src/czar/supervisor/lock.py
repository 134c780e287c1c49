"""One supervisor per project: a lock on a file that the supervisor holds for its life, and who
holds it. Apart from the loop: every command that asks whether a run is going on reads it, and
need not load the supervisor."""

from __future__ import annotations

import fcntl
import os
from typing import IO, Any

from czar.errors import SupervisorError
from czar.supervisor.project import Project


class SupervisorLock:
    """One supervisor per project: an exclusive lock on a file, released when the process dies."""

    def __init__(self, project: Project) -> None:
        self.path = project.paths.supervisor_lock
        self.fh: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(self.path, "a+")  # noqa: SIM115 - held for the life of the process
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            holder = said_pid(holder_pid(self.path))
            raise SupervisorError(f"a supervisor already runs for this project ({holder})") from None
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self.fh = fh

    def release(self) -> None:
        """Let the next supervisor take it (a start that failed; else the process's end does)."""
        fh, self.fh = self.fh, None
        if fh is not None:
            fh.close()


def said_pid(pid: int | None) -> str:
    """A running supervisor's pid, for people (-1: the lock is held and says no pid: a supervisor
    starting, or another program)."""
    return f"pid {pid}" if pid is not None and pid > 0 else "its pid not written yet"


def supervisor_said(sup: dict[str, Any]) -> str:
    """The supervisor's state in a view's words, from the read model's ``supervisor`` entry."""
    if not sup.get("running"):
        return "not running"
    if sup.get("stopped"):  # it holds its lock, but nothing moves until it is continued
        return f"STOPPED by a signal ({said_pid(sup['pid'])}; `kill -CONT {sup['pid']}` lets it go on)"
    return f"running ({said_pid(sup['pid'])})"


def holder_pid(path: Any) -> int | None:
    """The pid of the running supervisor, or None if none holds the lock."""
    try:
        fh = open(path)  # noqa: SIM115
    except FileNotFoundError:
        return None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = fh.read().strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fh, fcntl.LOCK_UN)
        return None
