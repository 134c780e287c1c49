"""Kill the supervisor with SIGKILL at each point of a real run, one after the other in the same
run: `czar up` after each kill carries the run on, and it finishes with no task lost, none held
twice, and no commit lost. One run meets every point (each kill after the last one's restart),
so that the suite pays for one run, not one per point; a run that survives six crashes in a row
shows at least what six runs with one crash each do."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from functools import partial
from pathlib import Path

from czar.agent_tools.identity import ENV_PROJECT
from czar.paths import ProjectPaths
from czar.runtime.proc import find_by_env
from czar.store.store import Event, Store
from czar.supervisor.lock import holder_pid
from helpers import czar, retry_until
from run_checks import assert_nothing_charged, assert_whole, crash_plan, last_event, reach

SLOW_CHECK = 'python -c "import time; time.sleep(0.4)"'

POINTS: dict[str, Callable[[Event], bool]] = {
    "starting": lambda e: e.kind == "worker.spawned",
    "assigned": lambda e: e.kind == "task.assigned",
    "running": lambda e: e.kind == "agent.progress",
    "verifying": lambda e: e.kind == "task.state" and e.payload["new"] == "verifying",
    "merging": lambda e: e.kind == "task.state" and e.payload["new"] == "merging",
    "after-merge": lambda e: e.kind == "task.merged",
}


def _live_host(name: str, home: Path, task: str | None) -> int | None:
    """The pid of the host of the worker that holds ``task``, if it is one of the run's now."""
    store = Store(ProjectPaths.for_project(name))
    try:
        worker = next(t.worker_id for t in store.tasks() if t.id == task)
        pid = next(w.pid for w in store.workers() if w.id == worker)
    finally:
        store.close()
    return int(pid) if pid and int(pid) in find_by_env({"CZAR_HOME": str(home)}) else None


def _kill_supervisor(name: str) -> int:
    """Kill the supervisor; return the last event it wrote."""
    paths = ProjectPaths.for_project(name)
    pid = holder_pid(paths.supervisor_lock)
    assert pid
    os.kill(pid, signal.SIGKILL)
    retry_until(lambda: holder_pid(paths.supervisor_lock) is None, what="the supervisor to die")
    return last_event(name)


def test_sigkill_of_the_supervisor_at_every_point_then_up_finishes_the_run(tmp_path: Path, czar_home: Path) -> None:
    name = "crash-supervisor"
    plan = crash_plan(tmp_path, name, SLOW_CHECK)
    czar("up", str(plan), check=True)
    after = 0
    for point in POINTS:
        reach(name, POINTS[point], f"the run to reach {point}", after=after)
        after = _kill_supervisor(name)
        assert "started" in czar("up", str(plan), check=True).stdout, f"up after the kill at {point}"

    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stderr
    evs = assert_whole(name, tmp_path / "repo", json.loads(result.stdout))
    lives = [e.kind for e in evs if e.kind in ("supervisor.started", "supervisor.stopped")]
    assert lives.count("supervisor.started") == len(POINTS) + 1


def test_supervisor_and_worker_host_killed_with_work_handed_in_then_up_finishes(
    tmp_path: Path, czar_home: Path
) -> None:
    # The task stays with its worker (its next host carries it on); it used to be refused
    # ("submitted -> ready"), and every later `czar up` with it. Both points in one run.
    name = "crash-both"
    plan = crash_plan(tmp_path, name, SLOW_CHECK)
    at_point: dict[str, Callable[[Event], bool]] = {
        "handed-in": lambda e: e.kind == "agent.finished",
        "verifying": lambda e: e.kind == "task.state" and e.payload["new"] == "verifying",
    }
    czar("up", str(plan), check=True)
    paths = ProjectPaths.for_project(name)
    lock = paths.supervisor_lock
    after = 0
    for point, met in at_point.items():
        at = reach(name, met, f"the run to reach {point}", after=after)
        supervisor = holder_pid(paths.supervisor_lock)
        assert supervisor
        os.kill(supervisor, signal.SIGKILL)
        # Its worker's host: after a restart it may not be there yet (the task is verified first).
        host = retry_until(partial(_live_host, name, czar_home, at.task_id), timeout=60, what=f"the host at {point}")
        assert host is not None
        os.kill(host, signal.SIGKILL)
        retry_until(lambda: holder_pid(lock) is None, what="the supervisor to die")
        after = last_event(name)
        up = czar("up", str(plan))
        assert up.returncode == 0, f"up after the kills at {point}: {up.stderr}"

    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stderr
    evs = assert_whole(name, tmp_path / "repo", json.loads(result.stdout))
    assert_nothing_charged(name, evs)


def test_a_supervisor_killed_at_work_in_the_integration_worktree_is_started_again(
    tmp_path: Path, czar_home: Path
) -> None:
    """Killed in the middle of a merge, the supervisor leaves its git commands and checks running
    in the integration worktree, or their locks: the next start's reset there failed ("index.lock:
    File exists") and `czar up` could never start the run again (found by `czar bench chaos`). The
    next supervisor ends what was left working there and removes its locks."""
    name = "crash-locked"
    plan = crash_plan(tmp_path, name, SLOW_CHECK)
    czar("up", str(plan), check=True)
    reach(name, POINTS["merging"], "the run to reach merging")
    _kill_supervisor(name)
    worktree = ProjectPaths.for_project(name).integration_worktree
    git_dir = Path((worktree / ".git").read_text().removeprefix("gitdir: ").strip())
    (git_dir / "index.lock").write_text("")  # a git killed in the middle of a command
    marks = {"CZAR_HOME": str(czar_home), ENV_PROJECT: name}
    left = subprocess.Popen(["sleep", "300"], cwd=worktree, env={**os.environ, **marks}, start_new_session=True)
    # A git it left at work (the gc a merge starts in the background, say) is let finish: killed,
    # it would leave the repository's own refs locked.
    git_like = tmp_path / "git-gc-like"
    shutil.copy("/bin/sleep", git_like)
    gc = subprocess.Popen([str(git_like), "3"], cwd=worktree, env={**os.environ, **marks}, start_new_session=True)
    try:
        up = czar("up", str(plan))
        assert up.returncode == 0, up.stderr
        assert left.wait(timeout=30) == -signal.SIGKILL
        assert gc.wait(timeout=30) == 0
        assert not (git_dir / "index.lock").exists()
        result = czar("run", str(plan), "--json", timeout=240)
        assert result.returncode == 0, result.stderr
        assert_whole(name, tmp_path / "repo", json.loads(result.stdout))
    finally:
        for p in (left, gc):
            p.kill()
            p.wait()
