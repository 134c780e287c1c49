"""A worker host started after one that died in the middle of starting its agent (the agent
launched, its start not yet marked done): the start comes again, under a new launch."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from czar.agent_tools.identity import token_digest
from czar.agent_tools.service import AgentTools
from czar.host.worker_host import WorkerHost
from czar.store.store import Store
from czar.supervisor.project import Project
from helpers import assigned


@pytest.fixture
def project(tmp_path: Path, czar_home: Path) -> Project:
    return assigned(tmp_path, "again")


def test_a_start_a_dead_host_left_unmarked_starts_the_agent_under_a_new_launch(project: Project) -> None:
    # The first host started the agent (launch 1) and died before marking the start done; the
    # health round superseded what that agent still says.
    with project.store.write() as conn:
        attempt = Store.task(conn, "a").attempt_id
        assert attempt is not None
        Store.set_attempt(conn, attempt, launches=1)
        Store.supersede(conn, attempt)
    host = WorkerHost.on_store(project.store, project.host_settings("w1"), out=io.StringIO())
    host.current = host._adopt(host.link.started(os.getpid(), token_digest(host.token)))
    try:
        for posted in host.link.commands():
            host.handle(posted)  # the start the first host never marked done
        cur = host.current
        assert cur is not None and cur.attempt == attempt
        assert cur.launches == 2  # launch 1 was the dead host's: its agent's calls are refused
        # The new agent is heard (it was told "this agent process of worker w1 was replaced").
        tools = AgentTools(project.store, "w1", launch=cur.launches)
        assert "acknowledged" in tools.report("started", task="a")
        with pytest.raises(Exception, match="was replaced"):
            AgentTools(project.store, "w1", launch=1).report("the old one", task="a")
    finally:
        host.agent.retire()
        with project.store.write() as conn:  # this test's process stood for the host: not one to end
            Store.set_worker(conn, "w1", pid=None)
