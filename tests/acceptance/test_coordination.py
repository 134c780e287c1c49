"""Agents that would step on each other: duplicated work stands off, predicted conflicts are told
and held, and the run still merges everything."""

from __future__ import annotations

import json
from pathlib import Path

from czar.paths import ProjectPaths
from czar.store.store import Event, Store
from helpers import czar, git, make_repo, write_plan


def events_of(name: str) -> list[Event]:
    store = Store(ProjectPaths.for_project(name))
    try:
        return store.events_after(0, limit=100_000)
    finally:
        store.close()


def task(tid: str, script: str, extra: str = "") -> str:
    return f"[[tasks]]\nid = \"{tid}\"\n{extra}body = '''\nDo {tid}.\n\n```czar-sim\n{script}\n```\n'''\n"


SLUGIFY = 'write util.py <<E\ndef slugify(text):\n    return "-".join(text.lower().split())\nE\n'


def _run(tmp_path: Path, name: str, tasks: list[str]) -> dict[str, object]:
    plan = write_plan(tmp_path, name, tasks, workers=2, project_extra="[health]\nsilent_after = 60\n")
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(json.loads(result.stdout))


def test_the_later_of_two_tasks_doing_the_same_work_stands_off(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    # users hands in only once posts stands off for it (the board shows it waiting), however slow
    # the machine: else users could merge before posts's copy was ever seen.
    stood_off = "run sh -c \"until czar board | grep -q 'waits for users'; do sleep 0.2; done\"\n"
    users = task(
        "users",
        SLUGIFY + "write users.py <<E\nfrom util import slugify\nE\ncommit users\n" + stood_off + "finish users",
        extra="priority = 1\n",  # assigned first: the other task is the later one
    )
    posts = task(
        "posts",
        "sleep 0.5\n" + SLUGIFY + "write posts.py <<E\nfrom util import slugify\nE\ncommit posts\nsleep 2\n"
        "finish posts\n"
        "on stand-off\nrun git reset -q --hard HEAD~1\nwait\n"
        "on merged\nrun git merge -q czar/integration\nwrite posts.py <<E\nfrom util import slugify\nE\n"
        "commit posts, on the slugify of users\nfinish posts",
    )
    summary = _run(tmp_path, "dups", [users, posts])
    assert summary["tasks_merged"] == 2
    assert summary["duplication"] == 0.0
    events = events_of("dups")
    found = [e for e in events if e.kind == "radar.duplicate"]
    assert found and found[0].task_id == "posts" and found[0].payload == {"other": "users", "files": ["util.py"]}
    told = [(e.task_id, e.payload["about"]) for e in events if e.kind == "worker.told"]
    assert ("posts", "stand-off") in told and ("posts", "merged") in told
    repo = tmp_path / "repo"
    # Only the task that started first wrote util.py; the other's copy was undone, not merged.
    assert git(repo, "log", "--format=%s", "czar/integration", "--", "util.py").splitlines() == ["users"]


def test_a_predicted_conflict_holds_the_later_task_and_tells_it_to_merge(tmp_path: Path, czar_home: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    (repo / "notes.txt").write_text("line1\nline2\nline3\n")
    git(repo, "add", "notes.txt")
    git(repo, "commit", "-q", "-m", "notes")
    # first hands in only once second says it was told of the conflict, however slow the machine.
    told = "run sh -c \"until czar board | grep -q 'told of the conflict'; do sleep 0.2; done\"\n"
    first = task(
        "first",
        "write notes.txt <<E\nLINE1\nline2\nline3\nE\ncommit first\n" + told + "finish first",
        extra="priority = 1\n",
    )
    second = task(
        "second",
        "sleep 0.5\nwrite notes.txt <<E\nline1\nLINE2\nline3\nE\ncommit second\nwait\n"
        "on conflict\nrun czar report --task second told of the conflict\nwait\n"
        "on conflict\nrun git merge -q czar/integration\n"
        "write notes.txt <<E\nLINE1\nLINE2\nline3\nE\ncommit merge first, keeping both changes\n"
        "finish second, merged with first",
    )
    summary = _run(tmp_path, "conflicts", [first, second])
    assert summary["tasks_merged"] == 2
    events = events_of("conflicts")
    predicted = [(e.task_id, e.payload["other"]) for e in events if e.kind == "radar.conflict"]
    assert ("second", "first") in predicted and ("second", None) in predicted
    merged = [e.task_id for e in events if e.kind == "task.merged"]
    assert merged == ["first", "second"]
    assert git(repo, "show", "czar/integration:notes.txt") == "LINE1\nLINE2\nline3"
