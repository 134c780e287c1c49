"""The merge queue on the fake repository (``czar.testing``), in milliseconds: batches in order,
a batch that breaks the checks bisected, work the integration branch moved under sent back with
no round charged, a crash or a moved branch at the worst moment losing nothing. The same queue on
real git: ``tests/integration/test_merge_queue.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.core.repository import MergeResult
from czar.core.states import TaskState, WorkerState
from czar.errors import SupervisorError
from czar.store.schema import tasks
from czar.store.store import Store
from czar.supervisor import your_checkouts
from czar.supervisor.actions import Actions
from czar.supervisor.merge_queue import MergeQueue
from czar.supervisor.radar import Radar
from helpers import OnFakes, on_fakes

T = TaskState
TO_MERGING = (T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING)
INTEGRATION = "czar/integration"


class Checks:
    """The project's checks on a merge: they fail when the tree holds a file named ``bad*``."""

    def __init__(self, f: OnFakes) -> None:
        self.f = f
        self.runs: list[str] = []  # the names of the runs, in order

    def __call__(self, head: str, name: str, rounds: int) -> str | None:
        self.runs.append(name)
        bad = sorted(p for p in self.f.repo.files(head) if p.startswith("bad"))
        return f"test_all failed: {', '.join(bad)} found" if bad else None


def _batch(tmp_path: Path, work: dict[str, dict[str, str]], *, checks: bool = False) -> OnFakes:
    """Each task approved and merging, its branch with one commit of ``work[task]``."""
    f = on_fakes(tmp_path, list(work), project_extra='accept = ["true"]\n' if checks else "")
    for tid, files in work.items():
        f.move(tid, *TO_MERGING)
        f.repo.branch(f"czar/{tid}", INTEGRATION)
        f.repo.commit(f"czar/{tid}", dict(files), f"{tid}: its work")
    return f


def _queue(f: OnFakes, checks: Checks | None = None, *, radar: bool = False) -> MergeQueue:
    actions = Actions(f.project)
    return MergeQueue(f.project, actions, Radar(f.project, actions) if radar else None, check=checks)


def _merged_titles(f: OnFakes) -> list[str]:
    """The merge commits of the integration branch, newest first (first parents only)."""
    out, at = [], f.repo.tip(INTEGRATION)
    while len(f.repo.commits[at].parents) == 2:
        out.append(f.repo.commits[at].message)
        at = f.repo.commits[at].parents[0]
    return out


def test_a_batch_merges_in_order_and_its_checks_run_once(tmp_path: Path, czar_home: Path) -> None:
    f = _batch(tmp_path, {"a": {"a.txt": "a\n"}, "b": {"b.txt": "b\n"}, "c": {"c.txt": "c\n"}}, checks=True)
    checks = Checks(f)
    _queue(f, checks).merge(["c", "a", "b"])
    assert f.states() == {"a": "merged", "b": "merged", "c": "merged"}
    assert checks.runs == ["c+a+b"]
    assert _merged_titles(f) == [
        "czar: merge task b: task b",
        "czar: merge task a: task a",
        "czar: merge task c: task c",
    ]
    assert {"a.txt", "b.txt", "c.txt"} <= set(f.repo.files(INTEGRATION))
    merged = [e for e in f.project.store.events_after(0) if e.kind == "task.merged"]
    assert [e.task_id for e in merged] == ["c", "a", "b"]


def test_a_batch_that_breaks_the_checks_is_bisected_and_only_the_breakers_go_back(
    tmp_path: Path, czar_home: Path
) -> None:
    work = {
        "g1": {"g1.txt": "1\n"},
        "bad1": {"bad1.txt": "x\n"},
        "g2": {"g2.txt": "2\n"},
        "bad2": {"bad2.txt": "y\n"},
        "g3": {"g3.txt": "3\n"},
    }
    f = _batch(tmp_path, work, checks=True)
    checks = Checks(f)
    queue = _queue(f, checks)
    queue.merge(list(work))
    # The batch, then halves until the first breaker (⌈log₂ 5⌉ = 3 at most), then its failing run
    # once more before it is blamed. What came before it merges; what came after waits.
    assert checks.runs == ["g1+bad1+g2+bad2+g3", "g1+bad1", "g1", "g1+bad1"]
    assert f.states() == {"g1": "merged", "bad1": "ready", "g2": "approved", "bad2": "approved", "g3": "approved"}
    assert f.task("g2").rounds == 0  # waiting costs nothing
    f.move("g2", T.MERGING)
    f.move("bad2", T.MERGING)
    f.move("g3", T.MERGING)
    checks.runs.clear()
    queue.merge(["g2", "bad2", "g3"])
    assert checks.runs == ["g2+bad2+g3", "g2", "g2+bad2", "g2+bad2"]
    f.move("g3", T.MERGING)
    queue.merge(["g3"])
    assert f.states() == {"g1": "merged", "bad1": "ready", "g2": "merged", "bad2": "ready", "g3": "merged"}
    files = set(f.repo.files(INTEGRATION))
    assert {"g1.txt", "g2.txt", "g3.txt"} <= files and not {"bad1.txt", "bad2.txt"} & files
    for tid in ("bad1", "bad2"):
        t = f.task(tid)
        assert "the project's checks failed" in t.note and f"{tid}.txt found" in t.note
        assert t.rounds == 1  # its own fault: a round is charged


def test_a_big_batch_with_one_breaker_takes_log2_runs_to_find_it(tmp_path: Path, czar_home: Path) -> None:
    work = {f"t{i:02}": {f"t{i:02}.txt": f"{i}\n"} for i in range(16)}
    work["t11"] = {"bad.txt": "x\n"}
    f = _batch(tmp_path, work, checks=True)
    checks = Checks(f)
    _queue(f, checks).merge(list(work))
    assert len(checks.runs) == 1 + 4 + 1  # the batch, ⌈log₂ 16⌉ halvings, the blamed run again
    states = f.states()
    assert states["t11"] == "ready"
    assert all(states[f"t{i:02}"] == "merged" for i in range(11))
    assert all(states[f"t{i:02}"] == "approved" for i in range(12, 16))


def test_a_flaky_check_that_passes_when_run_again_blames_nobody(tmp_path: Path, czar_home: Path) -> None:
    f = _batch(tmp_path, {"a": {"a.txt": "a\n"}, "b": {"b.txt": "b\n"}}, checks=True)
    runs: list[str] = []

    def flaky(head: str, name: str, rounds: int) -> str | None:
        runs.append(name)
        return "test_timing failed" if len(runs) <= 2 else None  # the batch, and a alone, fail once

    _queue(f, flaky).merge(["a", "b"])  # type: ignore[arg-type]
    assert runs == ["a+b", "a", "a"]  # the first breaker, a, passes when run again
    assert f.states() == {"a": "merged", "b": "approved"} and f.task("a").rounds == 0
    flakes = [e for e in f.project.store.events_after(0) if e.kind == "checks.flaky"]
    assert [e.task_id for e in flakes] == ["a"] and "test_timing" in flakes[0].payload["failure"]


def test_one_task_that_breaks_the_checks_leaves_the_integration_branch_where_it_was(
    tmp_path: Path, czar_home: Path
) -> None:
    f = _batch(tmp_path, {"bad": {"bad.txt": "x\n"}}, checks=True)
    before = f.repo.tip(INTEGRATION)
    _queue(f, Checks(f)).merge(["bad"])
    assert f.repo.tip(INTEGRATION) == before
    assert f.repo.head(f.project.paths.integration_worktree) == before
    assert f.states() == {"bad": "ready"}


def test_work_the_integration_branch_moved_under_is_sent_back_uncharged_and_the_rest_merges(
    tmp_path: Path, czar_home: Path
) -> None:
    f = _batch(tmp_path, {"a": {"a.txt": "a\n"}, "b": {"README.md": "# b\n"}, "c": {"c.txt": "c\n"}})
    f.repo.commit(INTEGRATION, {"README.md": "# changed meanwhile\n"}, "someone else")
    _queue(f).merge(["a", "b", "c"])
    assert f.states() == {"a": "merged", "b": "ready", "c": "merged"}
    b = f.task("b")
    assert "README.md" in b.note and "make your change again" in b.note and b.rounds == 0
    failed = [e for e in f.project.store.events_after(0) if e.kind == "merge.failed"]
    assert [(e.task_id, e.payload["charged"]) for e in failed] == [("b", False)]


def test_merging_again_after_a_crash_changes_nothing(tmp_path: Path, czar_home: Path) -> None:
    f = _batch(tmp_path, {"a": {"a.txt": "a\n"}})
    queue = _queue(f)
    queue.merge(["a"])
    tip = f.repo.tip(INTEGRATION)
    with f.project.store.write() as conn:  # as if the supervisor died before recording the merge
        conn.execute(tasks.update().where(tasks.c.id == "a").values(state="merging"))
    queue.merge(["a"])
    assert f.repo.tip(INTEGRATION) == tip
    assert f.states() == {"a": "merged"}


def test_a_branch_moved_while_the_checks_ran_fails_the_swap_and_loses_nothing(tmp_path: Path, czar_home: Path) -> None:
    """Someone else (a person, an older czar) moves the integration branch while the batch's checks
    run: the compare-and-swap refuses, nothing is recorded as merged, and the next try merges the
    batch on top of what they did."""
    f = _batch(tmp_path, {"a": {"a.txt": "a\n"}, "b": {"b.txt": "b\n"}}, checks=True)
    checks = Checks(f)

    def moved_meanwhile(head: str, name: str, rounds: int) -> str | None:
        if not checks.runs:
            f.repo.commit(INTEGRATION, {"other.txt": "theirs\n"}, "moved meanwhile")
        return checks(head, name, rounds)

    queue = _queue(f, checks)
    queue.check = moved_meanwhile
    # Said as what happened, not in git's words (found by a probe: "cannot lock ref ... is at X
    # but expected Y" was the alert a person read while moving the branch themselves).
    with pytest.raises(SupervisorError, match="czar/integration was moved while czar merged into it"):
        queue.merge(["a", "b"])
    assert f.states() == {"a": "merging", "b": "merging"}
    assert set(f.repo.files(INTEGRATION)) == {"README.md", "other.txt"}
    queue.merge(["a", "b"])
    assert f.states() == {"a": "merged", "b": "merged"}
    assert {"a.txt", "b.txt", "other.txt"} <= set(f.repo.files(INTEGRATION))


def test_a_task_whose_work_overlaps_one_in_flight_that_came_first_is_held(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["first", "second"])
    f.move("first", T.READY, T.ASSIGNED, T.RUNNING)
    f.move("second", *TO_MERGING)
    for tid in ("first", "second"):
        f.repo.branch(f"czar/{tid}", INTEGRATION)
        f.repo.commit(f"czar/{tid}", {"README.md": f"# {tid}\n"})
    _queue(f, radar=True).merge(["second"])
    assert f.states() == {"first": "running", "second": "approved"}
    assert _merged_titles(f) == []
    held = [e.payload["reason"] for e in f.project.store.events_after(0) if e.kind == "task.state"][-1]
    assert held.startswith("held:") and "first" in held


def test_a_batch_is_looked_at_once_before_it_merges(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each look before a merge reads the store and every agent's checkout: a batch of eight (seen
    at a hundred workers) looked eight times."""
    f = _batch(tmp_path, {t: {f"{t}.txt": f"{t}\n"} for t in ("a", "b", "c")})
    queue = _queue(f, radar=True)
    assert queue.radar is not None
    looks: list[bool] = []
    look = queue.radar._look
    monkeypatch.setattr(queue.radar, "_look", lambda *, harvest=True: looks.append(harvest) or look(harvest=harvest))
    queue.merge(["a", "b", "c"])
    assert f.states() == {"a": "merged", "b": "merged", "c": "merged"}
    assert looks == [True]


def test_a_merge_whose_git_was_killed_after_it_made_the_merge_counts(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen in a chaos run: czar's `git merge` killed after it made the merge (in the gc it runs
    # after) read as a conflict: the task went back charged, while the merge reached the branch;
    # made again, it had "no commits beyond the integration branch" and failed.
    f = _batch(tmp_path, {"a": {"a.txt": "a\n"}, "b": {"b.txt": "b\n"}})
    merge, a = f.repo.merge, f.repo.tip("czar/a")

    def made_then_killed(worktree: Path, tip: str, message: str) -> MergeResult:
        made = merge(worktree, tip, message)
        return MergeResult(False, made.output + "\n[killed]", stopped=True) if tip == a else made

    monkeypatch.setattr(f.repo, "merge", made_then_killed)
    _queue(f).merge(["a", "b"])
    assert f.states() == {"a": "merged", "b": "merged"}
    assert {"a.txt", "b.txt"} <= set(f.repo.files(INTEGRATION))
    assert not [e for e in f.project.store.events_after(0) if e.kind == "merge.failed"]


def test_a_merge_whose_git_was_killed_before_it_merged_waits_for_the_next_batch(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = _batch(tmp_path, {"c": {"c.txt": "c\n"}})
    monkeypatch.setattr(f.repo, "merge", lambda w, tip, m: MergeResult(False, "[killed]", stopped=True))
    _queue(f).merge(["c"])
    assert f.states() == {"c": "approved"} and f.task("c").rounds == 0
    assert "c.txt" not in f.repo.files(INTEGRATION)


def test_the_integration_branch_checked_out_in_a_checkout_of_yours_is_not_moved_under_it(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by a probe: czar moved czar/integration while a person had it checked out; their
    checkout then showed the run's work undone, staged, for a commit to revert. The batch waits
    (no round used), a person hears it once, and it merges once the checkout is on another branch."""
    f = _batch(tmp_path, {"a": {"a.txt": "a\n"}, "b": {"b.txt": "b\n"}}, checks=True)
    before = f.repo.tip(INTEGRATION)
    queue = _queue(f, Checks(f))
    f.repo.yours[INTEGRATION] = tmp_path / "yours"  # switched to it while the batch's checks ran
    queue.merge(["a", "b"])
    assert f.repo.tip(INTEGRATION) == before and f.states() == {"a": "approved", "b": "approved"}
    assert all(f.task(t).rounds == 0 for t in ("a", "b"))
    assert queue.checked_out_by_you() == tmp_path / "yours"
    alerts = [e.payload["message"] for e in f.project.store.events_after(0) if e.kind == "alert"]
    assert len(alerts) == 1 and f"{INTEGRATION} is checked out in {tmp_path / 'yours'}" in str(alerts[0])
    assert "if that checkout is gone for good, `git worktree prune`" in str(alerts[0])  # (its folder is not there)
    del f.repo.yours[INTEGRATION]
    f.move("a", T.MERGING)
    f.move("b", T.MERGING)
    queue.merge(["a", "b"])
    assert f.states() == {"a": "merged", "b": "merged"}


def test_no_batch_starts_while_a_checkout_of_yours_has_the_integration_branch(tmp_path: Path, czar_home: Path) -> None:
    import io

    from czar.supervisor.loop import Supervisor

    f = on_fakes(tmp_path, ["a"])
    f.move("a", *TO_MERGING[:-1])
    f.repo.branch("czar/a", INTEGRATION)
    f.repo.commit("czar/a", {"a.txt": "a\n"}, "a: its work")
    f.repo.yours[INTEGRATION] = tmp_path / "yours"
    sup = Supervisor(f.project, out=io.StringIO())
    try:
        sup.step()
        sup.step()
        assert f.task("a").state is T.APPROVED  # not merging and back at each step
        del f.repo.yours[INTEGRATION]
        your_checkouts._seen.clear()  # (the next look, a moment later)
        sup.step()
    finally:
        for pool in (sup.checks, sup.merges, sup.assigners):
            pool.shutdown(wait=True)
    assert f.task("a").state is T.MERGED


def test_a_task_whose_branch_a_person_has_checked_out_waits_to_start_afresh_and_uses_no_try(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by a review: starting a task afresh resets its branch, which git refuses while a
    checkout of yours has it: each refusal counted as a failed start, and the task failed."""
    import io

    from czar.supervisor.loop import Supervisor

    f = on_fakes(tmp_path, ["a"], workers=1)
    f.repo.branch("czar/a", INTEGRATION)
    f.repo.commit("czar/a", {"a.txt": "wrong\n"}, "a: the wrong task's work")
    with f.project.store.write() as conn:
        Store.move_task(conn, "a", T.READY, reason="test", fresh=1)
        Store.set_worker(conn, "w1", state=WorkerState.IDLE)
    f.repo.yours["czar/a"] = tmp_path / "yours"
    sup = Supervisor(f.project, out=io.StringIO())
    try:
        for _ in range(3):
            sup.failed_starts.pop("a", None)  # (its rest over)
            sup.step()
        assert f.task("a").state is T.READY and sup.failed_starts["a"][0] == 0
        alerts = [e.payload["message"] for e in f.project.store.events_after(0) if e.kind == "alert"]
        assert len(alerts) == 1 and "czar/a is checked out in" in str(alerts[0]) and "does not start" in str(alerts[0])
        del f.repo.yours["czar/a"]
        your_checkouts._seen.clear()
        sup.failed_starts.pop("a", None)
        sup.step()
        assert f.task("a").state is T.ASSIGNED
    finally:
        for pool in (sup.checks, sup.merges, sup.assigners):
            pool.shutdown(wait=True)
