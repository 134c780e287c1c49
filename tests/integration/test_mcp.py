"""czar's MCP server: the agent tools over MCP, in process and over stdio, and the worker's proof."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from czar.agent_tools.identity import Caller, CallerError, token_digest
from czar.agent_tools.mcp_tools import build
from czar.core.policy import target_of
from czar.core.states import TaskState, WorkerState
from czar.runtime import proc
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.project import Project, open_project
from helpers import make_repo, retry_until, sim_task, write_plan


@pytest.fixture
def project(tmp_path: Path, czar_home: Path) -> Project:
    make_repo(tmp_path / "repo")
    plan = write_plan(tmp_path, "mcp", [sim_task("a"), sim_task("b")], workers=2)
    # Workers of an agent that speaks MCP over HTTP: the tools server serves MCP only for such a plan.
    plan.write_text(plan.read_text().replace('agent = "sim"', 'agent = "claude"'))
    project = open_project(plan)
    project.sync_plan()
    project.git.ensure_branch("czar/integration", "main")
    with project.store.write() as conn:
        for tid in ("a", "b"):
            Store.move_task(conn, tid, TaskState.READY, reason="test")
        for wid, token in (("w1", "secret-1"), ("w2", "secret-2")):
            Store.set_worker(conn, wid, state=WorkerState.IDLE, token=token_digest(token))
    Actions(project).assign("a", "w1", "test")
    Actions(project).assign("b", "w2", "test")
    return project


def call(server: Any, tool: str, args: dict[str, Any]) -> Any:
    async def go() -> Any:
        async with Client(server) as client:
            return await client.call_tool(tool, args)

    return asyncio.run(go())


def text(result: Any) -> str:
    return "".join(c.text for c in result.content)


def test_the_tools_are_czars_agent_tools(project: Project) -> None:
    server = build(Caller(project.paths, "w1", "secret-1"))

    async def names() -> list[str]:
        async with Client(server) as client:
            return [t.name for t in (await client.list_tools()).tools]

    assert sorted(asyncio.run(names())) == sorted(
        ["report", "board", "claim", "release", "done", "blocked", "ask", "finding", "verdict", "permission"]
    )
    assert "acknowledged" in text(call(server, "report", {"task": "a", "text": "write a.txt"}))
    assert "checkpoint 1 recorded" in text(call(server, "report", {"text": "halfway", "checkpoint": 1}))
    refused = call(server, "claim", {"paths": ["b.txt"]})
    assert "refused b.txt: b.txt is held by task b (worker w2)" in text(refused)
    assert "w2 (working) works on task b" in text(call(server, "board", {}))
    assert "submitted" in text(call(server, "done", {"summary": "a is done"}))
    assert next(t.state for t in project.store.tasks() if t.id == "a") == "submitted"


def test_a_worker_cannot_act_for_another(project: Project) -> None:
    with pytest.raises(CallerError, match="does not belong to worker w2"):
        build(Caller(project.paths, "w2", "secret-1"))


def test_permission_answers_claude_codes_permission_prompt(project: Project) -> None:
    server = build(Caller(project.paths, "w1", "secret-1"))
    call(server, "report", {"task": "a", "text": "go"})
    allowed = json.loads(
        text(call(server, "permission", {"tool_name": "Bash", "input": {"command": "python -m pytest"}}))
    )
    assert allowed == {"behavior": "allow", "updatedInput": {"command": "python -m pytest"}}
    denied = json.loads(
        text(call(server, "permission", {"tool_name": "Bash", "input": {"command": "git push origin main"}}))
    )
    assert denied["behavior"] == "deny" and "pushing" in denied["message"]
    assert target_of("Write", {"file_path": "/x/y.py", "content": "..."}) == "/x/y.py"


def test_the_server_speaks_mcp_over_stdio(project: Project, czar_home: Path) -> None:
    env = dict(os.environ, CZAR_HOME=str(czar_home), CZAR_PROJECT="mcp", CZAR_WORKER="w1", CZAR_TOKEN="secret-1")
    params = StdioServerParameters(command=sys.executable, args=["-m", "czar", "mcp", "--worker", "w1"], env=env)
    result = call(params, "report", {"task": "a", "text": "over stdio"})
    assert "acknowledged" in text(result)
    assert next(t.last_note for t in project.store.tasks() if t.id == "a") == "over stdio"


def _post(url: str, headers: dict[str, str]) -> int:
    """The status of a bare MCP request (tools/list) to ``url``."""
    return _answer(url, headers, {"jsonrpc": "2.0", "id": 1, "method": "tools/list"})[0]


def _answer(url: str, headers: dict[str, str], message: dict[str, Any]) -> tuple[int, str]:
    """The status of a bare MCP request to ``url``, and the type of its answer."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        # Both, as MCP's streamable HTTP asks of every client (czar streams some answers).
        url,
        data=json.dumps(message).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()
            return int(answer.status), answer.headers.get("content-type", "")
    except urllib.error.HTTPError as refused:
        refused.close()
        return refused.code, ""


def _session(url: str, token: str, tool: str, args: dict[str, Any]) -> tuple[list[str], str]:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def go() -> tuple[list[str], str]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http,
            streamable_http_client(url, http_client=http) as streams,
            ClientSession(streams[0], streams[1]) as client,
        ):
            await client.initialize()
            names = [t.name for t in (await client.list_tools()).tools]
            return names, text(await client.call_tool(tool, args))

    return asyncio.run(go())


def test_the_projects_tools_server_serves_each_worker_its_own_tools_and_survives_a_kill(project: Project) -> None:
    """One server for every worker's agent, started by the supervisor on a socket it keeps: a
    worker proves itself with its token on its own path; killed, the server is started again at
    the same address, and the agents' next calls get through."""
    import signal

    from czar.agent_tools.host_link import mcp_path
    from czar.agent_tools.tools_server import address
    from czar.supervisor.tools import ToolsServer

    said: list[str] = []
    tools = ToolsServer(project, said.append)
    tools.start()
    try:
        base = address(project.store)
        assert base is not None and base.startswith("http://127.0.0.1:")
        # Called at once: the server may still be loading; the call waits in the socket's queue.
        names, reply = _session(base + mcp_path("w1", 1), "secret-1", "report", {"task": "a", "text": "write a.txt"})
        assert "permission" in names and "done" in names
        assert "acknowledged" in reply
        _, reply = _session(base + mcp_path("w2", 1), "secret-2", "report", {"task": "b", "text": "write b.txt"})
        assert "acknowledged" in reply
        assert {e.task_id for e in project.store.events_after(0) if e.kind == "agent.ack"} == {"a", "b"}
        # Another worker's token, no token, a digest, another path: nothing gets through.
        digest = token_digest("secret-1")
        for path, headers in (
            (mcp_path("w1", 1), {"Authorization": "Bearer secret-2"}),
            (mcp_path("w1", 1), {}),
            (mcp_path("w1", 1), {"Authorization": f"Bearer {digest}"}),
            (mcp_path("nobody", 1), {"Authorization": "Bearer secret-1"}),
        ):
            assert _post(base + path, headers) == 401, (path, headers)
        assert _post(base + "/mcp", {"Authorization": "Bearer secret-1"}) == 404
        # An agent's token does not open its host's door (the hosts' calls on the store).
        assert _post(base + "/host/w1", {"Authorization": "Bearer secret-1"}) == 401
        assert _post(base + mcp_path("w1", 1), {"Authorization": "Bearer secret-1"}) == 200
        # A permission, which may wait for a person, is answered as a stream (its headers at once:
        # Claude Code waits five minutes for them at most); any other call whole (a stream's client
        # that loses it waits one to two minutes for it to resume, which this server cannot do).
        proven = {"Authorization": "Bearer secret-1"}
        for tool, args, kind in (
            ("permission", {"tool_name": "Bash", "input": {"command": "ls"}}, "text/event-stream"),
            ("report", {"text": "halfway"}, "application/json"),
            ("board", {}, "application/json"),
        ):
            message = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": args}}
            assert _answer(base + mcp_path("w1", 1), proven, message) == (200, kind), tool
        # A call czar cannot read to choose is left to the SDK to answer (it was a 500 and a traceback).
        for odd in ({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": ["x"]}}, [[[[]]]] * 2):
            status, _ = _answer(base + mcp_path("w1", 1), proven, odd)  # type: ignore[arg-type]
            assert status != 500, odd
        # A start of the agent that czar replaced speaks no more.
        with project.store.write() as conn:
            attempt = Store.task(conn, "a").attempt_id
            assert attempt is not None
            Store.set_attempt(conn, attempt, stale_launch=1)
        _, reply = _session(base + mcp_path("w1", 1), "secret-1", "report", {"text": "still here"})
        assert "replaced" in reply

        first = tools.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        retry_until(lambda: not proc.pid_alive(first), what="the server to die")
        assert address(project.store) is None  # a host now gives its agent a stdio server
        tools.check()
        assert tools.pid != first and address(project.store) == base
        _, reply = _session(base + mcp_path("w1", 2), "secret-1", "board", {})
        assert "w2 (working) works on task b" in reply
    finally:
        tools.stop()
    assert address(project.store) is None
    assert not any(proc.pid_alive(p) for p in [tools.child.pid] if tools.child)


def test_czar_commands_inside_the_sandbox_reach_the_tools_through_the_host(project: Project, czar_home: Path) -> None:
    """In its sandbox an agent cannot open the store: ``czar report/board/claim/done`` go to the
    worker host's endpoint instead, with the worker's token; a wrong token is refused."""
    from czar.agent_tools.relay import RelayServer
    from czar.agent_tools.service import AgentTools
    from czar.runtime import sandbox

    if sandbox.available() is not None:
        pytest.skip(f"no sandbox here: {sandbox.available()}")
    from czar.core.egress import forwarded_ports
    from czar.runtime.gateway import Gateway

    endpoint = RelayServer(AgentTools(project.store, "w1"), "secret-1")
    checkout = project.paths.worktree("a")
    confine = project.confinement(checkout, project.paths.root / "agents" / "w1")
    assert confine is not None
    # As the worker host opens it: the relay's port forwarded into the sandbox's own network.
    network = sandbox.Network(gate=project.paths.root / "agents" / "w1.net", ports=forwarded_ports([endpoint.base]))
    confine = dataclasses.replace(confine, network=network)
    gate = Gateway(network)

    def czar_in_sandbox(
        *args: str, token: str = "secret-1", stdin: str = "", more: dict[str, str] | None = None
    ) -> Any:
        import subprocess

        env = {
            **os.environ,
            "CZAR_PROJECT": "mcp",
            "CZAR_WORKER": "w1",
            "CZAR_TOKEN": token,
            "CZAR_ENDPOINT": endpoint.base,
            **(more or {}),
        }
        argv = sandbox.wrap([sys.executable, "-m", "czar", *args], confine)
        return subprocess.run(argv, env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False)

    try:
        seen = czar_in_sandbox("report", "--task", "a", "write", "a.txt")
        assert seen.returncode == 0, seen.stderr
        assert "acknowledged" in seen.stdout
        # Claude Code's Stop hook, read by its adapter inside, recorded by the host: back to work.
        stop = czar_in_sandbox("hook", "--agent", "claude", stdin='{"hook_event_name": "Stop"}')
        assert stop.returncode == 2 and "not handed in yet" in stop.stderr, stop.stderr
        # A Gemini tool-use hook written before --agent existed is still read as Gemini's.
        use = '{"hook_event_name": "BeforeTool", "tool_name": "run_shell_command", "tool_input": {"command": "ls"}}'
        legacy = czar_in_sandbox("hook", "--deny-on-error", stdin=use, more={"PYTHONPROFILEIMPORTTIME": "1"})
        assert legacy.returncode == 0 and json.loads(legacy.stdout)["decision"] == "allow", legacy.stderr
        # Run at each tool use: it never loads the store (a quarter of a second of SQLAlchemy).
        assert "czar.core.policy" in _imported(legacy.stderr)
        assert not _loads_the_store(legacy.stderr) and "typer" not in _imported(legacy.stderr)  # nor the CLI
        # A deciding hook that gets no tool use denies rather than lets anything through.
        odd = czar_in_sandbox("hook", "--agent", "claude", "--deny-on-error", stdin='{"hook_event_name": "Stop"}')
        assert odd.returncode == 2 and "not a tool use" in odd.stderr
        assert czar_in_sandbox("claim", "b.txt").returncode != 0
        board = czar_in_sandbox("board", more={"PYTHONPROFILEIMPORTTIME": "1"})
        assert "w2 (working) works on task b" in board.stdout and not _loads_the_store(board.stderr)
        # The store is out of reach from inside: a person's command there finds no run at all.
        peek = czar_in_sandbox("status", str(project.plan.path), "--json")
        assert peek.returncode != 0 or not json.loads(peek.stdout)["tasks"]
        wrong = czar_in_sandbox("done", "finished", token="secret-2")
        assert wrong.returncode != 0 and "refused" in wrong.stderr and "Traceback" not in wrong.stderr
        assert "submitted" in czar_in_sandbox("done", "a", "is", "done").stdout
    finally:
        gate.stop()
        endpoint.stop()
    assert next(t.state for t in project.store.tasks() if t.id == "a") == "submitted"


def _imported(importtime: str) -> set[str]:
    """The modules a process imported, from what ``PYTHONPROFILEIMPORTTIME`` made it write."""
    return {ln.rsplit("|", 1)[1].strip() for ln in importtime.splitlines() if ln.startswith("import time:")}


def _loads_the_store(importtime: str) -> bool:
    """An agent's hook or command in its sandbox, run at each tool use: SQLAlchemy and the store
    are a quarter of a second it does not need (its calls go to the worker host)."""
    loaded = _imported(importtime)
    return "czar.agent_tools.service" in loaded or any(m.startswith("sqlalchemy") for m in loaded)
