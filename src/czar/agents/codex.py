"""Codex CLI, headless: ``codex exec --json`` answers one message and exits; the next message
starts ``codex exec resume <thread> --json`` with the same conversation.

czar's MCP server is given per run (``-c mcp_servers.czar...``), its tools approved ahead (czar
checks who calls them). Commands run in Codex's ``workspace-write`` sandbox, which keeps every
``.git`` folder read-only: the agent cannot commit, so czar commits its work when it hands the
task in (``Capabilities.commits``). Codex reports tokens, not cost: czar prices them (``prices``
in the plan, or ``czar.core.pricing``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from czar.agents.base import (
    Capabilities,
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

# Codex's MCP client for czar's server over HTTP gave up (the tools server was killed while it
# connected or worked): this process has no czar tools from here on, its later calls all failing.
# Its log line names the server's address, czar's by its path (``host_link.mcp_path``).
TOOLS_GONE = re.compile(r"\bERROR rmcp::transport::worker: worker quit with fatal\b.*https?://[^/\s]+/mcp/[^/\s]+/\d+")


class CodexAdapter:
    kind = "codex"
    hooks: HookProtocol | None = None  # it runs no hook of czar's
    capabilities = Capabilities(
        mcp=True,
        mcp_http=True,
        long_lived=False,
        resumes=True,
        commits=False,
        hosts=("openai.com", "*.openai.com", "chatgpt.com", "*.chatgpt.com"),
        # It reaches GitHub on its own at every start (its release check; check_for_update_on_startup
        # = false does not stop it in 0.169): a task that needs GitHub says so in its window. And
        # its experiments' host (ab.chatgpt.com) at every start and end, its model elsewhere or not:
        # one alert per worker and run said nothing a person could act on.
        chatter=("github.com", "api.github.com", "ab.chatgpt.com"),
    )

    def launch(self, ctx: LaunchContext) -> Launch:
        s = ctx.settings
        server = mcp_config(ctx)
        if ctx.mcp_url:  # the worker host's server: the token comes from the environment, not the command line
            overrides = [
                f"mcp_servers.czar.url={json.dumps(ctx.mcp_url)}",
                'mcp_servers.czar.bearer_token_env_var="CZAR_TOKEN"',
            ]
        else:
            overrides = [
                f"mcp_servers.czar.command={json.dumps(server['command'])}",
                f"mcp_servers.czar.args={json.dumps(server['args'])}",
                "mcp_servers.czar.env={" + ", ".join(f"{k} = {json.dumps(v)}" for k, v in server["env"].items()) + "}",
            ]
        overrides += [
            'mcp_servers.czar.default_tools_approval_mode="approve"',
            # Its tools must be there in the first request: wait for the server's catalog.
            'mcp_servers.czar.startup_readiness="connection"',
            "mcp_servers.czar.startup_timeout_sec=60",
            # Its commands run in a login shell unless told otherwise (bash -lc): the system's
            # profile sets PATH again, and the agent lost what czar put first on it (your
            # virtualenv's or the project's python, czar's own `czar`): `python: command not found`.
            "allow_login_shell=false",
        ]
        argv = [s.command or "codex", "exec"]
        if ctx.session:
            argv += ["resume", ctx.session]
        argv += ["--json", "--skip-git-repo-check"]
        for o in overrides:
            argv += ["-c", o]
        # In czar's sandbox, Codex's own cannot be made (no namespaces inside one), and czar's
        # already confines it to the checkout: it runs commands unconfined within it.
        mode = "danger-full-access" if ctx.confined else "workspace-write"
        if ctx.session:
            # `exec resume` takes no -s: the same sandbox through the configuration.
            argv += ["-c", f'sandbox_mode="{mode}"']
        else:
            argv += ["-C", str(ctx.worktree), "-s", mode]
        if s.model:
            argv += ["-m", s.model]
        argv += [*s.args, "-"]  # the message comes on stdin
        env = base_env(ctx)
        if s.home == "private" or s.base_url:
            env["CODEX_HOME"] = str(private_home(ctx.home, s.base_url, s.model))
        text = "\n\n".join(t for t, _ in ctx.messages)
        return Launch(argv, env, [text], keep_stdin=False)

    def encode(self, text: str, kind: MessageKind = MessageKind.TASK) -> str:
        return text  # one message per process, on stdin

    def parse(self, line: str) -> list[Signal]:
        msg = json_line(line)
        if msg is None:
            if TOOLS_GONE.search(line):
                return [Signal(SignalKind.TOOLS_LOST, text=f"czar's MCP server is gone ({line.strip()[-300:]})")]
            return (
                [Signal(SignalKind.ACTIVITY, text=line.rstrip())]
                if line.strip() and not line.startswith("Reading")
                else []
            )
        kind = msg.get("type")
        if kind == "thread.started":
            return [Signal(SignalKind.SESSION, text=str(msg.get("thread_id", "")))]
        if kind in ("item.completed", "item.started"):
            return _item(msg.get("item") or {}, done=kind == "item.completed")
        if kind == "turn.completed":
            usage = msg.get("usage") or {}
            return [
                Signal(
                    SignalKind.USAGE,
                    data={
                        "cumulative": False,
                        "input_tokens": int(usage.get("input_tokens") or 0),
                        "output_tokens": int(usage.get("output_tokens") or 0),
                        "cache_read_tokens": int(usage.get("cached_input_tokens") or 0),
                        "cache_write_tokens": int(usage.get("cache_write_input_tokens") or 0),
                    },
                ),
                Signal(SignalKind.TURN_DONE, text="completed"),
            ]
        if kind == "error":
            return _retrying(str(msg.get("message", "")))
        if kind == "turn.failed":
            text = str((msg.get("error") or {}).get("message", "the turn failed"))
            failure = api_failure(text)
            final = (
                [Signal(SignalKind.MODEL_ERROR, text=text[:500], data={"kind": failure, "retry": False})]
                if failure
                else []
            )
            return [*final, Signal(SignalKind.ERROR, text=text)]
        return []


def _retrying(text: str) -> list[Signal]:
    """Codex says it tries a failed request again (``Reconnecting... 2/5 (why)``, or ``waiting
    for network`` when it cannot connect at all); its other errors close a turn that fails next."""
    if not text.startswith("Reconnecting"):
        return []
    kind = api_failure(text) or "other"
    return [Signal(SignalKind.MODEL_ERROR, text=text[:500], data={"kind": kind, "retry": True})]


def _item(item: dict[str, Any], *, done: bool) -> list[Signal]:
    t = item.get("type")
    if t == "command_execution" and done:
        return [Signal(SignalKind.ACTIVITY, text=f"ran `{item.get('command')}` -> exit {item.get('exit_code')}")]
    if t == "file_change" and done:
        paths = ", ".join(str(c.get("path")) for c in item.get("changes", []) if isinstance(c, dict))
        return [Signal(SignalKind.ACTIVITY, text=f"changed {paths}")]
    if t == "mcp_tool_call" and done:
        return [Signal(SignalKind.ACTIVITY, text=f"{item.get('server')}.{item.get('tool')}: {item.get('status')}")]
    if t == "agent_message" and done:
        return [Signal(SignalKind.ACTIVITY, text=f"says: {str(item.get('text', '')).strip()[:300]}")]
    if t == "error":
        return [Signal(SignalKind.ACTIVITY, text=f"note: {item.get('message')}")]
    return []


def private_home(folder: Path, base_url: str | None, model: str | None) -> Path:
    """A ``CODEX_HOME`` of czar's own: a model provider at ``base_url`` (the user's login and
    settings are not used)."""
    home = folder / "codex-home"
    home.mkdir(parents=True, exist_ok=True)
    lines = [f"model = {json.dumps(model or 'gpt-5')}"]
    if base_url:
        lines += [
            'model_provider = "czar"',
            "",
            "[model_providers.czar]",
            'name = "czar"',
            f"base_url = {json.dumps(base_url.rstrip('/') + ('' if base_url.rstrip('/').endswith('/v1') else '/v1'))}",
            'env_key = "OPENAI_API_KEY"',
            'wire_api = "responses"',
        ]
    (home / "config.toml").write_text("\n".join(lines) + "\n")
    return home
