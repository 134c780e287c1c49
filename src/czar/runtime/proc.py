"""The one chokepoint for child processes: argv only (never a shell), timeouts, group kill."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from czar.runtime import ancestry

log = logging.getLogger("czar.proc")
# How a person stops a process of czar's: Ctrl-C, a kill (`timeout`, a service manager), the
# terminal closed. Each process says what a stop means to it (its supervisor ends its loop, `czar
# down` hurries, a command ends as on Ctrl-C).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

# Process groups started by ``run`` and still running (leader pid -> label), so a stopping
# supervisor can end them; the labels it stopped start no more; the groups it killed.
RUNNING: dict[int, str] = {}
_stopped: set[str] = set()
_killed: set[int] = set()
_lock = threading.Lock()  # a group is registered as it starts, so none escapes a stop


@dataclass(frozen=True)
class Result:
    argv: tuple[str, ...]
    returncode: int
    output: str  # stdout and stderr interleaved, as a person would have seen them
    timed_out: bool = False
    interrupted: bool = False  # killed (or never started) because czar is stopping: says nothing of the work
    errors: str = ""  # stderr, where it was kept apart from ``output`` (``run(errors_too=False)``)

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
    label: str = "",
    own_group: bool = True,
    errors_too: bool = True,
) -> Result:
    """Run ``argv`` to completion in its own process group; on timeout kill the whole group.
    ``label`` names a kind of process that ``kill_running`` may stop apart from the others.
    Without ``own_group`` it stays in the caller's group, and ends with it (an agent's commands:
    whoever kills the agent's group kills them too); on timeout only it is killed, and what it
    started and left holding its output is not waited for. Without ``errors_too`` the output is
    its standard output alone (to parse), its errors kept apart (``Result.errors``)."""
    log.debug("run %s (cwd=%s)", argv, cwd)
    with _lock:
        if label and label in _stopped:
            return Result(tuple(argv), -signal.SIGKILL, "[czar: not started: czar is stopping]\n", interrupted=True)
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT if errors_too else subprocess.PIPE,
                text=True,
                errors="replace",
                start_new_session=own_group,
            )
        except OSError as exc:
            return Result(tuple(argv), 127, f"cannot run {argv[0]}: {exc.strerror or exc}\n")
        RUNNING[proc.pid] = label
    try:
        out, err = proc.communicate(input_text, timeout=timeout)
        return Result(tuple(argv), proc.returncode, out, interrupted=proc.pid in _killed, errors=err or "")
    except subprocess.TimeoutExpired:
        if own_group:
            kill_group(proc.pid)
            out, _ = proc.communicate()
        else:
            proc.kill()
            try:
                out, _ = proc.communicate(timeout=2)
            except subprocess.TimeoutExpired:  # a process it started still holds the pipe
                if proc.stdout is not None:
                    proc.stdout.close()
                proc.wait()
                out = ""
        return Result(tuple(argv), -signal.SIGKILL, out + f"\n[czar: timed out after {timeout:g} s]\n", True)
    finally:
        with _lock:
            RUNNING.pop(proc.pid, None)
            _killed.discard(proc.pid)


class Child:
    """A long-lived child in a process group of its own (an agent): written to, read without
    blocking, and ended with everything it started. Its output is its standard output and errors
    in one stream, or a terminal's (``spawn(terminal=...)``), which its owner reads."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.output_fd: int | None = popen.stdout.fileno() if popen.stdout is not None else None
        if self.output_fd is not None:
            os.set_blocking(self.output_fd, False)

    def running(self) -> bool:
        return self._popen.poll() is None

    def exit_code(self) -> int:
        """Its exit code, waiting for it to end."""
        return self._popen.wait()

    def wait(self, timeout: float) -> int | None:
        """Its exit code, once it has ended (None if it still runs after ``timeout`` seconds)."""
        try:
            return self._popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def send(self, data: bytes) -> bool:
        """Write to its input; False if it has none any more (closed, or it died)."""
        stdin = self._popen.stdin
        if stdin is None or stdin.closed:
            return False
        try:
            stdin.write(data)
            stdin.flush()
        except OSError:  # a broken pipe: it died, and its end is noticed when its output closes
            return False
        return True

    def close_input(self) -> None:
        if self._popen.stdin is not None:
            with contextlib.suppress(OSError):
                self._popen.stdin.close()

    def read(self, limit: int) -> tuple[bytes, bool]:
        """Up to about ``limit`` bytes of what it printed and nobody read yet, without waiting;
        and whether its output has closed (it ended)."""
        if self.output_fd is None:
            return b"", False
        chunks: list[bytes] = []
        size = 0
        while size < limit:
            try:
                chunk = os.read(self.output_fd, 65536)
            except BlockingIOError:
                return b"".join(chunks), False
            except (OSError, ValueError):
                return b"".join(chunks), True
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks), False

    def close(self) -> None:
        """Let go of its pipes, once it has ended and what it printed was read."""
        for pipe in (self._popen.stdin, self._popen.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self.output_fd = None

    def signal_group(self, sig: int) -> None:
        kill_group(self.pid, sig)

    def kill_all(self) -> None:
        """Kill it and what it started, a session of their own included (a sandbox's), at once:
        what holds its output open would keep its end from being seen. Not waited for."""
        inside = ancestry.descendants(self.pid)
        kill_group(self.pid)
        kill_all(inside, patience=0)

    def end_all(self, patience: float = 5.0) -> list[int]:
        """Kill its process group and wait for it. What it started in a session of its own (out of
        the group's reach, as in a sandbox) ends with it and is waited for too, up to ``patience``
        seconds. Returns what still runs then (nothing, but for a process stuck in the kernel)."""
        inside = ancestry.descendants(self.pid)
        kill_group(self.pid)  # its group, grandchildren left in it included (the id stays theirs)
        self._popen.wait()
        return [] if wait_gone(inside, timeout=patience) else inside


def spawn(
    argv: Sequence[str],
    *,
    cwd: Path | str,
    env: Mapping[str, str],
    terminal: int | None = None,
    niceness: int = 0,
) -> Child:
    """Start a long-lived child in a process group of its own, so that ending it ends what it
    started. Its input and output are pipes (its errors in its output), or ``terminal``, the child
    end of a pseudo-terminal. ``niceness``: how far below czar's own processes it is scheduled.
    Raises OSError when it cannot start."""
    log.debug("spawn %s (cwd=%s)", argv, cwd)
    popen = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=terminal if terminal is not None else subprocess.PIPE,
        stdout=terminal if terminal is not None else subprocess.PIPE,
        stderr=terminal if terminal is not None else subprocess.STDOUT,
        start_new_session=True,
    )
    if niceness:
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, popen.pid, niceness)
    return Child(popen)


def start_server(
    argv: Sequence[str], *, cwd: Path | str, env: Mapping[str, str], log_to: Path, keep: Sequence[int] = ()
) -> Child:
    """Start a long-lived server of czar's own in a session of its own: no input, what it prints
    appended to ``log_to`` (nobody reads a pipe of it), the file descriptors ``keep`` (a listening
    socket) handed down. Raises OSError when it cannot start."""
    log.debug("start server %s (cwd=%s)", argv, cwd)
    log_to.parent.mkdir(parents=True, exist_ok=True)
    with open(log_to, "ab") as out:
        popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=tuple(keep),
        )
    return Child(popen)


def kill_running(label: str | None = None) -> None:
    """End the process groups ``run`` started that still run: those with ``label`` (and start no
    more of them), or all. Their results say ``interrupted``."""
    with _lock:
        if label is not None:
            _stopped.add(label)
        for pid, its in list(RUNNING.items()):
            if label is None or its == label:
                _killed.add(pid)
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


def wait_gone(pids: Sequence[int], timeout: float) -> bool:
    """Wait (up to ``timeout`` seconds) until none of ``pids`` runs; True if none does."""
    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def _zombie(pid: int) -> bool:
    # os.open and bytes, not Path.read_text: the health round asks this of every worker's host
    # several times a second.
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return False  # no /proc (not Linux), or it ended meanwhile: the signal test stands
    try:
        stat = os.read(fd, 4096)
    except OSError:
        return False
    finally:
        os.close(fd)
    # "PID (comm) STATE ...": the command may hold spaces and parentheses, so split at the last ')'.
    return stat.rpartition(b")")[2].split()[:1] == [b"Z"]


def find_by_env(marks: Mapping[str, str], under: Path | None = None) -> list[int]:
    """This user's processes whose environment holds every ``NAME=value`` of ``marks``, but not
    this process nor its ancestors. Children inherit their environment, so this finds what a
    process group kill misses: an agent's child that left its group (a daemon, a forked tool).
    ``under``: only those that work in that folder (their current folder is in it)."""
    wanted = [f"{k}={v}".encode() for k, v in marks.items()]
    spared = {p.pid for p in ancestry.ancestry()}
    found = []
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return []  # no /proc: not Linux
    for name in entries:
        if int(name) in spared:
            continue
        try:
            env = set(Path(f"/proc/{name}/environ").read_bytes().split(b"\0"))
        except OSError:
            continue  # another user's, or gone
        if all(w in env for w in wanted) and (under is None or _works_in(name, under)):
            found.append(int(name))
    return found


def _works_in(pid: str, folder: Path) -> bool:
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return False
    return cwd == str(folder) or cwd.startswith(f"{folder}/")


def kill_by_env(marks: Mapping[str, str], rounds: int = 10) -> bool:
    """Kill every process carrying ``marks`` (see ``find_by_env``) and its group, until none is
    left (one may fork meanwhile); True if any was found."""
    found = False
    for _ in range(rounds):
        pids = find_by_env(marks)
        if not pids:
            break
        found = True
        kill_all(pids)
    return found


def kill_all(pids: Sequence[int], patience: float = 2.0) -> None:
    """Kill each of ``pids`` and its group (a stray often leads one); wait up to ``patience`` s
    for them to be gone."""
    for pid in pids:
        kill_group(pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    wait_gone(pids, patience)


def by_signal(code: int) -> bool:
    """Whether an exit code says its process was killed by a signal: negative (``-N``, as Python
    says it), or 128 + N (as a shell or a sandbox says it for the program it ran)."""
    return code < 0 or 128 < code < 160
