"""The supervisor's pure decisions: examples, invariants, and a simulated run."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from czar.core.decide import (
    AGED,
    MERGE_BATCH,
    Assign,
    Block,
    Merge,
    Order,
    Promote,
    Snapshot,
    TaskView,
    Verify,
    WorkerView,
    decide,
    run_finished,
)
from czar.core.scope import scopes_overlap
from czar.core.states import TERMINAL_TASK_STATES, TaskState, WorkerState, can_transition

FAST = settings(max_examples=150, deadline=None)
T = TaskState
W = WorkerState

IN_FLIGHT = frozenset({T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.REVIEWING, T.APPROVED, T.MERGING})
HOLDS_WORKER = frozenset({T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.REVIEWING})


def task(
    tid: str,
    state: TaskState = T.READY,
    *,
    deps: tuple[str, ...] = (),
    scope: tuple[str, ...] = (),
    priority: int = 0,
    order: int = 0,
    agent: str = "sim",
    worker: str | None = None,
    rank: float = 0.0,
    waited: int = 0,
) -> TaskView:
    return TaskView(tid, state, deps, scope, priority, order, agent, worker, rank, waited=waited)


def worker(wid: str, *, agent: str = "sim", state: WorkerState = W.IDLE, task: str | None = None) -> WorkerView:
    return WorkerView(wid, agent, state, task)


def snap(tasks: Sequence[TaskView], workers: Sequence[WorkerView] = ()) -> Snapshot:
    return Snapshot(tasks={t.id: t for t in tasks}, workers={w.id: w for w in workers})


def of(kind: type, decisions: list[Order]) -> list[Order]:
    return [d for d in decisions if isinstance(d, kind)]


# -- promote and block ---------------------------------------------------------------------


def test_pending_task_with_all_dependencies_merged_is_promoted() -> None:
    s = snap([task("a", T.MERGED), task("b", T.MERGED), task("c", T.PENDING, deps=("a", "b"))])
    assert of(Promote, decide(s)) == [Promote("c")]


def test_pending_task_without_dependencies_is_promoted() -> None:
    assert decide(snap([task("a", T.PENDING)])) == [Promote("a")]


@pytest.mark.parametrize("dep_state", [T.PENDING, T.READY, T.RUNNING, T.APPROVED, T.MERGING])
def test_pending_task_waits_for_an_unmerged_dependency(dep_state: TaskState) -> None:
    s = snap([task("a", T.MERGED), task("b", dep_state), task("c", T.PENDING, deps=("a", "b"))])
    out = decide(s)
    assert Promote("c") not in out
    assert not of(Block, out)


@pytest.mark.parametrize("dep_state", [T.FAILED, T.CANCELLED])
def test_pending_task_with_a_dead_dependency_is_blocked(dep_state: TaskState) -> None:
    s = snap([task("a", T.MERGED), task("b", dep_state), task("c", T.PENDING, deps=("a", "b"))])
    out = decide(s)
    assert Block("c", "b") in out
    assert Promote("c") not in out


def test_blocked_task_is_never_assigned() -> None:
    s = snap([task("a", T.FAILED), task("c", T.PENDING, deps=("a",))], [worker("w1")])
    assert not of(Assign, decide(s))


# -- assign --------------------------------------------------------------------------------


def test_idle_worker_gets_a_ready_task() -> None:
    assert decide(snap([task("a")], [worker("w1")])) == [Assign("a", "w1")]


def test_no_worker_no_assignment() -> None:
    assert decide(snap([task("a")])) == []


def test_promoted_task_is_assigned_in_the_same_call() -> None:
    s = snap([task("a", T.MERGED), task("b", T.PENDING, deps=("a",))], [worker("w1")])
    assert decide(s) == [Promote("b"), Assign("b", "w1")]


@pytest.mark.parametrize("state", [W.STARTING, W.WORKING, W.WAITING_INPUT, W.STUCK, W.CRASHED, W.STOPPED])
def test_only_idle_workers_are_used(state: WorkerState) -> None:
    assert not of(Assign, decide(snap([task("a")], [worker("w1", state=state)])))


def test_idle_worker_that_still_holds_a_task_is_not_used() -> None:
    assert not of(Assign, decide(snap([task("a")], [worker("w1", task="x")])))


def test_ready_task_that_a_worker_still_holds_is_not_assigned_again() -> None:
    assert not of(Assign, decide(snap([task("a", worker="w0")], [worker("w1")])))


@pytest.mark.parametrize("state", [T.PENDING, T.ASSIGNED, T.RUNNING, T.APPROVED, T.MERGED, T.FAILED, T.CANCELLED])
def test_only_ready_tasks_are_assigned(state: TaskState) -> None:
    s = snap([task("dep", T.RUNNING), task("a", state, deps=("dep",))], [worker("w1")])
    assert not of(Assign, decide(s))


def test_higher_priority_first() -> None:
    s = snap([task("low", order=0), task("high", priority=5, order=1)], [worker("w1")])
    assert of(Assign, decide(s)) == [Assign("high", "w1")]


def test_plan_order_breaks_priority_ties() -> None:
    s = snap([task("b", order=2), task("a", order=3), task("c", order=1)], [worker("w1"), worker("w2")])
    assert of(Assign, decide(s)) == [Assign("c", "w1"), Assign("b", "w2")]


def test_task_id_breaks_order_ties() -> None:
    s = snap([task("b"), task("a")], [worker("w1")])
    assert of(Assign, decide(s)) == [Assign("a", "w1")]


def test_workers_are_taken_by_id() -> None:
    s = snap([task("a")], [worker("w2"), worker("w1")])
    assert of(Assign, decide(s)) == [Assign("a", "w1")]


def test_every_idle_worker_gets_work_when_there_is_enough() -> None:
    s = snap([task(f"t{i}", order=i) for i in range(5)], [worker("w1"), worker("w2"), worker("w3")])
    assert of(Assign, decide(s)) == [Assign("t0", "w1"), Assign("t1", "w2"), Assign("t2", "w3")]


def test_overlapping_ready_tasks_are_not_assigned_together() -> None:
    s = snap(
        [task("a", scope=("src/",), order=0), task("b", scope=("src/x.py",), order=1), task("c", scope=("docs/",))],
        [worker("w1"), worker("w2"), worker("w3")],
    )
    assigned = [d.task for d in of(Assign, decide(s))]
    assert sorted(assigned) == ["a", "c"]


@pytest.mark.parametrize("busy_state", sorted(IN_FLIGHT))
def test_ready_task_waits_for_an_in_flight_task_with_overlapping_scope(busy_state: TaskState) -> None:
    s = snap(
        [task("busy", busy_state, scope=("src/**",), worker="w0"), task("a", scope=("src/pkg/*.py",))],
        [worker("w1")],
    )
    assert not of(Assign, decide(s))


def test_an_approved_task_held_for_a_task_in_the_pool_does_not_keep_it_from_starting() -> None:
    """The later task was verified while the earlier one was back in the pool with its work; it
    waits for that one to merge, so its scope must not keep that one from starting."""
    held = snap(
        [task("first", T.READY, scope=("CHANGES.md",), order=0), task("later", T.APPROVED, scope=("CHANGES.md",))],
        [worker("w1")],
    )
    assert of(Assign, decide(replace(held, held={"later": frozenset({"first"})}))) == [Assign("first", "w1")]
    assert not of(Assign, decide(held))  # not held: the approved task's scope is busy


def test_only_tasks_in_flight_hold_their_scope() -> None:
    for state in (T.MERGED, T.FAILED, T.CANCELLED, T.READY, T.PENDING):
        # 'old' wants an agent kind nobody runs, so it is never assigned itself.
        old = task("old", state, scope=("src/",), agent="codex")
        s = snap([old, task("a", scope=("src/a.py",), order=1)], [worker("w1")])
        assert Assign("a", "w1") in decide(s), state


def test_a_task_without_scope_runs_alongside_anything() -> None:
    s = snap([task("busy", T.RUNNING, scope=("src/",), worker="w0"), task("a")], [worker("w1")])
    assert of(Assign, decide(s)) == [Assign("a", "w1")]


def test_a_blocked_high_priority_task_does_not_hold_back_others() -> None:
    s = snap(
        [
            task("busy", T.RUNNING, scope=("src/",), worker="w0"),
            task("urgent", priority=9, scope=("src/a.py",)),
            task("other", scope=("docs/",)),
        ],
        [worker("w1")],
    )
    assert of(Assign, decide(s)) == [Assign("other", "w1")]


def test_agent_kind_must_match() -> None:
    s = snap([task("a", agent="claude")], [worker("w1", agent="sim")])
    assert not of(Assign, decide(s))


def test_task_goes_to_a_worker_of_its_kind() -> None:
    s = snap(
        [task("a", agent="claude", order=0), task("b", agent="sim", order=1)],
        [worker("w1", agent="sim"), worker("w2", agent="claude")],
    )
    assert sorted(of(Assign, decide(s)), key=repr) == [Assign("a", "w2"), Assign("b", "w1")]


def test_a_task_without_a_worker_of_its_kind_does_not_hold_back_others() -> None:
    s = snap([task("a", agent="codex", priority=5), task("b", agent="sim")], [worker("w1", agent="sim")])
    assert of(Assign, decide(s)) == [Assign("b", "w1")]


def test_an_unassignable_overlapping_task_does_not_reserve_its_scope() -> None:
    # 'a' comes first but no worker runs its agent kind, so 'b' (same scope) may go.
    s = snap(
        [task("a", agent="codex", scope=("src/",), order=0), task("b", scope=("src/",), order=1)],
        [worker("w1")],
    )
    assert of(Assign, decide(s)) == [Assign("b", "w1")]


# -- verify, merge, requeue ----------------------------------------------------------------


def test_submitted_task_is_verified() -> None:
    s = snap([task("a", T.SUBMITTED, worker="w1")], [worker("w1", state=W.WORKING, task="a")])
    assert decide(s) == [Verify("a")]


def test_approved_tasks_merge_as_one_batch_in_plan_order() -> None:
    s = snap([task("b", T.APPROVED, order=2), task("a", T.APPROVED, order=1), task("c", T.APPROVED, order=3)])
    assert of(Merge, decide(s)) == [Merge(("a", "b", "c"))]


def test_a_merge_batch_has_a_limit() -> None:
    s = snap([task(f"t{i:02d}", T.APPROVED, order=i) for i in range(MERGE_BATCH + 3)])
    (merge,) = of(Merge, decide(s))
    assert isinstance(merge, Merge) and merge.tasks == tuple(f"t{i:02d}" for i in range(MERGE_BATCH))


def test_a_merge_in_progress_is_carried_on_first() -> None:
    s = snap([task("a", T.APPROVED, order=1), task("b", T.MERGING, order=2)])
    assert of(Merge, decide(s)) == [Merge(("b",))]


def test_no_merge_without_approved_work() -> None:
    s = snap([task("a", T.VERIFYING, worker="w1"), task("b", T.MERGED)], [worker("w1", state=W.WORKING, task="a")])
    assert not of(Merge, decide(s))


def test_a_running_task_calls_for_nothing() -> None:
    # Whether its agent is healthy is the health round's business (czar.core.health), not decide's.
    s = snap([task("a", T.RUNNING, worker="w1")], [worker("w1", state=W.WORKING, task="a")])
    assert decide(s) == []


def test_the_longest_chain_of_work_starts_first() -> None:
    s = snap([task("short", rank=1.0, order=0), task("long", rank=5.0, order=1)], [worker("w1")])
    assert of(Assign, decide(s)) == [Assign("long", "w1")]


def test_priority_outranks_the_chain_of_work() -> None:
    s = snap([task("urgent", priority=1, rank=1.0), task("long", rank=5.0)], [worker("w1")])
    assert of(Assign, decide(s)) == [Assign("urgent", "w1")]


def test_decisions_come_most_urgent_first() -> None:
    s = snap(
        [
            task("m", T.MERGED),
            task("p", T.PENDING, deps=("m",), order=5),
            task("s", T.SUBMITTED, worker="w0", order=1),
            task("ap", T.APPROVED, order=2),
        ],
        [worker("w0", state=W.WORKING, task="s"), worker("w1")],
    )
    assert decide(s) == [Promote("p"), Verify("s"), Merge(("ap",)), Assign("p", "w1")]


# -- run_finished --------------------------------------------------------------------------


def test_run_finished() -> None:
    assert run_finished(snap([]))
    assert run_finished(snap([task("a", T.MERGED), task("b", T.FAILED), task("c", T.CANCELLED)]))
    for state in set(TaskState) - TERMINAL_TASK_STATES:
        assert not run_finished(snap([task("a", T.MERGED), task("b", state)])), state


# -- property tests on consistent snapshots ------------------------------------------------

AGENTS = ["sim", "claude"]
SCOPES = ["src/a/", "src/b/", "src/*.py", "src/a/x.py", "docs/", "tests/**"]
OTHER_WORKER_STATES = [W.IDLE, W.IDLE, W.IDLE, W.IDLE, W.STARTING, W.STUCK, W.CRASHED, W.STOPPED, W.WAITING_INPUT]


@st.composite
def snapshots(draw: st.DrawFn) -> Snapshot:
    """A snapshot the supervisor could really see: states agree with dependencies and workers."""
    n = draw(st.integers(min_value=1, max_value=8))
    tasks: dict[str, TaskView] = {}
    workers: dict[str, WorkerView] = {}
    merging = False
    for i in range(n):
        tid = f"t{i}"
        deps = tuple(sorted(draw(st.sets(st.sampled_from([f"t{j}" for j in range(i)]), max_size=3)))) if i else ()
        if all(tasks[d].state is T.MERGED for d in deps):
            state = draw(st.sampled_from([*TaskState, T.READY, T.READY, T.READY]))
        else:
            state = draw(st.sampled_from([T.PENDING, T.PENDING, T.FAILED, T.CANCELLED]))
        if state is T.MERGING:
            state, merging = (T.APPROVED, merging) if merging else (T.MERGING, True)
        agent = draw(st.sampled_from(AGENTS))
        wid = None
        if state in HOLDS_WORKER:
            wid = f"busy{i}"
            wstate = draw(st.sampled_from([W.WORKING, W.WORKING, W.WAITING_INPUT, W.STUCK, W.CRASHED]))
            workers[wid] = worker(wid, agent=agent, state=wstate, task=tid)
        elif state in (T.APPROVED, T.MERGING, T.MERGED) and draw(st.booleans()):
            wid = f"old{i}"  # verified work keeps the name of the worker that did it
        tasks[tid] = task(
            tid,
            state,
            deps=deps,
            scope=tuple(draw(st.lists(st.sampled_from(SCOPES), max_size=2, unique=True))),
            priority=draw(st.integers(min_value=0, max_value=2)),
            order=i,
            agent=agent,
            worker=wid,
            rank=draw(st.floats(min_value=0, max_value=10)),
            waited=draw(st.integers(min_value=0, max_value=3)) if state is T.APPROVED else 0,
        )
    for j in range(draw(st.integers(min_value=0, max_value=5))):
        wid = f"w{j}"
        workers[wid] = worker(
            wid, agent=draw(st.sampled_from(AGENTS)), state=draw(st.sampled_from(OTHER_WORKER_STATES))
        )
    # Shuffle the mappings' order: decide must not depend on it for correctness.
    rnd = random.Random(draw(st.integers(min_value=0, max_value=2**16)))
    task_items, worker_items = list(tasks.items()), list(workers.items())
    rnd.shuffle(task_items)
    rnd.shuffle(worker_items)
    approved = sorted(t for t, v in tasks.items() if v.state is T.APPROVED)
    unready = frozenset(draw(st.lists(st.sampled_from(approved), unique=True))) if approved else frozenset()
    return Snapshot(tasks=dict(task_items), workers=dict(worker_items), unready=unready)


@FAST
@given(snapshots())
def test_never_assigns_a_task_or_a_worker_twice(s: Snapshot) -> None:
    assigns = of(Assign, decide(s))
    assert len({a.task for a in assigns}) == len(assigns)
    assert len({a.worker for a in assigns}) == len(assigns)


@FAST
@given(snapshots())
def test_assigns_only_ready_tasks_with_merged_dependencies(s: Snapshot) -> None:
    out = decide(s)
    promoted = {d.task for d in of(Promote, out)}
    for a in of(Assign, out):
        t = s.tasks[a.task]
        assert t.state is T.READY or a.task in promoted, a
        assert all(s.tasks[d].state is T.MERGED for d in t.depends_on), a


@FAST
@given(snapshots())
def test_assigns_only_to_an_idle_free_worker_of_the_tasks_kind(s: Snapshot) -> None:
    for a in of(Assign, decide(s)):
        w = s.workers[a.worker]
        assert w.state is W.IDLE and w.task is None
        assert w.agent == s.tasks[a.task].agent


@FAST
@given(snapshots())
def test_assigned_scopes_overlap_nothing_in_flight_nor_each_other(s: Snapshot) -> None:
    busy = [t.scope for t in s.tasks.values() if t.state in IN_FLIGHT]
    for a in of(Assign, decide(s)):
        scope = s.tasks[a.task].scope
        assert not any(scopes_overlap(scope, b) for b in busy), a
        busy.append(scope)


@FAST
@given(snapshots())
def test_an_idle_worker_and_an_assignable_task_give_an_assignment(s: Snapshot) -> None:
    out = decide(s)
    promoted = {d.task for d in of(Promote, out)}
    idle_kinds = {w.agent for w in s.workers.values() if w.state is W.IDLE and w.task is None}
    busy = [t.scope for t in s.tasks.values() if t.state in IN_FLIGHT]
    assignable = [
        t
        for t in s.tasks.values()
        if (t.state is T.READY or t.id in promoted)
        and t.agent in idle_kinds
        and not any(scopes_overlap(t.scope, b) for b in busy)
    ]
    if assignable:
        assert of(Assign, out), [t.id for t in assignable]


@FAST
@given(snapshots())
def test_decide_is_deterministic(s: Snapshot) -> None:
    first = decide(s)
    assert decide(s) == first
    reordered = replace(
        s, tasks=dict(sorted(s.tasks.items(), reverse=True)), workers=dict(sorted(s.workers.items(), reverse=True))
    )
    again = decide(reordered)
    assert set(again) == set(first)
    assert of(Assign, again) == of(Assign, first)
    assert of(Merge, again) == of(Merge, first)


@FAST
@given(snapshots())
def test_other_decisions_fit_the_state(s: Snapshot) -> None:
    out = decide(s)
    assert len(of(Merge, out)) <= 1
    for d in out:
        t = s.tasks[d.task]
        if isinstance(d, Promote | Block):
            assert t.state is T.PENDING
        elif isinstance(d, Verify):
            assert t.state is T.SUBMITTED
        elif isinstance(d, Merge):
            merging = sorted((o for o in s.tasks.values() if o.state is T.MERGING), key=lambda o: o.order)
            if merging:  # a merge in progress is carried on, whole, before anything else
                assert d.tasks == tuple(o.id for o in merging)
            else:
                batch = [s.tasks[x] for x in d.tasks]
                assert all(o.state is T.APPROVED for o in batch) and 0 < len(batch) <= MERGE_BATCH
                assert not {o.id for o in batch} & s.unready  # the forge holds those a while
                # Never a task before its dependency; none that waited long left behind for
                # one that waited less (``test_merge_order.py`` holds the order itself).
                for i, o in enumerate(batch):
                    assert not set(o.depends_on) & {later.id for later in batch[i + 1 :]}
                left = [o for o in s.tasks.values() if o.state is T.APPROVED and o.id not in d.tasks]
                aged = [o for o in left if o.waited >= AGED and not s.held.get(o.id) and o.id not in s.unready]
                assert not aged or all(o.waited >= AGED for o in batch)
    # Every submitted task is verified; a pending task with a dead dependency is blocked.
    for t in s.tasks.values():
        if t.state is T.SUBMITTED:
            assert Verify(t.id) in out
        dead = [d for d in t.depends_on if s.tasks[d].state in (T.FAILED, T.CANCELLED)]
        if t.state is T.PENDING and dead:
            assert of(Block, [d for d in out if d.task == t.id]) == [Block(t.id, dead[0])]


# -- simulated runs ------------------------------------------------------------------------


@st.composite
def plans(draw: st.DrawFn) -> tuple[dict[str, TaskView], dict[str, WorkerView]]:
    n = draw(st.integers(min_value=1, max_value=10))
    kinds = draw(st.lists(st.sampled_from(AGENTS), min_size=1, max_size=2, unique=True))
    tasks = {}
    for i in range(n):
        tid = f"t{i}"
        deps = tuple(sorted(draw(st.sets(st.sampled_from([f"t{j}" for j in range(i)]), max_size=3)))) if i else ()
        tasks[tid] = task(
            tid,
            T.PENDING,
            deps=deps,
            scope=tuple(draw(st.lists(st.sampled_from(SCOPES), max_size=2, unique=True))),
            priority=draw(st.integers(min_value=0, max_value=2)),
            order=i,
            agent=draw(st.sampled_from(kinds)),
        )
    count = draw(st.integers(min_value=len(kinds), max_value=4))
    workers = {f"w{j}": worker(f"w{j}", agent=kinds[j % len(kinds)]) for j in range(count)}
    return tasks, workers


class Run:
    """A fake supervisor that applies decisions and checks every move against the rules."""

    def __init__(self, tasks: dict[str, TaskView], workers: dict[str, WorkerView]) -> None:
        self.tasks = dict(tasks)
        self.workers = dict(workers)
        self.started: list[str] = []

    def snapshot(self) -> Snapshot:
        return Snapshot(tasks=dict(self.tasks), workers=dict(self.workers))

    def move(self, tid: str, new: TaskState, **changes: object) -> None:
        old = self.tasks[tid].state
        assert can_transition(old, new), f"{tid}: {old} -> {new}"
        self.tasks[tid] = replace(self.tasks[tid], state=new, **changes)  # type: ignore[arg-type]

    def free(self, wid: str) -> None:
        self.workers[wid] = replace(self.workers[wid], state=W.IDLE, task=None)

    def apply(self, d: Order) -> None:
        if isinstance(d, Promote):
            assert all(self.tasks[x].state is T.MERGED for x in self.tasks[d.task].depends_on)
            self.move(d.task, T.READY)
        elif isinstance(d, Assign):
            t, w = self.tasks[d.task], self.workers[d.worker]
            assert all(self.tasks[x].state is T.MERGED for x in t.depends_on), f"{t.id} started too early"
            assert w.state is W.IDLE and w.task is None and w.agent == t.agent
            busy = [o.scope for o in self.tasks.values() if o.state in IN_FLIGHT]
            assert not any(scopes_overlap(t.scope, b) for b in busy), f"{t.id} overlaps work in flight"
            self.move(d.task, T.ASSIGNED, worker=d.worker)
            self.workers[d.worker] = replace(w, state=W.WORKING, task=d.task)
            self.started.append(d.task)
        elif isinstance(d, Verify):
            self.move(d.task, T.VERIFYING)
            self.move(d.task, T.APPROVED)
            self.free(self.tasks[d.task].worker or "")
        elif isinstance(d, Merge):
            assert not any(o.state is T.MERGING and o.id not in d.tasks for o in self.tasks.values())
            for x in d.tasks:
                if self.tasks[x].state is T.APPROVED:
                    self.move(x, T.MERGING)
        else:
            raise AssertionError(f"unexpected decision {d}")

    def work(self, *, full: bool) -> None:
        """Every agent finishes at once; with ``full`` the task also goes through verify and merge."""
        for t in list(self.tasks.values()):
            if t.state is T.ASSIGNED:
                self.move(t.id, T.RUNNING)
                if full:
                    self.move(t.id, T.SUBMITTED)
                else:
                    for s in (T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING, T.MERGED):
                        self.move(t.id, s)
                    self.free(t.worker or "")
            elif t.state is T.MERGING:
                self.move(t.id, T.MERGED)


@pytest.mark.parametrize("full", [False, True], ids=["instant", "verify-and-merge"])
@settings(max_examples=100, deadline=None)
@given(plans())
def test_a_simulated_run_merges_every_task_in_dependency_order(
    full: bool, plan: tuple[dict[str, TaskView], dict[str, WorkerView]]
) -> None:
    run = Run(*plan)
    for _ in range(10 * len(run.tasks) + 10):
        snapshot = run.snapshot()
        if run_finished(snapshot):
            break
        decisions = decide(snapshot)
        before = (dict(run.tasks), dict(run.workers))
        for d in decisions:
            run.apply(d)
        run.work(full=full)
        assert (run.tasks, run.workers) != before, f"no progress: {snapshot}"
    assert all(t.state is T.MERGED for t in run.tasks.values())
    assert sorted(run.started) == sorted(run.tasks)  # each task started exactly once


def test_a_held_task_merges_only_after_the_task_it_conflicts_with() -> None:
    tasks = [task("first", T.RUNNING, worker="w1", order=2), task("second", T.APPROVED, order=1)]
    held = snap(tasks, [worker("w1", state=W.WORKING, task="first")])
    assert not of(Merge, decide(replace(held, held={"second": frozenset({"first"})})))
    done = snap([task("first", T.MERGED, order=2), task("second", T.APPROVED, order=1)])
    assert of(Merge, decide(replace(done, held={"second": frozenset({"first"})}))) == [Merge(("second",))]


def test_a_task_back_in_the_pool_waits_there_until_what_it_stands_off_for_is_over() -> None:
    waiting = replace(task("b", T.READY, order=2), waits=frozenset({"a", "c"}))
    s = snap([task("a", T.MERGED, order=1), waiting, task("c", T.RUNNING, worker="w2", order=3)], [worker("w1")])
    assert not of(Assign, decide(s))
    s = snap([task("a", T.MERGED, order=1), waiting, task("c", T.FAILED, order=3)], [worker("w1")])
    assert of(Assign, decide(s)) == [Assign("b", "w1")]


def test_nothing_starts_once_the_run_spent_its_budget() -> None:
    s = snap([task("a", T.PENDING), task("b", T.READY), task("c", T.SUBMITTED, worker="w2")], [worker("w1")])
    out = decide(replace(s, out_of_budget=True))
    assert not of(Assign, out) and of(Promote, out) == [Promote("a")] and of(Verify, out) == [Verify("c")]


def test_a_paused_run_starts_nothing_and_still_merges_and_verifies() -> None:
    s = snap(
        [task("a"), task("b", T.APPROVED), task("c", T.SUBMITTED, worker="w2")],
        [worker("w1"), worker("w2", state=W.WORKING, task="c")],
    )
    running = decide(s)
    assert any(isinstance(d, Assign) for d in running)
    paused = decide(replace(s, paused=True))
    assert not any(isinstance(d, Assign) for d in paused)
    assert Merge(("b",)) in paused and Verify("c") in paused


def test_tasks_the_forge_holds_a_while_never_fill_a_merge_batch() -> None:
    """Seen reading the merge queue: approved tasks the forge held (their pull requests not there
    yet, say) aged to the front of the merge order; eight of them made every batch, which the
    queue then left out whole, and no other task merged until the forge let them go."""
    held = {f"h{i}": task(f"h{i}", T.APPROVED, order=i, waited=5) for i in range(MERGE_BATCH)}
    fresh = task("f", T.APPROVED, order=MERGE_BATCH)
    snap = Snapshot(tasks={**held, "f": fresh}, workers={})
    assert "f" not in of(Merge, decide(snap))[0].tasks  # (as it was)
    assert of(Merge, decide(replace(snap, unready=frozenset(held))))[0].tasks == ("f",)
