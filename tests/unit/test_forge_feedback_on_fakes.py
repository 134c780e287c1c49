"""What a remote forge says about a task's pull request, acted on, on the fakes (repository,
terminal, clock, and a forge whose CI and people a test speaks for): a failing check sends the
task back with its output (a round used; the last round fails it), once; a person's request for
changes sends it back (no round used); a person's comment reaches the agent at work, or waits on
the pull request's history; merges wait for green when the plan says so."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from czar.core.events import EventKind
from czar.core.forge import CheckRun, Remark
from czar.core.states import TaskState
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.forge_feedback import ForgeFeedback
from czar.supervisor.merge_queue import MergeQueue
from czar.supervisor.pull_view import pull_list
from czar.supervisor.pulls import PullRequests
from czar.testing.forge import FakeForge
from helpers import OnFakes, on_fakes

T = TaskState


def _approved(tmp_path: Path, *, rounds: int = 3) -> tuple[OnFakes, FakeForge, ForgeFeedback, int]:
    """Task a verified (no review: its worker is free again), its pull request open on the forge."""
    f = on_fakes(tmp_path, ["a"], workers=1, project_extra=f"max_rounds = {rounds}\n")
    forge = FakeForge(f.project.store)
    f.project = replace(f.project, forge_port=forge)
    actions = _verified(f)
    PullRequests(f.project, lambda _t: None).sync()
    with f.project.store.read() as conn:
        [pull] = Store.all_pulls(conn)
    return f, forge, ForgeFeedback(f.project, actions, lambda _t: None), pull.id


def _verified(f: OnFakes) -> Actions:
    """Task a worked on by w1, handed in and verified (no review: its worker is free again)."""
    f.assign({"a": "w1"})
    f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a\n"})
    actions = Actions(f.project)
    actions.bring_in_handed_in("a")
    f.move("a", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    actions.verify("a")
    assert f.task("a").state is T.APPROVED
    return actions


def _events(f: OnFakes, kind: EventKind) -> list[dict[str, object]]:
    return [e.payload for e in f.project.store.events_after(0) if e.kind == kind]


def test_a_failing_check_sends_the_task_back_with_its_output_once_and_uses_a_round(
    tmp_path: Path, czar_home: Path
) -> None:
    f, forge, feedback, _ = _approved(tmp_path)
    head = f.repo.tip("czar/a")
    forge.ci[head] = [
        CheckRun("lint", True),
        CheckRun("tests", False, "Failing step: pytest\nE   assert 1 == 2", url="https://ci.example/1"),
    ]
    feedback.look()
    task = f.task("a")
    assert task.state is T.READY and task.rounds == 2  # its worker was free: to the pool, with the output
    assert "Check `tests` failed: https://ci.example/1" in (task.note or "") and "assert 1 == 2" in (task.note or "")
    assert "lint" not in (task.note or "")
    [said] = _events(f, EventKind.FORGE_CI_FAILED)
    assert said["commit"] == head and said["checks"] == [{"name": "tests", "url": "https://ci.example/1"}]
    feedback.look()  # the same failure on the same commit: said once
    assert len(_events(f, EventKind.FORGE_CI_FAILED)) == 1 and f.task("a").rounds == 2


def test_ci_failing_on_the_last_round_fails_the_task_and_alerts(tmp_path: Path, czar_home: Path) -> None:
    f, forge, feedback, _ = _approved(tmp_path, rounds=2)
    forge.ci[f.repo.tip("czar/a")] = [CheckRun("tests", False, "boom")]
    feedback.look()
    assert f.task("a").state is T.FAILED
    assert any("CI failed: tests" in str(a["message"]) for a in _events(f, EventKind.ALERT))


def test_a_persons_request_for_changes_sends_it_back_without_a_round_and_a_comment_waits(
    tmp_path: Path, czar_home: Path
) -> None:
    f, forge, feedback, number = _approved(tmp_path)
    forge.people[number] = [Remark("comment-1", "bob", "Nice.")]
    feedback.look()
    assert f.task("a").state is T.APPROVED  # a comment sends nothing back; it is on the history
    with f.project.store.read() as conn:
        assert [e.detail["author"] for e in Store.pull_entries(conn, number, "remark")] == ["bob"]
    forge.people[number].append(Remark("review-7", "alice", "Rename f to parse.", changes_requested=True))
    feedback.look()
    task = f.task("a")
    assert task.state is T.READY and task.rounds == 1
    assert "alice asked for changes" in (task.note or "") and "Rename f to parse." in (task.note or "")
    assert "bob wrote" in (task.note or "")  # kept while nobody was at work on it: heard now, with alice's
    assert [r["remark"] for r in _events(f, EventKind.FORGE_REMARK)] == ["comment-1", "review-7"]
    forge.people[number].append(Remark("comment-9", "bob", "And the docs."))
    Actions(f.project).assign("a", "w1", "test")  # taken from the pool again
    f.take("w1")
    feedback.look()
    [tell] = f.take("w1")
    assert "And the docs." in tell.text and "Rename f" not in tell.text  # type: ignore[union-attr]  # told once


def test_a_comment_reaches_the_agent_at_work_and_merges_wait_for_green(tmp_path: Path, czar_home: Path) -> None:
    f, forge, feedback, number = _approved(tmp_path)
    head = f.repo.tip("czar/a")
    assert feedback.ci_passed("a", head)  # the plan does not ask to wait
    f.project = replace(
        f.project, plan=replace(f.project.plan, forge=f.project.plan.forge.model_copy(update={"wait_for_ci": True}))
    )
    feedback = ForgeFeedback(f.project, Actions(f.project), lambda _t: None)
    forge.ci[head] = [CheckRun("tests", False, pending=True)]
    feedback.look()
    assert not feedback.ci_passed("a", head) and f.task("a").state is T.APPROVED  # running: no verdict yet
    forge.ci[head] = [CheckRun("tests", True)]
    feedback.look()
    assert feedback.ci_passed("a", head) and not feedback.ci_passed("a", "0" * 40)

    # Sent back for another reason and at work again: a comment goes to its session.
    f.assign({"a": "w1"})
    f.take("w1")
    forge.people[number] = [Remark("line-3", "carol", "Off by one here?", path="a.txt", line=1)]
    feedback.look()
    assert f.told("w1") == ["message:person"]
    [tell] = f.take("w1")
    assert "carol wrote on a.txt:1" in tell.text and "Off by one here?" in tell.text  # type: ignore[union-attr]


def test_a_forge_that_refuses_is_an_alert_once_and_what_it_missed_is_sent_when_it_answers(
    tmp_path: Path, czar_home: Path
) -> None:
    f, forge, feedback, number = _approved(tmp_path)
    pulls = PullRequests(f.project, lambda _t: None, forge)
    f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a\nb\n"})  # a later head to send
    Actions(f.project).bring_in_handed_in("a")
    with f.project.store.write() as conn:
        Store.move_task(conn, "a", T.REVIEWING, reason="test")
    forge.failing = "GitHub: 401 Bad credentials to update pull request #1: the token is missing, expired or revoked"
    for _ in range(3):
        pulls.sync()
        feedback.look()
    alerts = [a for a in _events(f, EventKind.ALERT) if "401 Bad credentials" in str(a["message"])]
    assert len(alerts) == 2  # once for the pull request, once for reading its checks: not every look
    assert {e["doing"] for e in _events(f, EventKind.FORGE_ERROR)} == {
        "its pull request",
        "reading its checks and remarks",
    }
    forge.failing = None
    pulls.sync()
    with f.project.store.read() as conn:
        assert Store.pull(conn, number).head_commit == f.repo.tip("czar/a")  # nothing lost


def test_waiting_for_a_ci_that_never_reports_is_said_to_a_person_once(tmp_path: Path, czar_home: Path) -> None:
    from czar.supervisor.forge_feedback import NO_CI_AFTER

    f, _, _, _ = _approved(tmp_path)
    f.project = replace(
        f.project, plan=replace(f.project.plan, forge=f.project.plan.forge.model_copy(update={"wait_for_ci": True}))
    )
    feedback = ForgeFeedback(f.project, Actions(f.project), lambda _t: None)
    feedback.look()
    f.clock.advance(NO_CI_AFTER - 1)
    feedback.look()
    assert not [a for a in _events(f, EventKind.ALERT) if "no check has reported" in str(a["message"])]
    f.clock.advance(2)
    feedback.look()
    feedback.look()
    said = [a for a in _events(f, EventKind.ALERT) if "no check has reported" in str(a["message"])]
    assert len(said) == 1 and "wait_for_ci holds its merge" in str(said[0]["message"])
    assert not feedback.ci_passed("a", f.repo.tip("czar/a"))


def test_merged_through_the_forge_a_task_waits_quietly_until_its_pull_request_is_there(
    tmp_path: Path, czar_home: Path
) -> None:
    """Seen in a loaded run: approved before the pull requests' loop had opened its pull request
    on the forge, the task was merged and checked here for nothing, then asked of the forge once
    its pull request was there, past the forge's rules (and a person heard of it)."""
    f = on_fakes(tmp_path, ["a"], workers=1)
    landed: list[int] = []

    class Forge(FakeForge):
        def land(self, number: int, head_commit: str) -> str:
            landed.append(number)
            return super().land(number, head_commit)

    forge = Forge(f.project.store)
    via = f.project.plan.forge.model_copy(update={"merge_via": "pull-request"})
    f.project = replace(f.project, forge_port=forge, plan=replace(f.project.plan, forge=via))
    actions = _verified(f)
    before = f.repo.tip("czar/integration")
    f.move("a", T.MERGING)
    queue = MergeQueue(f.project, actions)
    queue.merge(["a"])
    task = f.task("a")
    assert task.state is T.APPROVED and landed == [] and f.repo.tip("czar/integration") == before
    assert queue.waits_on_forge("a")  # asked again in a moment, not at once
    assert not _events(f, EventKind.ALERT) and not _events(f, EventKind.FORGE_ERROR)
    # A while later and still not there (its publishing fails where no forge error says so): a
    # person hears, once, and it is asked as seldom as the forge's other refusals.
    queue.unopened["a", f.repo.tip("czar/a")] -= 3 * f.project.plan.forge.poll_seconds
    for _ in range(2):
        f.move("a", T.MERGING)
        queue.merge(["a"])
    [alert] = _events(f, EventKind.ALERT)
    assert "task a: its pull request is still not on the forge after 60 s" in str(alert["message"])
    assert f.task("a").state is T.APPROVED and landed == []
    # Approved again at another commit (sent back meanwhile): given the same time again, not
    # alerted at once.
    f.repo.commit("czar/a", {"a.txt": "a, better\n"})
    queue.refused.clear()
    f.move("a", T.MERGING)
    queue.merge(["a"])
    assert len(_events(f, EventKind.ALERT)) == 1 and queue.waits_on_forge("a")
    PullRequests(f.project, lambda _t: None).sync()  # now it is there: the forge is asked to merge it
    f.move("a", T.MERGING)
    queue.merge(["a"])
    assert len(landed) == 1


def test_a_pull_request_a_person_closed_on_the_forge_holds_its_task_until_they_reopen_it(
    tmp_path: Path, czar_home: Path
) -> None:
    """Closing a task's pull request on the forge is a person's call: czar merged the task all the
    same (and pushed it, which GitHub then shows as merged work nobody wanted). The task waits now,
    in the "needs you" inbox, until the pull request is reopened there (or the task cancelled)."""
    from czar.supervisor.overview import overview

    f, forge, _, number = _approved(tmp_path)
    github = f.project.plan.forge.model_copy(update={"kind": "github"})  # czar merges, for a forge
    f.project = replace(f.project, plan=replace(f.project.plan, forge=github))
    before = f.repo.tip("czar/integration")
    forge.closed.add(number)
    queue = MergeQueue(f.project, Actions(f.project))
    for _ in range(2):  # asked again, it is still closed: said once
        f.move("a", T.MERGING)
        queue.merge(["a"])
        assert f.task("a").state is T.APPROVED and f.repo.tip("czar/integration") == before
    assert queue.waits_on_forge("a")
    queue.refused["a"] = (0.0, queue.refused["a"][1])  # long after: still held, until reopened
    assert queue.waits_on_forge("a") and "a" in queue.held_by_forge()
    [closed] = _events(f, EventKind.FORGE_CLOSED)
    assert closed["number"] == number and "closed on the forge by a person" in str(closed["message"])
    [alert] = _events(f, EventKind.ALERT)
    assert "czar cancel a" in str(alert["message"])
    [need] = overview(f.project, git=False).inbox
    assert need.kind == "closed" and need.task == "a" and need.actions == ("cancel",) and need.pull == number
    [shown] = pull_list(f.project)  # `czar prs`: open in czar's record, closed there
    assert shown["state"] == "open" and shown["closed_there"] is True
    # A supervisor that starts again knows it: it says it no second time.
    queue = MergeQueue(f.project, Actions(f.project))
    f.move("a", T.MERGING)
    queue.merge(["a"])
    assert len(_events(f, EventKind.FORGE_CLOSED)) == 1 and len(_events(f, EventKind.ALERT)) == 1

    queue.look_again()  # asked again while it is approved: still closed, said no second time
    assert len(_events(f, EventKind.FORGE_CLOSED)) == 1 and queue.waits_on_forge("a")

    forge.closed.discard(number)  # reopened there, while no supervisor ran
    queue = MergeQueue(f.project, Actions(f.project))
    assert queue.waits_on_forge("a")  # (known closed, from the events)
    queue.look_again()
    assert not queue.waits_on_forge("a") and len(_events(f, EventKind.FORGE_REOPENED)) == 1
    assert pull_list(f.project)[0]["closed_there"] is False
    f.move("a", T.MERGING)
    queue.merge(["a"])
    assert f.task("a").state is T.MERGED
    assert len(_events(f, EventKind.FORGE_REOPENED)) == 1
    assert overview(f.project, git=False).inbox == []


def _two_approved_on_a_forge(tmp_path: Path) -> tuple[OnFakes, FakeForge, Actions, dict[str, int]]:
    """a and b verified, their pull requests open on a remote forge (czar merges)."""
    f = on_fakes(tmp_path, ["a", "b"], workers=2)
    forge = FakeForge(f.project.store)
    github = f.project.plan.forge.model_copy(update={"kind": "github"})
    f.project = replace(f.project, forge_port=forge, plan=replace(f.project.plan, forge=github))
    f.assign({"a": "w1", "b": "w2"})
    actions = Actions(f.project)
    for tid in ("a", "b"):
        f.repo.commit_in(f.checkout(tid), f"czar/{tid}", {f"{tid}.txt": f"{tid}\n"})
        actions.bring_in_handed_in(tid)
        f.move(tid, T.RUNNING, T.SUBMITTED, T.VERIFYING)
        actions.verify(tid)
    PullRequests(f.project, lambda _t: None).sync()
    with f.project.store.read() as conn:
        number = {p.task_id: p.id for p in Store.all_pulls(conn)}
    f.move("a", T.MERGING)
    f.move("b", T.MERGING)
    return f, forge, actions, number


def _merged_with_checks(f: OnFakes, actions: Actions, checks: object) -> None:
    checked = f.project.plan.project.model_copy(update={"accept": ("true",)})  # (the merge's checks run)
    project = replace(f.project, plan=replace(f.project.plan, project=checked))
    MergeQueue(project, actions, check=checks).merge(["a", "b"])  # type: ignore[arg-type]


def test_a_pull_request_closed_while_its_batch_is_checked_stops_the_whole_batch_before_the_push(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by a review: asked before the merge only, a pull request a person closed while the
    batch's checks ran (minutes, at times) was merged and pushed all the same."""
    f, forge, actions, number = _two_approved_on_a_forge(tmp_path)
    before = f.repo.tip("czar/integration")

    def checks(head: str, name: str, rounds: int) -> str | None:
        forge.closed.add(number["a"])  # a person closes a's pull request meanwhile
        return None

    _merged_with_checks(f, actions, checks)
    assert f.states() == {"a": "approved", "b": "approved"} and f.repo.tip("czar/integration") == before
    [closed] = _events(f, EventKind.FORGE_CLOSED)
    assert "#1 was closed on the forge" in str(closed["message"])
    moved = [e.payload for e in f.project.store.events_after(0) if e.kind == "task.state" and e.task_id == "b"]
    assert "the pull request of a, of its batch, was closed on the forge meanwhile" in moved[-1]["reason"]


def test_a_batch_withdrawn_for_a_closed_pull_request_charges_no_task_for_the_checks_it_broke(
    tmp_path: Path, czar_home: Path
) -> None:
    """b broke the checks on top of a, whose pull request a person closed meanwhile: nothing of
    the batch lands, so b is not sent back for it (a round used), it goes with the next batch."""
    f, forge, actions, number = _two_approved_on_a_forge(tmp_path)

    def checks(head: str, name: str, rounds: int) -> str | None:
        forge.closed.add(number["a"])
        return "test_b failed" if "b.txt" in f.repo.files(head) else None

    _merged_with_checks(f, actions, checks)
    assert f.states() == {"a": "approved", "b": "approved"} and f.task("b").rounds == 1


def test_a_forge_that_does_not_answer_after_the_checks_withdraws_no_batch(tmp_path: Path, czar_home: Path) -> None:
    """Asked just before the merge, the pull requests were open: a forge out of reach now does not
    throw a checked batch away (each task alerted as if the forge refused it)."""
    f, forge, actions, _ = _two_approved_on_a_forge(tmp_path)

    def checks(head: str, name: str, rounds: int) -> str | None:
        forge.failing = "GitHub: 502 Bad Gateway"
        return None

    _merged_with_checks(f, actions, checks)
    assert f.states() == {"a": "merged", "b": "merged"}
    assert not _events(f, EventKind.ALERT) and len(_events(f, EventKind.FORGE_ERROR)) == 2


def _held_by_rules(tmp_path: Path) -> tuple[OnFakes, FakeForge, MergeQueue, int]:
    """Task a approved and merging through the forge (``merge_via = "pull-request"``), whose rules
    hold its pull request (a review is required)."""
    f, forge, _, number = _approved(tmp_path)
    via = f.project.plan.forge.model_copy(update={"merge_via": "pull-request"})
    f.project = replace(f.project, plan=replace(f.project.plan, forge=via))
    forge.rules[number] = "GitHub holds pull request #1: a review is required"
    queue = MergeQueue(f.project, Actions(f.project))
    f.move("a", T.MERGING)
    return f, forge, queue, number


def test_a_task_the_forges_rules_hold_stays_approved_until_they_let_it_go(tmp_path: Path, czar_home: Path) -> None:
    """Merged through the forge under its rules (a required review, say: hours at times): the task
    went to merging and back to approved at each look, the remote fetched each time. The pull
    requests' thread asks the forge now, and the task merges once its rules let it."""
    f, forge, queue, number = _held_by_rules(tmp_path)
    queue.merge(["a"])
    assert f.task("a").state is T.APPROVED
    queue.refused["a"] = (0.0, queue.refused["a"][1])  # long after
    queue.look_again()
    assert queue.waits_on_forge("a") and "a" in queue.held_by_forge()  # still held: not tried again
    [alert] = _events(f, EventKind.ALERT)
    assert "a review is required" in str(alert["message"])
    del forge.rules[number]  # a person approved it there
    queue.look_again()
    assert not queue.waits_on_forge("a")
    states = [e.payload["new"] for e in f.project.store.events_after(0) if e.kind == "task.state" and e.task_id == "a"]
    assert states[-2:] == ["merging", "approved"]  # once


def test_a_supervisor_started_again_mid_merge_of_a_task_whose_pull_request_was_closed_takes_it_back(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by a review: czar stopped after it found the pull request closed and before it put
    the task back; started again, it knew the task held (from the events), so it left the merge in
    progress undone, and a merge in progress blocks every other: nothing merged any more, and
    `czar cancel` refuses a task that merges."""
    import io

    from czar.supervisor.loop import Supervisor

    f, forge, _, number = _approved(tmp_path)
    github = f.project.plan.forge.model_copy(update={"kind": "github"})
    f.project = replace(f.project, plan=replace(f.project.plan, forge=github))
    forge.closed.add(number)
    f.move("a", T.MERGING)
    with f.project.store.write() as conn:
        Store.emit(conn, EventKind.FORGE_CLOSED, task="a", number=number, url="", message="closed (or cancel)")
    sup = Supervisor(f.project, out=io.StringIO())
    try:
        assert sup.merge_queue.waits_on_forge("a")
        sup.step()
    finally:
        for pool in (sup.checks, sup.merges, sup.assigners):
            pool.shutdown(wait=True)
    assert f.task("a").state is T.APPROVED  # back where it waits, not merging for ever


def test_a_task_the_rules_hold_stays_held_while_its_batch_ends(tmp_path: Path, czar_home: Path) -> None:
    """Asked again while its batch was still merging (the other tasks' merges and checks), it was
    let go at once, and went round again at the next batch."""
    _, _, queue, _ = _held_by_rules(tmp_path)
    queue._queued_on_forge(["a"])  # the batch goes on: a is still merging
    queue.look_again()
    assert "a" in queue.blocked


def test_a_supervisor_started_again_does_not_say_again_why_the_forge_would_not_merge(
    tmp_path: Path, czar_home: Path
) -> None:
    """A person heard once why the forge's rules hold a task; a supervisor started again (its merge
    queue new) asked the forge once more, found the same reason, and said it again."""
    f, forge, queue, number = _held_by_rules(tmp_path)
    queue.merge(["a"])
    assert f.task("a").state is T.APPROVED and len(_events(f, EventKind.ALERT)) == 1
    again = MergeQueue(f.project, Actions(f.project))  # a supervisor started again
    f.move("a", T.MERGING)
    again.merge(["a"])
    assert f.task("a").state is T.APPROVED and "a" in again.blocked
    assert len(_events(f, EventKind.ALERT)) == 1  # not said again
    forge.rules[number] = "GitHub holds pull request #1: a check is required"  # a new reason: said
    del again.blocked["a"]
    f.move("a", T.MERGING)
    again.merge(["a"])
    assert len(_events(f, EventKind.ALERT)) == 2
