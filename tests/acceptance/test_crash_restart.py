"""Kill the supervisor with SIGKILL at several points of a real run; `czar up` again finishes it
with no task lost, none held twice, and no commit lost."""

from __future__ import annotations

import json
import os
import signal
from collections import defaultdict
from pathlib import Path

import pytest

from czar.paths import ProjectPaths
from czar.store.store import Event, Store
from czar.supervisor.lock import holder_pid
from helpers import czar, git, make_repo, retry_until, sim_task, write_plan
from run_checks import assert_nothing_charged, assert_whole

SLOW_CHECK = 'python -c "import time; time.sleep(0.4)"'


def _plan(root: Path, name: str) -> Path:
    make_repo(root / "repo")
    tasks = [
        sim_task("a", extra="sleep 0.3"),
        sim_task("b", extra="sleep 0.3"),
        sim_task("c", deps=("a",), extra="sleep 0.2"),
        sim_task("d", deps=("a", "b")),
        sim_task("e", deps=("c",)),
        sim_task("f", deps=("d", "e")),
    ]
    return write_plan(root, name, tasks, workers=3, project_extra=f"accept = [{json.dumps(SLOW_CHECK)}]")


def _events(name: str) -> list[Event]:
    store = Store(ProjectPaths.for_project(name))
    try:
        return store.events_after(0, limit=100_000)
    finally:
        store.close()


POINTS = {
    "starting": lambda e: e.kind == "worker.spawned",
    "assigned": lambda e: e.kind == "task.assigned",
    "running": lambda e: e.kind == "agent.progress",
    "verifying": lambda e: e.kind == "task.state" and e.payload["new"] == "verifying",
    "merging": lambda e: e.kind == "task.state" and e.payload["new"] == "merging",
    "after-merge": lambda e: e.kind == "task.merged",
}


@pytest.mark.parametrize("point", list(POINTS))
def test_sigkill_at_any_point_then_up_finishes_the_run(tmp_path: Path, czar_home: Path, point: str) -> None:
    name = f"crash-{point}"
    plan = _plan(tmp_path, name)
    czar("up", str(plan), check=True)
    retry_until(lambda: any(POINTS[point](e) for e in _events(name)), timeout=60, what=f"the run to reach {point}")
    paths = ProjectPaths.for_project(name)
    pid = holder_pid(paths.supervisor_lock)
    assert pid
    os.kill(pid, signal.SIGKILL)
    retry_until(lambda: holder_pid(paths.supervisor_lock) is None, what="the supervisor to die")

    assert "started" in czar("up", str(plan), check=True).stdout
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == summary["tasks_total"] == 6
    assert summary["integration_tests_passed"] is True

    events = _events(name)
    # No task was ever held by two workers at once: each new assignment follows the end of the
    # previous attempt (requeued to ready).
    holding: dict[str, str | None] = defaultdict(lambda: None)
    for e in events:
        if e.kind == "task.assigned":
            assert holding[e.task_id] is None, f"task {e.task_id} assigned while {holding[e.task_id]} held it"
            holding[e.task_id] = e.worker_id
        elif e.kind == "task.state" and e.payload["new"] in ("ready", "approved", "failed"):
            holding[e.task_id] = None
    # Each task merged exactly once.
    merged = [e.task_id for e in events if e.kind == "task.state" and e.payload["new"] == "merged"]
    assert sorted(merged) == list("abcdef")
    # No commit lost: everything an agent committed is in the integration branch.
    repo = tmp_path / "repo"
    commits = [e.payload["sha"] for e in events if e.kind == "agent.commit"]
    assert commits
    for sha in commits:
        git(repo, "merge-base", "--is-ancestor", sha, "czar/integration")
    # The integration branch has each task's merge once.
    log = git(repo, "log", "--merges", "--format=%s", "czar/integration").splitlines()
    assert sorted(line.split()[3].rstrip(":") for line in log) == list("abcdef")


@pytest.mark.parametrize("point", ["handed-in", "verifying"])
def test_supervisor_and_worker_host_killed_with_work_handed_in_then_up_finishes(
    tmp_path: Path, czar_home: Path, point: str
) -> None:
    # The task stays with its worker (its next host carries it on); it used to be refused
    # ("submitted -> ready"), and every later `czar up` with it.
    name = f"crash-both-{point}"
    plan = _plan(tmp_path, name)
    at_point = {
        "handed-in": lambda e: e.kind == "agent.finished",
        "verifying": lambda e: e.kind == "task.state" and e.payload["new"] == "verifying",
    }[point]
    czar("up", str(plan), check=True)
    at = retry_until(lambda: next((e for e in _events(name) if at_point(e)), None), timeout=60, what=point)
    paths = ProjectPaths.for_project(name)
    supervisor = holder_pid(paths.supervisor_lock)
    assert supervisor
    os.kill(supervisor, signal.SIGKILL)
    store = Store(paths)
    try:
        worker = next(t.worker_id for t in store.tasks() if t.id == at.task_id)
        host = next(w.pid for w in store.workers() if w.id == worker)
    finally:
        store.close()
    os.kill(host, signal.SIGKILL)
    retry_until(lambda: holder_pid(paths.supervisor_lock) is None, what="the supervisor to die")

    up = czar("up", str(plan))
    assert up.returncode == 0, up.stderr
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stderr
    evs = assert_whole(name, tmp_path / "repo", json.loads(result.stdout))
    assert_nothing_charged(name, evs)
