"""Gemini CLI and Aider: one message per process.

Gemini: ``gemini -p <message> --output-format stream-json``; czar's MCP server comes through a
private home's ``.gemini/settings.json``. Aider: ``aider --message <text>``, no JSON and no MCP
(so its prompt tells it to use the ``czar`` commands); cost from its ``Tokens: ... Cost:`` lines.
Neither keeps a session czar can resume: a later message starts it again with the task's text.
"""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from czar.agents.base import Capabilities, Launch, LaunchContext, Signal, base_env, json_line, mcp_config
from czar.core.pricing import DEFAULT_MODELS

# "Tokens: 16k sent, 15k cache hit, 1.2k received. Cost: $0.01 message, $0.03 session."
AIDER_COST = re.compile(
    r"Tokens: ([\d.]+)(k?) sent, (?:[\d.]+k? cache (?:hit|write), )*([\d.]+)(k?) received\."
    r"(?: Cost: \$([\d.]+) message)?"
)


def _message(ctx: LaunchContext) -> str:
    return "\n\n".join(t for t, _ in ctx.messages)


GEMINI_DECIDED = ("run_shell_command", "write_file", "replace")  # decided by czar's policy


class GeminiAdapter:
    kind = "gemini"
    capabilities = Capabilities(mcp=True, mcp_http=True, long_lived=False, resumes=False)

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
        hook = {"type": "command", "command": shlex.join([*ctx.czar, "hook"]), "timeout": 3_660_000}
        # Only for those tools: a hook is a process, and czar's own tools need none.
        decided = {"matcher": f"^({'|'.join(GEMINI_DECIDED)})$", "hooks": [hook]}
        settings: dict[str, Any] = {"mcpServers": {"czar": czar}, "hooks": {"BeforeTool": [decided]}}
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
            _message(ctx),
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
    """Aider answers one message per process and edits by what the model writes; it commits its
    edits itself. It runs no shell command unattended, so the ``czar`` commands it proposes (its
    model was asked to use them) are read from its output and carried out by czar."""

    kind = "aider"
    capabilities = Capabilities(mcp=False, long_lived=False, resumes=False, reports_cost=True)

    def __init__(self) -> None:
        self._proposed: set[str] = set()  # czar commands this process proposed
        self._fenced = False  # inside a fenced block of its reply (proposed, not yet settled)

    def launch(self, ctx: LaunchContext) -> Launch:
        self._proposed = set()
        self._fenced = False
        s = ctx.settings
        env = base_env(ctx)
        if s.base_url:
            env["OPENAI_API_BASE"] = s.base_url
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # its prices from its own copy, not the web
        # Its files (chat history, repo-map cache) stay out of the worktree's commits: the agent's
        # git, and Aider's, ignore them through an excludes file of czar's.
        folder = ctx.home / "aider"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "exclude").write_text(".aider*\n")
        if "GIT_CONFIG_COUNT" not in env:
            env.update(
                GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="core.excludesFile", GIT_CONFIG_VALUE_0=str(folder / "exclude")
            )
        argv = [
            s.command or "aider",
            "--message",
            _message(ctx),
            "--yes-always",  # its edits and the commands it is asked to run (czar's among them)
            "--no-pretty",
            "--no-check-update",
            "--analytics-disable",
            "--no-show-model-warnings",
            "--no-gitignore",  # the worktree's .gitignore is the project's
            "--chat-history-file",
            str(folder / "chat.md"),
            "--input-history-file",
            str(folder / "input.txt"),
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
            data: dict[str, Any] = {"cumulative": False, "input_tokens": int(sent), "output_tokens": int(received)}
            if m.group(5) is not None:  # else it knows no price for the model: czar prices the tokens
                data["cost_usd"] = float(m.group(5))
            return [Signal("usage", data=data)]
        proposed = self._czar_command(line.strip())
        if proposed is not None:
            return proposed
        return [Signal("activity", text=line.rstrip())] if line.strip() else []

    def _czar_command(self, line: str) -> list[Signal] | None:
        """The signal of a ``czar report|done`` command Aider proposed, once per process: as it
        lists them at the end, after its edits are applied and committed (in its reply, inside a
        fenced block, they come before that)."""
        if line.startswith("```"):
            self._fenced = not self._fenced
            return None
        if self._fenced or not line.startswith("czar "):
            return None
        try:
            words = shlex.split(line)
        except ValueError:
            return None
        if line in self._proposed:
            return []
        verb, rest = words[1] if len(words) > 1 else "", words[2:]
        if verb == "done":
            self._proposed.add(line)
            return [Signal("finished", text=" ".join(rest) or "done")]
        if verb == "report" and len(rest) >= 2 and rest[0] in ("--task", "--checkpoint"):
            self._proposed.add(line)
            text = " ".join(rest[2:])
            if rest[0] == "--task":
                return [Signal("progress", text=text, task=rest[1])]
            if rest[1].isdigit():
                return [Signal("progress", text=text, data={"checkpoint": int(rest[1])})]
        return None
