"""``python -m czar.agent_tools.tools_server --plan PLAN --project NAME --fd N ...``: the project's tools server, one
process per run. It serves the worker hosts' calls on the store (``czar.agent_tools.host_service``:
a host does not load SQLAlchemy) and, when the plan has an agent that speaks MCP over HTTP, czar's
MCP server for every worker's agent (``czar.agent_tools.mcp_tools.app``; else the MCP SDK is not
loaded).

The supervisor starts it (``czar.supervisor.tools``) on a listening socket it made and hands down
as file descriptor ``N``: the address is good before this process has loaded anything, and an
agent that connects meanwhile waits in the socket's queue. It keeps nothing of its own (every call
is a transaction in the store), so when it dies the supervisor starts it again on the same socket
and the agents' next calls reach the new one. It is told what it needs of the plan (its project,
how agents are confined) and never loads it, nor the CLI: it is on the path of a cold `czar run`.
"""

from __future__ import annotations

import argparse
import functools
import re
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from czar.agent_tools.host_link import host_key
from czar.errors import CzarError
from czar.paths import ProjectPaths, czar_home
from czar.runtime import proc, sandbox
from czar.store.store import Store
from czar.vcs.git import Git

if TYPE_CHECKING:  # the plan's models (pydantic) are the supervisor's: this process is told what it needs of them
    from czar.plan.load import Plan

Wrap = Callable[[list[str]], list[str]]
ASGIApp = Any  # (scope, receive, send) -> awaitable
MODULE = "czar.agent_tools.tools_server"
URL_KEY = "tools_url"  # in the store's meta: where the running server listens
PID_KEY = "tools_pid"
MCP_FLAG = "--mcp"
UNCONFINED = "--unconfined"
KEEP_ALIVE = 300  # seconds a worker host's idle connection is kept (it calls again soon)
PATH = re.compile(r"^/mcp/([A-Za-z0-9_.-]{1,64})/([0-9]{1,9})/?\Z")  # see mcp_path


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m czar.agent_tools.tools_server")
    parser.add_argument("--plan", type=Path, required=True, help="the plan served (by which a supervisor knows it)")
    parser.add_argument("--project", required=True, help="the project's name (its store)")
    parser.add_argument("--fd", type=int, required=True, help="the listening socket, handed down")
    parser.add_argument(MCP_FLAG, action="store_true", help="serve MCP too (the plan has agents that speak it)")
    Sandboxing.arguments(parser)
    args = parser.parse_args()
    try:
        store = Store(ProjectPaths.for_project(args.project))
        key = host_key(store.paths.root)
        listening = socket.socket(fileno=args.fd)
    except (CzarError, OSError) as exc:
        print(f"czar tools-server: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    serve(listening, store, functools.partial(sandbox_for, Sandboxing.parsed(args), store), key, mcp=args.mcp)
    return 0


def serve(
    listening: socket.socket, store: Store, sandbox_for: Callable[[str], Wrap | None], key: str, *, mcp: bool = True
) -> None:
    """Answer the worker hosts (proven by ``key``) and, if ``mcp``, the agents, on ``listening``
    until told to stop (SIGTERM, SIGINT)."""
    import uvicorn

    from czar.agent_tools.host_service import host_app

    def mcp_app() -> ASGIApp:
        from czar.agent_tools.mcp_tools import app

        return app(store, sandbox_for)

    inner = in_background(mcp_app) if mcp else None
    config = uvicorn.Config(
        host_app(store, key, sandbox_for, inner),
        log_level="error",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=KEEP_ALIVE,
    )
    uvicorn.Server(config).run(sockets=[listening])


def in_background(build: Callable[[], ASGIApp]) -> ASGIApp:
    """The app ``build()`` makes, made (and its lifespan started) after the server has started:
    loading the MCP SDK takes most of a second, which the worker hosts' first calls must not wait
    for. A request that comes before it is ready waits for it; one after it failed is answered 503."""
    import anyio
    import anyio.to_thread

    made: list[ASGIApp] = []
    ready: list[anyio.Event] = []

    async def lifespan(receive: Any, send: Any) -> None:
        await receive()  # startup
        ready.append(anyio.Event())
        to_inner, inner_receives = anyio.create_memory_object_stream[dict[str, Any]](4)
        inner_sends, from_inner = anyio.create_memory_object_stream[dict[str, Any]](4)
        async with anyio.create_task_group() as group:

            async def start() -> None:
                try:
                    inner = await anyio.to_thread.run_sync(build)
                    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
                    group.start_soon(inner, scope, inner_receives.receive, inner_sends.send)
                    await to_inner.send({"type": "lifespan.startup"})
                    answer = await from_inner.receive()
                    if answer["type"] == "lifespan.startup.complete":
                        made.append(inner)
                    else:
                        print(f"czar tools-server: MCP did not start: {answer.get('message')}", file=sys.stderr)
                except Exception as exc:  # answered 503 from now on; the hosts' calls go on
                    print(f"czar tools-server: MCP did not start: {exc!r}", file=sys.stderr)
                finally:
                    ready[0].set()

            group.start_soon(start)
            await send({"type": "lifespan.startup.complete"})
            await receive()  # shutdown
            if made:
                await to_inner.send({"type": "lifespan.shutdown"})
                with anyio.move_on_after(2):
                    await from_inner.receive()
            group.cancel_scope.cancel()
        await send({"type": "lifespan.shutdown.complete"})

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        await ready[0].wait()
        if made:
            await made[0](scope, receive, send)
        elif scope["type"] == "http":
            await send({"type": "http.response.start", "status": 503, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"czar: MCP could not start here\n"})

    return app


@dataclass(frozen=True)
class Sandboxing:
    """What the plan says that this server's git needs to run in an agent's sandbox. The
    supervisor hands it down on the command line: this process never loads the plan (pydantic and
    the plan's models, a tenth of a second before the worker hosts' first calls are answered)."""

    repo: Path
    writable: tuple[Path, ...]

    @cached_property
    def objects(self) -> Path:
        """The repository's objects, which a task's clone borrows (asked of git once, not at each
        git command run in a sandbox)."""
        return Git(self.repo).common_dir() / "objects"

    @classmethod
    def of(cls, plan: Plan) -> Sandboxing | None:
        """None: the plan runs agents unconfined."""
        return cls(plan.repo, tuple(Path(p) for p in plan.sandbox.writable)) if plan.sandbox.enabled else None

    @staticmethod
    def argv(sandboxing: Sandboxing | None) -> list[str]:
        if sandboxing is None:
            return [UNCONFINED]
        return ["--repo", str(sandboxing.repo), *(a for w in sandboxing.writable for a in ("--writable", str(w)))]

    @staticmethod
    def arguments(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--repo", type=Path, help="the plan's repository")
        parser.add_argument("--writable", type=Path, action="append", default=[], help="more folders agents write")
        parser.add_argument(UNCONFINED, action="store_true", help="the plan runs agents without a sandbox")

    @classmethod
    def parsed(cls, args: argparse.Namespace) -> Sandboxing | None:
        if args.unconfined:
            return None
        if args.repo is None:
            raise SystemExit(f"czar tools-server: --repo or {UNCONFINED} is required")
        return cls(args.repo, tuple(args.writable))


def sandbox_for(sandboxing: Sandboxing | None, store: Store, worker: str) -> Wrap | None:
    """How git runs, for czar, in the checkout of ``worker``'s task: in a sandbox like its
    agent's (the checkout's configuration and hooks are the agent's to write), without network."""
    if sandboxing is None:
        return None
    return functools.partial(_confined, sandboxing, store, worker)


def _confined(sandboxing: Sandboxing, store: Store, worker: str, argv: list[str]) -> list[str]:
    with store.read() as conn:
        row = Store.worker(conn, worker)
        task = Store.task(conn, row.task_id) if row.task_id else None
        attempt = Store.attempt(conn, task.attempt_id) if task and task.attempt_id else None
    if attempt is None:
        raise CzarError(f"worker {worker} has no checkout now")
    confine = sandbox.for_task(
        Path(attempt.worktree),
        home=store.paths.root / "agents" / worker,
        data=czar_home(),
        repo=sandboxing.repo,
        objects=sandboxing.objects,
        extra=sandboxing.writable,
    )
    return sandbox.wrap(argv, confine)


def address(store: Store) -> str | None:
    """The running tools server's address (``http://127.0.0.1:PORT``); None if none runs."""
    url, pid = _published(store)
    return str(url) if url and pid is not None else None


def tools_pid(store: Store) -> int | None:
    """The running tools server's process; None if none runs."""
    return _published(store)[1]


def _published(store: Store) -> tuple[object, int | None]:
    """What the supervisor published of its tools server: its address, and its process if alive."""
    with store.read() as conn:
        url, pid = Store.get_meta(conn, URL_KEY), Store.get_meta(conn, PID_KEY)
    return url, pid if isinstance(pid, int) and proc.pid_alive(pid) else None


if __name__ == "__main__":
    sys.exit(main())
