"""`czar hook`: what an agent's hook runs, at each of its tool uses (Gemini CLI) or each event
(Claude Code on its own screen). Its JSON is read in the protocol of the agent's kind and answered
in it: a tool use gets czar's policy's decision, a turn that ends while the task is not handed in
is sent back to work, once.

Light, because it runs so often: ``python -m czar hook`` comes here without the CLI (Typer, its
command tree) and without the store (its calls go to the worker host, or to the store only where
it is in reach); `czar hook --help` and any other shape of the command go through the CLI.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, TextIO

from czar.errors import CzarError

if TYPE_CHECKING:
    from czar.agent_tools.relay import ToolCalls
    from czar.agents.base import HookCall

AGENT = "--agent"
DENY_ON_ERROR = "--deny-on-error"


def fast_call(argv: list[str]) -> tuple[str | None, bool] | None:
    """``(agent, deny_on_error)`` when ``argv`` (after ``python -m czar``) is a hook command as czar
    writes it into an agent's settings; None for anything else (the CLI reads it, and says what is
    wrong with it)."""
    if not argv or argv[0] != "hook":
        return None
    agent: str | None = None
    deny = False
    rest = argv[1:]
    while rest:
        if rest[0] == DENY_ON_ERROR and not deny:
            deny, rest = True, rest[1:]
        elif rest[0] == AGENT and agent is None and len(rest) > 1 and not rest[1].startswith("-"):
            agent, rest = rest[1], rest[2:]
        else:
            return None
    return agent, deny


def run(agent: str | None, deny_on_error: bool, stdin: TextIO, out: TextIO, err: TextIO) -> int:
    """Answer one hook call read from ``stdin``; the exit code. Without ``agent`` (hooks written
    before the option existed) a ``BeforeTool`` call is Gemini CLI's and any other Claude Code's.
    With ``deny_on_error``, a tool use czar cannot decide is denied (exit 2) rather than left to a
    prompt nobody answers; without, a hook never breaks the agent (exit 0)."""
    from czar.agent_tools.identity import CallerError
    from czar.agent_tools.relay import caller_tools
    from czar.agents.adapters import adapter_for
    from czar.agents.base import HookKind, UnsupportedAgent

    def refuse(why: str) -> int:
        if deny_on_error:
            print(f"czar denied it: {why}", file=err)
            return 2
        return 0

    try:
        payload = json.loads(stdin.read() or "{}")
        payload = payload if isinstance(payload, dict) else {}
        if agent is None:
            agent = "gemini" if payload.get("hook_event_name") == "BeforeTool" else "claude"
        hooks = adapter_for(agent).hooks
        if hooks is None:
            raise CzarError(f"agent {agent} runs no hook of czar's")
        call = hooks.read(payload)
        calls = caller_tools()  # (a CallerError when the environment names no worker)
    except (json.JSONDecodeError, CallerError, CzarError, UnsupportedAgent) as exc:
        return refuse(f"czar could not read the request ({exc})")
    if deny_on_error and call.kind is not HookKind.TOOL_USE:
        return refuse(f"not a tool use of {agent}'s: {call.name or 'no hook_event_name'}")
    try:
        if call.kind is HookKind.TOOL_USE:
            if not call.free:
                print(hooks.allow_or_deny(call, *decide(calls, call)).stdout, file=out)
            return 0
        reason = calls.on_hook(call)
    except CzarError as exc:
        return refuse(str(exc))
    if not reason:
        return 0
    answer = hooks.go_on(reason)
    if answer.stdout:
        print(answer.stdout, file=out)
    if answer.stderr:
        print(answer.stderr, file=err)
    return answer.exit_code


def decide(calls: ToolCalls, call: HookCall) -> tuple[str, str]:
    """czar's decision on a tool use: allow, deny or ask, and why; deny when it cannot decide (an
    undecided tool use must not wait on a prompt nobody answers)."""
    from czar.core.policy import target_of

    try:
        if not isinstance(call.tool_input, dict):
            raise CzarError(f"no input for {call.tool}")
        decision, why = calls.decide_permission(call.tool, target_of(call.tool, call.tool_input))
        return decision.value, why
    except Exception as exc:
        return "deny", f"czar could not decide ({exc})"


def main(agent: str | None, deny_on_error: bool) -> int:
    """``python -m czar hook ...`` without the CLI, a czar error said as the CLI says it."""
    try:
        return run(agent, deny_on_error, sys.stdin, sys.stdout, sys.stderr)
    except CzarError as exc:  # (run answers those it expects itself)
        print(*exc.said(), sep="\n", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("czar: interrupted", file=sys.stderr)
        return 130
