"""From a script's turn to the model's answer: a call of one of the tools the agent offered, or a
final text. Which tool carries a verb depends on the agent: Claude Code offers ``Write`` and
``Bash``, Codex ``exec_command``; czar's MCP tools appear under names ending in the tool's name."""

from __future__ import annotations

import json
import posixpath
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from czar.core import toolbox
from czar.model.script import Turn

CZAR_TOOLS = toolbox.NAMES


@dataclass(frozen=True)
class Call:
    name: str
    input: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Fail:
    """No answer: the API answers with an HTTP error ``status``."""

    status: int
    message: str


Answer = Call | Say | Fail


def czar_tool(offered: Sequence[str], name: str) -> str | None:
    """The offered name of czar's MCP tool ``name`` (``mcp__czar__report``, ``czar__report``,
    Gemini's ``mcp_czar_report``, ...)."""
    return next((t for t in offered if "czar" in t and (t.endswith(f"__{name}") or t == f"mcp_czar_{name}")), None)


def _shell(offered: Sequence[str]) -> str | None:
    return next((t for t in ("Bash", "exec_command", "shell", "run_shell_command") if t in offered), None)


def _run(offered: Sequence[str], command: str, why: str) -> Answer:
    shell = _shell(offered)
    if shell is None:
        return _missing("a shell", offered)
    if shell == "Bash":
        return Call("Bash", {"command": command, "description": why})
    if shell == "run_shell_command":
        return Call(shell, {"command": command, "description": why})
    return Call(shell, {"cmd": command})


def _missing(what: str, offered: Sequence[str]) -> Say:
    return Say(f"[scripted model] the agent offered no tool for {what}; it offered: {', '.join(offered)}")


def answer(
    turn: Turn, offered: Sequence[str], *, cwd: str | None, task: str | None, commit: str | None = None
) -> Answer:
    """The answer for ``turn``, with tools chosen among ``offered`` (``commit``: the one a
    reviewer reads, for its verdict)."""
    v = turn.verb
    if v in ("say", "end"):
        return Say(turn.text or "Done.")
    if v == "fail":
        status, _, message = turn.text.partition(" ")
        return Fail(int(status), message.strip() or f"the scripted model fails with {status}")
    if v == "write":
        if "Write" in offered:
            path = turn.path if posixpath.isabs(turn.path) or cwd is None else posixpath.join(cwd, turn.path)
            return Call("Write", {"file_path": path, "content": turn.text})
        if "write_file" in offered:
            return Call("write_file", {"file_path": turn.path, "content": turn.text})
        marker = "CZAR_EOF"
        folder = posixpath.dirname(turn.path)
        mkdir = f"mkdir -p {shlex.quote(folder)} && " if folder else ""
        return _run(
            offered, f"{mkdir}cat > {shlex.quote(turn.path)} <<'{marker}'\n{turn.text}{marker}", f"write {turn.path}"
        )
    if v == "run":
        return _run(offered, turn.text, turn.text[:60])
    if v == "commit":
        return _run(offered, f"git add -A && git commit -q -m {shlex.quote(turn.text)}", "commit the work")
    if v == "tool":
        name, _, data = turn.text.partition(" ")
        chosen = name if name in offered else czar_tool(offered, name)
        return Call(chosen, json.loads(data or "{}")) if chosen else _missing(name, offered)
    tool = czar_tool(offered, {"checkpoint": "report", "approve": "verdict", "request-changes": "verdict"}.get(v, v))
    if tool is None:
        return _missing(f"czar's {v}", offered)
    if v == "report":
        return Call(tool, {"task": task or "", "text": turn.text})
    if v == "checkpoint":
        number, _, note = turn.text.partition(" ")
        return Call(tool, {"checkpoint": int(number), "text": note.strip() or f"checkpoint {number}"})
    if v == "claim":
        return Call(tool, {"paths": shlex.split(turn.text)})
    if v == "blocked":
        on, _, need = turn.text.partition(" ")
        return Call(tool, {"on": on, "need": need.strip() or f"waits for {on}"})
    if v == "done":
        return Call(tool, {"summary": turn.text or "done"})
    if v == "finding":
        path, line, severity, failure = turn.text.split(maxsplit=3)
        return Call(tool, {"path": path, "line": int(line), "severity": severity, "failure": failure})
    if v in ("approve", "request-changes"):
        return Call(tool, {"decision": v, "commit": commit or "", "summary": turn.text or v})
    return Call(tool, {"text": turn.text})


def as_text(turns: Sequence[Turn], task: str | None) -> str:
    """The rest of a script as one answer of text, for an agent that offers no tools and acts on
    what the model writes (Aider): file edits as SEARCH/REPLACE blocks (an empty SEARCH makes a
    new file), commands, and czar's commands, as shell blocks it runs."""
    out: list[str] = []
    for turn in turns:
        v, text = turn.verb, turn.text
        if v in ("say", "end"):
            out.append(text or "Done.")
        elif v == "write":
            out.append(f"{turn.path}\n```\n<<<<<<< SEARCH\n=======\n{text}>>>>>>> REPLACE\n```")
        elif v in ("wait", "fail"):
            continue
        else:
            out.append(f"```bash\n{_command(turn, task)}\n```")
    return "\n\n".join(out)


def _command(turn: Turn, task: str | None) -> str:
    v, text, q = turn.verb, turn.text, shlex.quote
    if v == "run":
        return text
    if v == "commit":
        return f"git add -A && git commit -q -m {q(text)}"
    if v == "report":
        return f"czar report --task {q(task or '')} {q(text)}"
    if v == "checkpoint":
        number, _, note = text.partition(" ")
        return f"czar report --checkpoint {number} {q(note.strip() or f'checkpoint {number}')}"
    if v == "claim":
        return f"czar claim {text}"
    if v == "blocked":
        on, _, need = text.partition(" ")
        return f"czar blocked --on {q(on)} {q(need.strip() or f'waits for {on}')}"
    if v == "done":
        return f"czar done {q(text or 'done')}"
    return f"echo {q(f'[scripted model] no command for {v} {text}')}"
