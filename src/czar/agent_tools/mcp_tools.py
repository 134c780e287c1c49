"""``czar mcp --worker W``: czar's tools for one worker's agent, over MCP (stdio).

The same operations as the ``czar report/board/claim/release/done/blocked/ask`` commands, through
the same service (``czar.agent_tools``), plus ``permission``, which Claude Code calls to decide a
tool use (``--permission-prompt-tool mcp__czar__permission``). The worker is proven by the token
its host put in the environment: one worker's agent cannot act for another.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mcp.server import MCPServer

from czar.agent_tools.identity import Caller
from czar.agent_tools.service import AgentTools
from czar.core.policy import Decision
from czar.core.states import WorkerState
from czar.store.store import Store

PERSON_WAIT_SECONDS = 600.0  # the most a permission tool call waits for a person (or the timeout)


def target_of(tool_name: str, tool_input: dict[str, Any]) -> str:
    """What a tool use is about, for the policy: the command, or the path, or its input."""
    for key in ("command", "cmd", "file_path", "path", "notebook_path", "url"):
        value = tool_input.get(key)
        if isinstance(value, str):
            return value
    return json.dumps(tool_input, sort_keys=True)[:1000]


def build(caller: Caller) -> MCPServer:
    """The MCP server for the calling worker (its token is checked at once)."""
    tools = AgentTools.for_caller(caller)
    server = MCPServer("czar", instructions="czar's tools for the worker's agent: report, board, claim, done, ...")

    @server.tool(structured_output=False)
    def report(text: str, task: str | None = None, checkpoint: int | None = None) -> str:
        """Report progress. Your first report must name your task id (`task`) and restate its goal
        in `text`; later ones give the checkpoint number reached, if any."""
        return tools.report(text, checkpoint=checkpoint, task=task)

    @server.tool(structured_output=False)
    def board() -> str:
        """Who works on what, how far along, which paths they hold, and what they last said."""
        return "\n".join(row.line() for row in tools.board())

    @server.tool(structured_output=False)
    def claim(paths: list[str]) -> str:
        """Hold paths (or globs) outside your scope before changing them; a refusal names the holder."""
        return "\n".join(r.line() for r in tools.claim(paths))

    @server.tool(structured_output=False)
    def release(paths: list[str]) -> str:
        """Give back paths you claimed."""
        return "\n".join(r.line() for r in tools.release(paths))

    @server.tool(structured_output=False)
    def done(summary: str) -> str:
        """Your work is committed and its checks pass: hand the task in for verification."""
        return tools.done(summary)

    @server.tool(structured_output=False)
    def blocked(need: str, on: str | None = None) -> str:
        """You cannot go on until task `on` merges, or (without `on`) until a person helps."""
        return tools.blocked(on, need)

    @server.tool(structured_output=False)
    def ask(question: str) -> str:
        """Ask a person a question; the answer comes as a message."""
        return tools.ask(question)

    @server.tool(structured_output=False)
    def permission(tool_name: str, input: dict[str, Any], tool_use_id: str | None = None) -> str:
        """Decide whether the agent may use a tool (Claude Code's permission prompt tool)."""
        verdict = tools.permission(tool_name, target_of(tool_name, input))
        decision, reason = verdict.decision, verdict.reason
        if decision is Decision.ASK:
            decision, reason = _wait_for_person(tools)
        if decision is Decision.ALLOW:
            return json.dumps({"behavior": "allow", "updatedInput": input})
        return json.dumps({"behavior": "deny", "message": f"czar denied it: {reason}"})

    return server


def _wait_for_person(tools: AgentTools) -> tuple[Decision, str]:
    """A person (``czar allow|deny``) or the health round's timeout decides; wait for it."""
    store = tools.store
    since = store.last_event_id()
    listener = store.listen(f"mcp-{tools.worker}-{time.monotonic_ns()}")
    deadline = time.monotonic() + PERSON_WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            for e in store.events_after(since, kinds=("permission.decided",)):
                since = e.id
                if e.worker_id == tools.worker and e.payload.get("by") in ("person", "timeout"):
                    return Decision(e.payload["decision"]), str(e.payload.get("reason", ""))
            with store.read() as conn:
                if Store.worker_row(conn, tools.worker).state != WorkerState.WAITING_PERMISSION.value:
                    return Decision.DENY, "the request was withdrawn"
            listener.wait(2.0)
    finally:
        listener.close()
    return Decision.DENY, f"nobody answered within {PERSON_WAIT_SECONDS:g} s"


def run(caller: Caller) -> None:
    """Serve over stdio until the agent closes it."""
    build(caller).run("stdio")
