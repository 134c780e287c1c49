"""Stacked dependents measured (``czar bench stack``): the demo's plan (ten tasks six deep, four
simulated workers and a reviewer) run waiting for each dependency's merge and stacked (``[project]
stack = true``: a dependent starts from its dependencies' approved work), ``pairs`` times each,
alternately. Target: the stacked runs' median wall time at most ``TARGET`` times the others'.

One pair is not a measurement on a small shared machine: two runs of the same plan a minute apart
differ by a tenth (seen: 12.6 to 16.9 s waiting, in one hour). The medians of alternated runs
share the machine's slow and fast minutes between both kinds.
"""

from __future__ import annotations

import os
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from czar.bench.harness import run_to_end
from czar.demo.sample import write_sample
from czar.errors import CzarError
from czar.supervisor import outcome
from czar.supervisor.project import open_project

TARGET = 0.8
PAIRS = 3


def _run(root: Path, stack: bool, workers: int, timeout: float, progress: bool) -> dict[str, Any]:
    root.mkdir(parents=True, exist_ok=True)
    os.environ["CZAR_HOME"] = str(root / "home")  # everything a run keeps stays in its folder
    plan = write_sample(root, workers=workers)
    if stack:
        text = plan.read_text(encoding="utf-8")
        plan.write_text(text.replace("[project]\n", "[project]\nstack = true\n", 1), encoding="utf-8")
    project = open_project(plan)
    problem = run_to_end(project, timeout, progress, label="stacked: " if stack else "waiting: ")
    if problem is not None:
        raise CzarError(problem)
    done = outcome.outcome(project, None)
    if done.tasks_merged != done.tasks_total:
        raise CzarError(f"the {'stacked' if stack else 'waiting'} run merged {done.tasks_merged}/{done.tasks_total}")
    return {"wall_seconds": done.wall_seconds, "merged": done.tasks_merged, "duplication": done.duplication}


def run(
    workers: int = 4, folder: Path | None = None, timeout: float = 600, progress: bool = False, pairs: int = PAIRS
) -> dict[str, Any]:
    """The runs, alternated (waiting first in even pairs, stacked first in odd ones); the figures,
    and ``passed``."""
    root = (folder or Path(tempfile.mkdtemp(prefix="czar-bench-stack-"))).resolve()
    saved = os.environ.get("CZAR_HOME")
    runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    try:
        for i in range(pairs):
            for stack in (False, True) if i % 2 == 0 else (True, False):
                kind = "stacked" if stack else "waiting"
                runs[stack].append(_run(root / f"{kind}-{i + 1}", stack, workers, timeout, progress))
    finally:
        if saved is None:
            os.environ.pop("CZAR_HOME", None)
        else:
            os.environ["CZAR_HOME"] = saved
    duplication = max(r["duplication"] for r in runs[True])
    return {
        "workers": workers,
        **figures([r["wall_seconds"] for r in runs[False]], [r["wall_seconds"] for r in runs[True]], duplication),
    }


def figures(waiting: Sequence[float], stacked: Sequence[float], duplication: float = 0.0) -> dict[str, Any]:
    """The medians of each kind's wall times, their ratio against ``TARGET`` (pure)."""
    wait, stack = round(statistics.median(waiting), 2), round(statistics.median(stacked), 2)
    ratio = round(stack / wait, 3) if wait else None
    met = ratio is not None and ratio <= TARGET
    return {
        "pairs": len(waiting),
        "waiting_wall_seconds": wait,
        "stacked_wall_seconds": stack,
        "ratio": ratio,
        "waiting_runs": [round(w, 2) for w in waiting],
        "stacked_runs": [round(s, 2) for s in stacked],
        "stacked_duplication": duplication,
        "targets": {"ratio": {"value": ratio, "target": f"<= {TARGET}", "met": met}},
        "passed": met,
    }
