"""The state of a run as every view shows it: supervisor, workers, tasks, branches (ahead and
behind, here and on the remote, fetched first), findings and alerts."""

from __future__ import annotations

import time
from typing import Any

from czar.core.events import EventKind
from czar.errors import CzarError
from czar.store.records import Costs, Task
from czar.store.store import Store, Tx
from czar.supervisor import launcher
from czar.supervisor.project import Project
from czar.vcs.git import Git
from czar.vcs.remote import positions, without_secrets

RECENT_ALERTS = 20
STATUS_FETCH_SECONDS = 15.0  # a status waits this long for the remote at most


def status(project: Project) -> dict[str, Any]:
    """One JSON-able object; ``czar status --json`` prints it as it is."""
    store = project.store
    pid = launcher.supervisor_pid(project)
    tasks = store.tasks()
    now = time.time()
    with store.read() as conn:
        claims = Store.all_claims(conn)
        findings = Store.radar_rows(conn)
        spend = costs(conn)
    alerts = store.events_after(0, limit=100_000, kinds=(EventKind.ALERT,))[-RECENT_ALERTS:]
    remote = project.remote
    fetch_problem = remote.fetch(timeout=STATUS_FETCH_SECONDS) if remote is not None else None
    return {
        "project": project.name,
        "supervisor": {"running": pid is not None, "pid": pid},
        "integration_branch": project.plan.project.integration_branch,
        "remote": None if remote is None else {"name": remote.name, "fetch_problem": fetch_problem},
        "forge": forge_of(project),
        "branches": positions(
            Git(project.plan.repo), project.plan.project.integration_branch, project.plan.project.base_branch, remote
        ),
        "workers": [
            {
                "id": w.id,
                "agent": w.agent,
                "role": w.role,
                "state": w.state,
                "task": w.task_id,
                "for_seconds": round(now - w.state_since, 1) if w.state_since else None,
                "detail": w.detail,
                "last_seen": w.last_seen,
            }
            for w in store.workers()
        ],
        "tasks": [{**_task(t, claims.get(t.id, ())), **spend["tasks"].get(t.id, _NOTHING)} for t in tasks],
        "cost": spend["run"],
        "worker_costs": spend["workers"],
        "counts": {s: sum(1 for t in tasks if t.state == s) for s in sorted({t.state for t in tasks})},
        "radar": [
            {"kind": f.kind, "task": f.task_id, "other": f.other, "files": list(f.files), "since": f.since}
            for f in findings
        ],
        "alerts": [
            {
                "id": e.id,
                "time": e.ts,
                "level": e.payload.get("level"),
                "message": e.payload.get("message"),
                "task": e.task_id,
                "worker": e.worker_id,
            }
            for e in alerts
        ],
    }


_NOTHING = {"cost_usd": 0.0, "input_tokens": 0, "output_tokens": 0}


def costs(conn: Tx) -> dict[str, Any]:
    """Tokens and cost per task, per worker and for the run (each API message counted once)."""

    def totals(by: dict[str, Costs]) -> dict[str, dict[str, Any]]:
        return {
            key: {"cost_usd": round(c.cost_usd, 6), "input_tokens": c.input_tokens, "output_tokens": c.output_tokens}
            for key, c in by.items()
        }

    by_task = totals(Store.costs_by_task(conn))
    by_worker = totals(Store.costs_by_worker(conn))
    run = {
        "cost_usd": round(sum(t["cost_usd"] for t in by_task.values()), 6),
        "input_tokens": sum(t["input_tokens"] for t in by_task.values()),
        "output_tokens": sum(t["output_tokens"] for t in by_task.values()),
    }
    return {"tasks": by_task, "workers": by_worker, "run": run}


def _task(t: Task, claims: tuple[str, ...]) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "state": t.state,
        "worker": t.worker_id,
        "rounds": t.rounds,
        "depends_on": list(t.spec.depends_on),
        "checkpoint": t.checkpoint,
        "checkpoints": len(t.spec.subtasks),
        "blocked_on": t.blocked_on,
        "claims": list(claims),
        "last_note": t.last_note,
    }


def forge_of(project: Project) -> dict[str, Any]:
    """Where the pull requests live, as the plan says (the forge is not asked: no token needed)."""
    spec = project.plan.forge
    if spec.kind == "local":
        return {"kind": "local"}
    repository = spec.repository
    if repository is None and project.remote is not None:
        from czar.forge.github import repository_of

        try:
            found = repository_of(without_secrets(project.remote.url()), nested=spec.kind == "gitlab")
        except CzarError:
            found = None
        repository = str(found) if found is not None else None
    return {
        "kind": spec.kind,
        "repository": repository,
        "api_url": spec.api_url,
        "merge_via": spec.merge_via,
        "wait_for_ci": spec.wait_for_ci,
    }
