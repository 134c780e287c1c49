"""The gates before the acceptance commands, on real git and real checks: the project's linters
run first and a failure goes back with their output (the acceptance commands then do not run); a
change larger than `max_diff_lines` goes back, to be made smaller."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from czar.core.events import EventKind
from czar.core.states import TaskState, WorkerState
from czar.store.store import Store
from czar.supervisor import your_checkouts
from czar.supervisor.actions import Actions, NotBroughtIn
from czar.supervisor.project import Project, open_project
from czar.vcs import checkout
from helpers import git, make_repo, sim_task, write_plan

LINT = "python -c \"import sys; sys.exit('a.txt: trailing spaces' if ' \\\\n' in open('a.txt').read() else 0)\""
ACCEPT = "python -c \"open('accepted', 'w')\""  # leaves a mark in the checkout when it runs


def _handed_in(
    tmp_path: Path, text: str, extra: str, more: dict[str, str] | None = None, *, yours: Path | None = None
) -> tuple[Project, Actions]:
    make_repo(tmp_path / "repo")
    task = sim_task("a", accept=[ACCEPT], files={"a.txt": text, **(more or {})})
    project = open_project(write_plan(tmp_path, "gates", [task], workers=1, project_extra=extra))
    project.sync_plan()
    project.git.ensure_branch("czar/integration", "main")
    with project.store.write() as conn:
        Store.move_task(conn, "a", TaskState.READY, reason="test")
        Store.set_worker(conn, "w1", state=WorkerState.IDLE)
    actions = Actions(project)
    actions.assign("a", "w1", "test")
    checkout = project.paths.worktree("a")
    for name, content in {"a.txt": text, **(more or {})}.items():
        (checkout / name).write_text(content)
        git(checkout, "add", name)
    git(checkout, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a")
    if yours is not None:  # a person looks at the task's branch in a checkout of their own
        git(tmp_path / "repo", "worktree", "add", "-q", str(yours), "czar/a")
    actions.bring_in_handed_in("a")
    with project.store.write() as conn:
        for state in (TaskState.RUNNING, TaskState.SUBMITTED, TaskState.VERIFYING):
            Store.move_task(conn, "a", state, reason="test")
    return project, actions


def _handed_in_again(project: Project) -> Path:
    """Task a's agent committed more and handed that in (its head said, not brought in yet);
    returns its checkout."""
    place = project.paths.worktree("a")
    (place / "a.txt").write_text("more\n")
    git(place, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "more")
    task = next(t for t in project.store.tasks() if t.id == "a")
    with project.store.write() as conn:
        head = git(place, "rev-parse", "HEAD")
        Store.emit(conn, EventKind.AGENT_FINISHED, task="a", worker="w1", attempt=task.attempt_id, head=head)
    return place


def _task(project: Project) -> tuple[TaskState, str]:
    """The task's state, and the evidence its agent was sent back with."""
    t = next(t for t in project.store.tasks() if t.id == "a")
    failed = [e.payload for e in project.store.events_after(0) if e.kind == "verify.failed"]
    return t.state, str(failed[-1]["evidence"]) if failed else ""


def test_a_failing_linter_sends_the_work_back_before_the_acceptance_commands_run(
    tmp_path: Path, czar_home: Path
) -> None:
    project, actions = _handed_in(tmp_path, "a \n", f"lint = [{json.dumps(LINT)}]\n")
    actions.verify("a")
    state, note = _task(project)
    assert state is TaskState.RUNNING and "a.txt: trailing spaces" in note
    assert not (project.paths.worktree("a") / "accepted").exists()  # cheapest first: accept never ran
    assert (project.paths.checks / "a" / "round-1-lint.log").exists()


def test_clean_work_passes_the_linter_then_its_acceptance_commands(tmp_path: Path, czar_home: Path) -> None:
    project, actions = _handed_in(tmp_path, "a\n", f"lint = [{json.dumps(LINT)}]\nmax_diff_lines = 5\n")
    actions.verify("a")
    assert _task(project)[0] is TaskState.APPROVED
    assert (project.paths.worktree("a") / "accepted").exists()
    passed = [e.payload for e in project.store.events_after(0) if e.kind == "verify.passed"]
    assert [c["command"] for c in passed[0]["checks"]] == [LINT, ACCEPT]


def test_a_change_over_the_size_limit_goes_back_to_be_made_smaller(tmp_path: Path, czar_home: Path) -> None:
    project, actions = _handed_in(tmp_path, "".join(f"line {i}\n" for i in range(12)), "max_diff_lines = 10\n")
    actions.verify("a")
    state, note = _task(project)
    assert state is TaskState.RUNNING and "adds and removes 12 lines" in note and "more than the 10" in note
    assert not (project.paths.worktree("a") / "accepted").exists()


def test_a_check_killed_by_a_signal_is_run_again_not_charged(tmp_path: Path, czar_home: Path) -> None:
    # Its process killed (its sandbox, by something else than czar): its outcome says nothing of the
    # work; verified again, no round used. One that is killed every time is the work's, at the third.
    killed = 'python -c "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"'
    # (Unconfined: in a sandbox, a process killed inside is its sandbox's exit 137, the work's.)
    project, actions = _handed_in(tmp_path, "a\n", f"lint = [{json.dumps(killed)}]\n[sandbox]\nenabled = false\n")
    for _ in range(2):
        actions.verify("a")
        task = next(t for t in project.store.tasks() if t.id == "a")
        assert task.state is TaskState.SUBMITTED and task.rounds == 0
        with project.store.write() as conn:
            Store.move_task(conn, "a", TaskState.VERIFYING, reason="test")
    actions.verify("a")
    state, note = _task(project)
    assert state is TaskState.RUNNING and "killed by a signal" in note and "exited -9" in note
    assert next(t for t in project.store.tasks() if t.id == "a").rounds == 1  # now the work's
    assert "[exit -9]" in (project.paths.checks / "a" / "round-1-lint.log").read_text()


def test_a_check_that_crashes_is_the_works_at_once(tmp_path: Path, czar_home: Path) -> None:
    # A crash of the check's own (a segmentation fault, an abort) is no kill from outside.
    crash = 'python -c "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"'
    project, actions = _handed_in(tmp_path, "a\n", f"lint = [{json.dumps(crash)}]\n[sandbox]\nenabled = false\n")
    actions.verify("a")
    state, note = _task(project)
    assert state is TaskState.RUNNING and "-11" in note


def test_work_that_changes_lfsconfig_goes_back_whatever_its_scope(tmp_path: Path, czar_home: Path) -> None:
    """Found by a probe: an agent's .lfsconfig (in its scope) named a server of its own, and
    czar's merge of the work, outside the sandbox, asked that server for the large files."""
    lfsconfig = "[lfs]\n\turl = http://127.0.0.1:9/exfil\n"
    project, actions = _handed_in(tmp_path, "a\n", "", more={".lfsconfig": lfsconfig})
    assert ".lfsconfig" in next(t for t in project.store.tasks() if t.id == "a").spec.scope
    actions.verify("a")
    state, note = _task(project)
    assert state is TaskState.RUNNING and "Your branch changes .lfsconfig" in note
    assert not (project.paths.worktree("a") / "accepted").exists()


def test_a_task_branch_checked_out_in_a_checkout_of_yours_waits_and_uses_no_round(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by a probe: a person checked out czar/a to look at it; git refused to bring the
    agent's commit in, and czar took that for work with no commits: three rounds, then failed."""
    yours = tmp_path / "yours"
    project, actions = _handed_in(tmp_path, "a\n", "", yours=yours)
    actions.verify("a")
    task = next(t for t in project.store.tasks() if t.id == "a")
    assert task.state is TaskState.SUBMITTED and task.rounds == 0
    alerts = [str(e.payload["message"]) for e in project.store.events_after(0) if e.kind == "alert"]
    assert len(alerts) == 1 and f"czar/a is checked out in {yours}" in alerts[0], alerts
    assert f"`git -C {yours} switch main`" in alerts[0]
    git(tmp_path / "repo", "worktree", "remove", str(yours))
    your_checkouts._seen.clear()  # (looked at again a moment later)
    actions.bring_in_handed_in("a")
    with project.store.write() as conn:
        Store.move_task(conn, "a", TaskState.VERIFYING, reason="test")
    actions.verify("a")
    assert next(t for t in project.store.tasks() if t.id == "a").state is TaskState.APPROVED


@pytest.mark.timeout(60)
def test_work_czar_cannot_read_from_its_checkout_goes_back_saying_why(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A FIFO where git reads a file of the agent's checkout: the hand-in cannot be brought in.
    It was judged as no commits at all; it says now that czar could not read it, and why."""
    monkeypatch.setattr(checkout, "FETCH_SECONDS", 1.0)
    project, actions = _handed_in(tmp_path, "a\n", "")
    place = _handed_in_again(project)
    (place / ".git" / "packed-refs").unlink(missing_ok=True)
    os.mkfifo(place / ".git" / "packed-refs")
    actions.bring_in_handed_in("a")
    actions.verify("a")
    state, note = _task(project)
    assert state is TaskState.RUNNING and "czar could not read czar/a from your checkout" in note


def test_work_git_could_not_bring_in_is_not_judged_and_uses_no_round(tmp_path: Path, czar_home: Path) -> None:
    """Found by a probe: the repository's disk full, each fetch of the work failed, and czar took
    that for work with no commits: three rounds, then failed, tasks whose work was committed."""
    project, actions = _handed_in(tmp_path, "a\n", "")
    place = _handed_in_again(project)
    checkout._failed[place] = "fatal: write error: No space left on device"  # (the fetch failed so)
    try:
        with pytest.raises(NotBroughtIn, match="czar could not bring czar/a in: fatal: write error"):
            actions.verify("a")
    finally:
        checkout._failed.pop(place, None)
    assert next(t for t in project.store.tasks() if t.id == "a").rounds == 0


def test_work_its_own_clone_would_not_give_is_sent_back_saying_so(tmp_path: Path, czar_home: Path) -> None:
    """Found by a review: a fetch the clone was at fault for (a commit it does not have, an object
    git refuses) was taken for the repository's, and verified again for ever, never judged."""
    project, actions = _handed_in(tmp_path, "a\n", "")
    place = _handed_in_again(project)
    checkout._failed[place] = "fatal: remote error: upload-pack: not our ref 1111111111111111111111111111111111111111"
    try:
        actions.verify("a")
    finally:
        checkout._failed.pop(place, None)
    state, note = _task(project)
    assert (
        state is TaskState.RUNNING and "czar could not bring czar/a in from your checkout: fatal: remote error" in note
    )
