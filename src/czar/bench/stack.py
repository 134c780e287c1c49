"""Stacked dependents measured (``czar bench stack``): the demo's plan (ten tasks six deep, four
simulated workers and a reviewer) run twice, waiting for each dependency's merge and then stacked
(``[project] stack = true``: a dependent starts from its dependencies' approved work). Target: the
stacked run's wall time at most ``TARGET`` times the other's.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from czar.bench.harness import run_to_end
from czar.demo.sample import write_sample
from czar.errors import CzarError
from czar.supervisor import outcome
from czar.supervisor.project import open_project

TARGET = 0.8


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


def run(workers: int = 4, folder: Path | None = None, timeout: float = 600, progress: bool = False) -> dict[str, Any]:
    """Both runs; the figures, and ``passed``."""
    root = (folder or Path(tempfile.mkdtemp(prefix="czar-bench-stack-"))).resolve()
    saved = os.environ.get("CZAR_HOME")
    try:
        waiting = _run(root / "waiting", False, workers, timeout, progress)
        stacked = _run(root / "stacked", True, workers, timeout, progress)
    finally:
        if saved is None:
            os.environ.pop("CZAR_HOME", None)
        else:
            os.environ["CZAR_HOME"] = saved
    ratio = round(stacked["wall_seconds"] / waiting["wall_seconds"], 3) if waiting["wall_seconds"] else None
    met = ratio is not None and ratio <= TARGET
    return {
        "workers": workers,
        "waiting_wall_seconds": waiting["wall_seconds"],
        "stacked_wall_seconds": stacked["wall_seconds"],
        "ratio": ratio,
        "stacked_duplication": stacked["duplication"],
        "targets": {"ratio": {"value": ratio, "target": f"<= {TARGET}", "met": met}},
        "passed": met,
    }
