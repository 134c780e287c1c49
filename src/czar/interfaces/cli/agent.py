"""The commands agents run from their worktree: report, board, claim, release, done, blocked, ask.

They find their worker in the environment the worker host set (``CZAR_PROJECT``, ``CZAR_WORKER``,
``CZAR_TOKEN``); a worker acts only for itself.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from czar.errors import CzarError

if TYPE_CHECKING:
    from czar.agent_tools.relay import ToolCalls


def _summary(name: str) -> str:
    from czar.core.toolbox import BY_NAME

    return BY_NAME[name].summary


def _help(tool: str, arg: str) -> str:
    from czar.core.toolbox import BY_NAME

    return next(a.help for a in BY_NAME[tool].args if a.name == arg)


def _tools() -> ToolCalls:
    from czar.agent_tools.relay import caller_tools  # here: the commands' list loads none of it

    return caller_tools()


def register(app: typer.Typer) -> None:
    @app.command(help=f"{_summary('report')} With no text, for a person: write the run's report.")
    def report(
        text: Annotated[list[str] | None, typer.Argument(help=_help("report", "text"))] = None,
        task: Annotated[str | None, typer.Option("--task", help=_help("report", "task"))] = None,
        checkpoint: Annotated[
            int | None, typer.Option("--checkpoint", min=1, help=_help("report", "checkpoint"))
        ] = None,
        plan: Annotated[
            Path, typer.Option("--plan", "-p", help="The plan file (the run's report: with no text).")
        ] = Path("czar.toml"),
        out: Annotated[Path | None, typer.Option("--out", help="The run's report: the folder to write it in.")] = None,
    ) -> None:
        if text:
            typer.echo(_tools().report(" ".join(text), checkpoint=checkpoint, task=task))
            return
        import os

        from czar.agent_tools.identity import ENV_WORKER

        if task is not None or checkpoint is not None or os.environ.get(ENV_WORKER):
            # An agent's report without its text: say what it lacks, not write the run's report.
            raise CzarError("`czar report` needs the text of the report (`czar report --task ID what you did`)")
        # A person's `czar report`: the run's report (Markdown and HTML), written and named.
        from czar.supervisor.project import open_project
        from czar.supervisor.report import write_report

        written = write_report(open_project(plan, check_repo=False), out)
        typer.echo(f"wrote {written.markdown} and {written.html}")

    @app.command(help=_summary("board"))
    def board(as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False) -> None:
        rows = _tools().board()
        if as_json:
            typer.echo(json.dumps([row.__dict__ for row in rows], indent=2))
        else:
            for row in rows:
                typer.echo(row.line())

    @app.command(help=_summary("claim"))
    def claim(paths: Annotated[list[str], typer.Argument(help=_help("claim", "paths"))]) -> None:
        # A refusal exits 1.
        results = _tools().claim(paths)
        for r in results:
            typer.echo(r.line())
        raise typer.Exit(0 if all(r.granted for r in results) else 1)

    @app.command(help=_summary("release"))
    def release(paths: Annotated[list[str], typer.Argument(help=_help("release", "paths"))]) -> None:
        results = _tools().release(paths)
        for r in results:
            typer.echo(r.line())
        raise typer.Exit(0 if all(r.granted for r in results) else 1)

    @app.command(help=_summary("done"))
    def done(summary: Annotated[list[str], typer.Argument(help=_help("done", "summary"))]) -> None:
        typer.echo(_tools().done(" ".join(summary)))

    @app.command(help=_summary("blocked"))
    def blocked(
        need: Annotated[list[str], typer.Argument(help=_help("blocked", "need"))],
        on: Annotated[str | None, typer.Option("--on", help=_help("blocked", "on"))] = None,
    ) -> None:
        typer.echo(_tools().blocked(on, " ".join(need)))

    @app.command(help=_summary("ask"))
    def ask(question: Annotated[list[str], typer.Argument(help=_help("ask", "question"))]) -> None:
        typer.echo(_tools().ask(" ".join(question)))

    @app.command(help=_summary("finding"))
    def finding(
        failure: Annotated[list[str], typer.Argument(help=_help("finding", "failure"))],
        path: Annotated[str, typer.Option("--path", help=_help("finding", "path"))],
        line: Annotated[int, typer.Option("--line", min=1, help=_help("finding", "line"))],
        severity: Annotated[str, typer.Option("--severity", help=_help("finding", "severity"))],
    ) -> None:
        typer.echo(_tools().finding(path, line, severity, " ".join(failure)))

    @app.command(help=_summary("verdict"))
    def verdict(
        decision: Annotated[str, typer.Argument(help=_help("verdict", "decision"))],
        commit: Annotated[str, typer.Option("--commit", help=_help("verdict", "commit"))],
        summary: Annotated[str | None, typer.Option("--summary", help=_help("verdict", "summary"))] = None,
    ) -> None:
        typer.echo(_tools().verdict(decision, commit, summary or ""))

    @app.command()
    def hook(
        agent: Annotated[
            str | None, typer.Option("--agent", help="Whose hook protocol the call speaks (claude, gemini).")
        ] = None,
        deny_on_error: Annotated[
            bool, typer.Option("--deny-on-error", help="A tool-use hook: deny (exit 2) when czar cannot decide.")
        ] = False,
    ) -> None:
        """For agents' hooks: reads the hook's JSON on stdin, in the protocol of the agent's kind.

        A turn that ends while the task is not handed in is sent back to work, once (a second end
        in a row is let through). A tool use about to happen gets czar's policy's decision; with
        ``--deny-on-error``, one czar cannot decide is denied rather than left to a prompt nobody
        answers. Without ``--agent`` (hooks written before the option existed) a ``BeforeTool`` call is
        Gemini CLI's and any other Claude Code's.
        """
        import sys

        from czar.agent_tools.hook import run

        code = run(agent, deny_on_error, sys.stdin, sys.stdout, sys.stderr)
        if code:
            raise typer.Exit(code)

    @app.command()
    def mcp(worker: Annotated[str, typer.Option("--worker", help="The worker this server speaks for.")]) -> None:
        """Serve czar's tools to a worker's agent over MCP (stdio); its host sets the environment."""
        from czar.agent_tools.identity import CallerError, caller_from_env
        from czar.agent_tools.mcp_tools import run

        caller = caller_from_env()
        if caller.worker != worker:
            raise CallerError(f"--worker {worker} does not match this environment's worker {caller.worker}")
        run(caller)
