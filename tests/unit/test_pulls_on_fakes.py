"""Each task's pull request follows its task, on the fake repository and the local forge: opened
when the task is verified (its text, the agent's summary, files and their size, rounds), updated
to a later attempt's head with its history kept, recorded merged at the integration branch's
commit, closed when the task fails; a supervisor that missed any of it catches up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from czar.core.forge import CheckRun, PullState, Review, Verdict
from czar.core.review import ReviewState
from czar.core.states import TaskState
from czar.forge.local import ForgeRefused, LocalForge
from czar.store.records import Pull
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.pulls import PullRequests
from helpers import OnFakes, on_fakes

T = TaskState


def _verified(tmp_path: Path, changes: dict[str, str | None]) -> tuple[OnFakes, PullRequests]:
    f = on_fakes(tmp_path, ["a", "b"], workers=1)
    f.assign({"a": "w1"})
    f.repo.commit_in(f.checkout("a"), "czar/a", changes)
    actions = Actions(f.project)
    actions.bring_in_handed_in("a")
    with f.project.store.write() as conn:
        Store.set_attempt(conn, f.task("a").attempt_id or 0, summary="wrote a.txt and its test")
    f.move("a", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    actions.verify("a")
    assert f.task("a").state is T.APPROVED
    return f, PullRequests(f.project, lambda _text: None)


def _verify_b(f: OnFakes) -> None:
    """Task b handed in on worker w1, and verified."""
    f.assign({"b": "w1"})
    f.repo.commit_in(f.checkout("b"), "czar/b", {"b.txt": "b\n"})
    Actions(f.project).bring_in_handed_in("b")
    f.move("b", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    Actions(f.project).verify("b")


def _pulls(f: OnFakes) -> list[Pull]:
    with f.project.store.read() as conn:
        return Store.all_pulls(conn)


def _history(f: OnFakes, number: int) -> list[str]:
    with f.project.store.read() as conn:
        return [e.kind for e in Store.pull_entries(conn, number)]


def test_a_verified_task_gets_its_pull_request_and_a_later_head_updates_it(tmp_path: Path, czar_home: Path) -> None:
    f, pulls = _verified(tmp_path, {"a.txt": "a\nb\nc\n"})
    pulls.sync()
    [pr] = _pulls(f)
    assert (pr.task_id, pr.head_branch, pr.base_branch, pr.state) == ("a", "czar/a", "czar/integration", "open")
    assert pr.head_commit == f.repo.tip("czar/a") and pr.rounds == 1
    assert [(s.path, s.added, s.removed) for s in pr.files] == [("a.txt", 3, 0)]
    assert pr.title == f"a: {f.task('a').title}"
    for part in ("Task **a**", "wrote a.txt and its test", "## Files: 1 changed, +3 -0", "Rounds: 1."):
        assert part in pr.body, part
    pulls.sync()  # nothing new: nothing recorded
    assert _history(f, pr.id) == ["opened"]

    # The agent commits again (the task went back, and was verified again): the same pull request.
    f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a\nb\n"})
    Actions(f.project).bring_in_handed_in("a")
    pulls.sync()
    [again] = _pulls(f)
    assert again.id == pr.id and again.head_commit == f.repo.tip("czar/a") != pr.head_commit
    assert _history(f, pr.id) == ["opened", "updated"]
    with f.project.store.read() as conn:
        updated = Store.pull_entries(conn, pr.id, "updated")[0]
    assert updated.detail["from"] == pr.head_commit and "head_commit" in updated.detail["fields"]
    assert [(s.path, s.added, s.removed) for s in again.files] == [("a.txt", 2, 0)]


def test_merged_at_the_integration_commit_and_closed_when_failed(tmp_path: Path, czar_home: Path) -> None:
    f, pulls = _verified(tmp_path, {"a.txt": "a\n"})
    pulls.sync()
    f.move("a", T.MERGING)
    with f.project.store.write() as conn:
        Actions(f.project).merged(conn, f.task("a"), "c0ffee" * 6 + "c0ff")
    pulls.sync()
    [pr] = _pulls(f)
    assert pr.state is PullState.MERGED and pr.merged_as == "c0ffee" * 6 + "c0ff"
    assert _history(f, pr.id) == ["opened", "merged"]
    pulls.sync()  # recorded once
    assert _history(f, pr.id) == ["opened", "merged"]
    # A look that comes late (it read the task before it merged) leaves the merged one as it is.
    pulls.publish(f.task("a"), f.repo.tip("main"))
    assert _pulls(f)[0].state is PullState.MERGED and _history(f, pr.id) == ["opened", "merged"]

    _verify_b(f)
    pulls.sync()
    f.move("b", T.MERGING)  # its merge broke the checks at its last round
    with f.project.store.write() as conn:
        Actions(f.project).fail(conn, "b", "test", "b failed")
    pulls.sync()
    b = next(p for p in _pulls(f) if p.task_id == "b")
    assert b.state is PullState.CLOSED and _history(f, b.id) == ["opened", "closed"]


def test_the_local_forge_merges_only_the_verified_head_and_reviews_only_the_head(
    tmp_path: Path, czar_home: Path
) -> None:
    f, pulls = _verified(tmp_path, {"a.txt": "a\n"})
    ref = pulls.publish(f.task("a"), f.repo.tip("czar/a"))
    forge = LocalForge(f.project.store)
    head = ref.head_commit
    with pytest.raises(ForgeRefused, match="not at the reviewed"):
        forge.post_review(ref.number, Review(Verdict.APPROVE, "0" * 40, "w2"))
    forge.post_review(ref.number, Review(Verdict.APPROVE, head, "w2", "fine"))
    assert forge.checks(ref.number) == ()  # the plan names no acceptance command
    with pytest.raises(ForgeRefused, match="cannot merge"):
        forge.merge(ref.number, "1" * 40, "2" * 40)
    forge.merge(ref.number, head, "2" * 40)
    forge.merge(ref.number, head, "2" * 40)  # again, as a restarted supervisor does: nothing new
    forge.close(ref.number, "too late")  # a merged pull request stays merged
    assert _history(f, ref.number) == ["opened", "review", "merged"]
    assert _pulls(f)[0].state is PullState.MERGED


def test_checks_are_kept_per_head_commit(tmp_path: Path, czar_home: Path) -> None:
    from czar.core.forge import PullDraft

    f, _ = _verified(tmp_path, {"a.txt": "a\n"})
    forge = LocalForge(f.project.store)
    draft = PullDraft("a", "czar/a", "czar/integration", "1" * 40, "a", "body", checks=(CheckRun("pytest", True),))
    ref = forge.open_or_update(draft)
    assert forge.checks(ref.number) == (CheckRun("pytest", True),)
    forge.open_or_update(draft)  # the same: nothing recorded twice
    moved = PullDraft("a", "czar/a", "czar/integration", "2" * 40, "a", "body")
    forge.open_or_update(moved)
    assert forge.checks(ref.number) == ()  # none ran on the new head yet
    assert _history(f, ref.number) == ["opened", "checks", "updated"]


def test_a_task_sent_back_to_work_during_a_look_is_left_to_the_next(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The look saw it approved; by the time its pull request would be opened its agent is back
    at work (a person's retry, a review's changes): no pull request of what the task no longer
    stands by, and the next look sees it as it is."""
    f, pulls = _verified(tmp_path, {"a.txt": "a\n"})
    real = Store.task_briefs

    def briefs_then_sent_back(conn: Any) -> Any:
        seen = real(conn)
        with f.project.store.write() as other:
            Store.move_task(other, "a", T.RUNNING, reason="changes requested")
        return seen

    monkeypatch.setattr(Store, "task_briefs", staticmethod(briefs_then_sent_back))
    pulls.sync()
    assert _pulls(f) == []
    monkeypatch.undo()
    pulls.sync()
    assert _pulls(f) == []  # at work: nothing to show yet


def test_a_sync_reads_no_pull_request_that_needs_nothing_more(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sync runs after every verification and merge: at a hundred workers it read every pull
    request whole each time. A merged task's pull request, merged, and a failed task's, closed,
    are not read whole; but as soon as one may need something (its task tried again and failed
    again, a pull request opened for a cancelled task by a review's posting), it is."""
    f, pulls = _verified(tmp_path, {"a.txt": "a\n"})
    pulls.sync()
    f.move("a", T.MERGING)
    with f.project.store.write() as conn:
        Actions(f.project).merged(conn, f.task("a"), f.repo.tip("czar/a"))
    _verify_b(f)
    pulls.sync()
    f.move("b", T.MERGING)
    with f.project.store.write() as conn:
        Actions(f.project).fail(conn, "b", "test", "b failed")
    asked: list[list[str]] = []
    read = Store.pulls_of_tasks

    def reading(conn: Any, task_ids: list[str]) -> list[Pull]:
        asked.append(sorted(task_ids))
        return read(conn, task_ids)

    monkeypatch.setattr(Store, "pulls_of_tasks", staticmethod(reading))
    pulls.sync()  # a's was recorded merged by the sync before; b's is closed now
    pulls.sync()
    assert asked == [["b"], []]
    assert {p.task_id: p.state for p in _pulls(f)} == {"a": PullState.MERGED, "b": PullState.CLOSED}

    # A person tries b again; it is verified again (its pull request open again), and fails again.
    f.move("b", T.READY)
    pulls.sync()
    assert asked[-1] == ["b"]
    with f.project.store.write() as conn:
        Store.move_task(conn, "b", T.PENDING, reason="test")  # (assigned from pending, as it was made)
    f.assign({"b": "w1"})
    f.repo.commit_in(f.checkout("b"), "czar/b", {"b.txt": "b again\n"})
    Actions(f.project).bring_in_handed_in("b")
    f.move("b", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    Actions(f.project).verify("b")
    pulls.sync()
    assert next(p for p in _pulls(f) if p.task_id == "b").state is PullState.OPEN
    f.move("b", T.MERGING)
    with f.project.store.write() as conn:
        Actions(f.project).fail(conn, "b", "test", "b failed again")
    pulls.sync()
    assert next(p for p in _pulls(f) if p.task_id == "b").state is PullState.CLOSED


def test_a_pull_request_a_review_opens_for_a_cancelled_task_is_closed_at_the_next_sync(
    tmp_path: Path, czar_home: Path
) -> None:
    """A verdict waits to be posted on a task with no pull request yet (the forge was in trouble),
    and a person cancels the task: posting it opens one, after the sync had found nothing to do
    for the task. The next sync closes it."""
    f = on_fakes(tmp_path, ["a", "b"], workers=1)
    pulls = PullRequests(f.project, lambda _text: None)
    f.assign({"b": "w1"})
    f.repo.commit_in(f.checkout("b"), "czar/b", {"b.txt": "b\n"})
    Actions(f.project).bring_in_handed_in("b")
    f.move("b", T.RUNNING, T.SUBMITTED, T.VERIFYING, T.REVIEWING)
    with f.project.store.write() as conn:
        attempt, head = f.task("b").attempt_id, f.repo.tip("czar/b")
        review = Store.new_review(conn, task_id="b", worker_id="w1", attempt_id=attempt, agent="sim", commit=head)
        Store.set_review(conn, review, state=ReviewState.CHANGES_REQUESTED, summary="no")
    f.move("b", T.CANCELLED)
    pulls.sync()
    assert [p.state for p in _pulls(f)] == [PullState.OPEN]  # opened to post the review on
    pulls.sync()
    assert [p.state for p in _pulls(f)] == [PullState.CLOSED]


def test_a_forge_out_of_reach_is_said_once_while_its_task_moves_under_the_looks(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a probe: with the forge down, a task going merging and back to approved at each
    look had the same alert at every look (197 in five minutes): a look that found it moved on
    between its two reads asked the forge nothing, and was taken for the forge working again."""
    from czar.core.events import EventKind
    from czar.errors import ForgeError

    f, pulls = _verified(tmp_path, {"a.txt": "a\n"})

    def down(*_args: Any, **_kwargs: Any) -> Any:
        raise ForgeError("GitHub: look for a pull request from czar/a failed: [Errno 111] Connection refused")

    monkeypatch.setattr(pulls.forge, "open_or_update", down)
    read_whole = pulls._task
    moved = iter([False, True] * 3)  # every other look, the task moves between its brief and its read
    monkeypatch.setattr(pulls, "_task", lambda brief: None if next(moved) else read_whole(brief))
    for _ in range(6):
        pulls.sync()
    with f.project.store.read() as conn:
        alerts = Store.read_events(conn, kinds=(EventKind.ALERT,))
    assert [e.payload["message"] for e in alerts] == [
        "the forge, its pull request for task a: GitHub: look for a pull request from czar/a failed: "
        "[Errno 111] Connection refused"
    ]


def test_a_token_the_forge_refuses_is_an_error_other_refusals_a_warning(tmp_path: Path, czar_home: Path) -> None:
    """Found by a probe: a token revoked mid-run was a warning among others, and the run waited on
    the forge for ever; nothing goes through until a person gives another token."""
    from czar.core.events import EventKind
    from czar.errors import ForgeDenied, ForgeError
    from czar.supervisor.forge_trouble import ForgeTrouble

    f = on_fakes(tmp_path, ["a", "b"])
    trouble = ForgeTrouble(f.project, lambda _text: None)
    trouble.failed("a", "its pull request", ForgeDenied("GitHub: 401 Bad credentials to open a pull request"))
    trouble.failed("b", "its pull request", ForgeError("GitHub: 422 Validation Failed to open a pull request"))
    with f.project.store.read() as conn:
        alerts = Store.read_events(conn, kinds=(EventKind.ALERT,))
    assert [(e.task_id, e.payload["level"]) for e in alerts] == [("a", "error"), ("b", "warning")]
