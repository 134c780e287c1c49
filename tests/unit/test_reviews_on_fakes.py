"""Reviews carried out on the fake repository (``czar.testing``), in milliseconds: verified work
waits for a reviewer with its author's worker kept; a reviewer gets the exact commit; its verdict
is acted on (approved, changes to the author's session, out of rounds); a review that ends with no
verdict is lost and given again, three on one commit fail the task; a branch that moved since its
approval goes back to review. The rules themselves: ``test_review_rules.py``; with agents: the
acceptance runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.agent_tools.host_service import StoreLink
from czar.agent_tools.identity import CallerError
from czar.agent_tools.service import AgentTools
from czar.core.decide import Review, decide
from czar.core.events import EventKind
from czar.core.forge import Finding
from czar.core.host_commands import StartTask
from czar.core.review import ReviewState
from czar.core.states import TaskState, WorkerState
from czar.store.records import Review as ReviewRecord
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.reviews import Reviewing
from czar.supervisor.snapshot import snapshot
from helpers import OnFakes, on_fakes

T = TaskState
REVIEW = "\n[review]\nagents = { sim = 1 }\nmax_review_rounds = 1\ntimeout = 600\n"


def _in_review(tmp_path: Path) -> tuple[OnFakes, Reviewing]:
    """Task a verified (its agent committed a.txt) and waiting for a reviewer; r1 idle."""
    f = on_fakes(tmp_path, ["a", "b"], workers=1, project_extra=REVIEW)
    actions = Actions(f.project)
    reviewing = Reviewing(f.project, actions, lambda _: None)  # the supervisor starts, then work goes on
    f.assign({"a": "w1"})
    f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a\n"})
    actions.bring_in_handed_in("a")
    f.move("a", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    actions.verify("a")
    with f.project.store.write() as conn:
        Store.set_worker(conn, "r1", state=WorkerState.IDLE)
    return f, reviewing


def _review(f: OnFakes) -> ReviewRecord:
    with f.project.store.read() as conn:
        return Store.reviews_of(conn, "a")[-1]


def _answer(f: OnFakes, state: ReviewState, *findings: Finding) -> None:
    """What r1's verdict writes (the service checks findings against real git: its own tests)."""
    review = _review(f)
    with f.project.store.write() as conn:
        for finding in findings:
            Store.add_finding(conn, review.id, finding)
        Store.set_review(conn, review.id, state=state)


BUG = Finding("a.txt", 1, "blocking", "an empty line breaks every reader of a.txt")


def test_verified_work_waits_for_a_reviewer_with_its_author_kept_and_one_is_given_the_commit(
    tmp_path: Path, czar_home: Path
) -> None:
    f, reviewing = _in_review(tmp_path)
    assert f.task("a").state is T.REVIEWING and f.task("a").worker_id == "w1"
    assert [d for d in decide(snapshot(f.project.store)) if isinstance(d, Review)] == [Review("a", "r1")]
    reviewing.start("a", "r1")
    review, tip = _review(f), f.repo.tip("czar/a")
    assert review.state is ReviewState.OPEN and review.commit == tip
    start = next(c for c in f.take("r1") if isinstance(c, StartTask))
    assert f"Commit: {tip}" in start.prompt and "Role: reviewer" in start.prompt
    assert f.repo.checkouts[Path(start.worktree)] == {"HEAD": tip}  # a checkout of exactly that commit
    assert not [d for d in decide(snapshot(f.project.store)) if isinstance(d, Review)]  # one reviewer at a time


def test_an_approval_sends_the_task_to_the_merge_queue_and_frees_its_author(tmp_path: Path, czar_home: Path) -> None:
    f, reviewing = _in_review(tmp_path)
    reviewing.start("a", "r1")
    _answer(f, ReviewState.APPROVED)
    reviewing.act("a")
    assert f.task("a").state is T.APPROVED
    assert next(w for w in f.project.store.workers() if w.id == "w1").task_id is None
    assert _review(f).applied


def test_changes_go_to_the_authors_session_and_past_the_rounds_the_task_fails(tmp_path: Path, czar_home: Path) -> None:
    f, reviewing = _in_review(tmp_path)
    reviewing.start("a", "r1")
    _answer(f, ReviewState.CHANGES_REQUESTED, BUG)
    reviewing.act("a")
    assert f.task("a").state is T.RUNNING and f.task("a").worker_id == "w1"
    assert f.told("w1")[-1] == "message:review"
    # It hands in again, is verified, and the next reviewer asks for changes again: out of rounds.
    f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a, fixed\n"})
    actions = Actions(f.project)
    actions.bring_in_handed_in("a")
    f.move("a", T.SUBMITTED, T.VERIFYING)
    actions.verify("a")
    assert "Review round: 2" in _prompt_of_next_review(f, reviewing)
    _answer(f, ReviewState.CHANGES_REQUESTED, BUG)
    reviewing.act("a")
    assert f.task("a").state is T.FAILED


def _prompt_of_next_review(f: OnFakes, reviewing: Reviewing) -> str:
    with f.project.store.write() as conn:
        Store.set_worker(conn, "r1", state=WorkerState.IDLE)
    f.take("r1")
    reviewing.start("a", "r1")
    return next(c.prompt for c in f.take("r1") if isinstance(c, StartTask))


def test_a_review_whose_reviewer_is_gone_or_too_slow_is_lost_never_an_approval(tmp_path: Path, czar_home: Path) -> None:
    f, reviewing = _in_review(tmp_path)
    reviewing.start("a", "r1")
    with f.project.store.write() as conn:
        Store.set_worker(conn, "r1", state=WorkerState.STARTING)  # its host died and is started again
    reviewing.sweep()
    assert _review(f).state is ReviewState.LOST and f.task("a").state is T.REVIEWING
    assert [d for d in decide(snapshot(f.project.store)) if isinstance(d, Review)] == []  # r1 not idle yet
    assert snapshot(f.project.store).lost_with == {"a": frozenset({"r1"})}  # another reviewer first, if free
    reviewing.start("a", "r1")  # refused: r1 is not idle
    with f.project.store.read() as conn:
        assert len(Store.reviews_of(conn, "a")) == 1
    # Given again; then it takes longer than the plan's timeout.
    f.take("r1")
    with f.project.store.write() as conn:
        Store.set_worker(conn, "r1", state=WorkerState.IDLE)
    reviewing.start("a", "r1")
    # Its agents are numbered past a start the dead host may have made unrecorded (outside a
    # sandbox that agent lives on): what it says is refused.
    (start,) = [c for c in f.take("r1") if isinstance(c, StartTask)]
    assert start.earlier_launches == 1 and start.again is False
    with f.project.store.read() as conn:
        assert Store.attempt(conn, start.attempt).stale_launch == 1
    f.clock.advance(601)
    reviewing.sweep()
    assert _review(f).state is ReviewState.LOST and "no verdict within 600 s" in str(_review(f).reason)
    assert f.task("a").state is T.REVIEWING


def test_a_review_whose_reviewer_host_started_again_before_a_sweep_saw_it_die_is_lost(
    tmp_path: Path, czar_home: Path
) -> None:
    # Seen in a chaos run: the reviewer's host (and its agent) and the supervisor killed in the
    # middle of a review; the next supervisor started the host again, which came up idle before any
    # sweep saw the worker ended. Its review stayed open, r1 took no other: three tasks waited.
    f, reviewing = _in_review(tmp_path)
    reviewing.start("a", "r1")
    f.take("r1")  # the dead host had read the start
    StoreLink(f.project.store, "r1").started(pid=4242, token_digest="0" * 64)
    with f.project.store.read() as conn:
        assert Store.worker(conn, "r1").state is WorkerState.IDLE  # a new host holds no review
    reviewing.sweep()
    review = _review(f)
    assert review.state is ReviewState.LOST and "started again without it" in str(review.reason)
    assert [d for d in decide(snapshot(f.project.store)) if isinstance(d, Review)] == [Review("a", "r1")]


def test_a_reviewer_host_saying_again_that_it_started_keeps_the_review_it_was_given(
    tmp_path: Path, czar_home: Path
) -> None:
    # Its first call was written, its answer lost with a tools server killed; the supervisor gave
    # the idle reviewer a review meanwhile; the host's call comes again: the same host, which will
    # read that review's start, is not a new one.
    f, reviewing = _in_review(tmp_path)
    link = StoreLink(f.project.store, "r1")
    link.started(pid=4242, token_digest="0" * 64)
    reviewing.start("a", "r1")
    link.started(pid=4242, token_digest="0" * 64)
    with f.project.store.read() as conn:
        assert Store.worker(conn, "r1").state is WorkerState.WORKING
    reviewing.sweep()
    assert _review(f).state is ReviewState.OPEN
    assert any(isinstance(c, StartTask) for c in f.take("r1"))  # still there for the host to read


def test_three_reviews_of_one_commit_with_no_verdict_fail_the_task(tmp_path: Path, czar_home: Path) -> None:
    f, reviewing = _in_review(tmp_path)
    for _ in range(3):
        with f.project.store.write() as conn:
            Store.set_worker(conn, "r1", state=WorkerState.IDLE)
        reviewing.start("a", "r1")
        f.clock.advance(601)
        reviewing.sweep()
    with f.project.store.write() as conn:
        Store.set_worker(conn, "r1", state=WorkerState.IDLE)
    reviewing.start("a", "r1")
    assert f.task("a").state is T.FAILED


def test_a_branch_that_moved_since_its_approval_is_reviewed_again(tmp_path: Path, czar_home: Path) -> None:
    f, reviewing = _in_review(tmp_path)
    reviewing.start("a", "r1")
    _answer(f, ReviewState.APPROVED)
    reviewing.act("a")
    assert reviewing.as_approved("a", f.repo.tips())  # at the commit approved: it may merge
    f.repo.commit("czar/a", {"a.txt": "not reviewed\n"})
    f.assign({"b": "w1"})  # its author's worker took another task meanwhile
    assert not reviewing.as_approved("a", f.repo.tips())
    assert f.task("a").state is T.REVIEWING
    with f.project.store.write() as conn:
        Store.set_worker(conn, "r1", state=WorkerState.IDLE)
    assert [d for d in decide(snapshot(f.project.store)) if isinstance(d, Review)] == [Review("a", "r1")]
    # Changes requested now go back to the pool with the findings, not to w1, busy with b.
    reviewing.start("a", "r1")
    _answer(f, ReviewState.CHANGES_REQUESTED, BUG)
    reviewing.act("a")
    assert f.task("a").state is T.READY and "an empty line breaks" in str(f.task("a").note)
    assert next(w for w in f.project.store.workers() if w.id == "w1").task_id == "b"


def test_a_reviewer_may_not_hand_in_claim_or_report_on_the_task_it_reads(tmp_path: Path, czar_home: Path) -> None:
    f, reviewing = _in_review(tmp_path)
    reviewing.start("a", "r1")
    tools = AgentTools(f.project.store, "r1")
    for call in (lambda: tools.done("done"), lambda: tools.claim(["b.txt"]), lambda: tools.report("hi")):
        try:
            call()
        except CallerError as exc:
            assert "a reviewer changes nothing" in str(exc)
        else:
            raise AssertionError("a reviewer's call was taken")
    assert f.task("a").state is T.REVIEWING


def test_a_person_hears_once_when_no_reviewer_is_left(tmp_path: Path, czar_home: Path) -> None:
    f, reviewing = _in_review(tmp_path)
    with f.project.store.write() as conn:
        Store.set_worker(conn, "r1", state=WorkerState.CRASHED)
    reviewing.sweep()
    reviewing.sweep()
    alerts = [e.payload for e in f.project.store.events_after(0) if e.kind == "alert"]
    assert len([a for a in alerts if "no reviewer left" in str(a.get("message"))]) == 1


def _false_start(f: OnFakes, reviewing: Reviewing) -> None:
    """r1 is given the review and its agent ends before its model says a word."""
    reviewing.start("a", "r1")
    attempt = _review(f).attempt_id
    with f.project.store.write() as conn:
        Store.emit(conn, EventKind.AGENT_ACTIVITY, task="a", worker="r1", attempt=attempt, text="error: no key")
        Store.set_attempt(conn, attempt, agent_exited_at=f.clock.time())
    reviewing.sweep()


@pytest.mark.parametrize("kind_started", [False, True])
def test_a_reviewer_whose_agent_cannot_start_takes_no_more_reviews_and_the_run_says_it_cannot_go_on(
    tmp_path: Path, czar_home: Path, kind_started: bool
) -> None:
    # A reviewer's agent that ends before its model says a word, where no agent of its kind
    # started (an unknown option, a key missing): each review given to it was lost, and every
    # task failed after three. Now, after two such reviews in a row (one may be a fluke), the
    # reviewer is set aside with a critical alert quoting it, no task is failed, and with no
    # reviewer left the run says at once that it cannot go on. Where its kind of agent did start
    # under this supervisor (here, the author's), a lost review is only that.
    f, reviewing = _in_review(tmp_path)
    if kind_started:
        with f.project.store.write() as conn:
            Store.set_attempt(conn, f.task("a").attempt_id or 0, acked_at=f.clock.time())
    _false_start(f, reviewing)
    r1 = next(w for w in f.project.store.workers() if w.id == "r1")
    assert _review(f).state is ReviewState.LOST and r1.state is WorkerState.IDLE  # once: given again
    _false_start(f, reviewing)
    reviewing.sweep()
    assert _review(f).state is ReviewState.LOST and f.task("a").state is T.REVIEWING
    r1 = next(w for w in f.project.store.workers() if w.id == "r1")
    events = f.project.store.events_after(0)
    alerts = [str(e.payload["message"]) for e in events if e.kind == "alert"]
    stalled = [e.payload for e in events if e.kind == "run.stalled"]
    if kind_started:
        assert r1.state is WorkerState.IDLE and alerts == [] and stalled == []
        return
    assert r1.state is WorkerState.CRASHED and "error: no key" in (r1.detail or "")
    assert [d for d in decide(snapshot(f.project.store)) if isinstance(d, Review)] == []  # no more reviews
    assert any("the sim agent of reviewer r1 cannot start" in a and "(it said: error: no key)" in a for a in alerts)
    (only,) = stalled
    assert only["why"].startswith("no reviewer can review: the agent of every one (r1) cannot start")
    # Started again (`czar up`), still broken: reviews lost so never fail the task (three would).
    for _ in range(2):
        with f.project.store.write() as conn:
            Store.set_worker(conn, "r1", state=WorkerState.IDLE)
        _false_start(f, reviewing)
    with f.project.store.write() as conn:
        Store.set_worker(conn, "r1", state=WorkerState.IDLE)
    reviewing.start("a", "r1")
    assert f.task("a").state is T.REVIEWING and _review(f).state is ReviewState.OPEN


def test_work_on_a_task_taken_back_stops_its_author_and_its_reviewer(tmp_path: Path, czar_home: Path) -> None:
    """A task taken back while a reviewer reads it (cancelled, or its dependency's work thrown
    away): the review is lost, never an approval, and both workers are free again at once."""
    f, reviewing = _in_review(tmp_path)
    reviewing.start("a", "r1")
    f.take("r1")
    with f.project.store.write() as conn:
        Actions(f.project).stop_work_on(conn, Store.task(conn, "a"), "its dependency's work was thrown away")
    review = _review(f)
    assert review.state is ReviewState.LOST and review.reason == "its dependency's work was thrown away"
    with f.project.store.read() as conn:
        workers = {w: Store.worker(conn, w) for w in ("w1", "r1")}
    assert all(w.task_id is None and w.state is WorkerState.IDLE for w in workers.values())
    assert [c.KIND for c in f.take("r1")] == ["stop"]  # its agent stopped
