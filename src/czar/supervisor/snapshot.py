"""Read the store into the pure core's ``Snapshot``."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, select

from czar.agent_tools import claims
from czar.core import waits
from czar.core.decide import Snapshot, TaskView, WorkerView
from czar.core.findings import OVERLAPS
from czar.core.states import TaskState, WorkerState
from czar.store.schema import radar, tasks, workers
from czar.store.store import Store


def snapshot(store: Store) -> Snapshot:
    with store.read() as conn:
        rows = conn.execute(select(tasks)).all()
        wrows = conn.execute(select(workers)).all()
        held = claims.all_held(conn)
        waiting = held_tasks(conn)
    task_views = {}
    for r in rows:
        spec = _spec(r.spec)
        task_views[r.id] = TaskView(
            id=r.id,
            state=TaskState(r.state),
            depends_on=tuple(spec["depends_on"]),
            # In flight, a task holds its claims (its scope and what its agent claimed since).
            scope=held.get(r.id, tuple(spec["scope"])),
            priority=int(spec["priority"]),
            order=r.ord,
            agent=spec["agent"],
            worker=r.worker_id,
            rank=float(spec.get("rank", 1.0)),
            waits=waits.parse(r.blocked_on) - {waits.PERSON},
        )
    worker_views = {w.id: WorkerView(id=w.id, agent=w.agent, state=WorkerState(w.state), task=w.task_id) for w in wrows}
    return Snapshot(tasks=task_views, workers=worker_views, held=waiting)


@lru_cache(maxsize=4096)
def _spec(text: str) -> dict[str, Any]:
    """A task's spec, parsed once: it never changes once the task has started (treat as read-only)."""
    value: dict[str, Any] = json.loads(text)
    return value


def held_tasks(conn: Connection) -> dict[str, frozenset[str]]:
    """Tasks whose merge must wait: task -> the tasks it conflicts with or duplicates (see the radar)."""
    rows = conn.execute(select(radar.c.task_id, radar.c.other, radar.c.kind).where(radar.c.other.is_not(None))).all()
    out: dict[str, frozenset[str]] = {}
    for r in rows:
        if r.kind in OVERLAPS:
            out[r.task_id] = out.get(r.task_id, frozenset()) | {r.other}
    return out
