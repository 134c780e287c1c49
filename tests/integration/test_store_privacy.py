"""The store is its owner's alone: the project folder 0700, the database and its -wal/-shm 0600,
whether czar creates them or finds them looser; and it keeps no worker's token, only its digest."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from czar.agent_tools.identity import Caller, CallerError, token_digest
from czar.agent_tools.service import AgentTools
from czar.core.events import EventKind
from czar.core.states import WorkerState
from czar.paths import ProjectPaths
from czar.store.store import Store
from czar.supervisor.project import open_project
from helpers import make_repo, sim_task, write_plan


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def files(paths: ProjectPaths) -> list[Path]:
    return [paths.db, paths.db.with_name("czar.db-wal"), paths.db.with_name("czar.db-shm")]


def test_a_new_store_is_readable_by_its_owner_only(czar_home: Path) -> None:
    old = os.umask(0o022)  # a usual umask: files would be world-readable
    try:
        paths = ProjectPaths.for_project("private")
        store = Store(paths)
        with store.write() as conn:
            Store.emit(conn, EventKind.AGENT_REPORT, actor="test")
        assert mode(paths.root) == 0o700
        for f in files(paths):
            assert f.exists() and mode(f) == 0o600, f
        store.close()
    finally:
        os.umask(old)


def test_an_older_stores_modes_are_put_right_when_it_is_opened(czar_home: Path) -> None:
    paths = ProjectPaths.for_project("older")
    store = Store(paths)
    with store.write() as conn:
        Store.emit(conn, EventKind.AGENT_REPORT, actor="test")
    paths.root.chmod(0o755)
    for f in files(paths):
        f.chmod(0o644)
    again = Store(paths)
    assert mode(paths.root) == 0o700
    assert [mode(f) for f in files(paths)] == [0o600] * 3
    again.close()
    store.close()


def test_a_token_read_from_the_store_does_not_authenticate(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    project = open_project(write_plan(tmp_path, "tokens", [sim_task("a")], workers=1))
    project.sync_plan()
    token = "the-token-of-w1"
    with project.store.write() as conn:
        # What the worker host writes when it starts (``WorkerHost.run``).
        Store.set_worker(conn, "w1", state=WorkerState.IDLE, token=token_digest(token))
    stored = next(w.token for w in project.store.workers() if w.id == "w1")
    assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in stored
    with pytest.raises(CallerError, match="does not belong to worker w1"):
        AgentTools.for_caller(Caller(project.paths, "w1", stored))
    assert AgentTools.for_caller(Caller(project.paths, "w1", token)).worker == "w1"
