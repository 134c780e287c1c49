"""czar's tools for one worker's agent, over MCP: over stdio (``czar mcp --worker W``), or over
HTTP from inside the worker host (``Endpoint``).

The same operations as the ``czar report/board/claim/release/done/blocked/ask`` commands, through
the same service (``czar.agent_tools``), plus ``permission``, which Claude Code calls to decide a
tool use (``--permission-prompt-tool mcp__czar__permission``). The worker is proven by the token
its host made: one worker's agent cannot act for another.

Why HTTP too: an agent that starts its own stdio server waits for it, and a Python process that
loads the MCP SDK takes most of a second to answer; the worker host has the SDK loaded already,
so its agent connects at once.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import socket
import threading
from collections.abc import Callable
from typing import Any

from mcp.server import MCPServer

from czar.agent_tools.identity import Caller, token_digest
from czar.agent_tools.service import AgentTools, target_of
from czar.core.policy import Decision
from czar.core.toolbox import BY_NAME, NAMES


def build(caller: Caller) -> MCPServer:
    """The MCP server for the calling worker (its token is checked at once)."""
    return _server(AgentTools.for_caller(caller))


def warm_up() -> None:
    """Do once, ahead, what the first server of a process costs (loading, preparing the tools'
    schemas): the worker host calls it while it waits for a task."""
    import uvicorn  # noqa: F401

    _server(None).streamable_http_app(stateless_http=True, json_response=True)  # type: ignore[arg-type]


def _server(tools: AgentTools) -> MCPServer:
    # Warnings only: on stdio its log goes to the agent's stderr, in a worker host to its pane.
    server = MCPServer(
        "czar", log_level="WARNING", instructions=f"czar's tools for the worker's agent: {', '.join(NAMES)}."
    )

    @server.tool(description=BY_NAME["report"].summary, structured_output=False)
    def report(text: str, task: str | None = None, checkpoint: int | None = None) -> str:
        return tools.report(text, checkpoint=checkpoint, task=task)

    @server.tool(description=BY_NAME["board"].summary, structured_output=False)
    def board() -> str:
        return "\n".join(row.line() for row in tools.board())

    @server.tool(description=BY_NAME["claim"].summary, structured_output=False)
    def claim(paths: list[str]) -> str:
        return "\n".join(r.line() for r in tools.claim(paths))

    @server.tool(description=BY_NAME["release"].summary, structured_output=False)
    def release(paths: list[str]) -> str:
        return "\n".join(r.line() for r in tools.release(paths))

    @server.tool(description=BY_NAME["done"].summary, structured_output=False)
    def done(summary: str) -> str:
        return tools.done(summary)

    @server.tool(description=BY_NAME["blocked"].summary, structured_output=False)
    def blocked(need: str, on: str | None = None) -> str:
        return tools.blocked(on, need)

    @server.tool(description=BY_NAME["ask"].summary, structured_output=False)
    def ask(question: str) -> str:
        return tools.ask(question)

    @server.tool(structured_output=False)
    def permission(tool_name: str, input: dict[str, Any], tool_use_id: str | None = None) -> str:
        """Decide whether the agent may use a tool (Claude Code's permission prompt tool)."""
        decision, reason = tools.decide_permission(tool_name, target_of(tool_name, input))
        if decision is Decision.ALLOW:
            return json.dumps({"behavior": "allow", "updatedInput": input})
        return json.dumps({"behavior": "deny", "message": f"czar denied it: {reason}"})

    return server


def run(caller: Caller) -> None:
    """Serve over stdio until the agent closes it."""
    build(caller).run("stdio")


ASGIApp = Any  # Starlette's application: (scope, receive, send) -> awaitable


class Endpoint:
    """czar's MCP server for one start of an agent, over streamable HTTP on 127.0.0.1, served by a
    thread of this process; requests must carry the worker's token (``Authorization: Bearer``)."""

    def __init__(self, caller: Caller, wrap: Callable[[list[str]], list[str]] | None = None) -> None:
        import uvicorn

        # Stateless: an agent that stays quiet for long keeps its connection (no session to expire).
        tools = AgentTools.for_caller(caller)
        tools.wrap = wrap
        app = _server(tools).streamable_http_app(stateless_http=True, json_response=True)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)  # the agent may connect before the server thread runs: it waits here
        self.base = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self.url = f"{self.base}/mcp"
        config = uvicorn.Config(
            _guarded(app, caller.token),
            log_level="error",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="czar-mcp", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=3)
        if not self._thread.is_alive():  # else its loop still uses the socket (a daemon thread)
            with contextlib.suppress(OSError):
                self._sock.close()


def _guarded(app: ASGIApp, token: str) -> ASGIApp:
    """``app``, answering 401 to a request without this worker's token (digests are compared)."""
    expected = token_digest(f"Bearer {token}")

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "lifespan"):
            return  # no websockets
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(token_digest(given.decode("latin-1")), expected):
                await send(
                    {"type": "http.response.start", "status": 401, "headers": [(b"content-type", b"text/plain")]}
                )
                await send({"type": "http.response.body", "body": b"czar: this is not your worker's MCP server\n"})
                return
        await app(scope, receive, send)

    return guarded
