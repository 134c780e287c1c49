"""The one chokepoint for child processes: argv only (never a shell), timeouts, group kill."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("czar.proc")

# Process groups started by ``run`` and still running, so a stopping supervisor can end them.
RUNNING: set[int] = set()


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    output: str  # stdout and stderr interleaved, as a person would have seen them
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def run(
    argv: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    input_text: str | None = None,
) -> Result:
    """Run ``argv`` to completion in its own process group; on timeout kill the whole group."""
    log.debug("run %s (cwd=%s)", argv, cwd)
    try:
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
    except OSError as exc:
        return Result(tuple(argv), 127, f"cannot run {argv[0]}: {exc.strerror or exc}\n")
    RUNNING.add(proc.pid)
    try:
        out, _ = proc.communicate(input_text, timeout=timeout)
        return Result(tuple(argv), proc.returncode, out)
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, _ = proc.communicate()
        return Result(tuple(argv), -signal.SIGKILL, out + f"\n[czar: timed out after {timeout:g} s]\n", True)
    finally:
        RUNNING.discard(proc.pid)


def kill_running() -> None:
    """End every process group ``run`` started that is still running."""
    for pid in list(RUNNING):
        kill_group(pid)


def kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal the process group led by ``pid``; silently ignore one that is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def pid_alive(pid: int | None) -> bool:
    """True while the process runs. A zombie (dead, but not reaped by its parent yet: tmux can
    take minutes to reap a killed pane's process) is dead: it answers signals but does nothing."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (not Linux), or it ended meanwhile: the signal test stands
    # "PID (comm) STATE ...": the command may hold spaces and parentheses, so split at the last ')'.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]
