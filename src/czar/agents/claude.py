"""Claude Code, headless and long-lived: one process per attempt, messages as stream-json on stdin.

Started with a session id czar chooses, so that a crash is restarted with ``--resume``; czar's
MCP server is its only MCP server (``--strict-mcp-config``); every tool use beyond czar's tools
and reading goes through czar's permission tool, so that the plan's policy decides each one and
each decision is an event. Headless, the end of each turn is in its output, and the worker host
sends it back to work when it stops without having handed its task in; hooks (``czar hook``)
report only what the output does not. On its own screen (``interactive``), hooks tell czar all.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
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
from czar.core import toolbox
from czar.core.host_commands import MessageKind
from czar.core.policy import DECISION_WAIT_SECONDS

# Tools it may use without asking: czar's own, and reading.
ALLOWED = (*(f"mcp__czar__{t}" for t in toolbox.NAMES), "Read", "Glob", "Grep", "LS", "TodoWrite")
MAX_ARGUMENT = 100_000  # bytes; Linux refuses a single argument over 128 KiB
QUIET = {
    # czar's MCP server must be connected before the first request: its report tool is the
    # agent's first call, and its permission tool decides every edit and command.
    "MCP_CONNECTION_NONBLOCKING": "0",
    # Each command starts in the checkout, as czar's permission policy reads it: by default a `cd`
    # would carry over to the next command, which the policy would then judge from the wrong folder.
    "CLAUDE_BASH_MAINTAIN_PROJECT_WORKING_DIR": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
}


# Its hook events, in czar's words (any other is recorded as it is).
HOOK_KINDS = {
    "PreToolUse": HookKind.TOOL_USE,
    "PostToolUse": HookKind.TOOL_USED,
    "Stop": HookKind.TURN_END,
    "UserPromptSubmit": HookKind.PROMPT,
    "SessionStart": HookKind.SESSION_START,
}


class ClaudeHooks:
    """Claude Code's hooks: its JSON on stdin (``hook_event_name`` and the moment's fields); a
    tool use answered with ``hookSpecificOutput``, a Stop sent back to work by exit code 2 with
    the reason on stderr."""

    def read(self, payload: Mapping[str, Any]) -> HookCall:
        name = str(payload.get("hook_event_name", ""))
        said = {k: str(payload[k]) for k in ("notification_type", "message") if payload.get(k) is not None}
        return HookCall(
            name=name,
            kind=HOOK_KINDS.get(name, HookKind.OTHER),
            again=bool(payload.get("stop_hook_active")),
            tool=str(payload.get("tool_name") or ""),
            tool_input=payload.get("tool_input"),
            free=str(payload.get("tool_name") or "") in ALLOWED,
            transcript=str(payload["transcript_path"]) if payload.get("transcript_path") else None,
            prompt=payload["prompt"] if isinstance(payload.get("prompt"), str) else None,
            said=said,
        )

    def allow_or_deny(self, call: HookCall, decision: str, why: str) -> HookAnswer:
        answer = {"hookEventName": call.name, "permissionDecision": decision, "permissionDecisionReason": why}
        return HookAnswer(stdout=json.dumps({"hookSpecificOutput": answer}))

    def go_on(self, reason: str) -> HookAnswer:
        return HookAnswer(stderr=reason, exit_code=2)


class ClaudeAdapter:
    kind = "claude"
    hooks: HookProtocol | None = ClaudeHooks()
    capabilities = Capabilities(
        mcp=True,
        mcp_http=True,
        long_lived=True,
        resumes=True,
        permission_tool=True,
        reports_cost=True,
        hosts=("anthropic.com", "*.anthropic.com", "claude.ai", "*.claude.ai", "claude.com", "*.claude.com"),
        # On its own screen it looks for a newer version of itself (downloads.claude.ai) and for
        # its plugins' marketplace on GitHub at every start, DISABLE_AUTOUPDATER or not: an alert
        # per worker and start that nobody could act on. A task that needs GitHub says so in its window.
        chatter=("downloads.claude.ai", "github.com"),
    )

    def launch(self, ctx: LaunchContext) -> Launch:
        if ctx.settings.interactive:
            return self._interactive(ctx)
        s = ctx.settings
        session = ctx.session or str(uuid.uuid4())
        # Hooks only for what its output does not say (a notification, a compaction of its
        # context): the end of each turn is in its output, and a hook there would cost a czar
        # process per turn.
        hook = [
            {
                "hooks": [
                    {"type": "command", "command": shlex.join([*ctx.czar, "hook", "--agent", self.kind]), "timeout": 30}
                ]
            }
        ]
        settings = {"hooks": {"Notification": hook, "PreCompact": hook}}
        argv = [
            s.command or "claude",
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--replay-user-messages",
            "--mcp-config",
            json.dumps({"mcpServers": {"czar": _czar_server(ctx)}}),
            "--strict-mcp-config",
            "--settings",
            json.dumps(settings),
            "--permission-prompt-tool",
            "mcp__czar__permission",
            "--allowedTools",
            ",".join(ALLOWED),
            *(["--resume", session] if ctx.session else ["--session-id", session]),
            *(["--model", s.model] if s.model else []),
            *s.args,
        ]
        env = _env(ctx)
        return Launch(argv, env, [self.encode(text, kind) for text, kind in ctx.messages], True, session)

    def _interactive(self, ctx: LaunchContext) -> Launch:
        """Claude Code on its own screen: the first message as its initial prompt, later ones
        pasted in; hooks tell czar what it does (a prompt submitted, a tool used, a turn ended) and
        let czar's policy decide each tool use (PreToolUse)."""
        s = ctx.settings
        session = ctx.session or str(uuid.uuid4())
        hook = [
            {
                "hooks": [
                    {"type": "command", "command": shlex.join([*ctx.czar, "hook", "--agent", self.kind]), "timeout": 30}
                ]
            }
        ]
        # A tool use may wait for a person's decision (`czar allow`): the hook waits as long.
        deciding = shlex.join([*ctx.czar, "hook", "--agent", self.kind, "--deny-on-error"])
        pre_tool = [{"hooks": [{"type": "command", "command": deciding, "timeout": DECISION_WAIT_SECONDS}]}]
        events = ("SessionStart", "UserPromptSubmit", "PostToolUse", "Stop", "Notification")
        settings = {"hooks": {**{e: hook for e in events}, "PreToolUse": pre_tool}}
        argv = [
            s.command or "claude",
            "--mcp-config",
            json.dumps({"mcpServers": {"czar": _czar_server(ctx)}}),
            "--strict-mcp-config",
            "--settings",
            json.dumps(settings),
            "--allowedTools",
            ",".join(ALLOWED),
            *(["--resume", session] if ctx.session else ["--session-id", session]),
            *(["--model", s.model] if s.model else []),
            *s.args,
        ]
        first = "\n\n".join(text for text, _ in ctx.messages)
        # The first message as its initial prompt, after `--` (an option of `args` cannot take
        # it); one too long for a command line is pasted once it has started.
        later = [first] if len(first.encode()) > MAX_ARGUMENT else []
        argv += [] if later else ["--", first]
        env = _env(ctx)
        env.setdefault("TERM", "xterm-256color")
        return Launch(argv, env, later, True, session, terminal=True, transcript=transcript(env, ctx.worktree, session))

    def encode(self, text: str, kind: MessageKind = MessageKind.TASK) -> str:
        message = {"role": "user", "content": text}
        return (
            json.dumps({"type": "user", "message": message, "parent_tool_use_id": None, "session_id": "default"}) + "\n"
        )

    def parse(self, line: str) -> list[Signal]:
        msg = json_line(line)
        if msg is None:
            if "No conversation found with session ID" in line:
                # Killed before it wrote its session down: there is nothing to resume.
                return [Signal(SignalKind.SESSION_LOST, text=line.strip())]
            return [Signal(SignalKind.ACTIVITY, text=line.rstrip())] if line.strip() else []
        kind = msg.get("type")
        if kind == "system" and msg.get("subtype") == "init":
            out = [Signal(SignalKind.SESSION, text=str(msg.get("session_id", "")))]
            servers = {s.get("name"): s.get("status") for s in msg.get("mcp_servers", []) if isinstance(s, dict)}
            if servers.get("czar") not in (None, "connected"):
                out.append(Signal(SignalKind.TOOLS_LOST, text=f"czar's MCP server is {servers.get('czar')}"))
            out.append(
                Signal(SignalKind.ACTIVITY, text=f"started: {msg.get('model')}, czar's tools {servers.get('czar')}")
            )
            return out
        if kind == "assistant":
            message = msg.get("message", {})
            out = [s for block in message.get("content", []) if (s := _block(block))]
            usage = message.get("usage")
            if isinstance(usage, dict) and message.get("id"):
                # One API message may come as several events, each with its usage: the host
                # counts each message id once, until the turn's result settles the account.
                out.append(
                    Signal(
                        SignalKind.USAGE,
                        data={
                            "provisional": True,
                            "input_excludes_cache": True,  # Anthropic counts cache reads and writes apart
                            "message_id": message["id"],
                            "model": message.get("model"),
                            "input_tokens": int(usage.get("input_tokens") or 0),
                            "output_tokens": int(usage.get("output_tokens") or 0),
                            "cache_read_tokens": int(usage.get("cache_read_input_tokens") or 0),
                            "cache_write_tokens": int(usage.get("cache_creation_input_tokens") or 0),
                        },
                    )
                )
            return out
        if kind == "user":
            return _user(msg)
        if kind == "system" and msg.get("subtype") == "api_retry":
            return _retry(msg)
        if kind == "result":
            failed = _failed(msg)
            return [
                Signal(SignalKind.USAGE, data=_totals(msg)),
                *([failed] if failed else []),
                Signal(
                    SignalKind.TURN_DONE, text=str(msg.get("subtype", "")), data={"is_error": bool(msg.get("is_error"))}
                ),
            ]
        if kind == "rate_limit_event":
            info = msg.get("rate_limit_info") or {}
            if info.get("status") == "rejected":
                resets = float(info.get("resetsAt") or 0)
                return [
                    Signal(
                        SignalKind.RATE_LIMITED,
                        text="the model's rate limit",
                        data={"reset_in": max(1.0, resets - time.time())},
                    )
                ]
        return []


def _czar_server(ctx: LaunchContext) -> dict[str, Any]:
    """czar's MCP server in its configuration. Over HTTP, Claude Code gives up on a request after
    60 s unless the server's ``timeout`` says otherwise: its permission tool, waiting for a person,
    failed then as "The operation timed out", and the person's answer came to nobody."""
    server = mcp_config(ctx)
    server["timeout"] = DECISION_WAIT_SECONDS * 1000  # milliseconds; over stdio (`czar mcp`) too
    return server


def _env(ctx: LaunchContext) -> dict[str, str]:
    """Its environment, headless or on its screen: quiet, its model API, its home."""
    env = base_env(ctx)
    for k, v in QUIET.items():
        env.setdefault(k, v)
    # A call to an HTTP server that shows no progress is cut after five minutes: czar reports none
    # while a permission waits for a person (its stream's pings keep the connection, not the call).
    env.setdefault("CLAUDE_CODE_MCP_TOOL_IDLE_TIMEOUT", str(DECISION_WAIT_SECONDS * 1000))
    if ctx.settings.base_url:
        env["ANTHROPIC_BASE_URL"] = ctx.settings.base_url
    if ctx.settings.home == "private":
        env["HOME"] = str(private_home(ctx.home, ctx.worktree, env.get("ANTHROPIC_API_KEY", "")))
    return env


def _totals(msg: dict[str, Any]) -> dict[str, Any]:
    """The usage a turn's ``result`` settles. Its ``usage`` covers that turn only, while
    ``modelUsage`` (per model) and ``total_cost_usd`` run over the whole process: the running
    totals when they are there, else the turn's tokens (czar prices them)."""
    models = msg.get("modelUsage")
    if isinstance(models, dict):
        per = [m for m in models.values() if isinstance(m, dict)]

        def total(key: str) -> int:
            return sum(int(m.get(key) or 0) for m in per)

        cost = msg.get("total_cost_usd")
        return {
            "cumulative": True,
            "input_tokens": total("inputTokens"),
            "output_tokens": total("outputTokens"),
            "cache_read_tokens": total("cacheReadInputTokens"),
            "cache_write_tokens": total("cacheCreationInputTokens"),
            "cost_usd": float(cost if cost is not None else sum(float(m.get("costUSD") or 0) for m in per)),
        }
    usage = msg.get("usage") or {}
    return {
        "turn": True,
        "input_excludes_cache": True,
        "input_tokens": int(usage.get("input_tokens") or 0),
        "output_tokens": int(usage.get("output_tokens") or 0),
        "cache_read_tokens": int(usage.get("cache_read_input_tokens") or 0),
        "cache_write_tokens": int(usage.get("cache_creation_input_tokens") or 0),
    }


def _retry(msg: dict[str, Any]) -> list[Signal]:
    """A request to the model failed and Claude Code tries again (up to ten times, for minutes)."""
    status = msg.get("error_status")
    status = status if isinstance(status, int) else None
    if status == 429:
        return []  # a rate limit: its rate_limit_event says when it resets
    kind = "connection" if status is None else (api_failure("", status) or "other")
    tries = f"retry {msg.get('attempt')} of {msg.get('max_retries')}"
    said = "cannot connect to" if status is None else f"{status} {msg.get('error') or 'error'} from"
    return [
        Signal(SignalKind.MODEL_ERROR, text=f"{said} the model's API ({tries})", data={"kind": kind, "retry": True})
    ]


def _failed(msg: dict[str, Any]) -> Signal | None:
    """The turn ended on a request to the model that failed for good (its retries spent, or one
    not worth retrying): what it said, as a model error."""
    if not msg.get("is_error"):
        return None
    status = msg.get("api_error_status")
    status = status if isinstance(status, int) else None
    text = str(msg.get("result") or "")
    kind = api_failure(text, status)
    # Without a status only its own words tell a failed request from the model's answer; "Not logged
    # in" comes with no request at all (no key, no login): nothing works until a person gives one.
    if kind is None or (
        status is None and not text.startswith(("API Error", "Failed to authenticate", "Not logged in"))
    ):
        return None
    return Signal(SignalKind.MODEL_ERROR, text=text[:500], data={"kind": kind, "retry": False})


def _block(block: Any) -> Signal | None:
    if not isinstance(block, dict):
        return None
    if block.get("type") == "text" and block.get("text", "").strip():
        return Signal(SignalKind.ACTIVITY, text=f"says: {block['text'].strip()[:300]}")
    if block.get("type") == "tool_use":
        tool_input = block.get("input") or {}
        target = next((tool_input[k] for k in ("command", "file_path", "path", "pattern") if k in tool_input), "")
        return Signal(
            SignalKind.ACTIVITY,
            text=f"{block.get('name')} {str(target)[:200]}".rstrip(),
            data={"tool": block.get("name")},
        )
    return None


def _user(msg: dict[str, Any]) -> list[Signal]:
    content = msg.get("message", {}).get("content")
    if isinstance(content, str):
        return [Signal(SignalKind.ACTIVITY, text="received a message", data={"delivered": True})]
    out = []
    for block in content or []:
        if isinstance(block, dict) and block.get("type") == "tool_result" and block.get("is_error"):
            text = block.get("content")
            out.append(Signal(SignalKind.ACTIVITY, text=f"tool failed: {str(text)[:200]}"))
    return out


def transcript(env: dict[str, str], worktree: Path, session: str) -> Path:
    """Where Claude Code keeps a session's conversation: one JSON line per event, its assistant
    messages shaped as in ``stream-json`` (with their usage)."""
    home = Path(env.get("HOME") or Path.home())
    folder = re.sub(r"[^A-Za-z0-9]", "-", os.path.realpath(worktree))
    # A first guess: its SessionStart hook says where it is (the worker host then follows that).
    return Path(env.get("CLAUDE_CONFIG_DIR") or home / ".claude") / "projects" / folder / f"{session}.jsonl"


def private_home(folder: Path, worktree: Path, api_key: str) -> Path:
    """A home of czar's own for Claude Code, with its start-up questions answered: onboarding
    done, the API key approved, the worktree trusted."""
    home = folder / "home"
    (home / ".claude").mkdir(parents=True, exist_ok=True)
    config_path = home / ".claude.json"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError):
        config = {}
    config["hasCompletedOnboarding"] = True
    if api_key:
        approved = config.setdefault("customApiKeyResponses", {"approved": [], "rejected": []})
        if api_key[-20:] not in approved["approved"]:
            approved["approved"].append(api_key[-20:])
    config.setdefault("projects", {})[str(worktree)] = {"hasTrustDialogAccepted": True}
    config_path.write_text(json.dumps(config, indent=2))
    (home / ".claude" / "settings.json").write_text(json.dumps({"skipDangerousModePermissionPrompt": True}))
    return home
