"""czar's tools for the workers' agents, over MCP: over stdio (``czar mcp --worker W``), or over
HTTP from the project's tools server (``app``, served by ``czar.agent_tools.tools_server``).

The same operations as the ``czar report/board/claim/release/done/blocked/ask`` commands, through
the same service (``czar.agent_tools``), plus ``permission``, which Claude Code calls to decide a
tool use (``--permission-prompt-tool mcp__czar__permission``). The worker is proven by the token
its host made: one worker's agent cannot act for another.

Why one server over HTTP for the whole project: an agent that starts its own stdio server waits
for it, and a Python process that loads the MCP SDK takes most of a second and some 30 MB. Loaded
once per project, it costs a worker host nothing, and the agent connects at once.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import DEFAULT_MAX_REQUEST_BODY_SIZE as MAX_BODY
from starlette.applications import Starlette
from starlette.routing import Route

from czar.agent_tools.identity import Caller, token_digest
from czar.agent_tools.relay import WAITS_PER_WORKER
from czar.agent_tools.service import AgentTools
from czar.agent_tools.tools_server import PATH
from czar.core.policy import Decision, target_of
from czar.core.toolbox import BY_NAME, NAMES
from czar.errors import CzarError, StoreError
from czar.store.store import Store

Resolve = Callable[[Context], AgentTools]  # the calling worker's tools, for one request
ASGIApp = Any  # Starlette's application: (scope, receive, send) -> awaitable
CALLER = "czar.caller"  # the ASGI scope's key for the (worker, launch) the guard proved
WAITING = frozenset({"permission"})  # tools a call of which may wait for a person


def build(caller: Caller) -> MCPServer:
    """The MCP server for the calling worker (its token is checked at once)."""
    tools = AgentTools.for_caller(caller)
    return _server(lambda _ctx: tools)


def _server(resolve: Resolve) -> MCPServer:
    # Warnings only: on stdio its log goes to the agent's stderr, in a worker host to its pane.
    server = MCPServer(
        "czar", log_level="WARNING", instructions=f"czar's tools for the worker's agent: {', '.join(NAMES)}."
    )

    @server.tool(description=BY_NAME["report"].summary, structured_output=False)
    @_told
    def report(text: str, ctx: Context, task: str | None = None, checkpoint: int | None = None) -> str:
        return resolve(ctx).report(text, checkpoint=checkpoint, task=task)

    @server.tool(description=BY_NAME["board"].summary, structured_output=False)
    @_told
    def board(ctx: Context) -> str:
        return "\n".join(row.line() for row in resolve(ctx).board())

    @server.tool(description=BY_NAME["claim"].summary, structured_output=False)
    @_told
    def claim(paths: list[str], ctx: Context) -> str:
        return "\n".join(r.line() for r in resolve(ctx).claim(paths))

    @server.tool(description=BY_NAME["release"].summary, structured_output=False)
    @_told
    def release(paths: list[str], ctx: Context) -> str:
        return "\n".join(r.line() for r in resolve(ctx).release(paths))

    @server.tool(description=BY_NAME["done"].summary, structured_output=False)
    @_told
    def done(summary: str, ctx: Context) -> str:
        return resolve(ctx).done(summary)

    @server.tool(description=BY_NAME["blocked"].summary, structured_output=False)
    @_told
    def blocked(need: str, ctx: Context, on: str | None = None) -> str:
        return resolve(ctx).blocked(on, need)

    @server.tool(description=BY_NAME["ask"].summary, structured_output=False)
    @_told
    def ask(question: str, ctx: Context) -> str:
        return resolve(ctx).ask(question)

    @server.tool(description=BY_NAME["finding"].summary, structured_output=False)
    @_told
    def finding(failure: str, path: str, line: int, severity: str, ctx: Context) -> str:
        return resolve(ctx).finding(path, line, severity, failure)

    @server.tool(description=BY_NAME["verdict"].summary, structured_output=False)
    @_told
    def verdict(decision: str, commit: str, ctx: Context, summary: str = "") -> str:
        return resolve(ctx).verdict(decision, commit, summary)

    waits: dict[str, anyio.CapacityLimiter] = {}  # worker -> its permission requests waiting

    @server.tool(structured_output=False)  # in WAITING
    async def permission(tool_name: str, input: dict[str, Any], ctx: Context, tool_use_id: str | None = None) -> str:
        """Decide whether the agent may use a tool (Claude Code's permission prompt tool)."""
        # A request may wait for a person for long: on threads of the worker's own, a few at most,
        # so that no agent's waiting (or flood of requests) holds up the other workers' tools.
        try:
            tools = resolve(ctx)
            limiter = waits.setdefault(tools.worker, anyio.CapacityLimiter(WAITS_PER_WORKER))
            target = target_of(tool_name, input)
            decision, reason = await anyio.to_thread.run_sync(
                tools.decide_permission, tool_name, target, limiter=limiter
            )
        except CzarError as exc:
            raise ToolError(str(exc)) from exc
        if decision is Decision.ALLOW:
            return json.dumps({"behavior": "allow", "updatedInput": input})
        return json.dumps({"behavior": "deny", "message": f"czar denied it: {reason}"})

    return server


def _told(tool: Callable[..., str]) -> Callable[..., str]:
    """``tool``, telling the agent why czar refused it (the SDK hides other errors' text)."""

    @functools.wraps(tool)
    def told(*args: Any, **kwargs: Any) -> str:
        try:
            return tool(*args, **kwargs)
        except CzarError as exc:
            raise ToolError(str(exc)) from exc

    return told


def run(caller: Caller) -> None:
    """Serve over stdio until the agent closes it."""
    build(caller).run("stdio")


def app(store: Store, sandbox_for: Callable[[str], Callable[[list[str]], list[str]] | None]) -> ASGIApp:
    """The tools of every worker of the project behind ``store``, over streamable HTTP: the
    agent of a worker's start ``launch`` calls ``mcp_path(worker, launch)`` with the worker's
    token (``Authorization: Bearer``); anything else is refused before MCP sees it.
    ``sandbox_for(worker)``: how git runs in that worker's checkout (its agent's sandbox)."""

    def resolve(ctx: Context) -> AgentTools:
        worker, launch = ctx.request_context.request.scope[CALLER]  # type: ignore[union-attr]
        tools = AgentTools(store, worker, launch)
        tools.wrap = sandbox_for(worker)
        return tools

    # Stateless: an agent that stays quiet for long keeps its connection (no session to expire).
    # A call that may wait for a person is answered as a stream (its headers at once, a ping every
    # 15 s): Claude Code gives up on an answer whose headers have not come within five minutes,
    # whatever its configured timeout (seen: "The operation timed out" at 300 s). The others are
    # answered whole: a stream's client that loses it waits for it to resume, which this server
    # cannot do (Claude Code gives up after 90 to 120 s, seen when the tools server was killed in
    # the middle of an agent's report), and a whole answer's fails at once, so the agent goes on.
    server = _server(resolve)
    return _guarded(
        _by_call(
            server.streamable_http_app(stateless_http=True, json_response=True),
            server.streamable_http_app(stateless_http=True, json_response=False),
        ),
        store,
    )


def _by_call(whole: Starlette, streamed: Starlette) -> ASGIApp:
    """``streamed`` for a call of a tool that may wait for a person (``WAITING``), ``whole`` for
    every other request; the lifespans of both."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with whole.router.lifespan_context(whole), streamed.router.lifespan_context(streamed):
            yield

    async def route(scope: dict[str, Any], receive: Any, send: Any) -> None:  # an ASGI app
        if scope["method"] != "POST":
            await whole(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                await _refuse(send, 413, b"czar: a call this large is no call of czar's tools\n")
                return
            if not message.get("more_body", False):
                break
        given = [{"type": "http.request", "body": body, "more_body": False}]

        async def again() -> Any:
            return given.pop() if given else await receive()

        await (streamed if _waits(body) else whole)(scope, again, send)

    # (An object, not a function: Starlette would take a function for one of requests.)
    return Starlette(routes=[Route("/mcp", _Asgi(route), methods=["GET", "POST", "DELETE"])], lifespan=lifespan)


class _Asgi:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def _waits(body: bytes) -> bool:
    """Whether ``body`` calls a tool that may wait for a person."""
    try:
        call = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack: the SDK answers it
        return False
    params = call.get("params") if isinstance(call, dict) and call.get("method") == "tools/call" else None
    name = params.get("name") if isinstance(params, dict) else None
    return isinstance(name, str) and name in WAITING


def _guarded(inner: ASGIApp, store: Store) -> ASGIApp:
    """``inner``, for requests that prove the worker their path names (its token's digest is the
    one the store keeps); 401 for the others, 404 for other paths."""

    async def guarded(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await inner(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets
        found = PATH.match(scope.get("path", ""))
        if found is None:
            await _refuse(send, 404, b"czar: no such tools here\n")
            return
        worker, launch = found.group(1), int(found.group(2))
        given = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        if not _proven(store, worker, given):
            await _refuse(send, 401, b"czar: this is not your worker's MCP server\n")
            return
        await inner({**scope, "path": "/mcp", "raw_path": b"/mcp", CALLER: (worker, launch)}, receive, send)

    return guarded


def _proven(store: Store, worker: str, authorization: str) -> bool:
    """True if ``authorization`` carries the token of ``worker``'s live host."""
    if not authorization.startswith("Bearer "):
        return False
    try:
        with store.read() as conn:
            digest = Store.worker(conn, worker).token
    except StoreError:
        return False
    return digest is not None and hmac.compare_digest(digest, token_digest(authorization.removeprefix("Bearer ")))


async def _refuse(send: Any, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})
