"""The ``scale`` and ``dag`` scenarios: many simulated agents, and random dependency graphs.

Each task writes one file of its own, works for a given number of seconds, commits and finishes;
what is measured is czar: how fast it reacts, how much it costs, how close to the best schedule.
"""

from __future__ import annotations

import random

from czar.bench.scenario import Scenario, toml_task, write

FILES = {"README.md": "# load\n\nFiles written by simulated agents.\n"}


def _task(tid: str, seconds: float, deps: tuple[str, ...]) -> str:
    path = f"work/{tid}.txt"
    script = f"progress 1 working\nsleep {seconds:.2f}\n" + write(path, f"{tid}\n") + f"commit {tid}\nfinish {tid}"
    return toml_task(
        tid,
        f"Task {tid}",
        f"Write {path} with the task id in it.",
        script,
        deps=deps,
        scope=(path,),
        accept=(),
        extra=f'estimate = {seconds / 60:.5f}\nsubtasks = ["work"]',
    )


def scale(workers: int = 100, tasks: int = 300, seed: int = 7, task_seconds: float = 60.0) -> Scenario:
    """Twice as many independent tasks as workers, or two thirds of ``tasks``, whichever is less,
    so that workers finish while tasks wait (what ``reaction_ms`` measures); the rest depend on
    two of those each (what ``unblock_ms`` measures)."""
    rnd = random.Random(seed)
    first = min(2 * workers, tasks * 2 // 3)
    durations: dict[str, float] = {}
    edges: dict[str, tuple[str, ...]] = {}
    entries = []
    names = [f"t{i:03d}" for i in range(tasks)]
    for i, tid in enumerate(names):
        deps = tuple(sorted(rnd.sample(names[:first], k=min(2, first)))) if i >= first else ()
        # Real tasks take many minutes; these take about ``task_seconds``: a hundred agents then
        # hand in a task or two a second, bursts included, as a busy real team would, and the
        # first (half again as long) finish after a hundred worker hosts have started (a CPU
        # storm of their own on two cores).
        mean = task_seconds * (1.5 if i < workers else 1.0)
        durations[tid] = rnd.uniform(mean * 2 / 3, mean * 4 / 3)
        edges[tid] = deps
        entries.append(_task(tid, durations[tid], deps))
    return Scenario(
        name="scale",
        workers=workers,
        files=FILES,
        tasks=entries,
        project="max_rounds = 2\ncheck_after_merge = false\n",
        sections="[health]\nsilent_after = 120\n",
        durations=durations,
        edges=edges,
        accuracy=False,
        targets={"reaction_p99_ms": 250.0, "supervisor_cpu_percent": 25.0},
    )


def dag(workers: int = 4, tasks: int = 24, seed: int = 1, task_seconds: float = 10.0) -> Scenario:
    """A random graph: each task depends on each earlier one with a small chance."""
    rnd = random.Random(seed)
    names = [f"d{i:02d}" for i in range(tasks)]
    # Long enough that czar's own time per dependency (verify, merge, start the next: a few
    # tenths of a second) weighs as it would against real tasks of minutes, within reason.
    durations = {t: rnd.uniform(task_seconds / 2, task_seconds * 3 / 2) for t in names}
    edges: dict[str, tuple[str, ...]] = {}
    for i, t in enumerate(names):
        edges[t] = tuple(d for d in names[:i] if rnd.random() < 2.5 / max(1, i))[:3]
    return Scenario(
        name="dag",
        workers=workers,
        files=FILES,
        tasks=[_task(t, durations[t], edges[t]) for t in names],
        project="max_rounds = 2\ncheck_after_merge = false\n",
        sections="[health]\nsilent_after = 120\n",
        durations=durations,
        edges=edges,
        accuracy=False,
        targets={"makespan_ratio": 1.10},
    )
