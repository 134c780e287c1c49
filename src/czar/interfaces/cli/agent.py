"""The commands agents run from their worktree: report, board, claim, release, done, blocked, ask.

They find their worker in the environment the worker host set (``CZAR_PROJECT``, ``CZAR_WORKER``,
``CZAR_TOKEN``); a worker acts only for itself.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from czar.errors import CzarError

if TYPE_CHECKING:
    from czar.agent_tools.relay import ToolCalls

Text = Annotated[list[str], typer.Argument(help="What to say (the words are joined).")]


def _tools() -> ToolCalls:
    import os

    from czar.agent_tools.identity import caller_from_env
    from czar.agent_tools.relay import ENV_ENDPOINT, RemoteTools
    from czar.agent_tools.service import AgentTools

    caller = caller_from_env()
    endpoint = os.environ.get(ENV_ENDPOINT)
    if endpoint:  # inside a sandbox, where the store is out of reach: through the worker host
        return RemoteTools(endpoint, caller.token)
    return AgentTools.for_caller(caller)


def register(app: typer.Typer) -> None:
    @app.command()
    def report(
        text: Text,
        task: Annotated[str | None, typer.Option("--task", help="Your task id (first report).")] = None,
        checkpoint: Annotated[int | None, typer.Option("--checkpoint", min=1, help="The checkpoint reached.")] = None,
    ) -> None:
        """Report progress; the first report names your task and restates its goal."""
        typer.echo(_tools().report(" ".join(text), checkpoint=checkpoint, task=task))

    @app.command()
    def board(as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False) -> None:
        """Who works on what, how far along, which paths they hold, what they last said."""
        rows = _tools().board()
        if as_json:
            typer.echo(json.dumps([row.__dict__ for row in rows], indent=2))
        else:
            for row in rows:
                typer.echo(row.line())

    @app.command()
    def claim(paths: Annotated[list[str], typer.Argument(help="Paths or globs to hold.")]) -> None:
        """Hold paths outside your scope before changing them; a refusal names the holder (exit 1)."""
        results = _tools().claim(paths)
        for r in results:
            typer.echo(r.line())
        raise typer.Exit(0 if all(r.granted for r in results) else 1)

    @app.command()
    def release(paths: Annotated[list[str], typer.Argument(help="Paths or globs you claimed.")]) -> None:
        """Give back paths you claimed."""
        results = _tools().release(paths)
        for r in results:
            typer.echo(r.line())
        raise typer.Exit(0 if all(r.granted for r in results) else 1)

    @app.command()
    def done(summary: Text) -> None:
        """Your work is committed and its checks pass: hand the task in for verification."""
        typer.echo(_tools().done(" ".join(summary)))

    @app.command()
    def blocked(
        need: Text,
        on: Annotated[str | None, typer.Option("--on", help="The task you wait for.")] = None,
    ) -> None:
        """You cannot go on until another task merges (--on) or a person helps."""
        typer.echo(_tools().blocked(on, " ".join(need)))

    @app.command()
    def ask(question: Text) -> None:
        """Ask a person a question; the answer comes as a message."""
        typer.echo(_tools().ask(" ".join(question)))

    @app.command()
    def hook(
        deny_on_error: Annotated[
            bool, typer.Option("--deny-on-error", help="A tool-use hook: deny (exit 2) when czar cannot decide.")
        ] = False,
    ) -> None:
        """For agents' hooks (Claude Code's, Gemini CLI's): reads the hook's JSON on stdin.

        A Stop while the task is not handed in exits 2 with the reason, which sends the agent back
        to work (once: a second Stop in a row is let through). A tool use about to happen
        (PreToolUse, BeforeTool) gets czar's policy's decision; with ``--deny-on-error``, one czar
        cannot decide is denied rather than left to a prompt nobody answers.
        """
        import sys

        from czar.agent_tools.identity import CallerError, caller_from_env

        def refuse(why: str) -> None:
            if deny_on_error:
                print(f"czar denied it: {why}", file=sys.stderr)
                raise typer.Exit(2)
            raise typer.Exit(0)  # a hook must never break the agent

        try:
            payload = json.loads(sys.stdin.read() or "{}")
            tools = _tools() if caller_from_env() else None
        except (json.JSONDecodeError, CallerError) as exc:
            refuse(f"czar could not read the request ({exc})")
            return
        assert tools is not None
        event = str(payload.get("hook_event_name", ""))
        try:
            if event in ("PreToolUse", "BeforeTool"):  # Claude Code on its own screen, Gemini CLI
                _tool_use(tools, event, payload)
                return
            reason = tools.hook(event, payload)
        except CzarError as exc:
            refuse(str(exc))
            return
        if reason:
            print(reason, file=sys.stderr)
            raise typer.Exit(2)

    @app.command()
    def mcp(worker: Annotated[str, typer.Option("--worker", help="The worker this server speaks for.")]) -> None:
        """Serve czar's tools to a worker's agent over MCP (stdio); its host sets the environment."""
        from czar.agent_tools.identity import CallerError, caller_from_env
        from czar.agent_tools.mcp_tools import run

        caller = caller_from_env()
        if caller.worker != worker:
            raise CallerError(f"--worker {worker} does not match this environment's worker {caller.worker}")
        run(caller)


def _tool_use(tools: ToolCalls, event: str, payload: dict[str, Any]) -> None:
    """Print czar's decision on a tool use in the hook's answer format (Claude's or Gemini's)."""
    from czar.agent_tools.service import target_of
    from czar.agents.claude import ALLOWED

    tool, tool_input = str(payload.get("tool_name", "")), payload.get("tool_input")
    if tool in ALLOWED or tool.startswith("mcp_czar_"):
        return  # czar's own tools and reading need no decision
    try:
        if not isinstance(tool_input, dict):
            raise CzarError(f"no input for {tool}")
        decision, why = tools.decide_permission(tool, target_of(tool, tool_input))
        verdict = decision.value
    except Exception as exc:  # undecided must not mean a prompt nobody answers
        verdict, why = "deny", f"czar could not decide ({exc})"
    if event == "BeforeTool":
        print(json.dumps({"decision": verdict, "reason": why}))
    else:
        answer = {"hookEventName": event, "permissionDecision": verdict, "permissionDecisionReason": why}
        print(json.dumps({"hookSpecificOutput": answer}))
