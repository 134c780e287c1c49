"""Waiting for other tasks, on a real store and repository: a task told to stand off for several
goes on only when all have merged; the health round examines waiting workers, clears waits that
are over, breaks cycles of waits by plan order, and frees a worker when every worker waits."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from czar.core.events import EventKind
from czar.core.states import TaskState, WorkerState
from czar.store.schema import inbox
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.healer import Healer
from czar.supervisor.project import Project, open_project
from helpers import make_repo, sim_task, write_plan

T = TaskState
TO_MERGING = (T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING)


@pytest.fixture
def host() -> Iterator[int]:
    """A live process to stand for the worker hosts (in a session of its own: cleaning up after
    the test kills its group)."""
    proc = subprocess.Popen(["sleep", "600"], start_new_session=True)
    yield proc.pid
    proc.kill()
    proc.wait()


@pytest.fixture
def project(tmp_path: Path, czar_home: Path, host: int) -> Project:
    make_repo(tmp_path / "repo")
    tasks = [sim_task(t, files={f"{t}.txt": f"{t}\n"}) for t in ("a", "b", "c")]
    project = open_project(write_plan(tmp_path, "waits", tasks, workers=3))
    project.sync_plan()
    project.git.ensure_branch("czar/integration", "main")
    with project.store.write() as conn:
        for tid in ("a", "b", "c"):
            Store.move_task(conn, tid, T.READY, reason="test")
        for wid in ("w1", "w2", "w3"):
            # Alive, so that the health round looks at what they wait for.
            Store.set_worker(conn, wid, state=WorkerState.IDLE, pid=host)
    actions = Actions(project)
    for tid, wid in (("a", "w1"), ("b", "w2"), ("c", "w3")):
        actions.assign(tid, wid, "test")
    return project


def row(project: Project, tid: str) -> Any:
    with project.store.read() as conn:
        return Store.task(conn, tid)


def worker_state(project: Project, wid: str) -> str:
    with project.store.read() as conn:
        return str(Store.worker(conn, wid).state)


def told(project: Project, wid: str) -> list[str]:
    """The kinds of the messages posted to a worker."""
    with project.store.read() as conn:
        rows = conn.execute(select(inbox.c.payload).where(inbox.c.worker_id == wid, inbox.c.kind == "message")).all()
    return [str(json.loads(r.payload)["kind"]) for r in rows]


def move(project: Project, tid: str, *states: TaskState) -> None:
    with project.store.write() as conn:
        for state in states:
            Store.move_task(conn, tid, state, reason="test")


def wait(project: Project, tid: str, *others: str) -> None:
    with project.store.write() as conn:
        Actions(project).wait_for(conn, row(project, tid), set(others))


def merge(project: Project, tid: str) -> None:
    move(project, tid, *TO_MERGING)
    with project.store.write() as conn:
        Actions(project).merged(conn, Store.task(conn, tid), "0" * 40)


def healer(project: Project) -> Healer:
    return Healer(project, Actions(project), lambda _line: None)


def test_a_task_standing_off_for_several_goes_on_only_when_all_of_them_merged(project: Project) -> None:
    wait(project, "c", "a")
    wait(project, "c", "b")  # a second stand-off adds to the first
    assert row(project, "c").blocked_on == "a, b" and worker_state(project, "w3") == "blocked"
    merge(project, "a")
    assert row(project, "c").blocked_on == "b" and worker_state(project, "w3") == "blocked"
    assert "merged" not in told(project, "w3")
    merge(project, "b")
    assert row(project, "c").blocked_on is None and worker_state(project, "w3") == "working"
    assert told(project, "w3").count("merged") == 1


def test_a_wait_that_is_over_already_is_cleared_by_the_health_round(project: Project) -> None:
    merge(project, "a")
    wait(project, "c", "a")  # told to wait for a task that had merged meanwhile: nobody would tell it
    healer(project).tick()
    assert row(project, "c").blocked_on is None and worker_state(project, "w3") == "working"
    assert told(project, "w3") == ["go-on"]


def test_two_tasks_waiting_for_each_other_the_first_in_the_plan_goes_on(project: Project) -> None:
    wait(project, "b", "a")
    wait(project, "a", "b")
    healer(project).tick()
    assert row(project, "a").blocked_on is None and told(project, "w1") == ["go-on"]
    assert row(project, "b").blocked_on == "a" and worker_state(project, "w2") == "blocked"
    assert told(project, "w2") == []
    healer(project).tick()  # settled: nothing more happens
    assert told(project, "w1") == ["go-on"]


def test_when_every_worker_waits_for_a_task_in_the_pool_the_last_in_the_plan_gives_its_worker_back(
    project: Project,
) -> None:
    with project.store.write() as conn:
        Actions(project).requeue(conn, "c", "test: back in the pool")
    with project.store.write() as conn:
        Store.set_worker(conn, "w3", state=WorkerState.STOPPED)  # no worker is idle
    rounds = row(project, "b").rounds
    wait(project, "a", "c")
    wait(project, "b", "c")
    healer(project).tick()
    b = row(project, "b")
    assert b.state == "ready" and b.blocked_on == "c" and b.rounds == rounds  # no round used
    assert worker_state(project, "w2") == "idle" and row(project, "a").state == "assigned"


def _commit_in_checkout(project: Project, tid: str, path: str, text: str) -> str:
    """What an agent does in its task's clone: a commit (the repository does not have it yet)."""
    place = project.paths.worktree(tid)
    (place / path).write_text(text)
    ident = ["-c", "user.name=agent", "-c", "user.email=agent@example.com"]
    subprocess.run(["git", "-C", str(place), "add", path], check=True)
    subprocess.run(["git", "-C", str(place), *ident, "commit", "-qm", f"{tid} work"], check=True)
    return subprocess.run(
        ["git", "-C", str(place), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_work_handed_in_and_not_verified_yet_holds_a_later_overlapping_task_back(project: Project) -> None:
    """Task a (first in the plan) hands in; before its verification brings its commit in, task b,
    which did the same work and was verified, comes up in the merge queue: the look before the
    merge must see a's work and hold b back (else b merges first, and a's later fix of the
    conflict may drop b's lines)."""
    from czar.supervisor.radar import Radar

    head = _commit_in_checkout(project, "a", "shared.txt", "the same helper\n")
    with project.store.write() as conn:
        a = Store.task(conn, "a")
        Store.emit(conn, EventKind.AGENT_FINISHED, worker="w1", task="a", attempt=a.attempt_id, head=head, summary="a")
    move(project, "a", T.RUNNING, T.SUBMITTED)
    _commit_in_checkout(project, "b", "shared.txt", "the same helper\n")
    actions = Actions(project)
    actions.bring_in_handed_in("b")  # b's own commit, as its verification brought it in
    move(project, "b", *TO_MERGING)
    assert "czar/a" not in project.git.tips() or project.git.tips()["czar/a"] != head
    found, _ = Radar(project, actions).before_merge(["b"])["b"]
    assert [(f.kind, f.other) for f in found if f.kind != "scope"] == [("duplicate", "a")]
    assert project.git.tips()["czar/a"] == head  # brought in: the commit it handed in


def test_work_an_agent_undid_to_make_again_still_holds_a_later_overlapping_task_back(project: Project) -> None:
    """Task a (first in the plan) had work on its branch; its agent reset the branch to make it
    again on the integration branch, and the radar saw the branch empty. Task b, which changes the
    same lines, must still wait for a: else b merges first and a, making its change again, writes
    its own version of those lines over b's."""
    from czar.supervisor.radar import Radar

    actions = Actions(project)
    radar = Radar(project, actions)
    base = project.git.tip("czar/a")
    _commit_in_checkout(project, "a", "shared.txt", "a's entry\n")
    move(project, "a", T.RUNNING)
    radar.scan()  # a's work seen
    place = project.paths.worktree("a")
    subprocess.run(["git", "-C", str(place), "reset", "-q", "--hard", base], check=True)
    radar.scan()  # a's branch as its agent left it: nothing on it now
    assert project.git.tip("czar/a") == base
    _commit_in_checkout(project, "b", "shared.txt", "b's entry\n")
    actions.bring_in_handed_in("b")
    move(project, "b", *TO_MERGING)
    found, _ = radar.before_merge(["b"])["b"]
    assert [(f.kind, f.other) for f in found if f.kind != "scope"] == [("duplicate", "a")]
    # Once a merged (or failed), what it had holds nobody back.
    move(project, "a", T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING, T.MERGED)
    found, _ = radar.before_merge(["b"])["b"]
    assert [(f.kind, f.other) for f in found if f.kind != "scope"] == []


def _commit_on_integration(project: Project, scratch: Path, path: str, text: str) -> str:
    """Another task's merge: the integration branch moves (made in a worktree of its own)."""
    git = ["git", "-C", str(project.git.repo)]
    subprocess.run([*git, "worktree", "add", "-q", str(scratch), "czar/integration"], check=True)
    (scratch / path).write_text(text)
    ident = ["-c", "user.name=czar", "-c", "user.email=czar@example.com"]
    subprocess.run(["git", "-C", str(scratch), "add", path], check=True)
    subprocess.run(["git", "-C", str(scratch), *ident, "commit", "-qm", "merged meanwhile"], check=True)
    subprocess.run([*git, "worktree", "remove", "--force", str(scratch)], check=True)
    return project.git.tip("czar/integration")


def _start_from(project: Project, tid: str, commit: str) -> None:
    """The task's agent brings the integration branch in (its checkout fetches it)."""
    place = project.paths.worktree(tid)
    subprocess.run(["git", "-C", str(place), "fetch", "-q", str(project.git.repo), commit], check=True)
    subprocess.run(["git", "-C", str(place), "reset", "-q", "--hard", commit], check=True)


def test_work_undid_at_an_older_base_holds_back_a_later_task_whose_same_lines_moved(
    project: Project, tmp_path: Path
) -> None:
    """As in click's history replayed: task a added a changelog entry and then reset its branch;
    meanwhile merges added lines above the entry's place, and task b, starting from there, adds
    its entry at the same place. Line numbers no longer match; a merge of the two commits still
    conflicts, and b must wait for a (else a, making its change again on top of b's, drops b's)."""
    from czar.supervisor.radar import Radar

    changes = "Unreleased\n\n## 1.0\n- old\n"
    first = _commit_on_integration(project, tmp_path / "i1", "CHANGES.md", changes)
    actions = Actions(project)
    radar = Radar(project, actions)
    _start_from(project, "a", first)
    _commit_in_checkout(project, "a", "CHANGES.md", changes.replace("Unreleased\n", "Unreleased\n- a's entry\n"))
    move(project, "a", T.RUNNING)
    radar.scan()  # a's work seen
    _start_from(project, "a", first)
    radar.scan()  # its agent reset its branch: nothing on it now
    shifted = "# Changelog\n\nAll notable changes.\n\n" + changes
    second = _commit_on_integration(project, tmp_path / "i2", "CHANGES.md", shifted)
    _start_from(project, "b", second)
    _commit_in_checkout(project, "b", "CHANGES.md", shifted.replace("Unreleased\n", "Unreleased\n- b's entry\n"))
    actions.bring_in_handed_in("b")
    move(project, "b", *TO_MERGING)
    found, _ = radar.before_merge(["b"])["b"]
    assert [(f.kind, f.other) for f in found if f.other is not None] == [("conflict", "a")]
    # The merge queue holds b back while a is in flight.
    from czar.supervisor.merge_queue import MergeQueue

    assert MergeQueue(project, actions, radar)._look_again(["b"]) == ({"b": {"a"}}, {})


def test_changes_next_to_each_other_hold_the_later_task_back_though_git_merges_them(
    project: Project, tmp_path: Path
) -> None:
    """Task a renames a changelog heading; task b adds a blank line just under it. git merges the
    two without a word, but each was made without the other in view: b waits for a to merge."""
    from czar.supervisor.radar import Radar

    changes = "# Changelog\n\n## Unreleased\n\n### Fixed\n- old\n"
    first = _commit_on_integration(project, tmp_path / "i1", "CHANGES.md", changes)
    for tid in ("a", "b"):
        _start_from(project, tid, first)
    _commit_in_checkout(project, "a", "CHANGES.md", changes.replace("## Unreleased", "## [Unreleased]"))
    _commit_in_checkout(project, "b", "CHANGES.md", changes.replace("\n### Fixed", "\n\n### Fixed"))
    move(project, "a", T.RUNNING)
    move(project, "b", T.RUNNING)
    found = Radar(project, Actions(project)).scan() or []  # brings both branches in
    assert project.git.merge_tree("czar/a", "czar/b") is None
    assert [(f.kind, f.task, f.other, f.files) for f in found if f.other] == [("conflict", "b", "a", ("CHANGES.md",))]
