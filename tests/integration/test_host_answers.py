"""A worker host carrying a person's answer to its agent: the answer's poster (a person's `czar
allow`, the health round's timeout) already set the worker to work in the same write; the host
changes nothing of the worker's state, which may show the agent's next request by then."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

from czar.agent_tools.identity import token_digest
from czar.core.asked import Asked
from czar.core.events import EventKind
from czar.core.host_commands import Answer
from czar.core.states import WorkerState
from czar.host.worker_host import WorkerHost
from czar.store.store import Store
from helpers import assigned


def test_an_answer_carried_to_the_agent_leaves_the_next_request_shown(tmp_path: Path, czar_home: Path) -> None:
    project = assigned(tmp_path, "answers", extra="sleep 60")
    host = WorkerHost.on_store(project.store, project.host_settings("w1"), out=io.StringIO())
    host.current = host._adopt(host.link.started(os.getpid(), token_digest(host.token)))
    try:
        for posted in host.link.commands():
            host.handle(posted)  # its agent started
        attempt = host.current.attempt if host.current else None
        assert attempt is not None
        # A person allowed the first of two tool calls of one turn; the second is shown by now.
        second = Asked("WebFetch", "https://example.com/second", time.time(), 99, os.getpid()).dumps()
        with project.store.write() as conn:
            Store.post(conn, "w1", Answer(attempt, True, "allowed by a person"))
            Store.set_worker(conn, "w1", state=WorkerState.WAITING_PERMISSION, detail=second)
        for posted in host.link.commands():
            host.handle(posted)
        with project.store.read() as conn:
            worker = Store.worker(conn, "w1")
        assert worker.state == WorkerState.WAITING_PERMISSION.value and worker.detail == second
        delivered = project.store.all_events_after(0, kinds=(EventKind.AGENT_ANSWER_DELIVERED,))
        assert [e.payload["allow"] for e in delivered] == [True]
    finally:
        host.agent.retire()
        with project.store.write() as conn:
            Store.set_worker(conn, "w1", pid=None)
