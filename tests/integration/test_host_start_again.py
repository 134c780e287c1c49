"""A worker's agent starts are numbered in turn: a worker host started after one that died in
the middle of starting its agent (the agent launched, its start not yet marked done) starts it
again under a new launch, and what the agent of a worker's earlier task still says is refused."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from czar.agent_tools.identity import token_digest
from czar.agent_tools.service import AgentTools, CallerError
from czar.core.events import EventKind
from czar.core.host_commands import Restart
from czar.host.worker_host import HOST_RESTARTS, WorkerHost
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.project import Project
from helpers import assigned


@pytest.fixture
def project(tmp_path: Path, czar_home: Path) -> Project:
    return assigned(tmp_path, "again", more=("b",))


def _host(project: Project) -> WorkerHost:
    host = WorkerHost.on_store(project.store, project.host_settings("w1"), out=io.StringIO())
    host.current = host._adopt(host.link.started(os.getpid(), token_digest(host.token)))
    return host


def _handle_all(host: WorkerHost) -> None:
    """What waits in the host's inbox, carried out as its loop would."""
    for posted in host.link.commands():
        host.handle(posted)


def _heard_only(project: Project, launch: int, old: int, task: str) -> None:
    """The agent start ``launch`` is heard on ``task``; what start ``old`` still says is refused."""
    with pytest.raises(CallerError, match="was replaced"):
        AgentTools(project.store, "w1", launch=old).report("the old one's words", task=task)
    assert "acknowledged" in AgentTools(project.store, "w1", launch=launch).report("started", task=task)


def _stop(project: Project, host: WorkerHost) -> None:
    host.agent.retire()
    with project.store.write() as conn:  # this test's process stood for the host: not one to end
        Store.set_worker(conn, "w1", pid=None)


def test_a_start_a_dead_host_left_unmarked_starts_the_agent_under_a_new_launch(project: Project) -> None:
    # The first host started the agent (launch 1) and died before marking the start done; the
    # health round superseded what that agent still says.
    with project.store.write() as conn:
        attempt = Store.task(conn, "a").attempt_id
        assert attempt is not None
        Store.set_attempt(conn, attempt, launches=1)
        Store.supersede(conn, attempt)
    host = _host(project)
    try:
        _handle_all(host)  # the start the first host never marked done
        cur = host.current
        assert cur is not None and cur.attempt == attempt
        assert cur.launches == 2  # launch 1 was the dead host's: its agent's calls are refused
        # The new agent is heard (it was told "this agent process of worker w1 was replaced").
        _heard_only(project, 2, old=1, task="a")
    finally:
        _stop(project, host)


def test_the_agent_of_a_workers_earlier_task_is_not_taken_for_its_next(project: Project) -> None:
    host = _host(project)
    try:
        _handle_all(host)  # task a's agent: launch 1, the task's first start
        assert host.current is not None and host.current.launches == host.current.first_launch == 1
        with project.store.write() as conn:  # a is taken back; w1 is given b
            Actions(project).requeue(conn, "a", "test")
        Actions(project).assign("b", "w1", "test")
        _handle_all(host)
        cur = host.current
        assert cur is not None and cur.task == "b" and cur.launches == cur.first_launch == 2
        # a's agent, still ending, reports: not taken for b's (it was, under numbers per task).
        _heard_only(project, 2, old=1, task="b")
        # a again, on w1: its agent's start is numbered on, and it is not the task's first.
        with project.store.write() as conn:
            Actions(project).requeue(conn, "b", "test")
        Actions(project).assign("a", "w1", "test")
        _handle_all(host)
        cur = host.current
        assert cur is not None and cur.task == "a" and cur.launches == 3 and cur.first_launch == 0
        _heard_only(project, 3, old=2, task="a")
    finally:
        _stop(project, host)


def test_a_start_its_dead_host_never_recorded_is_refused_and_the_next_numbered_past_it(project: Project) -> None:
    # The first host started the agent (launch 1, recorded), started it again (launch 2) and died
    # before recording that: outside a sandbox, agent 2 lives on. The supervisor, finding the
    # host gone, supersedes past the start it cannot know of (as its health round does).
    first = _host(project)
    _handle_all(first)
    first.agent.retire()
    with project.store.write() as conn:
        attempt = Store.task(conn, "a").attempt_id
        assert attempt is not None and Store.attempt(conn, attempt).launches == 1
        Store.supersede(conn, attempt, unrecorded=True)
        Store.post(conn, "w1", Restart(attempt, "the worker host of w1 was started again"))
        assert Store.launches_by(conn, "w1") == 2  # a next task's agents are numbered past it too
    host = _host(project)
    try:
        _handle_all(host)
        cur = host.current
        assert cur is not None and cur.launches == 3
        _heard_only(project, 3, old=2, task="a")
    finally:
        _stop(project, host)


def test_a_first_start_its_dead_host_never_recorded_is_refused(project: Project) -> None:
    # The first host started the agent (launch 1) and died before recording it or marking the
    # start done: the store knows of no start. The supervisor supersedes past it all the same.
    with project.store.write() as conn:
        attempt = Store.task(conn, "a").attempt_id
        assert attempt is not None and Store.attempt(conn, attempt).launches == 0
        Store.supersede(conn, attempt, unrecorded=True)
    host = _host(project)
    try:
        _handle_all(host)  # the start, again
        cur = host.current
        assert cur is not None and cur.launches == 2 and cur.first_launch == 0  # it may have started
        _heard_only(project, 2, old=1, task="a")
    finally:
        _stop(project, host)


def test_a_message_for_the_last_task_handled_before_the_next_start_is_numbered_past(project: Project) -> None:
    host = _host(project)
    try:
        _handle_all(host)  # a's agent: launch 1
        with project.store.write() as conn:
            attempt = Store.task(conn, "a").attempt_id
            assert attempt is not None
            # The worker is given b while a restart of a's agent still waits for the host (an
            # approval frees a worker so): b's start is posted numbered on from launch 1.
            Store.post(conn, "w1", Restart(attempt, "a test"))
            Actions.free_worker(conn, "w1", attempt)
        Actions(project).assign("b", "w1", "test")
        _handle_all(host)  # a's agent started again (launch 2), then b's start
        cur = host.current
        assert cur is not None and cur.task == "b" and cur.launches == 3
        _heard_only(project, 3, old=2, task="b")
    finally:
        _stop(project, host)


def test_its_host_starts_an_agent_again_three_times_an_attempt_then_its_end_is_an_exit(
    tmp_path: Path, czar_home: Path
) -> None:
    """An agent whose czar tools did not connect is started again by its host, nothing charged;
    an agent that loses them at every start would loop so for ever: from the fourth, its end is
    reported as any exit, for the supervisor to judge (a crash: restarts, then the worker aside)."""
    project = assigned(tmp_path, "again3", extra="sleep 60")
    host = _host(project)
    try:
        _handle_all(host)
        cur = host.current
        assert cur is not None
        for n in range(HOST_RESTARTS + 1):
            proc = cur.proc
            assert proc is not None and proc.running(), n
            cur.mcp_url = "http://127.0.0.1:1/mcp/w1/1"  # as if given the tools server's address
            host.tools_lost(cur, "czar's MCP server is failed")
            deadline = time.monotonic() + 30
            while cur.proc is proc and time.monotonic() < deadline:
                host.agent.read_agent()  # its output to the end: the host's loop sees it exit
                time.sleep(0.05)
            assert cur.proc is not proc, f"the agent killed at start {n} never ended"
        assert cur.proc is None and cur.host_restarts == HOST_RESTARTS  # not started a fifth time
        events = project.store.all_events_after(0, kinds=(EventKind.AGENT_RESTARTED, EventKind.AGENT_EXITED))
        restarts = [e for e in events if e.kind == EventKind.AGENT_RESTARTED]
        assert [e.payload["by"] for e in restarts] == ["host"] * HOST_RESTARTS
        assert {e.payload["reason"] for e in restarts} == {"czar's tools did not connect"}
        assert [e.kind for e in events][-1] == EventKind.AGENT_EXITED  # the supervisor's to judge
        with project.store.read() as conn:  # the host's own restarts charged nothing
            attempt = Store.task(conn, "a").attempt_id
            assert attempt is not None and Store.attempt(conn, attempt).restarts == 0
    finally:
        _stop(project, host)
