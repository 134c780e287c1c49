"""Start and stop a project's processes: the supervisor and the worker hosts, all in tmux."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable

from czar.errors import SupervisorError
from czar.runtime import proc
from czar.store.store import Store
from czar.supervisor.loop import holder_pid
from czar.supervisor.project import Project

START_TIMEOUT = 30.0


def supervisor_pid(project: Project) -> int | None:
    return holder_pid(project.paths.supervisor_lock)


def up(project: Project) -> tuple[int, bool]:
    """Make sure the supervisor runs, detached in tmux. Returns (pid, started now)."""
    pid = supervisor_pid(project)
    if pid is not None:
        return pid, False
    project.check_sandbox()
    store = project.store
    last = store.last_event_id()
    listener = store.listen(f"up-{os.getpid()}")
    try:
        argv = [sys.executable, "-m", "czar", "supervise", str(project.plan.path)]
        project.tmux.start_window("supervisor", argv, env=project.child_env(), cwd=project.paths.root)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            started = [e for e in store.events_after(last) if e.kind == "supervisor.started"]
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


def down(project: Project, reason: str = "czar down") -> bool:
    """Stop the supervisor, the worker hosts and their agents. Keeps branches and worktrees.

    Returns True if anything was running.
    """
    was_running = False
    pid = supervisor_pid(project)
    if pid and pid > 0:
        was_running = True
        os.kill(pid, signal.SIGTERM)
        _wait(lambda: supervisor_pid(project) is None, 10.0)
        if supervisor_pid(project) is not None:
            os.kill(pid, signal.SIGKILL)
    workers = project.store.workers()
    if project.tmux.alive():
        was_running = True
        project.tmux.kill_server()
    # Hosts stop their agents when tmux hangs up on them; make sure nothing is left behind.
    _wait(lambda: not any(proc.pid_alive(w.pid) for w in workers), 5.0)
    for w in workers:
        if w.agent_pid:
            proc.kill_group(w.agent_pid)
        if w.pid and proc.pid_alive(w.pid):
            os.kill(w.pid, signal.SIGKILL)
    with project.store.write() as conn:
        for w in workers:
            Store.set_worker(conn, w.id, state="stopped", pid=None, agent_pid=None)
        Store.emit(conn, "run.down", actor="cli", reason=reason)
    return was_running


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    # Waiting for other processes to exit: there is no event to wait on, so poll briefly.
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
