"""What every run that survived a crash must show: each task merged once, never held by two
workers at once, no commit lost; shared by the crash and restart tests."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from czar.paths import ProjectPaths
from czar.store.store import Event, Store
from helpers import git, make_repo, retry_until, sim_task, write_plan

TASKS = "abcdef"
LONGER = "abcdefghijkl"  # two diamonds side by side: for a run that meets many points in turn
SINKS = ("f", "l")  # the diamonds' last tasks, on which no other waits


def crash_plan(
    root: Path,
    name: str,
    check: str,
    *,
    extra_project: str = "",
    agent_extra: str = "",
    tasks: str = TASKS,
    pace: float = 0.0,
) -> Path:
    """Six tasks in a diamond of dependencies (or twelve in two, side by side) on three workers;
    ``check`` runs after each task and after each merge. ``pace``: seconds more each agent takes
    (sleeping: no CPU), so that the run leaves a test time to meet many points in turn."""
    make_repo(root / "repo")
    entries = []
    for i in range(0, len(tasks), 6):
        a, b, c, d, e, f = tuple(tasks[i : i + 6])
        more = f"\nsleep {pace}" if pace else ""
        entries += [
            sim_task(a, extra="sleep 0.3" + more + agent_extra),
            sim_task(b, extra="sleep 0.3" + more),
            sim_task(c, deps=(a,), extra="sleep 0.2" + more),
            sim_task(d, deps=(a, b), extra=more.strip()),
            sim_task(e, deps=(c,), extra=more.strip()),
            sim_task(f, deps=(d, e), extra=more.strip()),
        ]
    return write_plan(root, name, entries, workers=3, project_extra=f"accept = [{json.dumps(check)}]\n{extra_project}")


@dataclass(frozen=True)
class Hold:
    """A run held where it stands: its checks take ``seconds``, then wait while the hold is on. A
    test that acts on work in flight puts it on when the run reaches its point, so that an act
    slow to start (a `czar down` on a loaded machine: seen taking eight seconds) still meets that
    work, instead of a run that finished meanwhile."""

    folder: Path  # made here; the checks' sandbox is told to show it
    seconds: float

    @property
    def check(self) -> str:
        hold = self.folder / "hold"
        wait = f"all(os.path.exists({str(hold)!r}) and not time.sleep(0.05) for _ in iter(int, 1))"
        return f'python -c "import os, time; time.sleep({self.seconds}); {wait}"'

    def plan_lines(self) -> str:
        """The plan's lines that show the folder (made now) to the sandboxed checks."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return f"[sandbox]\nwritable = [{json.dumps(str(self.folder))}]\n"

    def on(self) -> None:
        (self.folder / "hold").touch()

    def off(self) -> None:
        (self.folder / "hold").unlink(missing_ok=True)


def events(name: str) -> list[Event]:
    store = Store(ProjectPaths.for_project(name))
    try:
        return store.events_after(0, limit=100_000)
    finally:
        store.close()


def first(name: str, point: Callable[[Event], bool]) -> Event | None:
    return next((e for e in events(name) if point(e)), None)


def reach(name: str, point: Callable[[Event], bool], what: str, *, after: int = 0, timeout: float = 60) -> Event:
    """Wait for the first event of ``point`` since event ``after``: a point met again after a
    restart, where one run meets several points one after the other."""
    met = retry_until(
        lambda: next((e for e in events(name) if e.id > after and point(e)), None),
        timeout=timeout,
        what=f"{what} (after event {after})",
    )
    assert met is not None
    return met


def last_event(name: str) -> int:
    return events(name)[-1].id


def assert_whole(name: str, repo: Path, summary: dict[str, object], tasks: str = TASKS) -> list[Event]:
    """The run finished: every task merged exactly once, none ever held by two workers at once,
    everything an agent committed is in the integration branch. Returns the run's events."""
    assert summary["tasks_merged"] == summary["tasks_total"] == len(tasks)
    assert summary["integration_tests_passed"] is True
    evs = events(name)
    holding: dict[str | None, str | None] = defaultdict(lambda: None)
    for e in evs:
        if e.kind == "task.assigned":
            assert holding[e.task_id] is None, f"task {e.task_id} assigned while {holding[e.task_id]} held it"
            holding[e.task_id] = e.worker_id
        elif e.kind == "task.state" and e.payload["new"] in ("ready", "approved", "failed"):
            holding[e.task_id] = None
    merged = [e.task_id for e in evs if e.kind == "task.state" and e.payload["new"] == "merged"]
    assert sorted(t or "" for t in merged) == list(tasks)
    commits = [e.payload["sha"] for e in evs if e.kind == "agent.commit"]
    assert commits
    for sha in commits:
        git(repo, "merge-base", "--is-ancestor", sha, "czar/integration")
    log = git(repo, "log", "--merges", "--format=%s", "czar/integration").splitlines()
    assert sorted(line.split()[3].rstrip(":") for line in log) == list(tasks)
    return evs


def assert_nothing_charged(name: str, evs: list[Event], tasks: str = TASKS) -> None:
    """The interruption cost no task anything: no failed verification or merge, no task taken
    back to the pool, each task verified once."""
    failed = [
        (e.kind, e.task_id, e.payload.get("evidence")) for e in evs if e.kind in ("verify.failed", "merge.failed")
    ]
    assert failed == [], failed
    back = [
        e.payload
        for e in evs
        if e.kind == "task.state" and e.payload["new"] == "ready" and e.payload["old"] != "pending"
    ]
    assert back == [], back
    store = Store(ProjectPaths.for_project(name))
    try:
        assert {t.id: t.rounds for t in store.tasks()} == dict.fromkeys(tasks, 1)
    finally:
        store.close()
