"""Read the store into the pure core's ``Snapshot``."""

from __future__ import annotations

from czar.core import waits
from czar.core.decide import Snapshot, TaskView, WorkerView
from czar.core.review import ReviewState
from czar.core.states import TaskState
from czar.store.records import TaskBrief, WorkerBrief
from czar.store.store import Store

PAUSED = "paused"  # meta key: a person paused the run (``czar pause``): no task or review starts


class Snapshots:
    """Snapshots of one store, one per decision step: each task's and worker's view is made
    again only when what it is made from changed. At a hundred workers the supervisor steps
    several times a second over three hundred tasks, nearly all as they were, and making their
    views cost as much as reading them."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._tasks: dict[str, tuple[tuple[object, ...], TaskView]] = {}
        self._workers: dict[str, tuple[tuple[object, ...], WorkerView]] = {}

    def read(self) -> Snapshot:
        with self.store.read() as conn:
            tasks = Store.task_briefs(conn)
            workers = Store.worker_briefs(conn)
            claims = Store.all_claims(conn)
            waiting = Store.held_tasks(conn)
            window = Store.merge_window(conn)
            reviews = Store.pending_reviews(conn)
            open_reviews = Store.reviews_in(conn, (ReviewState.OPEN,))
            paused = bool(Store.get_meta(conn, PAUSED, False))
            # (Read only while a review may be given: most steps of most runs have none to give.)
            reviewing = any(t.state is TaskState.REVIEWING for t in tasks)
            lost = Store.reviews_in(conn, (ReviewState.LOST,)) if reviewing else []
        task_views: dict[str, TaskView] = {}
        for t in tasks:
            made_of = (t, claims.get(t.id), window if t.approved_window is not None else None, reviews.get(t.id))
            known = self._tasks.get(t.id)
            if known is None or known[0] != made_of:
                known = self._tasks[t.id] = (made_of, _task_view(t, made_of[1], window, made_of[3]))
            task_views[t.id] = known[1]
        # A reviewer holds the task it reviews (it takes no other meanwhile).
        reading = {r.worker_id: r.task_id for r in open_reviews}
        worker_views: dict[str, WorkerView] = {}
        for w in workers:
            held = (w, reading.get(w.id))
            seen = self._workers.get(w.id)
            if seen is None or seen[0] != held:
                seen = self._workers[w.id] = (held, _worker_view(w, held[1]))
            worker_views[w.id] = seen[1]
        if len(self._tasks) > len(task_views):  # tasks gone from the store (a test's, a reset)
            self._tasks = {t: v for t, v in self._tasks.items() if t in task_views}
        if len(self._workers) > len(worker_views):
            self._workers = {w: v for w, v in self._workers.items() if w in worker_views}
        lost_with: dict[str, set[str]] = {}
        for r in lost:
            lost_with.setdefault(r.task_id, set()).add(r.worker_id)
        return Snapshot(
            tasks=task_views,
            workers=worker_views,
            held=waiting,
            paused=paused,
            lost_with={t: frozenset(w) for t, w in lost_with.items()},
        )


def snapshot(store: Store) -> Snapshot:
    """One snapshot of ``store``, with nothing kept from an earlier one."""
    return Snapshots(store).read()


def _task_view(t: TaskBrief, claimed: tuple[str, ...] | None, window: int, review: ReviewState | None) -> TaskView:
    return TaskView(
        id=t.id,
        state=t.state,
        depends_on=t.spec.depends_on,
        # In flight, a task holds its claims (its scope and what its agent claimed since).
        scope=claimed if claimed is not None else t.spec.scope,
        priority=t.spec.priority,
        order=t.order,
        agent=t.spec.agent,
        worker=t.worker_id,
        rank=t.spec.rank,
        waits=waits.parse(t.blocked_on) - {waits.PERSON},
        waited=window - t.approved_window if t.approved_window is not None else 0,
        review=review,
    )


def _worker_view(w: WorkerBrief, reading: str | None) -> WorkerView:
    return WorkerView(id=w.id, agent=w.agent, state=w.state, task=w.task_id or reading, role=w.role)
