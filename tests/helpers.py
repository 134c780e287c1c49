"""Shared helpers for czar's tests: real git repositories, small plans, waiting on conditions."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from czar.core.events import EventKind
from czar.core.host_commands import HostCommand, Tell, Unreadable
from czar.core.states import TaskState, WorkerState
from czar.paths import ProjectPaths
from czar.store.records import Task
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.project import Project, open_project
from czar.testing import FakeClock, FakeRepository, FakeTerminal

T = TypeVar("T")

IDENTITY = ["-c", "user.name=test", "-c", "user.email=test@example.com"]


def retry_until(condition: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Wait for ``condition()`` to return something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *IDENTITY, *args], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def project_events(name: str, *kinds: EventKind) -> list[dict[str, object]]:
    """The project's events of ``kinds``, oldest first, each as its kind, task, worker and payload."""
    store = Store(ProjectPaths.for_project(name))
    try:
        return [
            {"kind": e.kind, "task": e.task_id, "worker": e.worker_id, **e.payload}
            for e in store.events_after(0, 10_000, kinds)
        ]
    finally:
        store.close()


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# sample\n")
    (path / ".gitignore").write_text("__pycache__/\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def lfs_repo(root: Path, home: Path, content: str) -> Path:
    """A repository (``root/repo``) using Git LFS for ``*.bin``, its ``data.bin`` holding
    ``content``, for a person whose home is ``home`` (set as HOME before this: ``git lfs install``
    is theirs, in its ``.gitconfig``)."""
    home.mkdir(exist_ok=True)
    (home / ".gitconfig").write_text("[user]\n\tname = Person\n\temail = person@example.com\n")
    assert shutil.which("git-lfs"), "Git LFS is missing: `make test` installs it (scripts/system-deps --tests)"
    subprocess.run(["git", "lfs", "install", "--skip-repo"], check=True, capture_output=True)
    repo = make_repo(root / "repo")
    (repo / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    (repo / "data.bin").write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "large data")
    assert git(repo, "show", "HEAD:data.bin").startswith("version https://git-lfs.github.com/spec/v1")
    return repo


def repo_with_remote(root: Path, *, task_branch: str | None = None) -> tuple[Path, Path]:
    """A repository (``root/repo``) whose remote ``origin`` is a bare repository on disk
    (``root/remote.git``) holding its ``main``; with ``task_branch``, that branch and
    ``czar/integration`` too, the task's holding a commit of ``a.txt`` (three lines)."""
    repo = make_repo(root / "repo")
    bare = root / "remote.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    branches = ["main"]
    if task_branch is not None:
        git(repo, "branch", "czar/integration", "main")
        git(repo, "checkout", "-q", "-b", task_branch)
        (repo / "a.txt").write_text("one\ntwo\nthree\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", "a")
        git(repo, "checkout", "-q", "main")
        branches += ["czar/integration", task_branch]
    git(repo, "push", "-q", "origin", *branches)
    return repo, bare


def sim_task(
    tid: str,
    *,
    deps: tuple[str, ...] = (),
    files: dict[str, str] | None = None,
    extra: str = "",
    accept: list[str] | None = None,
    feedback: str = "",
) -> str:
    """A TOML [[tasks]] entry whose sim script writes ``files``, commits and finishes."""
    files = files if files is not None else {f"{tid}.txt": f"{tid}\n"}
    lines = ["progress 1 starting"]
    for path, content in files.items():
        lines += [f"write {path} <<END", content.rstrip("\n"), "END"]
    lines += [extra] if extra else []
    lines += [f"commit add {tid}", f"finish {tid} done"]
    if feedback:
        lines += ["on feedback", feedback]
    script = "\n".join(lines)
    scope = json.dumps(sorted(files))
    acc = "" if accept is None else f"accept = {json.dumps(accept)}\n"
    return (
        f'[[tasks]]\nid = "{tid}"\ntitle = "task {tid}"\ndepends_on = {json.dumps(list(deps))}\n'
        f"scope = {scope}\n{acc}body = '''\nDo {tid}.\n\n```czar-sim\n{script}\n```\n'''\n"
    )


def write_plan(root: Path, name: str, tasks: list[str], *, workers: int = 2, project_extra: str = "") -> Path:
    plan = root / "czar.toml"
    plan.write_text(
        f'[project]\nname = "{name}"\nrepo = "repo"\n{project_extra}\n[workers]\ncount = {workers}\nagent = "sim"\n\n'
        + "\n".join(tasks)
    )
    return plan


def czar(
    *args: str, cwd: Path | None = None, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the real ``czar`` command in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "czar", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )
    if check and result.returncode != 0:
        raise AssertionError(f"czar {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def assigned(
    root: Path, name: str, token: str | None = None, *, more: tuple[str, ...] = (), extra: str = ""
) -> Project:
    """A project of one simulated task, ``a``, assigned to its one worker, ``w1`` (its branch and
    checkout made, its start waiting in w1's inbox), as the supervisor leaves it; ``token``: the
    worker's agent token, whose digest the store keeps; ``more``: other tasks, ready too;
    ``extra``: more of a's script, before it commits."""
    from czar.agent_tools.identity import token_digest

    make_repo(root / "repo")
    tasks = [sim_task("a", extra=extra), *(sim_task(t) for t in more)]
    project = open_project(write_plan(root, name, tasks, workers=1))
    project.sync_plan()
    project.git.ensure_branch("czar/integration", "main")
    with project.store.write() as conn:
        for t in ("a", *more):
            Store.move_task(conn, t, TaskState.READY, reason="test")
        Store.set_worker(conn, "w1", state=WorkerState.IDLE, token=token_digest(token) if token else None)
    Actions(project).assign("a", "w1", "test")
    return project


def czar_started(*args: str) -> subprocess.Popen[str]:
    """The real ``czar`` command, started in the background (its output in text pipes)."""
    return subprocess.Popen(
        [sys.executable, "-m", "czar", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


@dataclass
class OnFakes:
    """A project whose repository, terminal and clock are czar's fakes (``czar.testing``); its
    store is a real SQLite store. The fake clock starts at the machine's time, as the store's
    stamps do, and moves only when told to."""

    project: Project
    repo: FakeRepository
    terminal: FakeTerminal
    clock: FakeClock

    def move(self, tid: str, *states: TaskState) -> None:
        with self.project.store.write() as conn:
            for state in states:
                Store.move_task(conn, tid, state, reason="test")

    def states(self) -> dict[str, str]:
        return {t.id: str(t.state) for t in self.project.store.tasks()}

    def task(self, tid: str) -> Task:
        return next(t for t in self.project.store.tasks() if t.id == tid)

    def assign(self, pairs: dict[str, str], *, pid: int | None = None, actions: Actions | None = None) -> None:
        """Each task to its worker, as the supervisor does (its branch and checkout made in the
        fake repository); ``pid``, the process that stands for every worker host; ``actions``,
        the supervisor's (what it remembers of the tasks made ahead), if not new ones."""
        with self.project.store.write() as conn:
            for tid, wid in pairs.items():
                Store.move_task(conn, tid, TaskState.READY, reason="test")
                Store.set_worker(conn, wid, state=WorkerState.IDLE, pid=pid)
        actions = actions or Actions(self.project)
        for tid, wid in pairs.items():
            actions.assign(tid, wid, "test")
        self.catch_up()

    def catch_up(self) -> None:
        """Move the fake clock to the machine's time: the store stamps what it records (an
        attempt's start, a worker's state) with the machine's clock, a moment after the fake one
        started; after this, no stamp is ahead of the fake clock."""
        self.clock.advance(max(0.0, time.time() - self.clock.time()))

    def checkout(self, tid: str) -> Path:
        return self.project.paths.worktree(tid)

    def told(self, wid: str) -> list[str]:
        """What waits in the worker host's inbox, oldest first: each command's kind, and a
        message's kind after a colon."""
        with self.project.store.read() as conn:
            posted = Store.queued(conn, wid)
        return [_kind(p.command) for p in posted]

    def take(self, wid: str) -> list[HostCommand | Unreadable]:
        """The worker's host takes what waits in its inbox, as a live host does."""
        with self.project.store.write() as conn:
            posted = Store.queued(conn, wid)
            for p in posted:
                Store.mark_done(conn, p.id)
        return [p.command for p in posted]


def _kind(c: HostCommand | Unreadable) -> str:
    return f"message:{c.kind}" if isinstance(c, Tell) else c.kind if isinstance(c, Unreadable) else c.KIND


def on_fakes(
    tmp_path: Path,
    task_ids: list[str],
    *,
    workers: int = 2,
    project_extra: str = "",
    scope: tuple[str, ...] = (),
    entries: list[str] | None = None,
) -> OnFakes:
    """The plan's tasks in the store, ``czar/integration`` at ``main``, and its worktree. Each
    task's scope is its own ``<id>.txt`` and ``scope``; or the plan's ``entries`` as given."""
    (tmp_path / "repo").mkdir(exist_ok=True)
    if entries is None:
        entries = [sim_task(t, files={f"{t}.txt": f"{t}\n", **dict.fromkeys(scope, "x\n")}) for t in task_ids]
    plan = write_plan(tmp_path, "fakes", entries, workers=workers, project_extra=project_extra)
    repo, terminal, clock = FakeRepository(), FakeTerminal(), FakeClock(time.time())
    opened = open_project(plan, check_repo=False)
    project = replace(opened, repository=repo, terminal=terminal, clock=clock)
    project.sync_plan()
    repo.branch(project.plan.project.integration_branch, "main")
    repo.add_worktree(project.paths.integration_worktree, project.plan.project.integration_branch)
    return OnFakes(project, repo, terminal, clock)
