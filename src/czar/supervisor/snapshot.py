"""Read the store into the pure core's ``Snapshot``."""

from __future__ import annotations

import json

from sqlalchemy import select

from czar.core.decide import Snapshot, TaskView, WorkerView
from czar.core.states import TaskState, WorkerState
from czar.store.schema import attempts, tasks, workers
from czar.store.store import Store


def snapshot(store: Store) -> Snapshot:
    with store.read() as conn:
        rows = conn.execute(
            select(tasks, attempts.c.agent_exited_at).outerjoin(attempts, attempts.c.id == tasks.c.attempt_id)
        ).all()
        wrows = conn.execute(select(workers)).all()
    task_views = {}
    for r in rows:
        spec = json.loads(r.spec)
        task_views[r.id] = TaskView(
            id=r.id,
            state=TaskState(r.state),
            depends_on=tuple(spec["depends_on"]),
            scope=tuple(spec["scope"]),
            priority=int(spec["priority"]),
            order=r.ord,
            agent=spec["agent"],
            worker=r.worker_id,
            agent_exited=r.agent_exited_at is not None,
        )
    worker_views = {w.id: WorkerView(id=w.id, agent=w.agent, state=WorkerState(w.state), task=w.task_id) for w in wrows}
    return Snapshot(tasks=task_views, workers=worker_views)
