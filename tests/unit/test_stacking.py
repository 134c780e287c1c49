"""Stacked dependents (``[project] stack = true``): a task whose one unmerged dependency is
approved starts from that dependency's branch, is measured against it (its work is not the
task's), merges only after it, and fails with it. The rules in ``decide``, then the shell on the
fake repository."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from czar.core.decide import Block, Merge, Promote, Snapshot, TaskView, decide
from czar.core.host_commands import MessageKind, StartTask, Tell
from czar.core.states import TaskState, WorkerState
from czar.store.schema import tasks
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.merge_queue import MergeQueue
from czar.supervisor.pulls import PullRequests
from helpers import OnFakes, on_fakes

T = TaskState


def _tasks(parent: TaskState, child: TaskState = T.PENDING, other: TaskState | None = None) -> dict[str, TaskView]:
    views = {
        "p": TaskView("p", parent, (), ("p.txt",), 0, 0, "sim"),
        "c": TaskView("c", child, ("p",) + (("o",) if other else ()), ("c.txt",), 0, 1, "sim"),
    }
    if other is not None:
        views["o"] = TaskView("o", other, (), ("o.txt",), 0, 2, "sim")
    return views


def test_a_dependent_starts_on_its_dependencys_approved_work_only_when_stacking() -> None:
    # Promoted as stacked (its record says so: not "dependencies merged"), or, merged, as ever.
    stacked_on = Promote("c", stacked=True)
    for parent, stacked in ((T.APPROVED, True), (T.MERGING, True), (T.REVIEWING, False), (T.RUNNING, False)):
        out = decide(Snapshot(tasks=_tasks(parent), workers={}, stack=True))
        assert (stacked_on in out) is stacked and Promote("c") not in out, parent
    assert Promote("c") in decide(Snapshot(tasks=_tasks(T.MERGED), workers={}, stack=True))
    assert not any(isinstance(o, Promote) for o in decide(Snapshot(tasks=_tasks(T.APPROVED), workers={})))
    # Two dependencies not merged: both approved, it builds on both; one not approved, it waits.
    assert stacked_on in decide(Snapshot(tasks=_tasks(T.APPROVED, other=T.APPROVED), workers={}, stack=True))
    assert stacked_on in decide(Snapshot(tasks=_tasks(T.APPROVED, other=T.MERGED), workers={}, stack=True))
    assert stacked_on not in decide(Snapshot(tasks=_tasks(T.APPROVED, other=T.RUNNING), workers={}, stack=True))


def test_a_stacked_dependent_merges_after_its_dependency_never_before() -> None:
    both = decide(Snapshot(tasks=_tasks(T.APPROVED, T.APPROVED), workers={}, stack=True))
    assert Merge(("p", "c")) in both
    alone = decide(Snapshot(tasks=_tasks(T.REVIEWING, T.APPROVED), workers={}, stack=True))
    assert not [d for d in alone if isinstance(d, Merge)]


# -- the shell, on the fakes -------------------------------------------------------------------


def _stacked(tmp_path: Path) -> OnFakes:
    """p verified and approved (its agent wrote p.txt); c (depends on p) ready, stacking."""
    f = on_fakes(tmp_path, ["p", "c"], workers=2, project_extra="stack = true\n")
    with f.project.store.write() as conn:
        Store.set_task_text(
            conn, "c", order=1, title="task c", body="do c", spec=replace(Store.task(conn, "c").spec, depends_on=("p",))
        )
    f.assign({"p": "w1"})
    f.repo.commit_in(f.checkout("p"), "czar/p", {"p.txt": "p\n"}, "p: its work")
    Actions(f.project).bring_in_handed_in("p")
    f.move("p", T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED)
    with f.project.store.write() as conn:
        Store.set_worker(conn, "w1", task_id=None, state=WorkerState.IDLE)
    return f


def _c_verified(f: OnFakes) -> Actions:
    """c, stacked on p, worked on by w2 (c.txt), handed in and verified."""
    f.assign({"c": "w2"})
    f.repo.commit_in(f.checkout("c"), "czar/c", {"c.txt": "c\n"}, "c: its work")
    actions = Actions(f.project)
    actions.bring_in_handed_in("c")
    f.move("c", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    actions.verify("c")
    return actions


def test_a_stacked_task_starts_from_the_approved_branch_and_is_measured_against_it(
    tmp_path: Path, czar_home: Path
) -> None:
    f = _stacked(tmp_path)
    parent_tip = f.repo.tip("czar/p")
    f.assign({"c": "w2"})
    assert f.repo.tip("czar/c") == parent_tip
    start = next(c for c in f.take("w2") if isinstance(c, StartTask))
    assert "approved work of task p" in start.prompt
    assigned = [e.payload for e in f.project.store.events_after(0) if e.kind == "task.assigned" and e.task_id == "c"]
    assert assigned[0]["stacked_on"] == "p" and assigned[0]["base"] == parent_tip
    # Its own work is c.txt only: p.txt, outside its scope, is the work it builds on.
    f.repo.commit_in(f.checkout("c"), "czar/c", {"c.txt": "c\n"}, "c: its work")
    actions = Actions(f.project)
    actions.bring_in_handed_in("c")
    f.move("c", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    actions.verify("c")
    assert f.task("c").state is T.APPROVED
    verified = [e.payload for e in f.project.store.events_after(0) if e.kind == "verify.passed" and e.task_id == "c"]
    assert verified[0]["changed"] == ["c.txt"]
    # Its pull request shows its own change, not p's (p's is on p's own pull request).
    ref = PullRequests(f.project, lambda _: None).publish(f.task("c"), f.repo.tip("czar/c"))
    with f.project.store.read() as conn:
        assert [x.path for x in Store.pull(conn, ref.number).files] == ["c.txt"]
    # Merged in one batch, the dependency first: both land, each once.
    f.move("p", T.MERGING)
    f.move("c", T.MERGING)
    MergeQueue(f.project, actions).merge(["p", "c"])
    assert f.states() == {"p": "merged", "c": "merged"}
    assert f.repo.files("czar/integration")["p.txt"] == "p\n" and f.repo.files("czar/integration")["c.txt"] == "c\n"


def test_a_task_stacked_on_one_that_fails_waits_for_it_and_goes_again_with_it(tmp_path: Path, czar_home: Path) -> None:
    """Its branch holds the failed work, so it cannot merge; but nothing of its own was wrong. It
    failed too, with an attempt of its own, so a person's retry of its dependency left it failed.
    Now its work is stopped, it waits (blocked as any task waiting for a failed one), its branch
    kept, and goes again with it."""
    from czar.supervisor import people
    from czar.supervisor.snapshot import snapshot

    f = _stacked(tmp_path)
    f.assign({"c": "w2"})
    f.repo.commit_in(f.checkout("c"), "czar/c", {"c.txt": "c\n"}, "c: its work")
    actions = Actions(f.project)
    actions.bring_in_handed_in("c")
    mine = f.repo.tip("czar/c")
    with f.project.store.write() as conn:
        actions.fail(conn, "p", "test: it failed", "p failed")
    c = f.task("c")
    assert c.state is T.PENDING and not c.fresh and c.attempt_id is None and c.rounds == 0
    assert f.repo.tip("czar/c") == mine  # its own work kept
    moved = [e.payload for e in f.project.store.events_after(0) if e.kind == "task.state" and e.task_id == "c"]
    assert "built on the work of task p, which failed" in moved[-1]["reason"]
    assert next(w for w in f.project.store.workers() if w.id == "w2").task_id is None
    alerts = [e.payload for e in f.project.store.events_after(0) if e.kind == "alert"]
    assert [a["message"] for a in alerts] == ["p failed"]  # one failure to see, p's

    assert Block("c", "p") in decide(snapshot(f.project.store))  # as any task waiting for p
    with f.project.store.write() as conn:
        Store.move_task(conn, "c", T.FAILED, expect=T.PENDING, reason="dependency p failed or was cancelled")
    people.retry(f.project, "p")
    assert f.states()["c"] == "pending"  # again with p
    # p goes on from its branch and is approved again: c goes on from its own, and is restacked
    # on p's new work.
    actions.assign("p", "w1", "test: a person retried it")
    f.catch_up()
    f.repo.commit_in(f.checkout("p"), "czar/p", {"p.txt": "p, fixed\n"}, "p: fixed")
    actions.bring_in_handed_in("p")
    f.move("p", T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED)
    with f.project.store.write() as conn:
        Store.set_worker(conn, "w1", task_id=None, state=WorkerState.IDLE)
    assert Promote("c", stacked=True) in decide(replace(snapshot(f.project.store), stack=True))
    f.assign({"c": "w2"})
    assert f.repo.tip("czar/c") == mine
    assert actions.restack("c", f.repo.tips())
    [told] = [c for c in f.take("w2") if isinstance(c, Tell) and c.kind is MessageKind.RESTACK]
    assert "task p" in told.text


def _stacked_three(tmp_path: Path, d_deps: tuple[str, ...]) -> tuple[OnFakes, Actions]:
    """p approved; c (on p) approved; d (on ``d_deps``) at work on their approved work."""
    f = on_fakes(tmp_path, ["p", "c", "d"], workers=3, project_extra="stack = true\n")
    with f.project.store.write() as conn:
        for tid, deps, order in (("c", ("p",), 1), ("d", d_deps, 2)):
            spec = replace(Store.task(conn, tid).spec, depends_on=deps)
            Store.set_task_text(conn, tid, order=order, title=f"task {tid}", body=f"do {tid}", spec=spec)
    actions = Actions(f.project)
    for tid, wid in (("p", "w1"), ("c", "w2")):
        f.assign({tid: wid})
        f.repo.commit_in(f.checkout(tid), f"czar/{tid}", {f"{tid}.txt": f"{tid}\n"}, f"{tid}: its work")
        actions.bring_in_handed_in(tid)
        f.move(tid, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED)
        with f.project.store.write() as conn:
            Store.set_worker(conn, wid, task_id=None, state=WorkerState.IDLE)
    f.assign({"d": "w3"})
    return f, actions


def test_a_task_stacked_on_two_that_end_together_is_moved_once(tmp_path: Path, czar_home: Path) -> None:
    """d builds on p and on c (itself on p): p's failure reached d twice, through c and then
    directly, and the second move was refused: the whole write was lost (a verdict, a cancel)."""
    from czar.supervisor import people

    f, _ = _stacked_three(tmp_path, ("p", "c"))
    f.move("d", T.RUNNING, T.SUBMITTED)
    people.cancel(f.project, "p")
    assert f.states() == {"p": "cancelled", "c": "pending", "d": "pending"}


def test_a_task_stacked_on_one_sent_back_to_the_pool_stops_when_the_first_fails(
    tmp_path: Path, czar_home: Path
) -> None:
    """p <- c <- d, c sent back to the pool (its branch kept) while d works on its approved work:
    p's failure moved c back to waiting, and left d at work on work that can never merge."""
    f, actions = _stacked_three(tmp_path, ("c",))
    f.move("d", T.RUNNING)
    with f.project.store.write() as conn:
        Store.move_task(
            conn, "c", T.READY, reason="test: its pull request's CI failed", worker_id=None, attempt_id=None
        )
        actions.fail(conn, "p", "test: it failed", "p failed")
    assert f.states() == {"p": "failed", "c": "pending", "d": "pending"}
    assert all(w.task_id is None for w in f.project.store.workers())


def test_a_task_stacked_on_one_that_fails_before_it_started_waits_again(tmp_path: Path, czar_home: Path) -> None:
    f = _stacked(tmp_path)
    with f.project.store.write() as conn:
        Store.move_task(conn, "c", T.READY, reason="test: promoted on p's approved work")
        Actions(f.project).fail(conn, "p", "test: it failed", "p failed")
    assert f.task("c").state is T.PENDING  # decide blocks it: its dependency failed


def test_a_stacked_task_starts_from_the_integration_branch_with_the_approved_work_merged_in(
    tmp_path: Path, czar_home: Path
) -> None:
    """Its other dependency merged after p's branch started: p's approved work lacks it. c starts
    from a merge, made by czar, of the integration branch (o's work) and p's approved work, and
    its own work is measured from there; once p merges and c brings the integration branch in,
    from the integration branch."""
    f = on_fakes(tmp_path, ["p", "o", "c"], workers=2, project_extra="stack = true\n")
    with f.project.store.write() as conn:
        spec = replace(Store.task(conn, "c").spec, depends_on=("p", "o"))
        Store.set_task_text(conn, "c", order=2, title="task c", body="do c", spec=spec)
    f.assign({"p": "w1"})
    f.repo.commit_in(f.checkout("p"), "czar/p", {"p.txt": "p\n"}, "p: its work")
    Actions(f.project).bring_in_handed_in("p")
    f.move("p", T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED)
    f.repo.branch("czar/o", "czar/integration")
    f.repo.commit("czar/o", {"o.txt": "o\n"}, "o: its work")
    f.repo.branch("czar/integration", "czar/o")  # o merged, after p started
    f.move("o", T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING, T.MERGED)
    with f.project.store.write() as conn:
        Store.set_worker(conn, "w1", task_id=None, state=WorkerState.IDLE)
    f.assign({"c": "w2"})
    start = f.repo.tip("czar/c")
    assert f.repo.files(start)["p.txt"] == "p\n" and f.repo.files(start)["o.txt"] == "o\n"
    f.repo.commit_in(f.checkout("c"), "czar/c", {"c.txt": "c\n"}, "c: its work")
    actions = Actions(f.project)
    actions.bring_in_handed_in("c")
    f.move("c", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    actions.verify("c")
    verified = [e.payload for e in f.project.store.events_after(0) if e.kind == "verify.passed" and e.task_id == "c"]
    assert f.task("c").state is T.APPROVED and verified[0]["changed"] == ["c.txt"]


def test_a_stacked_task_whose_dependencies_conflict_waits_for_their_merge(tmp_path: Path, czar_home: Path) -> None:
    f = _stacked(tmp_path)
    f.repo.commit("czar/integration", {"p.txt": "someone else's p\n"}, "another task")
    f.assign({"c": "w2"})
    c = f.task("c")
    assert c.state is T.READY and c.blocked_on == "p" and c.worker_id is None


def test_a_stacked_task_does_not_merge_when_its_dependency_in_the_batch_does_not(
    tmp_path: Path, czar_home: Path
) -> None:
    f = _stacked(tmp_path)
    actions = _c_verified(f)
    f.repo.commit("czar/integration", {"p.txt": "someone else's p\n"}, "another task")  # p now conflicts
    f.move("p", T.MERGING)
    f.move("c", T.MERGING)
    before = f.repo.tip("czar/integration")
    MergeQueue(f.project, actions).merge(["p", "c"])
    assert f.states() == {"p": "ready", "c": "approved"}
    assert f.repo.tip("czar/integration") == before  # nothing of p's work landed through c


def test_a_stacked_task_made_ahead_starts_on_its_dependencys_work_as_it_is_when_assigned(
    tmp_path: Path, czar_home: Path
) -> None:
    f = _stacked(tmp_path)
    with f.project.store.write() as conn:
        Store.move_task(conn, "c", T.READY, reason="test: promoted on p's approved work")
    actions = Actions(f.project)
    assert actions.prepare_ahead("c", f.repo.tips())
    made_ahead = f.repo.tip("czar/c")
    f.repo.commit("czar/p", {"p.txt": "p, reviewed again\n"}, "p: after a review")  # p's approved work now
    f.move("c", T.PENDING)
    f.assign({"c": "w2"})
    assert f.repo.tip("czar/c") == f.repo.tip("czar/p") != made_ahead


# -- restacking --------------------------------------------------------------------------------


def _hand_in_and_verify(f: OnFakes, actions: Actions) -> None:
    """c's agent commits its work (c.txt) and hands it in: verified, its own change is c.txt alone."""
    f.repo.commit_in(f.checkout("c"), "czar/c", {"c.txt": "c\n"}, "c: its work")
    actions.bring_in_handed_in("c")
    f.move("c", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    actions.verify("c")
    verified = [e.payload for e in f.project.store.events_after(0) if e.kind == "verify.passed" and e.task_id == "c"]
    assert f.task("c").state is T.APPROVED and verified[0]["changed"] == ["c.txt"]


def _told(f: OnFakes, wid: str, kind: MessageKind) -> list[Tell]:
    return [c for c in f.take(wid) if isinstance(c, Tell) and c.kind is kind]


def test_a_stacked_task_at_work_is_restacked_when_its_dependencys_approved_work_changes(
    tmp_path: Path, czar_home: Path
) -> None:
    """p is sent back and approved again at a new commit while c, stacked on it, is at work: czar
    makes c's new start (p's new work), shows it in c's checkout, and tells c's agent to merge
    it in, once; c's own work is measured from there once its branch holds it."""
    f = _stacked(tmp_path)
    f.assign({"c": "w2"})
    actions = Actions(f.project)
    f.take("w2")
    assert not actions.restack("c", f.repo.tips())  # p's work is as c started on it
    f.repo.commit("czar/p", {"p.txt": "p, made again\n"}, "p: after its merge conflicted")
    assert actions.restack("c", f.repo.tips())
    told = _told(f, "w2", MessageKind.RESTACK)
    assert len(told) == 1 and "git merge czar-stack/c" in told[0].text and "task p" in told[0].text
    assert told[0].show == (("czar-stack/c", f.repo.tip("czar/p")),)  # p holds the integration branch
    restacked = [e.payload for e in f.project.store.events_after(0) if e.kind == "task.restacked"]
    assert restacked == [{"on": "p", "built_on": {"p": f.repo.tip("czar/p")}, "base": f.repo.tip("czar/p")}]
    assert not actions.restack("c", f.repo.tips())  # told once
    # c's agent brings it in and does its work: its own change is c.txt, not p's new p.txt.
    f.repo.merge_in(f.checkout("c"), "czar/c", "czar/p", {})
    _hand_in_and_verify(f, actions)


def test_a_restack_its_agent_has_not_brought_in_leaves_its_work_measured_from_where_it_started(
    tmp_path: Path, czar_home: Path
) -> None:
    f = _stacked(tmp_path)
    f.assign({"c": "w2"})
    actions = Actions(f.project)
    f.repo.commit("czar/p", {"p.txt": "p, made again\n"}, "p: after a review")
    assert actions.restack("c", f.repo.tips())
    f.repo.commit_in(f.checkout("c"), "czar/c", {"c.txt": "c\n"}, "c: its work, on p's first version")
    actions.bring_in_handed_in("c")
    f.move("c", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    actions.verify("c")
    verified = [e.payload for e in f.project.store.events_after(0) if e.kind == "verify.passed" and e.task_id == "c"]
    assert verified[0]["changed"] == ["c.txt"]


def test_a_restack_whose_work_conflicts_with_the_integration_branch_waits_for_the_merge(
    tmp_path: Path, czar_home: Path
) -> None:
    f = _stacked(tmp_path)
    f.assign({"c": "w2"})
    f.take("w2")
    actions = Actions(f.project)
    f.repo.commit("czar/integration", {"p.txt": "someone else's p\n"}, "another task")
    f.repo.commit("czar/p", {"p.txt": "p, made again\n"}, "p: made again")
    assert not actions.restack("c", f.repo.tips())
    assert not _told(f, "w2", MessageKind.RESTACK)  # it hears when p merges
    restacked = [e.payload for e in f.project.store.events_after(0) if e.kind == "task.restacked"]
    assert restacked[0]["base"] is None and restacked[0]["built_on"] == {"p": f.repo.tip("czar/p")}
    assert not actions.restack("c", f.repo.tips())  # looked at once


def test_a_task_handed_in_or_not_stacked_is_not_restacked(tmp_path: Path, czar_home: Path) -> None:
    f = _stacked(tmp_path)
    f.assign({"c": "w2"})
    actions = Actions(f.project)
    f.repo.commit_in(f.checkout("c"), "czar/c", {"c.txt": "c\n"}, "c: its work")
    actions.bring_in_handed_in("c")
    f.move("c", T.RUNNING, T.SUBMITTED)
    f.repo.commit("czar/p", {"p.txt": "p, made again\n"}, "p: made again")
    assert not actions.restack("c", f.repo.tips())  # its merge, after p's, restacks it
    f.move("p", T.MERGING, T.MERGED)
    assert not actions.restack("p", f.repo.tips())


def test_a_stacked_agent_at_work_is_not_interrupted_when_the_work_it_is_built_on_merges(
    tmp_path: Path, czar_home: Path
) -> None:
    """Its branch holds that work already (its own merge brings the rest): a message would only
    cost a real agent a turn. Work that changed since it started (not restacked yet) is news."""
    f = _stacked(tmp_path)
    f.assign({"c": "w2"})
    f.take("w2")
    actions = Actions(f.project)
    f.move("p", T.MERGING)
    MergeQueue(f.project, actions).merge(["p"])
    assert f.task("p").state is T.MERGED
    assert not _told(f, "w2", MessageKind.MERGED)
    # c hands in on p's approved work as it started on it: measured against that, merged whole.
    _hand_in_and_verify(f, actions)
    f.move("c", T.MERGING)
    MergeQueue(f.project, actions).merge(["c"])
    assert f.task("c").state is T.MERGED
    assert f.repo.files("czar/integration")["p.txt"] == "p\n" and f.repo.files("czar/integration")["c.txt"] == "c\n"


def test_a_stacked_agent_at_work_hears_when_work_it_was_not_built_on_merges(tmp_path: Path, czar_home: Path) -> None:
    f = _stacked(tmp_path)
    f.assign({"c": "w2"})
    f.take("w2")
    f.repo.commit("czar/p", {"p.txt": "p, made again\n"}, "p: made again, merged before c is restacked")
    f.move("p", T.MERGING)
    MergeQueue(f.project, Actions(f.project)).merge(["p"])
    told = _told(f, "w2", MessageKind.MERGED)
    assert len(told) == 1 and "git merge czar/integration" in told[0].text


def test_a_stacked_agent_made_ahead_is_not_interrupted_either(tmp_path: Path, czar_home: Path) -> None:
    """Made ahead, then assigned on the branch it has: what it holds is read from its branch."""
    f = _stacked(tmp_path)
    with f.project.store.write() as conn:
        Store.move_task(conn, "c", T.READY, reason="test: promoted on p's approved work")
    actions = Actions(f.project)
    assert actions.prepare_ahead("c", f.repo.tips())
    f.move("c", T.PENDING)
    f.assign({"c": "w2"})
    f.take("w2")
    f.move("p", T.MERGING)
    MergeQueue(f.project, actions).merge(["p"])
    assert f.task("p").state is T.MERGED and not _told(f, "w2", MessageKind.MERGED)


def test_a_stacked_agent_that_did_not_bring_a_restack_in_hears_when_that_work_merges(
    tmp_path: Path, czar_home: Path
) -> None:
    """Told to bring p's new work in, its agent had not (or a new agent carries on its branch):
    its branch lacks what merged, so it is told again when p merges."""
    f = _stacked(tmp_path)
    f.assign({"c": "w2"})
    f.take("w2")
    actions = Actions(f.project)
    f.repo.commit("czar/p", {"p.txt": "p, made again\n"}, "p: after a review")
    assert actions.restack("c", f.repo.tips()) and _told(f, "w2", MessageKind.RESTACK)
    f.move("p", T.MERGING)
    MergeQueue(f.project, actions).merge(["p"])
    assert len(_told(f, "w2", MessageKind.MERGED)) == 1


def test_a_stacked_agent_assigned_while_its_dependency_merges_is_not_interrupted(
    tmp_path: Path, czar_home: Path
) -> None:
    """The assigner and the merge thread run side by side: c is assigned, on p's approved work,
    after the merge queue looked at the tasks at work and before it records p merged. c's branch
    holds the work that merged, so its agent is not told to bring it in (seen in a stack run)."""
    f = _stacked(tmp_path)
    actions = Actions(f.project)

    class AssignedMeanwhile(MergeQueue):
        def _holding(self, *args: Any, **kwargs: Any) -> Any:
            holding = super()._holding(*args, **kwargs)
            f.assign({"c": "w2"})  # after the look at the tasks at work, before the record
            return holding

    f.move("p", T.MERGING)
    AssignedMeanwhile(f.project, actions).merge(["p"])
    assert f.task("p").state is T.MERGED and f.task("c").state is T.ASSIGNED
    assert not _told(f, "w2", MessageKind.MERGED)


def test_a_batch_whose_first_task_breaks_the_checks_for_good_sends_its_stacked_dependent_to_wait(
    tmp_path: Path, czar_home: Path
) -> None:
    """p and c (stacked on p) merge in one batch; p's merge breaks the checks with no round left,
    so p fails, in the very write that moves c on: c was moved twice in it (refused, and the
    whole write lost: p neither failed nor sent back, both left merging)."""
    f = _stacked(tmp_path)
    with f.project.store.write() as conn:
        conn.execute(tasks.update().where(tasks.c.id == "p").values(rounds=3))  # its last round
    actions = _c_verified(f)
    assert f.task("c").state is T.APPROVED
    f.move("p", T.MERGING)
    f.move("c", T.MERGING)
    before = f.repo.tip("czar/integration")
    project = replace(
        f.project,
        plan=replace(
            f.project.plan,
            project=f.project.plan.project.model_copy(update={"accept": ("true",), "check_after_merge": True}),
        ),
    )
    broke = MergeQueue(
        project,
        actions,
        check=lambda head, name, rounds: "p.txt breaks test_all" if "p.txt" in f.repo.files(head) else None,
    )
    broke.merge(["p", "c"])
    assert f.states() == {"p": "failed", "c": "pending"}
    assert f.repo.tip("czar/integration") == before


def test_a_task_waiting_on_its_kept_branch_starts_afresh_when_the_work_it_holds_is_thrown_away(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by a review: c kept its branch, built on p's work, while p failed and went again; p's
    new attempt then started afresh (its agent on the wrong task): c, waiting, was passed over,
    and would have gone on from a branch holding p's thrown-away work, and merged it."""
    from czar.supervisor import people

    f = _stacked(tmp_path)
    f.assign({"c": "w2"})
    actions = Actions(f.project)
    with f.project.store.write() as conn:
        actions.fail(conn, "p", "test: it failed", "p failed")
    people.retry(f.project, "p")
    actions.assign("p", "w1", "test: a person retried it")
    assert f.task("c").state is T.PENDING and not f.task("c").fresh
    with f.project.store.write() as conn:
        actions.requeue(conn, "p", "its agent worked on the wrong task", fresh=True)
    c = f.task("c")
    assert c.state is T.PENDING and c.fresh and "starts afresh" in str(c.note)
