"""The merge queue measured (``czar bench queue``): czar's own queue (the order it picks, the
batches it merges, the bisection that finds a breaker) on czar's fake repository, whose checks
fail while a breaker's file is in the tree.

Tasks of random priorities are approved a few per batch window (at most half what a batch
takes); a breaker sent back is fixed by its agent and approved again. Measured: merges per check
run, check runs per breaker found (besides each batch's own run), and the longest wait of an
approved task: the batches that started without it (a task that was in a batch, after a breaker,
merges with the next: that is the bisection's cost, counted in its runs, not a wait in line).
Targets: at most ⌈log₂ batch⌉ + 1 runs per
breaker (the halving, and the blamed run once more) and no wait over ``AGED`` batches. In a second
or two: no agent, no real git, no checks to run.
"""

from __future__ import annotations

import math
import os
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from czar.core.decide import AGED, MERGE_BATCH, Merge, decide
from czar.core.states import TaskState
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.merge_queue import MergeQueue
from czar.supervisor.project import Project, open_project
from czar.supervisor.snapshot import snapshot
from czar.testing import FakeClock, FakeRepository, FakeTerminal

INTEGRATION = "czar/integration"
TO_APPROVED = (
    TaskState.READY,
    TaskState.ASSIGNED,
    TaskState.RUNNING,
    TaskState.SUBMITTED,
    TaskState.VERIFYING,
    TaskState.APPROVED,
)
BACK_TO_APPROVED = TO_APPROVED[1:]  # from ready, where a breaker goes back to its agent
# Tasks approved per window, at most: half a batch, so that a batch whose tail waits behind a
# breaker (the tasks after it merge with the next batch) still leaves room for what comes.
ARRIVALS = MERGE_BATCH // 2
TARGETS = {"runs_per_breaker": math.ceil(math.log2(MERGE_BATCH)) + 1, "longest_wait_batches": AGED}


def run(tasks: int = 120, breakers: float = 0.1, seed: int = 0, folder: Path | None = None) -> dict[str, Any]:
    """``tasks`` tasks, a share ``breakers`` of them breaking the checks until fixed."""
    root = folder or Path(tempfile.mkdtemp(prefix="czar-bench-queue-"))
    root.mkdir(parents=True, exist_ok=True)
    saved = os.environ.get("CZAR_HOME")
    os.environ["CZAR_HOME"] = str(root / "home")
    try:
        return _run(root, tasks, breakers, random.Random(seed))
    finally:
        if saved is None:
            os.environ.pop("CZAR_HOME", None)
        else:
            os.environ["CZAR_HOME"] = saved


def _project(root: Path, priorities: list[int]) -> tuple[Project, FakeRepository]:
    count = len(priorities)
    (root / "repo").mkdir(exist_ok=True)
    body = "".join(
        f'[[tasks]]\nid = "t{i:04}"\ntitle = "task {i}"\nbody = "Do it."\npriority = {priorities[i]}\n\n'
        for i in range(count)
    )
    plan = root / "czar.toml"
    plan.write_text(
        f'[project]\nname = "bench-queue-{root.name}"\nrepo = "repo"\naccept = ["true"]\n\n'
        f'[workers]\nagent = "sim"\ncount = 1\n\n{body}',
        encoding="utf-8",
    )
    repo = FakeRepository()
    project = replace(
        open_project(plan, check_repo=False), repository=repo, terminal=FakeTerminal(), clock=FakeClock(time.time())
    )
    project.sync_plan()
    repo.branch(INTEGRATION, "main")
    repo.add_worktree(project.paths.integration_worktree, INTEGRATION)
    return project, repo


def _run(root: Path, count: int, share: float, rng: random.Random) -> dict[str, Any]:
    project, repo = _project(root, [rng.randint(-3, 3) for _ in range(count)])
    store = project.store
    runs: list[str] = []

    def checks(head: str, name: str, rounds: int) -> str | None:
        runs.append(name)
        bad = sorted(p for p in repo.files(head) if p.startswith("bad-"))
        return f"tests failed: {', '.join(bad)}" if bad else None

    queue = MergeQueue(project, Actions(project), None, check=checks)
    ids = [f"t{i:04}" for i in range(count)]
    breaking = {t for t in ids if rng.random() < share}
    for t in ids:
        repo.branch(f"czar/{t}", INTEGRATION)
        repo.commit(f"czar/{t}", {f"bad-{t}.txt" if t in breaking else f"{t}.txt": f"{t}\n"}, f"{t}: its work")
    waiting = list(ids)
    approved_at: dict[str, int] = {}
    waits: list[int] = []
    skipped: dict[str, int] = {}  # approved task -> batches that started without it
    batches = blamed = 0
    started = time.monotonic()
    for _ in range(count * 4):  # a window each: arrivals, then one batch
        arrivals = waiting[: rng.randint(1, ARRIVALS)]
        waiting = waiting[len(arrivals) :]
        with store.write() as conn:
            now = Store.merge_window(conn)
            for t in arrivals:
                for state in TO_APPROVED:
                    Store.move_task(conn, t, state, reason="bench", approved_window=now)
                approved_at[t] = now
        merge = next((d for d in decide(snapshot(store)) if isinstance(d, Merge)), None)
        if merge is None:
            if not waiting and not approved_at:
                break
            continue
        with store.write() as conn:
            Store.next_merge_window(conn)
            for t in merge.tasks:
                Store.move_task(conn, t, TaskState.MERGING, expect=TaskState.APPROVED, reason="bench")
        batches += 1
        for t in approved_at:
            if t not in merge.tasks:
                skipped[t] = skipped.get(t, 0) + 1
        queue.merge(merge.tasks)
        states = {t.id: t.state for t in store.tasks()}
        for t in merge.tasks:
            if states[t] is TaskState.MERGED:
                approved_at.pop(t)
                waits.append(skipped.pop(t, 0))
            elif states[t] is TaskState.READY:  # it broke the checks: its agent fixes it
                blamed += 1
                repo.commit(f"czar/{t}", {f"bad-{t}.txt": None, f"{t}.txt": f"{t}\n"}, f"{t}: fixed")
                with store.write() as conn:
                    at = Store.merge_window(conn)
                    for state in BACK_TO_APPROVED:
                        Store.move_task(conn, t, state, reason="bench", approved_window=at)
                approved_at[t] = at
    merged = sum(1 for t in store.tasks() if t.state is TaskState.MERGED)
    result: dict[str, Any] = {
        "scenario": "queue",
        "tasks_total": count,
        "tasks_merged": merged,
        "breakers": len(breaking),
        "breakers_found": blamed,
        "batches": batches,
        "check_runs": len(runs),
        "merges_per_check_run": round(merged / len(runs), 3) if runs else None,
        "runs_per_breaker": round((len(runs) - batches) / blamed, 3) if blamed else 0.0,
        "longest_wait_batches": max(waits, default=0),
        "wall_seconds": round(time.monotonic() - started, 2),
        "folder": str(root),
    }
    targets = {"all_merged": {"target": count, "value": merged, "met": merged == count}}
    targets["breakers_found"] = {"target": len(breaking), "value": blamed, "met": blamed == len(breaking)}
    for name, target in TARGETS.items():
        targets[name] = {"target": target, "value": result[name], "met": result[name] <= target}
    result["targets"] = targets
    result["passed"] = all(t["met"] for t in targets.values())
    return result
