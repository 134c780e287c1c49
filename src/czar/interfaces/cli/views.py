"""What the CLI shows: the status table, live progress of a run, and its summary."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from czar.store.store import Event
from czar.supervisor import launcher, outcome
from czar.supervisor.project import Project


def status_data(project: Project) -> dict[str, Any]:
    pid = launcher.supervisor_pid(project)
    tasks = project.store.tasks()
    return {
        "project": project.name,
        "supervisor": {"running": pid is not None, "pid": pid},
        "integration_branch": project.plan.project.integration_branch,
        "workers": [
            {"id": w.id, "agent": w.agent, "state": w.state, "task": w.task_id, "last_seen": w.last_seen}
            for w in project.store.workers()
        ],
        "tasks": [
            {
                "id": t.id,
                "title": t.title,
                "state": t.state,
                "worker": t.worker_id,
                "rounds": t.rounds,
                "depends_on": json.loads(t.spec)["depends_on"],
            }
            for t in tasks
        ],
        "counts": {s: sum(1 for t in tasks if t.state == s) for s in sorted({t.state for t in tasks})},
    }


def print_status(data: dict[str, Any]) -> None:
    console = Console()
    sup = data["supervisor"]
    if not data["tasks"]:
        console.print(f"project {data['project']}: no run yet; `czar up` or `czar run` starts one")
        return
    console.print(
        f"project {data['project']}: supervisor "
        + (f"running (pid {sup['pid']})" if sup["running"] else "not running")
        + " | "
        + ", ".join(f"{n} {s}" for s, n in data["counts"].items())
    )
    workers = Table("worker", "agent", "state", "task", title="workers", title_justify="left")
    for w in data["workers"]:
        workers.add_row(w["id"], w["agent"], w["state"], w["task"] or "-")
    console.print(workers)
    tasks = Table("task", "state", "worker", "rounds", "depends on", "title", title="tasks", title_justify="left")
    for t in data["tasks"]:
        tasks.add_row(
            t["id"], t["state"], t["worker"] or "-", str(t["rounds"]), ", ".join(t["depends_on"]) or "-", t["title"]
        )
    console.print(tasks)


def run_to_end(project: Project, *, as_json: bool, keep_running: bool, timeout: float | None) -> outcome.RunOutcome:
    """Start or join the run, print progress (to stderr with --json), and print the outcome."""
    started = time.monotonic()
    since = outcome.last_event_id(project)
    pid, fresh = launcher.up(project)

    def show(event: Event) -> None:
        line = outcome.describe(event)
        if line:
            print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr if as_json else sys.stdout, flush=True)

    if not as_json:
        typer.echo(f"supervisor {'started' if fresh else 'already running'} (pid {pid}); following the run")
    try:
        outcome.follow(project, since, show, timeout=timeout)
        integration_ok = outcome.integration_check(project)
    finally:
        if not keep_running:
            launcher.down(project, reason="run finished")
    result = outcome.outcome(project, since, time.monotonic() - started, integration_ok)
    if as_json:
        typer.echo(json.dumps(result.as_dict()))
    else:
        typer.echo(
            f"\n{result.tasks_merged}/{result.tasks_total} task(s) merged, {result.tasks_failed} failed"
            f" in {result.wall_seconds:.1f} s; integration branch {result.integration_branch}: tests "
            + {True: "pass", False: "FAIL", None: "not configured"}[result.integration_tests_passed]
            + f"; {result.interventions} human intervention(s)"
        )
        if result.failed_tasks:
            typer.echo(f"failed: {', '.join(result.failed_tasks)} (see `czar logs` and `czar status`)")
    return result
