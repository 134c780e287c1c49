"""The state of a run as every view shows it: supervisor, workers, tasks, findings and alerts."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import select

from czar.agent_tools import claims
from czar.store.schema import radar
from czar.supervisor import launcher
from czar.supervisor.project import Project

RECENT_ALERTS = 20


def status(project: Project) -> dict[str, Any]:
    """One JSON-able object; ``czar status --json`` prints it as it is."""
    store = project.store
    pid = launcher.supervisor_pid(project)
    tasks = store.tasks()
    now = time.time()
    with store.read() as conn:
        held = claims.all_held(conn)
        findings = conn.execute(select(radar).order_by(radar.c.id)).all()
    alerts = store.events_after(0, limit=100_000, kinds=("alert",))[-RECENT_ALERTS:]
    return {
        "project": project.name,
        "supervisor": {"running": pid is not None, "pid": pid},
        "integration_branch": project.plan.project.integration_branch,
        "workers": [
            {
                "id": w.id,
                "agent": w.agent,
                "state": w.state,
                "task": w.task_id,
                "for_seconds": round(now - w.state_since, 1) if w.state_since else None,
                "detail": w.detail,
                "last_seen": w.last_seen,
            }
            for w in store.workers()
        ],
        "tasks": [_task(t, held.get(t.id, ())) for t in tasks],
        "counts": {s: sum(1 for t in tasks if t.state == s) for s in sorted({t.state for t in tasks})},
        "radar": [
            {"kind": f.kind, "task": f.task_id, "other": f.other, "files": json.loads(f.files), "since": f.since}
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


def _task(t: Any, held: tuple[str, ...]) -> dict[str, Any]:
    spec = json.loads(t.spec)
    return {
        "id": t.id,
        "title": t.title,
        "state": t.state,
        "worker": t.worker_id,
        "rounds": t.rounds,
        "depends_on": spec["depends_on"],
        "checkpoint": t.checkpoint,
        "checkpoints": len(spec["subtasks"]),
        "blocked_on": t.blocked_on,
        "claims": list(held),
        "last_note": t.last_note,
    }
