"""``python -m czar.agent_tools.tools_server --plan PLAN --fd N``: the project's tools server, one
process per run. It serves the worker hosts' calls on the store (``czar.agent_tools.host_service``:
a host does not load SQLAlchemy) and, when the plan has an agent that speaks MCP over HTTP, czar's
MCP server for every worker's agent (``czar.agent_tools.mcp_tools.app``; else the MCP SDK is not
loaded).

The supervisor starts it (``czar.supervisor.tools``) on a listening socket it made and hands down
as file descriptor ``N``: the address is good before this process has loaded anything, and an
agent that connects meanwhile waits in the socket's queue. It keeps nothing of its own (every call
is a transaction in the store), so when it dies the supervisor starts it again on the same socket
and the agents' next calls reach the new one.

It never imports the CLI: it is on the path of a cold `czar run`.
"""

from __future__ import annotations

import argparse
import functools
import re
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from czar.agent_tools.host_link import host_key
from czar.agents import adapter_for
from czar.errors import CzarError
from czar.paths import ProjectPaths, czar_home
from czar.runtime import proc, sandbox
from czar.store.store import Store
from czar.vcs.git import Git

if TYPE_CHECKING:  # the plan's models (pydantic) are for this process, not the worker hosts that read its address
    from czar.plan.load import Plan

Wrap = Callable[[list[str]], list[str]]
MODULE = "czar.agent_tools.tools_server"
URL_KEY = "tools_url"  # in the store's meta: where the running server listens
PID_KEY = "tools_pid"
KEEP_ALIVE = 300  # seconds a worker host's idle connection is kept (it calls again soon)
PATH = re.compile(r"^/mcp/([A-Za-z0-9_.-]{1,64})/([0-9]{1,9})/?$")  # see mcp_path


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m czar.agent_tools.tools_server")
    parser.add_argument("--plan", type=Path, required=True)
    parser.add_argument("--fd", type=int, required=True, help="the listening socket, handed down")
    args = parser.parse_args()
    try:
        from czar.plan.load import load_plan

        plan = load_plan(args.plan)
        store = Store(ProjectPaths.for_project(plan.project.name))
        key = host_key(store.paths.root)
        listening = socket.socket(fileno=args.fd)
    except (CzarError, OSError) as exc:
        print(f"czar tools-server: {exc}", file=sys.stderr)
        return getattr(exc, "exit_code", 1)
    mcp = any(adapter_for(kind).capabilities.mcp_http for kind in plan.worker_kinds.values())
    serve(listening, store, functools.partial(sandbox_for, plan, store), key, mcp=mcp)
    return 0


def serve(
    listening: socket.socket, store: Store, sandbox_for: Callable[[str], Wrap | None], key: str, *, mcp: bool = True
) -> None:
    """Answer the worker hosts (proven by ``key``) and, if ``mcp``, the agents, on ``listening``
    until told to stop (SIGTERM, SIGINT)."""
    import uvicorn

    from czar.agent_tools.host_service import host_app

    inner = None
    if mcp:
        from czar.agent_tools.mcp_tools import app

        inner = app(store, sandbox_for)
    config = uvicorn.Config(
        host_app(store, key, sandbox_for, inner),
        log_level="error",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
        timeout_keep_alive=KEEP_ALIVE,
    )
    uvicorn.Server(config).run(sockets=[listening])


def sandbox_for(plan: Plan, store: Store, worker: str) -> Wrap | None:
    """How git runs, for czar, in the checkout of ``worker``'s task: in a sandbox like its
    agent's (the checkout's configuration and hooks are the agent's to write), without network."""
    if not plan.sandbox.enabled:
        return None
    return functools.partial(_confined, plan, store, worker)


def _confined(plan: Plan, store: Store, worker: str, argv: list[str]) -> list[str]:
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
        repo=plan.repo,
        objects=Git(plan.repo).common_dir() / "objects",
        extra=tuple(Path(p) for p in plan.sandbox.writable),
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
