"""The supervisor's decisions, as a pure function of what the store says now.

``decide`` is level-triggered: it looks at the whole state and returns every command that state
calls for. Running it twice on the same state gives the same commands, and a supervisor that
restarts at any point simply decides again: nothing depends on having seen a particular event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from czar.core.review import ReviewState
from czar.core.scope import scopes_overlap
from czar.core.states import IN_FLIGHT, TERMINAL_TASK_STATES, UNMERGED, TaskState, WorkerRole, WorkerState


@dataclass(frozen=True)
class TaskView:
    id: str
    state: TaskState
    depends_on: tuple[str, ...]
    scope: tuple[str, ...]
    priority: int
    order: int  # position in the plan's topological order
    agent: str
    worker: str | None = None
    rank: float = 0.0  # length of the longest chain of work from this task on (critical path first)
    waits: frozenset[str] = frozenset()  # tasks it stands off for (or waits for) until they merge
    waited: int = 0  # merge batches started since it was approved (it ages: see ``merge_order``)
    review: ReviewState | None = None  # its last review not acted on yet (open, or with a verdict)


@dataclass(frozen=True)
class WorkerView:
    id: str
    agent: str
    state: WorkerState
    task: str | None = None
    role: WorkerRole = WorkerRole.AUTHOR


@dataclass(frozen=True)
class Snapshot:
    tasks: Mapping[str, TaskView]
    workers: Mapping[str, WorkerView]
    # task -> the tasks in flight it conflicts with or duplicates: it merges only after them.
    held: Mapping[str, frozenset[str]] = field(default_factory=dict)
    out_of_budget: bool = False  # the run spent its budget: no task starts any more
    prefer_other: bool = True  # a reviewer of another agent kind than the author's, when one is free
    stack: bool = False  # a task may start from its one unmerged dependency's approved branch
    paused: bool = False  # a person paused the run: no task or review starts (work under way goes on)
    # Tasks whose start failed a moment ago (git could not make their branch or clone): not given
    # to a worker until they are tried again, so that the others start meanwhile.
    resting: frozenset[str] = frozenset()
    # Approved tasks the forge holds a while (a refusal, a pull request not there yet, one a person
    # closed): left out of merge batches, so that aged ones never fill a batch that cannot merge.
    unready: frozenset[str] = frozenset()
    # task -> the reviewers whose review of it ended with no verdict: another is given it first.
    lost_with: Mapping[str, frozenset[str]] = field(default_factory=dict)


# -- commands ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Promote:
    """Every hard dependency is merged, or (``stacked``) approved with ``stack = true``: the
    task becomes ready."""

    task: str
    stacked: bool = False  # it starts from its dependencies' approved work, not merged yet


@dataclass(frozen=True)
class Block:
    """A hard dependency failed or was cancelled: the task can never run."""

    task: str
    dependency: str


@dataclass(frozen=True)
class Assign:
    """Give a ready task to an idle worker."""

    task: str
    worker: str


@dataclass(frozen=True)
class Verify:
    """The agent submitted: run the checks."""

    task: str


@dataclass(frozen=True)
class Merge:
    """Merge approved tasks into the integration branch, in this order (a batch), or carry on
    with the merge in progress."""

    tasks: tuple[str, ...]

    @property
    def task(self) -> str:
        return self.tasks[0]


@dataclass(frozen=True)
class Review:
    """Give a verified task's commit to an idle reviewer."""

    task: str
    worker: str


@dataclass(frozen=True)
class Reviewed:
    """A reviewer gave its verdict on the task's commit: act on it."""

    task: str


# What decide orders the supervisor to do (``czar.supervisor.loop`` carries each out).
Order = Promote | Block | Assign | Verify | Review | Reviewed | Merge

MERGE_BATCH = 8  # approved tasks merged together, their checks run once (bisected if they fail)
AGED = 2  # batches an approved task may wait: then it goes before any that waited less

ANY_AGENT = "*"  # a task any worker may take, whatever its agent


def merge_order(approved: Sequence[TaskView]) -> list[TaskView]:
    """The order approved tasks merge in: a task that waited ``AGED`` batches first (the longest
    waiting first), then by priority raised by one for each batch waited (nothing starves behind
    a stream of urgent work), then the longest chain of work waiting on it (the critical path),
    then the plan's order; and never before a dependency of its own."""

    def key(t: TaskView) -> tuple[bool, int, int, float, int]:
        return (t.waited < AGED, -t.waited if t.waited >= AGED else 0, -(t.priority + t.waited), -t.rank, t.order)

    pending = sorted(approved, key=key)
    waiting_for = {t.id for t in pending}
    out: list[TaskView] = []
    while pending:
        # The first whose dependencies among these are placed (the plan's order has no cycle).
        take = next((t for t in pending if not (set(t.depends_on) & waiting_for)), pending[0])
        pending.remove(take)
        waiting_for.discard(take.id)
        out.append(take)
    return out


STACKED_ON = frozenset({TaskState.APPROVED, TaskState.MERGING})  # approved work a dependent may start from


def stackable(states: Iterable[TaskState]) -> bool:
    """A dependent may start before its dependencies (in these states) merge when each one not
    merged is approved (their branches are the work it builds on)."""
    return all(s is TaskState.MERGED or s in STACKED_ON for s in states)


def _dependencies_first(snap: Snapshot, ordered: list[TaskView]) -> list[TaskView]:
    """Of approved tasks in merge order, those that may merge now: each hard dependency merged,
    or merging before it in this batch (a stacked dependent never merges before what it builds on)."""
    out: list[TaskView] = []
    placed: set[str] = set()
    for t in ordered:
        deps = [snap.tasks[d] for d in t.depends_on if d in snap.tasks]
        if all(d.state is TaskState.MERGED or d.id in placed for d in deps):
            out.append(t)
            placed.add(t.id)
    return out


def decide(snap: Snapshot) -> list[Order]:
    """Every command the current state calls for, most urgent first."""
    out: list[Order] = []
    tasks = snap.tasks

    for t in tasks.values():
        if t.state is TaskState.PENDING:
            deps = [tasks[d] for d in t.depends_on if d in tasks]
            dead = next((d for d in deps if d.state in (TaskState.FAILED, TaskState.CANCELLED)), None)
            if dead is not None:
                out.append(Block(t.id, dead.id))
            elif all(d.state is TaskState.MERGED for d in deps):
                out.append(Promote(t.id))
            elif snap.stack and stackable(d.state for d in deps):
                out.append(Promote(t.id, stacked=True))
        elif t.state is TaskState.SUBMITTED:
            out.append(Verify(t.id))
        elif t.state is TaskState.REVIEWING and t.review in (ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED):
            out.append(Reviewed(t.id))

    # One merge batch at a time, in the plan's dependency order; a merge in progress is carried
    # on (after a restart, nobody may be carrying it out).
    merging = sorted((t for t in tasks.values() if t.state is TaskState.MERGING), key=lambda t: t.order)
    if merging:
        out.append(Merge(tuple(t.id for t in merging)))
    else:
        approved = [
            t
            for t in tasks.values()
            if t.state is TaskState.APPROVED and not _held(snap, t.id) and t.id not in snap.unready
        ]
        batch = _dependencies_first(snap, merge_order(approved))[:MERGE_BATCH]
        if batch:
            out.append(Merge(tuple(t.id for t in batch)))

    if not snap.out_of_budget and not snap.paused:
        out.extend(_reviews(snap))
        out.extend(_assignments(snap, promoted={d.task for d in out if isinstance(d, Promote)}))
    return out


def _idle(snap: Snapshot, role: WorkerRole) -> list[WorkerView]:
    return sorted(
        (w for w in snap.workers.values() if w.role is role and w.state is WorkerState.IDLE and w.task is None),
        key=lambda w: w.id,
    )


def _reviews(snap: Snapshot) -> list[Review]:
    """Tasks waiting for a review, each to an idle reviewer: one of another agent kind than its
    author's first (``prefer_other``), else any. In the order work is assigned in: priority, then
    the longest chain of work waiting on the task (with fewer reviewers than authors, reviews
    queue, and the plan's order would let the critical path wait behind side branches)."""
    idle = _idle(snap, WorkerRole.REVIEWER)
    out: list[Review] = []
    waiting = sorted(
        (t for t in snap.tasks.values() if t.state is TaskState.REVIEWING and t.review is None),
        key=lambda t: (-t.priority, -t.rank, t.order, t.id),
    )
    for task in waiting:
        if not idle:
            break
        author = snap.workers.get(task.worker or "")
        # One whose review of it was lost (its agent crashed, or answered nothing) comes last: the
        # same again would likely end the same (a diff too big for its model, say).
        fresh = [w for w in idle if w.id not in snap.lost_with.get(task.id, ())] or idle
        other = [w for w in fresh if author is None or w.agent != author.agent]
        worker = (other if snap.prefer_other and other else fresh)[0]
        idle.remove(worker)
        out.append(Review(task.id, worker.id))
    return out


def _assignments(snap: Snapshot, promoted: set[str]) -> list[Assign]:
    idle = _idle(snap, WorkerRole.AUTHOR)
    if not idle:
        return []
    with_worker = {t.id for t in snap.tasks.values() if t.worker is not None and t.state not in TERMINAL_TASK_STATES}
    ready = sorted(
        (
            t
            for t in snap.tasks.values()
            if (t.state is TaskState.READY or t.id in promoted)
            and t.id not in with_worker
            and t.id not in snap.resting
            and not _waiting(snap, t)
        ),
        key=lambda t: (-t.priority, -t.rank, t.order, t.id),
    )
    # An approved task held for another that can still merge first holds no scope against it:
    # else a task back in the pool behind it could never start, and it would wait forever.
    busy_scopes = [
        t.scope
        for t in snap.tasks.values()
        if t.state in IN_FLIGHT and not (t.state is TaskState.APPROVED and _held(snap, t.id))
    ]
    out: list[Assign] = []
    for task in ready:
        if any(scopes_overlap(task.scope, s) for s in busy_scopes):
            continue
        worker = next((w for w in idle if task.agent in (w.agent, ANY_AGENT)), None)
        if worker is None:
            continue
        idle.remove(worker)
        busy_scopes.append(task.scope)
        out.append(Assign(task.id, worker.id))
        if not idle:
            break
    return out


def _waiting(snap: Snapshot, task: TaskView) -> bool:
    """A task back in the pool while it stands off for others starts again once they are over."""
    return any(w in snap.tasks and snap.tasks[w].state not in TERMINAL_TASK_STATES for w in task.waits)


def _held(snap: Snapshot, task: str) -> bool:
    """Held back by a task that can still merge before it (in flight, or back in the pool with
    the work its branch keeps)."""
    return any(o in snap.tasks and snap.tasks[o].state in UNMERGED for o in snap.held.get(task, ()))


def run_finished(snap: Snapshot) -> bool:
    """True when every task is merged, failed or cancelled."""
    return all(t.state in TERMINAL_TASK_STATES for t in snap.tasks.values())
