"""Kill a worker host, or its agent, with SIGKILL at several points of a real run: the run
finishes with every task merged, none held twice, no commit lost, and the crash charged to no
task (its worker's next host carries the attempt on; the agent restarts)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from czar.paths import ProjectPaths
from czar.store.store import Event, Store
from helpers import czar, retry_until
from run_checks import assert_nothing_charged, assert_whole, crash_plan, events, first

CHECK = 'python -c "import time; time.sleep(0.4)"'

POINTS = {
    "assigned": lambda e: e.kind == "agent.started",
    "running": lambda e: e.kind == "agent.progress",
    "handed-in": lambda e: e.kind == "agent.finished",
    "verifying": lambda e: e.kind == "task.state" and e.payload["new"] == "verifying",
    "merging": lambda e: e.kind == "task.state" and e.payload["new"] == "merging",
}


def _worker_of(name: str, e: Event) -> str:
    if e.worker_id:
        return e.worker_id
    assigned = [x for x in events(name) if x.kind == "task.assigned" and x.task_id == e.task_id]
    return str(assigned[-1].worker_id)


def _pid(name: str, worker: str, victim: str) -> int | None:
    """The worker's host or agent; for an agent, if that worker has none now (its task is
    merging, no next one came to it), whichever agent is at work."""
    store = Store(ProjectPaths.for_project(name))
    try:
        rows = store.workers()
    finally:
        store.close()
    row = next(w for w in rows if w.id == worker)
    if victim == "host":
        return int(row.pid) if row.pid else None
    return row.agent_pid or next((w.agent_pid for w in rows if w.agent_pid), None)


# The host at every point; its agent while it has one at work (once handed in, the agent that is
# killed is whichever other one works then, which the host's points already cover).
CASES = [("host", p) for p in POINTS] + [("agent", "assigned"), ("agent", "running")]


@pytest.mark.parametrize(("victim", "point"), CASES)
def test_sigkill_of_a_worker_host_or_agent_at_any_point_and_the_run_finishes(
    tmp_path: Path, czar_home: Path, victim: str, point: str
) -> None:
    name = f"kill-{victim}-{point}"
    plan = crash_plan(tmp_path, name, CHECK)
    czar("up", str(plan), check=True)
    at = retry_until(lambda: first(name, POINTS[point]), timeout=60, what=f"the run to reach {point}")
    worker = _worker_of(name, at)
    # An agent may be between two tasks when the point comes: one at work is killed then.
    pid = retry_until(lambda: _pid(name, worker, victim), timeout=30, what=f"the {victim} of {worker}")
    os.kill(pid, signal.SIGKILL)

    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stderr
    evs = assert_whole(name, tmp_path / "repo", json.loads(result.stdout))
    assert_nothing_charged(name, evs)
    if victim == "host":
        # The worker was not lost: a host of its own started again.
        assert sum(1 for e in evs if e.kind == "worker.host_started" and e.worker_id == worker) >= 2
