"""Run a benchmark scenario for real (git, tmux, SQLite, simulated agents) and measure it."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from czar.bench import metrics
from czar.bench.scenario import Scenario
from czar.core import hunks
from czar.core.scope import in_scope
from czar.demo.sample import init_repo
from czar.errors import CzarError
from czar.supervisor import launcher, outcome
from czar.supervisor.checks import ChecksKilled, run_checks
from czar.supervisor.project import Project, open_project

TICKS = os.sysconf("SC_CLK_TCK")


def run_to_end(project: Project, timeout: float, progress: bool, label: str = "") -> str | None:
    """Start the project's run, follow it to its end (each line on stderr with ``progress``),
    and stop it; why it did not end well, or None."""

    def show(event: Any) -> None:
        line = outcome.describe(event)
        if progress and line:
            print(f"{time.strftime('%H:%M:%S')} {label}{line}", file=sys.stderr, flush=True)

    try:
        launcher.up(project)
        outcome.follow(project, 0, show, timeout=timeout)
    except CzarError as exc:
        return str(exc)
    finally:
        launcher.down(project, reason="benchmark finished")
    return None


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """CPU time a process has used itself (user and system), from /proc; ``children``: and the
    processes it started and has waited for (a view's git commands, say)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def resident_mb(pid: int) -> float:
    """The memory a process holds now (its resident set, shared pages included), from /proc."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    kb = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0)
    return kb / 1024


def run(
    scenario: Scenario, *, folder: Path | None = None, timeout: float = 900, progress: bool = False
) -> dict[str, Any]:
    """Build the scenario in ``folder`` (a new temporary one by default), run it to the end, and
    return its numbers, each target with whether it was met, and ``passed``."""
    root = folder or Path(tempfile.mkdtemp(prefix=f"czar-bench-{scenario.name}-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ["CZAR_HOME"] = str(root / "home")  # everything the run keeps stays in its folder
    init_repo(root / "repo", scenario.files, "initial commit")
    plan = root / "czar.toml"
    plan.write_text(scenario.plan(), encoding="utf-8")
    project = open_project(plan)
    started = time.monotonic()

    def show(event: Any) -> None:
        line = outcome.describe(event)
        if progress and line:
            print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)

    try:
        # Inside the try: a supervisor slow to start must not be left running behind us.
        pid, _ = launcher.up(project)
        cpu_before, clock_before = cpu_seconds(pid), time.monotonic()
        outcome.follow(project, 0, show, timeout=timeout)
        cpu = cpu_seconds(pid) - cpu_before
        busy = time.monotonic() - clock_before
        integration_ok = outcome.integration_check(project)
    finally:
        launcher.down(project, reason="benchmark finished")
    wall = time.monotonic() - started
    result = measure(scenario, project, wall, cpu / busy * 100 if busy > 0 else 0.0, integration_ok)
    result["folder"] = str(root)
    return result


def measure(
    scenario: Scenario, project: Project, wall: float, cpu_percent: float, integration_ok: bool | None
) -> dict[str, Any]:
    events = project.store.events_after(0, limit=10**9)
    tasks = project.store.tasks()
    merged = [t for t in tasks if t.state == "merged"]
    share, duplicated, added = hunks.duplication(outcome.work_pairs(project))
    found = metrics.detections(events, scenario.injected)
    by_kind: dict[str, list[float]] = {}
    missed: dict[str, int] = {}
    for d in found:
        if d.seconds is None:
            missed[d.kind] = missed.get(d.kind, 0) + 1
        else:
            by_kind.setdefault(d.kind, []).append(d.seconds)
    detection = {k: {**metrics.summary(v), "missed": missed.get(k, 0)} for k, v in by_kind.items()}
    for k, n in missed.items():
        detection.setdefault(k, {**metrics.summary([]), "missed": n})
    reaction, unblock = metrics.reaction_times(events)
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "workers": scenario.workers,
        "tasks_total": len(tasks),
        "tasks_merged": len(merged),
        "accuracy": round(accuracy(scenario, project), 4) if scenario.accuracy else None,
        "duplication": round(share, 4),
        "duplicated_lines": duplicated,
        "added_lines": added,
        "interventions": sum(1 for e in events if e.actor == "person"),
        "detection_seconds": detection,
        "injected": len(scenario.injected),
        "detected": sum(1 for d in found if d.seconds is not None),
        "reaction_ms": metrics.summary(reaction, scale=1000, digits=1),
        "unblock_ms": metrics.summary(unblock, scale=1000, digits=1),
        "makespan_ratio": None,
        "supervisor_cpu_percent": round(cpu_percent, 2),
        "integration_tests_passed": integration_ok,
        "wall_seconds": round(wall, 2),
    }
    if scenario.durations:
        bound = metrics.lower_bound(scenario.durations, scenario.edges, scenario.workers)
        span = metrics.makespan(events)
        result.update(makespan_seconds=round(span, 2), lower_bound_seconds=round(bound, 2))
        result["makespan_ratio"] = round(span / bound, 4) if bound else None
    result["targets"] = judge(scenario, result)
    result["passed"] = all(t["met"] for t in result["targets"].values())
    return result


def accuracy(scenario: Scenario, project: Project) -> float:
    """Tasks merged whose acceptance passes on the final integration branch and whose diff stays
    in their scope, over all tasks."""
    contributions = outcome.contributions(project)
    good = 0
    tasks = project.plan.tasks
    for t in tasks:
        rows = [r for r in project.store.tasks() if r.id == t.id]
        if not rows or rows[0].state != "merged":
            continue
        files = contributions.get(t.id, {})
        if t.scope and not all(in_scope(t.scope, path) for path in files):
            continue
        log = project.paths.checks / t.id / "accuracy.log"
        with contextlib.suppress(ChecksKilled):  # (killed: not counted good)
            if all(r.ok for r in run_checks(t.accept, project.paths.integration_worktree, 300, log)):
                good += 1
    return good / len(tasks) if tasks else 1.0


def judge(scenario: Scenario, r: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each target of the scenario: its value, and whether it was met."""
    out: dict[str, dict[str, Any]] = {}

    def check(name: str, value: float | None, target: float, ok: bool) -> None:
        out[name] = {"target": target, "value": value, "met": value is not None and ok}

    out["all_merged"] = {
        "target": r["tasks_total"],
        "value": r["tasks_merged"],
        "met": r["tasks_merged"] == r["tasks_total"],
    }
    if scenario.injected:
        out["all_detected"] = {"target": r["injected"], "value": r["detected"], "met": r["detected"] == r["injected"]}
    for name, target in scenario.targets.items():
        if name == "accuracy":
            check(name, r["accuracy"], target, (r["accuracy"] or 0) >= target)
        elif name == "duplication":
            check(name, r["duplication"], target, r["duplication"] < target)
        elif name == "interventions":
            check(name, r["interventions"], target, r["interventions"] <= target)
        elif name.endswith("_p99") and name != "reaction_p99_ms":
            value = r["detection_seconds"].get(name.removesuffix("_p99"), {}).get("p99")
            check(name, value, target, value is not None and value <= target)
        elif name == "reaction_p99_ms":
            value = r["reaction_ms"]["p99"]
            check(name, value, target, value is not None and value <= target)
        elif name == "supervisor_cpu_percent":
            check(name, r["supervisor_cpu_percent"], target, r["supervisor_cpu_percent"] <= target)
        elif name == "makespan_ratio":
            value = r["makespan_ratio"]
            check(name, value, target, value is not None and value <= target)
    return out
