"""Start and stop a project's processes: the supervisor and the worker hosts, all in tmux."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from czar.agent_tools.host_link import URL_FILE
from czar.core.events import EventKind
from czar.errors import StoreError, SupervisorError
from czar.runtime import proc
from czar.store.store import Store
from czar.supervisor import doctor
from czar.supervisor.lock import holder_pid
from czar.supervisor.project import Project, RunAt

START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0  # for the supervisor to end its merges and verifications before it is killed


def supervisor_pid(project: Project | RunAt) -> int | None:
    return holder_pid(project.paths.supervisor_lock)


def up(project: Project) -> tuple[int, bool]:
    """Make sure the supervisor runs, detached in tmux. Returns (pid, started now)."""
    pid = supervisor_pid(project)
    if pid is not None:
        return pid, False
    with _one_start(project):
        pid = supervisor_pid(project)  # started by the command this one waited for
        if pid is not None:
            return pid, False
        return _start(project)


@contextlib.contextmanager
def _one_start(project: Project | RunAt) -> Iterator[None]:
    """One start (or stop) of the supervisor at a time: of two `czar run` typed together, the second
    replaced the first's supervisor window while that one was starting, and both said they started
    it. The second waits (the first's start takes ``START_TIMEOUT`` at most), then finds it; a
    `czar down` meanwhile waits too, then stops what was started, rather than stop nothing and let
    the start go on."""
    path = project.paths.supervisor_lock.with_name("starting.lock")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        held = open(path, "a")  # noqa: SIM115 - released when this ends, or with the process
    except OSError:  # a broken project folder: `czar down` must stop the run all the same
        yield
        return
    with held:
        patience = START_TIMEOUT + STOP_TIMEOUT + 10  # the other's start, or its stop
        deadline = time.monotonic() + patience
        waited = False
        while True:
            try:
                fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not waited:
                    with contextlib.suppress(OSError):  # (a terminal gone must not stop a `down`)
                        print("czar: another czar command is starting or stopping this run; waiting", file=sys.stderr)
                    waited = True
                if time.monotonic() > deadline:  # one stopped (Ctrl-Z) holds it: say so, not hang
                    raise SupervisorError(
                        f"another czar command has been starting or stopping this run for {patience:g} s"
                        f" (its lock: {path})"
                    ) from None
                time.sleep(0.1)
        yield


def _start(project: Project) -> tuple[int, bool]:
    project.check_sandbox()
    doctor.require_programs(project.plan)  # said here, not by every task failing in a detached window
    project.forge  # noqa: B018  (opened now: a missing token is said here, not in a detached window)
    store = project.store
    last = store.last_event_id()
    listener = store.listen(f"up-{os.getpid()}")
    try:
        argv = [sys.executable, "-m", "czar", "supervise", str(project.plan.path)]
        project.tmux.start_window("supervisor", argv, env=project.supervisor_env(), cwd=project.paths.root)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            # Of that kind alone: a plan of thousands of tasks adds as many events before it.
            started = store.events_after(last, kinds=(EventKind.SUPERVISOR_STARTED,))
            if started:
                return int(started[-1].payload["pid"]), True
            if not project.tmux.window_alive("supervisor"):
                screen = project.tmux.capture("supervisor", lines=20).strip().splitlines()
                why = next((ln for ln in reversed(screen) if ln.strip() and not ln.startswith("Pane is dead")), "")
                raise SupervisorError(f"the supervisor exited at start: {why or 'no output'}")
            listener.wait(0.5)
    finally:
        listener.close()
    raise SupervisorError(f"the supervisor did not start within {START_TIMEOUT:g} s; see `czar logs`")


def down(project: Project | RunAt, reason: str = "czar down", *, hurry: bool = False) -> bool:
    """Stop the supervisor, the worker hosts, their agents and whatever those started; keep
    branches, worktrees and the store. Returns when none of them runs any more: True if any did.

    The store is not needed to find them (the supervisor's lock, the tmux socket and the
    processes' environment are enough), so a broken store cannot keep a run going.

    Ctrl-C meanwhile does not leave it half done: it only stops waiting for the supervisor's
    merges, which are cut short (a supervisor killed at any moment loses nothing); ``hurry``: so
    from the start. A kill (SIGTERM) or a closed terminal (SIGHUP) does the same (`timeout 30 czar
    down` cut it short with the worker hosts still running), and is not lost: it comes again to
    the caller once the run is stopped (a benchmark killed during one run's stop started the next).
    """
    hurried = threading.Event()
    if hurry:
        _say_hurried()
        hurried.set()
    got: list[int] = []
    previous = _hurried_by_signals(hurried, got)
    try:
        with _one_start(project):  # not in the middle of a start, which would then go on
            return _down(project, reason, hurried)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(got):
            if signum != signal.SIGINT:  # Ctrl-C meant hurry; a kill, stop
                signal.raise_signal(signum)


HURRIED = "czar: stopping at once: the supervisor's merges are cut short (nothing is lost)\n"


def _say_hurried() -> None:
    """Said from a signal handler too: written straight to the descriptor, as a print from within
    one that came in the middle of another print fails (a reentrant call on stderr's buffer, which
    ended a killed `czar down` without a word); to a terminal that may be gone."""
    with contextlib.suppress(OSError, ValueError):
        os.write(sys.stderr.fileno(), HURRIED.encode())


def _hurried_by_signals(hurry: threading.Event, got: list[int]) -> dict[signal.Signals, Any]:
    """Ctrl-C, SIGTERM and SIGHUP set ``hurry`` (said once) instead of interrupting, and are
    noted in ``got``; the handlers they replace: none where signals cannot be handled (not the
    main thread). Ctrl-C even if ignored (`czar run` ignores it while it stops the run, and a
    second press hurries), the others not (`nohup`: a hangup must not cut the merges short)."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def hurried(signum: int, _frame: object) -> None:
        got.append(signum)
        if not hurry.is_set():
            hurry.set()
            _say_hurried()

    previous = {sig: signal.getsignal(sig) for sig in proc.STOP_SIGNALS}
    for sig, handler in previous.items():
        if sig is signal.SIGINT or handler is not signal.SIG_IGN:
            signal.signal(sig, hurried)
    return previous


def _down(project: Project | RunAt, reason: str, hurry: threading.Event) -> bool:
    was_running = False
    pid = supervisor_pid(project)
    if pid and pid > 0:
        was_running = True
        _signal(pid, signal.SIGTERM)
        # It kills its checks at once, then lets its merges and verifications end: returning
        # earlier would let a `czar up` start a second supervisor merging beside it.
        _wait(lambda: supervisor_pid(project) is None or hurry.is_set(), STOP_TIMEOUT)
        if supervisor_pid(project) is not None:
            _signal(pid, signal.SIGKILL)
            _wait(lambda: supervisor_pid(project) is None, 5.0)
    workers = _workers(project)
    if project.tmux.alive():
        was_running = True
        project.tmux.kill_server()
    # Hosts stop their agents when tmux hangs up on them; make sure nothing is left behind.
    _wait(lambda: not any(proc.pid_alive(w.pid) for w in workers), 5.0)
    for w in workers:
        if w.agent_pid:
            proc.kill_group(w.agent_pid)
        if w.pid and proc.pid_alive(w.pid):
            _signal(w.pid, signal.SIGKILL)
    # What a group kill misses, found by the environment czar gave it: an agent's child that
    # left its group, the agent of a host that was since replaced, a killed supervisor's checks.
    was_running = proc.kill_by_env(project.marks()) or was_running
    with contextlib.suppress(OSError):  # its tools server is gone with the rest (a folder made read-only keeps it)
        (project.paths.root / URL_FILE).unlink(missing_ok=True)
    try:
        with project.store.write() as conn:
            for w in workers:
                Store.set_worker(conn, w.id, state="stopped", pid=None, agent_pid=None)
            Store.emit(conn, EventKind.RUN_DOWN, actor="cli", reason=reason)
    except StoreError:
        pass  # everything is stopped; the store says so when it works again (`czar up` reconciles)
    return was_running


def _workers(project: Project | RunAt) -> list[Any]:
    try:
        return project.store.workers()
    except StoreError:
        return []  # the processes are still found: by tmux and by their environment


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    # Waiting for other processes to exit: there is no event to wait on, so poll briefly.
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
