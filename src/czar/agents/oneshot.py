"""Gemini CLI: one message per process, ``gemini -p <message> --output-format stream-json``.

czar's MCP server, a BeforeTool hook (czar's policy decides its shell and edits) and its login
come through a Gemini home of czar's own (``.gemini/settings.json``). It keeps no session czar
can resume: a later message starts it again with the task's text.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from typing import Any

from czar.agents.base import (
    Capabilities,
    HookAnswer,
    HookCall,
    HookKind,
    HookProtocol,
    Launch,
    LaunchContext,
    Signal,
    SignalKind,
    api_failure,
    base_env,
    json_line,
    mcp_config,
)
from czar.core.host_commands import MessageKind
from czar.core.policy import DECISION_WAIT_SECONDS
from czar.core.pricing import DEFAULT_MODELS


def message(ctx: LaunchContext) -> str:
    """The messages of a launch as one (an agent that takes one message per process)."""
    return "\n\n".join(t for t, _ in ctx.messages)


GEMINI_DECIDED = ("run_shell_command", "write_file", "replace")  # decided by czar's policy
# What Gemini CLI prints, outside its stream of events, when it has no credentials (no key for the
# auth type chosen, or none chosen: czar chooses the API key's when the key is set); it exits 41.
# What Gemini CLI prints (not as an event) for each failed try of a request, before it tries again.
RETRYING = re.compile(r"^Attempt \d+ failed\. Retrying with backoff\.\.\. (.*)")
# Said at its start when an MCP server (czar's is its only one) did not connect.
MCP_FAILED = "MCP issues detected"
NO_CREDENTIALS = re.compile(
    r"^(invalid auth method selected|when using (gemini api|vertex ai), you must specify)", re.I
)


class GeminiHooks:
    """Gemini CLI's hooks: its JSON on stdin; czar runs only its BeforeTool hook, answered with a
    ``decision`` and its ``reason``."""

    def read(self, payload: Mapping[str, Any]) -> HookCall:
        name = str(payload.get("hook_event_name", ""))
        return HookCall(
            name=name,
            kind=HookKind.TOOL_USE if name == "BeforeTool" else HookKind.OTHER,
            tool=str(payload.get("tool_name") or ""),
            tool_input=payload.get("tool_input"),
            free=str(payload.get("tool_name") or "").startswith("mcp_czar_"),  # czar's own tools
        )

    def allow_or_deny(self, call: HookCall, decision: str, why: str) -> HookAnswer:
        return HookAnswer(stdout=json.dumps({"decision": decision, "reason": why}))

    def go_on(self, reason: str) -> HookAnswer:
        return HookAnswer()  # czar runs no hook of its at the end of a turn


class GeminiAdapter:
    kind = "gemini"
    hooks: HookProtocol | None = GeminiHooks()
    capabilities = Capabilities(
        mcp=True,
        mcp_http=True,
        long_lived=False,
        resumes=False,
        # Its APIs and its login, by name: ``*.googleapis.com`` would take in any storage bucket too.
        hosts=(
            "generativelanguage.googleapis.com",
            "cloudcode-pa.googleapis.com",
            "oauth2.googleapis.com",
            "www.googleapis.com",
            "play.googleapis.com",
            "accounts.google.com",
        ),
    )

    def launch(self, ctx: LaunchContext) -> Launch:
        s = ctx.settings
        env = base_env(ctx)
        home = ctx.home / "gemini-home"
        (home / ".gemini").mkdir(parents=True, exist_ok=True)
        server = mcp_config(ctx)
        if ctx.mcp_url:  # the worker host's server; Gemini expands $CZAR_TOKEN from its environment
            czar: dict[str, Any] = {"httpUrl": ctx.mcp_url, "headers": {"Authorization": "Bearer $CZAR_TOKEN"}}
        else:
            czar = {k: server[k] for k in ("command", "args", "env")}
        czar["trust"] = True  # czar's own tools need no confirmation (czar checks who calls them)
        # Its shell and edits run without its own confirmation (which a headless run cannot give):
        # czar's policy decides each one in a BeforeTool hook instead.
        deciding = shlex.join([*ctx.czar, "hook", "--agent", self.kind, "--deny-on-error"])
        hook = {"type": "command", "command": deciding, "timeout": DECISION_WAIT_SECONDS * 1000}  # milliseconds here
        # Only for those tools: a hook is a process, and czar's own tools need none.
        decided = {"matcher": f"^({'|'.join(GEMINI_DECIDED)})$", "hooks": [hook]}
        settings: dict[str, Any] = {
            "mcpServers": {"czar": czar},
            "hooks": {"BeforeTool": [decided]},
            # Its usage statistics go to play.googleapis.com at every start: not a host the work needs
            # (the sandbox refuses it, and each worker raised an alert per run for it).
            "privacy": {"usageStatisticsEnabled": False},
        }
        policy = home / "czar-policy.toml"
        policy.write_text(
            "# czar's policy decides each of these in a BeforeTool hook (`czar hook`).\n"
            f'[[rule]]\ntoolName = {json.dumps(list(GEMINI_DECIDED))}\ndecision = "allow"\npriority = 100\n'
        )
        if env.get("GEMINI_API_KEY"):
            settings["security"] = {"auth": {"selectedType": "gemini-api-key"}}
        (home / ".gemini" / "settings.json").write_text(json.dumps(settings, indent=2))
        env["GEMINI_CLI_HOME"] = str(home)
        env.setdefault("GEMINI_CLI_TRUST_WORKSPACE", "true")  # the worktree is czar's
        if s.home == "private":
            env["HOME"] = str(home)
        if s.base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = s.base_url
        argv = [
            s.command or "gemini",
            "-p",
            message(ctx),
            "--output-format",
            "stream-json",
            "--approval-mode",
            "auto_edit",
            "--policy",
            str(policy),
        ]
        # A model named (by default czar's price table's): no side requests to choose one.
        argv += ["-m", s.model or DEFAULT_MODELS["gemini"], *s.args]
        return Launch(argv, env, [], keep_stdin=False)

    def encode(self, text: str, kind: MessageKind = MessageKind.TASK) -> str:
        return text

    def parse(self, line: str) -> list[Signal]:
        msg = json_line(line)
        if msg is None:
            if NO_CREDENTIALS.search(line.strip()):  # not the work's fault: a person must give it a key
                return [Signal(SignalKind.MODEL_ERROR, text=line.strip()[:500], data={"kind": "auth", "retry": False})]
            if line.strip().startswith(MCP_FAILED):
                return [Signal(SignalKind.TOOLS_LOST, text=f"czar's MCP server did not connect ({line.strip()})")]
            if (retrying := RETRYING.match(line.strip())) and (failure := api_failure(retrying.group(1))):
                return [Signal(SignalKind.MODEL_ERROR, text=line.strip()[:500], data={"kind": failure, "retry": True})]
            return [Signal(SignalKind.ACTIVITY, text=line.rstrip())] if line.strip() else []
        kind = msg.get("type")
        if kind == "init":
            return [Signal(SignalKind.SESSION, text=str(msg.get("session_id", "")))]
        if kind == "tool_use":
            return [
                Signal(
                    SignalKind.ACTIVITY, text=f"{msg.get('tool_name')} {json.dumps(msg.get('parameters', {}))[:200]}"
                )
            ]
        if kind == "message" and msg.get("role") == "assistant":
            return [Signal(SignalKind.ACTIVITY, text=f"says: {str(msg.get('content', ''))[:300]}")]
        if kind == "error":
            text = str(msg.get("message"))
            failure = api_failure(text)
            if failure is not None:  # it cannot reach its model; a warning is one it tries again
                retry = msg.get("severity") == "warning"
                return [Signal(SignalKind.MODEL_ERROR, text=text[:500], data={"kind": failure, "retry": retry})]
            return [Signal(SignalKind.ACTIVITY, text=f"note: {text}")]
        if kind == "result":
            stats = msg.get("stats") or {}
            usage = {
                "cumulative": False,
                "input_tokens": int(stats.get("input_tokens") or stats.get("input") or 0),
                "output_tokens": int(stats.get("output_tokens") or stats.get("output") or 0),
                "cache_read_tokens": int(stats.get("cached") or 0),  # part of the input
            }
            return [Signal(SignalKind.USAGE, data=usage), Signal(SignalKind.TURN_DONE, text=str(msg.get("status", "")))]
        return []
