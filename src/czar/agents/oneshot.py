"""Gemini CLI and Aider: one message per process.

Gemini: ``gemini -p <message> --output-format stream-json``; czar's MCP server comes through a
private home's ``.gemini/settings.json``. Aider: ``aider --message <text>``, no JSON and no MCP
(so its prompt tells it to use the ``czar`` commands); cost from its ``Tokens: ... Cost:`` lines.
Neither keeps a session czar can resume: a later message starts it again with the task's text.
"""

from __future__ import annotations

import json
import re

from czar.agents.base import Capabilities, Launch, LaunchContext, Signal, base_env, json_line, mcp_config

# "Tokens: 16k sent, 15k cache hit, 1.2k received. Cost: $0.01 message, $0.03 session."
AIDER_COST = re.compile(
    r"Tokens: ([\d.]+)(k?) sent, (?:[\d.]+k? cache (?:hit|write), )*([\d.]+)(k?) received\. Cost: \$([\d.]+) message"
)


def _message(ctx: LaunchContext) -> str:
    return "\n\n".join(t for t, _ in ctx.messages)


class GeminiAdapter:
    kind = "gemini"
    capabilities = Capabilities(mcp=True, long_lived=False, resumes=False)

    def launch(self, ctx: LaunchContext) -> Launch:
        s = ctx.settings
        env = base_env(ctx)
        home = ctx.home / "gemini-home"
        (home / ".gemini").mkdir(parents=True, exist_ok=True)
        server = mcp_config(ctx)
        settings = {"mcpServers": {"czar": {k: server[k] for k in ("command", "args", "env")}}}
        (home / ".gemini" / "settings.json").write_text(json.dumps(settings, indent=2))
        env["GEMINI_CLI_HOME"] = str(home)
        if s.home == "private":
            env["HOME"] = str(home)
        if s.base_url:
            env["GOOGLE_GEMINI_BASE_URL"] = s.base_url
        argv = [
            s.command or "gemini",
            "-p",
            _message(ctx),
            "--output-format",
            "stream-json",
            "--approval-mode",
            "auto_edit",
        ]
        argv += [*(["-m", s.model] if s.model else []), *s.args]
        return Launch(argv, env, [], keep_stdin=False)

    def encode(self, text: str, kind: str = "task") -> str:
        return text

    def parse(self, line: str) -> list[Signal]:
        msg = json_line(line)
        if msg is None:
            return [Signal("activity", text=line.rstrip())] if line.strip() else []
        kind = msg.get("type")
        if kind == "init":
            return [Signal("session", text=str(msg.get("session_id", "")))]
        if kind == "tool_use":
            return [Signal("activity", text=f"{msg.get('tool_name')} {json.dumps(msg.get('parameters', {}))[:200]}")]
        if kind == "message" and msg.get("role") == "assistant":
            return [Signal("activity", text=f"says: {str(msg.get('content', ''))[:300]}")]
        if kind == "error":
            return [Signal("activity", text=f"note: {msg.get('message')}")]
        if kind == "result":
            stats = msg.get("stats") or {}
            usage = {
                "cumulative": False,
                "input_tokens": int(stats.get("input_tokens") or stats.get("input") or 0),
                "output_tokens": int(stats.get("output_tokens") or stats.get("output") or 0),
                "cache_read_tokens": int(stats.get("cached") or 0),  # part of the input
            }
            return [Signal("usage", data=usage), Signal("turn_done", text=str(msg.get("status", "")))]
        return []


class AiderAdapter:
    kind = "aider"
    capabilities = Capabilities(mcp=False, long_lived=False, resumes=False, reports_cost=True)

    def launch(self, ctx: LaunchContext) -> Launch:
        s = ctx.settings
        env = base_env(ctx)
        if s.base_url:
            env["OPENAI_API_BASE"] = s.base_url
        argv = [
            s.command or "aider",
            "--message",
            _message(ctx),
            "--yes-always",
            "--no-auto-commits",
            "--no-pretty",
            "--no-check-update",
            "--analytics-disable",
            "--no-show-model-warnings",
            *(["--model", s.model] if s.model else []),
            *s.args,
        ]
        return Launch(argv, env, [], keep_stdin=False)

    def encode(self, text: str, kind: str = "task") -> str:
        return text

    def parse(self, line: str) -> list[Signal]:
        m = AIDER_COST.search(line)
        if m:
            sent = float(m.group(1)) * (1000 if m.group(2) else 1)
            received = float(m.group(3)) * (1000 if m.group(4) else 1)
            data = {"cumulative": False, "input_tokens": int(sent), "output_tokens": int(received)}
            return [Signal("usage", data={**data, "cost_usd": float(m.group(5))})]
        return [Signal("activity", text=line.rstrip())] if line.strip() else []
