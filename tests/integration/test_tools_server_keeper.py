"""The supervisor keeps the project's tools server: a new supervisor keeps the one an earlier one
left running, and starts another when that one dies, at the same address when it is free (the
agents told it go on reaching czar's tools)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from czar.agent_tools.host_link import HttpCarrier, host_key
from czar.agent_tools.tools_server import address, tools_pid
from czar.runtime import proc
from czar.runtime.ancestry import process
from czar.store.store import Store
from czar.supervisor.lock import holder_pid
from czar.supervisor.project import open_project
from czar.supervisor.tools import PID_KEY, ToolsServer
from helpers import make_repo, retry_until, sim_task, write_plan


def test_a_new_supervisor_keeps_the_running_server_and_replaces_a_dead_one(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    project = open_project(write_plan(tmp_path, "keeper", [sim_task("a")], workers=1))
    project.sync_plan()
    first = ToolsServer(project, lambda _text: None)
    first.start()
    try:
        url, pid = address(project.store), first.pid
        assert url is not None and pid is not None
        # The supervisor is killed (its ToolsServer never stops); the next one keeps the server.
        said: list[str] = []
        second = ToolsServer(project, said.append)
        second.start()
        kept = process(pid)
        assert second.pid == pid, f"not kept: {said}; the first now: {kept}"
        assert address(project.store) == url and second.child is None
        assert any("kept" in line for line in said)
        # A pid in the store that is not a tools server (reused by another program) is not kept.
        with project.store.write() as conn:
            Store.set_meta(conn, PID_KEY, os.getpid())
        third = ToolsServer(project, lambda _text: None)
        third.start()
        try:
            assert third.pid not in (pid, os.getpid()) and tools_pid(project.store) == third.pid
        finally:
            third.stop()
        with project.store.write() as conn:
            Store.set_meta(conn, PID_KEY, pid)
            Store.set_meta(conn, "tools_url", url)

        # The server dies with the first supervisor, and so does the socket that supervisor held.
        assert first.listening is not None
        first.listening.close()
        first.listening = None
        os.kill(pid, signal.SIGKILL)
        retry_until(lambda: not proc.pid_alive(pid), what="the kept server to die")
        second.check()
        assert second.pid not in (None, pid) and address(project.store) == url
        second.stop()
        assert address(project.store) is None
    finally:
        first.stop()


def test_a_server_told_of_the_plan_as_it_was_is_replaced_and_none_loads_the_plan(
    tmp_path: Path, czar_home: Path
) -> None:
    make_repo(tmp_path / "repo")
    cache = tmp_path / "cache"
    cache.mkdir()
    plan = write_plan(tmp_path, "told", [sim_task("a")], workers=1)
    project = open_project(plan)
    project.sync_plan()
    first = ToolsServer(project, lambda _text: None)
    first.start()
    try:
        pid = first.pid
        assert pid is not None
        # It serves without the plan's models (pydantic): it was told what it needs of them.
        url = address(project.store)
        assert url is not None
        carrier = HttpCarrier(url, host_key(project.paths.root), "w1")
        try:
            assert carrier("newest_event", None, {}) >= 1
        finally:
            carrier.close()
        assert "pydantic" not in Path(f"/proc/{pid}/maps").read_text()
        # The plan now lets agents write a cache: the next supervisor replaces the server told otherwise.
        plan.write_text(plan.read_text().replace("[workers]", f'[sandbox]\nwritable = ["{cache}"]\n\n[workers]'))
        said: list[str] = []
        second = ToolsServer(open_project(plan), said.append)
        second.start()
        try:
            assert second.pid not in (None, pid) and any("replaced" in line for line in said), said
            retry_until(lambda: not proc.pid_alive(pid), what="the server told of the old plan to end")
            told = process(second.pid) if second.pid else None
            assert told is not None and ("--writable", str(cache)) in zip(told.cmdline, told.cmdline[1:], strict=False)
        finally:
            second.stop()
    finally:
        first.stop()


def test_a_supervisor_that_fails_to_start_leaves_no_tools_server_it_started(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supervisor starts its tools server first (it loads while the plan is synced): a start
    that fails after it (a git error, say) must not leave it running for a run that never began,
    nor hold the project's lock."""
    import io

    from czar.errors import CzarError
    from czar.supervisor.loop import Supervisor

    make_repo(tmp_path / "repo")
    project = open_project(write_plan(tmp_path, "failing", [sim_task("a")], workers=1))

    def broken() -> None:
        raise CzarError("git said no")

    monkeypatch.setattr(project, "sync_plan", broken)
    with pytest.raises(CzarError, match="git said no"):
        Supervisor(project, out=io.StringIO()).run()
    started = [e.payload["pid"] for e in project.store.events_after(0) if e.kind == "tools.started"]
    assert len(started) == 1 and not proc.pid_alive(started[0])
    assert tools_pid(project.store) is None
    assert holder_pid(project.paths.supervisor_lock) is None  # the next supervisor may start
