"""A hand-in verified on the fake repository (``czar.testing``), in milliseconds: clean work is
approved and its worker freed, no commits or files outside the scope send it back with the
evidence and a round, the last round fails it, and what the radar found defers it for nothing.
The verdicts themselves: ``test_verification.py``; with real checks and agents: the acceptance
runs."""

from __future__ import annotations

from pathlib import Path

from czar.core.events import EventKind
from czar.core.host_commands import MessageKind
from czar.core.states import TaskState
from czar.core.verification import Blocker
from czar.supervisor.actions import Actions
from helpers import OnFakes, on_fakes

T = TaskState


def _handed_in(tmp_path: Path, changes: dict[str, str | None] | None, *, extra: str = "") -> tuple[OnFakes, Actions]:
    """Task a, assigned to w1, its agent's commit of ``changes`` (None: no commit) brought in,
    and verifying."""
    f = on_fakes(tmp_path, ["a", "b"], workers=1, project_extra=extra)
    f.assign({"a": "w1"})
    if changes is not None:
        f.repo.commit_in(f.checkout("a"), "czar/a", changes)
    actions = Actions(f.project)
    actions.bring_in_handed_in("a")
    f.move("a", T.RUNNING, T.SUBMITTED, T.VERIFYING)
    return f, actions


def _events(f: OnFakes, kind: str) -> list[dict[str, object]]:
    return [e.payload for e in f.project.store.events_after(0) if e.kind == kind]


def test_clean_work_is_approved_and_its_worker_freed(tmp_path: Path, czar_home: Path) -> None:
    f, actions = _handed_in(tmp_path, {"a.txt": "a\n"})
    actions.verify("a")
    a = f.task("a")
    assert a.state is T.APPROVED and a.rounds == 1
    assert [p["changed"] for p in _events(f, "verify.passed")] == [["a.txt"]]
    assert f.project.store.workers()[0].task_id is None


def test_no_commits_and_files_outside_the_scope_go_back_with_the_evidence(tmp_path: Path, czar_home: Path) -> None:
    f, actions = _handed_in(tmp_path, None)
    actions.verify("a")
    a = f.task("a")
    assert a.state is T.RUNNING and a.rounds == 1
    assert f.told("w1")[-1] == "message:feedback"
    assert "no commits on czar/a" in str(_events(f, "verify.failed")[0]["evidence"])
    f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a\n", "setup.cfg": "[x]\n"})
    Actions(f.project).bring_in_handed_in("a")
    f.move("a", T.SUBMITTED, T.VERIFYING)
    actions.verify("a")
    assert f.task("a").rounds == 2
    assert "setup.cfg" in str(_events(f, "verify.failed")[-1]["evidence"])


def test_the_last_round_fails_the_task(tmp_path: Path, czar_home: Path) -> None:
    f, actions = _handed_in(tmp_path, None, extra="max_rounds = 1\n")
    actions.verify("a")
    a = f.task("a")
    assert a.state is T.FAILED and a.rounds == 1


def test_what_the_radar_found_defers_the_work_for_nothing(tmp_path: Path, czar_home: Path) -> None:
    f, actions = _handed_in(tmp_path, {"a.txt": "a\n"})
    actions.verify("a", Blocker(MessageKind.STAND_OFF, "your work overlaps task b's", ("b",)))
    a = f.task("a")
    assert a.state is T.RUNNING and a.rounds == 0 and a.blocked_on == "b"
    assert f.told("w1")[-1] == "message:stand-off"
    assert not _events(f, "verify.failed") and _events(f, "verify.deferred")


def test_an_approved_task_ages_by_the_merge_batches_that_start_without_it(tmp_path: Path, czar_home: Path) -> None:
    from czar.store.store import Store
    from czar.supervisor.snapshot import snapshot

    f, actions = _handed_in(tmp_path, {"a.txt": "a\n"})
    with f.project.store.write() as conn:
        Store.next_merge_window(conn)  # a batch merged before it was approved
    actions.verify("a")
    assert f.task("a").approved_window == 1 and snapshot(f.project.store).tasks["a"].waited == 0
    with f.project.store.write() as conn:
        Store.next_merge_window(conn)
        Store.next_merge_window(conn)
    assert snapshot(f.project.store).tasks["a"].waited == 2
    # Its merge broke the checks; fixed and approved again, it keeps its place in line.
    f.move("a", T.MERGING, T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING)
    actions.verify("a")
    assert f.task("a").approved_window == 1 and snapshot(f.project.store).tasks["a"].waited == 2


def test_a_conflict_handed_in_again_and_again_uses_a_round_at_the_third(tmp_path: Path, czar_home: Path) -> None:
    f, actions = _handed_in(tmp_path, {"a.txt": "a\n"})
    conflict = Blocker(MessageKind.CONFLICT, "Your branch conflicts with the integration branch in a.txt")
    for hand_in in (1, 2, 3):
        if hand_in > 1:
            f.move("a", T.SUBMITTED, T.VERIFYING)
        actions.verify("a", conflict)
        assert f.task("a").state is T.RUNNING
        assert f.task("a").rounds == (1 if hand_in == 3 else 0)  # waiting costs nothing, twice
    assert len(_events(f, "verify.deferred")) == 2
    (failed,) = _events(f, "verify.failed")
    assert "Handed in 3 times in a row without resolving this" in str(failed["evidence"])
    f.move("a", T.SUBMITTED, T.VERIFYING)  # counted again from the round used
    actions.verify("a", conflict)
    assert f.task("a").rounds == 1 and len(_events(f, "verify.deferred")) == 3


def test_conflicts_resolved_before_a_passed_verification_do_not_count_after_it(tmp_path: Path, czar_home: Path) -> None:
    # Found by a review: sent back by its reviewer after passing, one new conflict was charged a
    # round as the third in a row.
    f, actions = _handed_in(tmp_path, {"a.txt": "a\n"})
    conflict = Blocker(MessageKind.CONFLICT, "Your branch conflicts with the integration branch in a.txt")
    for hand_in in (1, 2):
        if hand_in > 1:
            f.move("a", T.SUBMITTED, T.VERIFYING)
        actions.verify("a", conflict)
    f.move("a", T.SUBMITTED, T.VERIFYING)
    actions.verify("a")  # resolved: passed
    assert f.task("a").state is T.APPROVED and f.task("a").rounds == 1
    f.move("a", T.RUNNING, T.SUBMITTED, T.VERIFYING)  # back to its agent (a reviewer asked), same attempt
    actions.verify("a", conflict)
    assert f.task("a").rounds == 1 and not _events(f, "verify.failed")


def test_a_commit_made_after_the_hand_in_is_kept_and_said_when_the_merged_tasks_checkout_goes(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by a probe: an agent told something while its work was under review committed again;
    the reviewed commit merged, and the new one went with its checkout, without a word."""
    from czar.store.store import Store
    from czar.supervisor.merge_queue import discard_checkouts

    f = on_fakes(tmp_path, ["a"])
    f.assign({"a": "w1"})
    handed_in = f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a\n"})
    assert f.repo.harvest_commit(f.checkout("a"), "czar/a", handed_in)
    late = f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a, and more\n"})
    discard_checkouts(f.project, ["a"])
    assert not f.repo.has_checkout(f.checkout("a"))
    assert f.repo.tip(f"refs/czar-kept/czar/a/{late[:12]}") == late
    with f.project.store.read() as conn:
        alerts = [e.payload["message"] for e in Store.read_events(conn, kinds=(EventKind.ALERT,))]
    ref = f"refs/czar-kept/czar/a/{late[:12]}"
    assert alerts == [
        f"task a merged without commit {late[:10]}, which its agent made after it handed its work in: kept as "
        f"{ref} (`git log {ref}`; a task of its own can take it)"
    ]
