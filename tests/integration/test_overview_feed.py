"""The read model kept up to date from events (``Feed``) shows what a whole read shows, and says
what changed: a live view of a hundred workers re-reads only that."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from czar.core.events import EventKind
from czar.core.states import TaskState, WorkerState
from czar.store.store import Store
from czar.supervisor import overview as overview_module
from czar.supervisor import people
from czar.supervisor.overview import Feed, Overview, overview
from helpers import on_fakes

T = TaskState


def _same(picture: Overview) -> dict[str, Any]:
    seen = picture.as_dict()
    seen.pop("at")
    for w in seen["workers"]:
        w.pop("for_seconds")
    return seen


def test_a_feed_shows_what_a_whole_read_shows_after_every_change(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, [f"t{i}" for i in range(8)], workers=3)
    feed = Feed(f.project, git=False)
    assert _same(feed.look()) == _same(overview(f.project, git=False))
    rnd = random.Random(5)
    f.assign({"t0": "w1", "t1": "w2"})
    for steps in range(1, 61):
        what = rnd.choice(["progress", "alert", "question", "permission", "usage", "fail", "retry", "pause"])
        with f.project.store.write() as conn:
            task = rnd.choice(["t0", "t1"])
            worker = {"t0": "w1", "t1": "w2"}[task]
            row = Store.task(conn, task)
            if what == "progress" and row.attempt_id is not None:
                Store.record_report(conn, task, checkpoint=rnd.randint(1, 3), note="going")
                Store.emit(conn, EventKind.AGENT_PROGRESS, task=task, worker=worker, checkpoint=1, text="x")
            elif what == "alert":
                Store.alert(conn, rnd.choice(["warning", "critical"]), f"alert {steps}", task=task)
            elif what == "question" and row.worker_id is not None:
                Store.set_waits(conn, task, "a person")
                Store.emit(conn, EventKind.AGENT_QUESTION, task=task, worker=worker, question=f"q{steps}?")
            elif what == "permission" and row.worker_id is not None:
                detail = json.dumps({"tool": "Bash", "target": f"cmd {steps}", "asked_at": time.time()})
                Store.set_worker(conn, worker, state=WorkerState.WAITING_PERMISSION, detail=detail)
                Store.emit(conn, EventKind.PERMISSION_ASKED, task=task, worker=worker, tool="Bash", target="x")
            elif what == "usage" and row.attempt_id is not None:
                Store.add_usage(
                    conn,
                    row.attempt_id,
                    input_tokens=10,
                    output_tokens=5,
                    cache_read_tokens=0,
                    cache_write_tokens=0,
                    cost_usd=0.01,
                )
                Store.emit(conn, EventKind.AGENT_USAGE, task=task, worker=worker, attempt=row.attempt_id)
        if what == "fail":
            t = f.task("t5")
            if t.state is T.PENDING:
                f.move("t5", T.FAILED)
        elif what == "retry" and f.task("t5").state is T.FAILED:
            people.retry(f.project, "t5")
        elif what == "pause":
            people.pause(f.project) if rnd.random() < 0.5 else people.resume(f.project)
        assert _same(feed.look()) == _same(overview(f.project, git=False)), f"after step {steps}: {what}"


def test_a_feed_names_what_changed(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a", "b"], workers=2)
    feed = Feed(f.project, git=False)
    assert feed.look().changed is None  # the first look reads everything
    assert feed.look().changed == frozenset()
    f.assign({"a": "w1"})
    changed = feed.look().changed
    assert changed is not None and {"task:a", "worker:w1"} <= changed
    assert not any(k in changed for k in ("task:b", "worker:w2"))
    with f.project.store.write() as conn:
        Store.alert(conn, "warning", "look here")
    assert feed.look().changed == frozenset({"alerts"})


def test_a_feed_sees_waits_that_end_with_another_task(tmp_path: Path, czar_home: Path) -> None:
    from czar.core.host_commands import MessageKind
    from czar.supervisor.actions import Actions

    f = on_fakes(tmp_path, ["a", "b", "c"], workers=3)
    f.assign({"c": "w3"})
    with f.project.store.write() as conn:
        Store.set_waits(conn, "c", "a, b")  # c's agent said it waits for a and b
    feed = Feed(f.project, git=False)
    assert feed.look().task("c").blocked_on == "a, b"  # type: ignore[union-attr]
    f.move("a", T.READY, T.ASSIGNED, T.FAILED)  # a ends: c waits for b only, and no event names c
    with f.project.store.write() as conn:
        Actions(f.project).finished(conn, "a", MessageKind.FAILED, "a failed")
    assert _same(feed.look()) == _same(overview(f.project, git=False))
    assert feed.look().task("c").blocked_on == "b"  # type: ignore[union-attr]


def test_a_live_views_feed_counts_only_the_branches_at_work_and_can_leave_git_to_another_thread(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every merge moves the integration branch, and counting a branch against it is a git
    process: a live view counts the branches it shows (the integration branch and the tasks' at
    work), and the web page's looks never wait for git (another thread reads the branches)."""
    from czar.supervisor.project import open_project
    from helpers import git, make_repo, sim_task, write_plan

    repo = make_repo(tmp_path / "repo")
    project = open_project(write_plan(tmp_path, "branches", [sim_task("a"), sim_task("b")]))
    project.sync_plan()
    for branch in ("czar/integration", "czar/a", "czar/b"):
        git(repo, "branch", branch, "main")
    with project.store.write() as conn:
        Store.move_task(conn, "a", T.READY, reason="test")
        attempt = Store.new_attempt(
            conn,
            task_id="a",
            worker_id="w1",
            branch="czar/a",
            worktree=str(tmp_path / "wt"),
            base_commit="0" * 40,
            prompt="do it",
            prompt_sha256="0" * 64,
            after_launch=0,
        )
        Store.move_task(conn, "a", T.ASSIGNED, reason="test", worker_id="w1", attempt_id=attempt)
        Store.set_worker(conn, "w1", task_id="a", state=WorkerState.WORKING)

    def names(picture: Overview) -> list[str]:
        return sorted(str(b["branch"]) for b in picture.branches)

    assert names(Feed(project).look()) == ["czar/a", "czar/b", "czar/integration"]  # czar status: all
    assert names(Feed(project, every_branch=False).look()) == ["czar/a", "czar/integration"]

    apart = Feed(project, every_branch=False, branches_apart=True)
    assert apart.look().branches == [] and apart.branches_due.is_set()  # the look ran no git
    apart.branches_due.clear()
    assert apart.read_branches() and apart.has_news()  # what the other thread does
    assert names(apart.look()) == ["czar/a", "czar/integration"] and not apart.has_news()
    tree = git(repo, "rev-parse", "main^{tree}").strip()
    commit = git(repo, "commit-tree", tree, "-p", "main", "-m", "work on a").strip()
    git(repo, "update-ref", "refs/heads/czar/a", commit)
    with project.store.write() as conn:
        Store.emit(conn, EventKind.AGENT_COMMIT, task="a", worker="w1", attempt=attempt, commit=commit)
    assert apart.look().changed is not None and apart.branches_due.is_set()  # a branch may have moved
    assert apart.read_branches()
    picture = apart.look()
    assert picture.changed is not None and {"branches", "worker:w1"} <= picture.changed
    assert next(w for w in picture.workers if w.id == "w1").ahead == 1
    # A merge moves the integration branch: a live view's count of a branch that did not move
    # lags (at most COUNTS_LAG_SECONDS), a status counts it now.
    merged = git(repo, "commit-tree", tree, "-p", "main", "-m", "another task merged").strip()
    git(repo, "update-ref", "refs/heads/czar/integration", merged)
    apart.read_branches()
    assert next(w for w in apart.look().workers if w.id == "w1").behind == 0
    assert next(b for b in Feed(project).look().branches if b["branch"] == "czar/a")["behind"] == 1
    lag = apart.recount_in()
    assert lag is not None and 0 < lag <= overview_module.COUNTS_LAG_SECONDS  # counted again then, events or not
    again = git(repo, "commit-tree", tree, "-p", commit, "-m", "more work on a").strip()
    git(repo, "update-ref", "refs/heads/czar/a", again)  # the branch moved: counted again at once
    apart.read_branches()
    moved = next(w for w in apart.look().workers if w.id == "w1")
    assert (moved.ahead, moved.behind) == (2, 1)
    # When the lag is over, the lagging count is counted again though nothing else happened.
    monkeypatch.setattr(overview_module, "COUNTS_LAG_SECONDS", 0.2)
    later = git(repo, "commit-tree", tree, "-p", merged, "-m", "a third task merged").strip()
    git(repo, "update-ref", "refs/heads/czar/integration", later)
    apart.read_branches()
    assert next(w for w in apart.look().workers if w.id == "w1").behind == 1  # lagging
    time.sleep(0.3)
    apart.branches_due.clear()
    apart.look()  # no event: the look sees the recount is due
    assert apart.branches_due.is_set()
    apart.read_branches()
    assert next(w for w in apart.look().workers if w.id == "w1").behind == 2 and apart.recount_in() is None


def test_a_feed_reads_the_workers_last_sign_of_life_between_whole_reads(tmp_path: Path, czar_home: Path) -> None:
    """A worker's last sign of life is written with no event: a live view reads every worker again
    at its own pace (``workers_seconds``), without reading the whole run."""
    f = on_fakes(tmp_path, ["a"], workers=2)
    often = Feed(f.project, git=False, whole_seconds=3600, workers_seconds=0)
    seldom = Feed(f.project, git=False, whole_seconds=3600, workers_seconds=3600)
    often.look(), seldom.look()
    with f.project.store.write() as conn:
        Store.set_worker(conn, "w2", last_seen=123.0)  # no event
    picture = often.look()
    assert picture.changed == frozenset({"worker:w2"})
    assert next(w for w in picture.workers if w.id == "w2").last_seen == 123.0
    assert seldom.look().changed == frozenset()
    assert often.look().changed == frozenset()  # read again, and nothing moved


def test_a_permission_request_is_said_in_words_where_the_workers_are_listed(tmp_path: Path, czar_home: Path) -> None:
    # `czar status` showed the worker's detail as the store keeps it: {"tool": "Bash", "target": ...
    f = on_fakes(tmp_path, ["a"], workers=1)
    f.assign({"a": "w1"})
    with f.project.store.write() as conn:
        detail = json.dumps({"tool": "Bash", "target": "cd /tmp &&\nls", "asked_at": time.time(), "asked": 7})
        Store.set_worker(conn, "w1", state=WorkerState.WAITING_PERMISSION, detail=detail)
    (w1,) = overview(f.project, git=False).workers
    assert w1.detail == "Bash: cd /tmp && ↵ ls"  # on one line, as a table's cell shows it
    with f.project.store.write() as conn:
        Store.set_worker(conn, "w1", state=WorkerState.WORKING, detail="[x] a note of its own")
    (w1,) = overview(f.project, git=False).workers
    assert w1.detail == "[x] a note of its own"
