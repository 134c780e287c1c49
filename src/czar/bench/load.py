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


def scale(workers: int = 100, tasks: int = 300, seed: int = 7) -> Scenario:
    """``tasks`` tasks in three layers, each depending on up to two of the layer before."""
    rnd = random.Random(seed)
    layers: list[list[str]] = [[], [], []]
    durations: dict[str, float] = {}
    edges: dict[str, tuple[str, ...]] = {}
    entries = []
    for i in range(tasks):
        layer = min(2, i * 3 // tasks)
        tid = f"t{i:03d}"
        deps = tuple(sorted(rnd.sample(layers[layer - 1], k=min(2, len(layers[layer - 1]))))) if layer else ()
        layers[layer].append(tid)
        # Real tasks take minutes; these take seconds, yet long enough that a hundred worker
        # hosts starting at once (a CPU storm of their own) are behind us when the first finish.
        durations[tid] = rnd.uniform(10.0, 20.0) if layer == 0 else rnd.uniform(4.0, 10.0)
        edges[tid] = deps
        entries.append(_task(tid, durations[tid], deps))
    return Scenario(
        name="scale",
        workers=workers,
        files=FILES,
        tasks=entries,
        project="max_attempts = 2\ncheck_after_merge = false\n",
        sections="[health]\nsilent_after = 120\n",
        durations=durations,
        edges=edges,
        accuracy=False,
        targets={"reaction_p99_ms": 250.0, "supervisor_cpu_percent": 25.0},
    )


def dag(workers: int = 4, tasks: int = 24, seed: int = 1) -> Scenario:
    """A random graph: each task depends on each earlier one with a small chance."""
    rnd = random.Random(seed)
    names = [f"d{i:02d}" for i in range(tasks)]
    durations = {t: rnd.uniform(2.0, 6.0) for t in names}
    edges: dict[str, tuple[str, ...]] = {}
    for i, t in enumerate(names):
        edges[t] = tuple(d for d in names[:i] if rnd.random() < 2.5 / max(1, i))[:3]
    return Scenario(
        name="dag",
        workers=workers,
        files=FILES,
        tasks=[_task(t, durations[t], edges[t]) for t in names],
        project="max_attempts = 2\ncheck_after_merge = false\n",
        sections="[health]\nsilent_after = 120\n",
        durations=durations,
        edges=edges,
        accuracy=False,
        targets={"makespan_ratio": 1.10},
    )
