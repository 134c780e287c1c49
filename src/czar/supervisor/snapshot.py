"""Read the store into the pure core's ``Snapshot``."""

from __future__ import annotations

from czar.core import waits
from czar.core.decide import Snapshot, TaskView, WorkerView
from czar.core.review import ReviewState
from czar.store.store import Store

PAUSED = "paused"  # meta key: a person paused the run (``czar pause``): no task or review starts


def snapshot(store: Store) -> Snapshot:
    with store.read() as conn:
        tasks = Store.task_briefs(conn)
        workers = Store.worker_briefs(conn)
        claims = Store.all_claims(conn)
        waiting = Store.held_tasks(conn)
        window = Store.merge_window(conn)
        reviews = Store.pending_reviews(conn)
        open_reviews = Store.reviews_in(conn, (ReviewState.OPEN,))
        paused = bool(Store.get_meta(conn, PAUSED, False))
    task_views = {
        t.id: TaskView(
            id=t.id,
            state=t.state,
            depends_on=t.spec.depends_on,
            # In flight, a task holds its claims (its scope and what its agent claimed since).
            scope=claims.get(t.id, t.spec.scope),
            priority=t.spec.priority,
            order=t.order,
            agent=t.spec.agent,
            worker=t.worker_id,
            rank=t.spec.rank,
            waits=waits.parse(t.blocked_on) - {waits.PERSON},
            waited=window - t.approved_window if t.approved_window is not None else 0,
            review=reviews.get(t.id),
        )
        for t in tasks
    }
    # A reviewer holds the task it reviews (it takes no other meanwhile).
    reading = {r.worker_id: r.task_id for r in open_reviews}
    worker_views = {
        w.id: WorkerView(id=w.id, agent=w.agent, state=w.state, task=w.task_id or reading.get(w.id), role=w.role)
        for w in workers
    }
    return Snapshot(tasks=task_views, workers=worker_views, held=waiting, paused=paused)
