"""Claude Code's adapter: its stream-json output read into signals, and the command that starts it.

The sample events are shaped like what Claude Code 2.1 prints with ``-p --output-format
stream-json --verbose`` (see the shared REFERENCE.md); they are built from dicts only so that the
lines stay readable here.
"""

from __future__ import annotations

import json
import shlex
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from czar.agents import claude
from czar.agents.base import AgentSettings, LaunchContext, Signal
from czar.agents.claude import ALLOWED, QUIET, ClaudeAdapter, private_home
from czar.core.policy import PERSON_WAIT_SECONDS
from czar.core.toolbox import NAMES as CZAR_TOOLS
from czar.core.usage import KEYS, Meter

SESSION = "8f0d5d3c-2c3e-4b8e-9a51-0c9f3f7e1a42"
MODEL = "claude-sonnet-4-5-20250929"


def line(event: dict[str, Any]) -> str:
    """One line as Claude Code prints it: compact JSON, then a newline."""
    return json.dumps(event, separators=(",", ":")) + "\n"


def parse(event: dict[str, Any] | str) -> list[Signal]:
    return ClaudeAdapter().parse(event if isinstance(event, str) else line(event))


def init_event(mcp_servers: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "type": "system",
        "subtype": "init",
        "cwd": "/work/repo/.czar/worktrees/w1",
        "session_id": SESSION,
        "tools": ["Task", "Bash", "Glob", "Grep", "LS", "Read", "Edit", "Write", "TodoWrite", "mcp__czar__report"],
        "mcp_servers": [{"name": "czar", "status": "connected"}] if mcp_servers is None else mcp_servers,
        "model": MODEL,
        "permissionMode": "default",
        "slash_commands": ["compact", "context", "cost"],
        "apiKeySource": "ANTHROPIC_API_KEY",
        "claude_code_version": "2.1.197",
        "output_style": "default",
        "agents": ["general-purpose"],
        "uuid": "6a1c54a2-07c4-4a53-8d0e-3f0b8f1c9d11",
    }


def usage(inp: int = 3, out: int = 87, cache_write: int = 2048, cache_read: int = 11520) -> dict[str, Any]:
    return {
        "input_tokens": inp,
        "cache_creation_input_tokens": cache_write,
        "cache_read_input_tokens": cache_read,
        "cache_creation": {"ephemeral_5m_input_tokens": cache_write, "ephemeral_1h_input_tokens": 0},
        "output_tokens": out,
        "service_tier": "standard",
    }


def assistant(content: list[dict[str, Any]], message_id: str | None = "msg_01XbQ3", **extra: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "model": MODEL,
        "type": "message",
        "role": "assistant",
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage(),
        **extra,
    }
    if message_id is not None:
        message["id"] = message_id
    return {
        "type": "assistant",
        "message": message,
        "parent_tool_use_id": None,
        "session_id": SESSION,
        "uuid": "0b6f2a52-9a55-4f0c-a2b8-51d2a0f0e001",
    }


def tool_use(name: str, tool_input: dict[str, Any]) -> dict[str, Any]:
    return {"type": "tool_use", "id": "toolu_01AbCdEf", "name": name, "input": tool_input}


def result_event(subtype: str = "success", *, is_error: bool = False, **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "result",
        "subtype": subtype,
        "is_error": is_error,
        "duration_ms": 48213,
        "duration_api_ms": 41877,
        "num_turns": 9,
        "result": "The greeting is in place.",
        "session_id": SESSION,
        "total_cost_usd": 0.0847365,
        "usage": {
            "input_tokens": 31,
            "cache_creation_input_tokens": 9120,
            "cache_read_input_tokens": 104332,
            "output_tokens": 1805,
            "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
            "service_tier": "standard",
        },
        "modelUsage": {
            MODEL: {
                "inputTokens": 31,
                "outputTokens": 1805,
                "cacheReadInputTokens": 104332,
                "cacheCreationInputTokens": 9120,
                "webSearchRequests": 0,
                "costUSD": 0.0847365,
                "contextWindow": 200000,
                "maxOutputTokens": 32000,
            }
        },
        "permission_denials": [],
        "uuid": "c7d3f1e0-5b8b-4d0b-8a55-2f61e5d1aa10",
    }
    event.update(extra)
    return event


# -- system init -----------------------------------------------------------------------------


def test_init_gives_the_session_and_what_started() -> None:
    assert parse(init_event()) == [
        Signal("session", text=SESSION),
        Signal("activity", text=f"started: {MODEL}, czar's tools connected"),
    ]


@pytest.mark.parametrize("status", ["failed", "pending", "needs-auth"])
def test_init_with_czars_server_not_connected_says_the_tools_are_lost(status: str) -> None:
    signals = parse(init_event([{"name": "czar", "status": status}]))
    assert [s.kind for s in signals] == ["session", "tools_lost", "activity"]
    assert signals[1].text == f"czar's MCP server is {status}"
    assert signals[2].text == f"started: {MODEL}, czar's tools {status}"


def test_init_ignores_other_servers_state() -> None:
    signals = parse(init_event([{"name": "github", "status": "failed"}, {"name": "czar", "status": "connected"}]))
    assert [s.kind for s in signals] == ["session", "activity"]


def test_init_without_czars_server_is_not_an_error() -> None:
    signals = parse(init_event([]))
    assert [s.kind for s in signals] == ["session", "activity"]
    assert signals[1].text == f"started: {MODEL}, czar's tools None"


def test_other_system_subtypes_are_skipped() -> None:
    compact = {"type": "system", "subtype": "compact_boundary", "session_id": SESSION, "uuid": "u"}
    assert parse(compact) == []


# -- assistant -------------------------------------------------------------------------------


def test_assistant_tool_use_and_its_usage() -> None:
    event = assistant([tool_use("Bash", {"command": "python -m pytest -q", "description": "Run the tests"})])
    assert parse(event) == [
        Signal("activity", text="Bash python -m pytest -q", data={"tool": "Bash"}),
        Signal(
            "usage",
            data={
                "provisional": True,
                "input_excludes_cache": True,
                "message_id": "msg_01XbQ3",
                "model": MODEL,
                "input_tokens": 3,
                "output_tokens": 87,
                "cache_read_tokens": 11520,
                "cache_write_tokens": 2048,
            },
        ),
    ]


@pytest.mark.parametrize(
    ("name", "tool_input", "text"),
    [
        ("Write", {"file_path": "/wt/hello.py", "content": "def greet():\n    pass\n"}, "Write /wt/hello.py"),
        ("Edit", {"file_path": "/wt/a.py", "old_string": "x", "new_string": "y"}, "Edit /wt/a.py"),
        ("Read", {"file_path": "/wt/README.md"}, "Read /wt/README.md"),
        ("Glob", {"pattern": "**/*.py"}, "Glob **/*.py"),
        # The target is the first of command, file_path, path, pattern that the input has.
        ("Grep", {"pattern": "def greet", "path": "src", "output_mode": "content"}, "Grep src"),
        ("LS", {"path": "/wt/src"}, "LS /wt/src"),
        ("mcp__czar__report", {"task": "hello", "text": "writing hello.py"}, "mcp__czar__report"),
        ("TodoWrite", {"todos": []}, "TodoWrite"),
    ],
)
def test_tool_use_names_the_tool_and_its_target(name: str, tool_input: dict[str, Any], text: str) -> None:
    signals = parse(assistant([tool_use(name, tool_input)]))
    assert signals[0] == Signal("activity", text=text, data={"tool": name})


def test_tool_use_target_is_cut_at_200_characters() -> None:
    command = "echo " + "x" * 400
    signals = parse(assistant([tool_use("Bash", {"command": command})]))
    assert signals[0].text == "Bash " + command[:200]


def test_text_block_is_said_stripped_and_cut() -> None:
    long = "  I will write hello.py first. " + "y" * 400
    signals = parse(assistant([{"type": "text", "text": long}]))
    assert signals[0].kind == "activity"
    assert signals[0].text == "says: " + long.strip()[:300]
    assert len(signals[0].text) == len("says: ") + 300


def test_thinking_and_blank_text_blocks_say_nothing() -> None:
    content = [
        {"type": "thinking", "thinking": "The user wants a greeting.", "signature": "EqQBCkYIBxgCKkB"},
        {"type": "text", "text": "   \n"},
    ]
    signals = parse(assistant(content))
    assert [s.kind for s in signals] == ["usage"]


def test_several_blocks_in_one_message_keep_their_order() -> None:
    content = [
        {"type": "text", "text": "Running the tests."},
        tool_use("Bash", {"command": "pytest -q"}),
    ]
    signals = parse(assistant(content))
    assert [s.text for s in signals[:2]] == ["says: Running the tests.", "Bash pytest -q"]
    assert signals[2].kind == "usage"


def test_assistant_without_message_id_counts_no_usage() -> None:
    signals = parse(assistant([{"type": "text", "text": "hi"}], message_id=None))
    assert [s.kind for s in signals] == ["activity"]


def test_each_event_of_one_message_carries_the_same_message_id() -> None:
    # Claude Code prints one assistant event per content block of an API message, each with
    # the message's usage: the host counts the id once, so the id must come through intact.
    first = parse(assistant([{"type": "text", "text": "a"}], message_id="msg_same"))
    second = parse(assistant([tool_use("Bash", {"command": "ls"})], message_id="msg_same"))
    assert first[-1].data["message_id"] == second[-1].data["message_id"] == "msg_same"
    assert first[-1].data == second[-1].data


def test_assistant_usage_with_missing_counts_is_zero() -> None:
    event = assistant([], usage={"input_tokens": 12, "output_tokens": None})
    [signal] = parse(event)
    assert signal.data["input_tokens"] == 12
    assert signal.data["output_tokens"] == 0
    assert signal.data["cache_read_tokens"] == 0
    assert signal.data["cache_write_tokens"] == 0


# -- user ------------------------------------------------------------------------------------


def test_replayed_user_message_is_proof_of_delivery() -> None:
    event = {
        "type": "user",
        "message": {"role": "user", "content": "Task id: hello\n\nWrite hello.py."},
        "parent_tool_use_id": None,
        "session_id": SESSION,
        "uuid": "2f0b0c1e-1d1c-4f0e-9a7b-8d2d2c3b4a5f",
        "isReplay": True,
    }
    assert parse(event) == [Signal("activity", text="received a message", data={"delivered": True})]


def tool_result(content: Any, is_error: bool | None) -> dict[str, Any]:
    block: dict[str, Any] = {"tool_use_id": "toolu_01AbCdEf", "type": "tool_result", "content": content}
    if is_error is not None:
        block["is_error"] = is_error
    return {
        "type": "user",
        "message": {"role": "user", "content": [block]},
        "parent_tool_use_id": None,
        "session_id": SESSION,
        "uuid": "3a4b5c6d-0000-4000-8000-000000000001",
    }


def test_failed_tool_result_is_reported() -> None:
    signals = parse(tool_result("Exit code 1\nE   AssertionError: assert 'Hi' == 'Hello'", True))
    assert signals == [Signal("activity", text="tool failed: Exit code 1\nE   AssertionError: assert 'Hi' == 'Hello'")]


def test_failed_tool_result_text_is_cut_at_200_characters() -> None:
    [signal] = parse(tool_result("E" * 500, True))
    assert signal.text == "tool failed: " + "E" * 200


@pytest.mark.parametrize("is_error", [False, None])
def test_successful_tool_result_says_nothing(is_error: bool | None) -> None:
    assert parse(tool_result("hello.py\nREADME.md", is_error)) == []


# -- result ----------------------------------------------------------------------------------


def test_result_settles_usage_and_ends_the_turn() -> None:
    assert parse(result_event()) == [
        Signal(
            "usage",
            data={
                "cumulative": True,
                "input_tokens": 31,
                "output_tokens": 1805,
                "cache_read_tokens": 104332,
                "cache_write_tokens": 9120,
                "cost_usd": 0.0847365,
            },
        ),
        Signal("turn_done", text="success", data={"is_error": False}),
    ]


@pytest.mark.parametrize(
    ("subtype", "is_error"),
    [
        # error_max_turns may come with is_error false: the subtype must come through.
        ("error_max_turns", False),
        ("error_max_budget_usd", True),
        ("error_during_execution", True),
    ],
)
def test_result_error_subtypes_come_through(subtype: str, is_error: bool) -> None:
    signals = parse(result_event(subtype, is_error=is_error))
    assert signals[-1] == Signal("turn_done", text=subtype, data={"is_error": is_error})
    assert signals[0].data["cost_usd"] == pytest.approx(0.0847365)


def test_result_of_a_resume_that_found_no_session() -> None:
    # What Claude Code prints on stdout (stream-json) when --resume names an unknown session.
    event = {
        "type": "result",
        "subtype": "error_during_execution",
        "duration_ms": 0,
        "duration_api_ms": 0,
        "is_error": True,
        "num_turns": 0,
        "stop_reason": None,
        "session_id": SESSION,
        "total_cost_usd": 0,
        "usage": {"input_tokens": 0, "output_tokens": 0},
        "modelUsage": {},
        "permission_denials": [],
        "uuid": "4d5e6f70-0000-4000-8000-000000000002",
        "errors": [f"No conversation found with session ID: {SESSION}"],
    }
    usage_signal, done = parse(event)
    assert usage_signal.data == {
        "cumulative": True,
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": 0.0,
    }
    assert done == Signal("turn_done", text="error_during_execution", data={"is_error": True})


def test_result_without_running_totals_settles_its_turn_and_czar_prices_it() -> None:
    event = {"type": "result", "subtype": "success", "is_error": False, "session_id": SESSION, "usage": usage()}
    usage_signal, done = parse(event)
    assert usage_signal.data == {
        "turn": True,
        "input_excludes_cache": True,
        "input_tokens": 3,
        "output_tokens": 87,
        "cache_read_tokens": 11520,
        "cache_write_tokens": 2048,
    }
    assert done.text == "success"


# -- rate limits -----------------------------------------------------------------------------


def rate_limit(status: str, resets_at: float | None) -> dict[str, Any]:
    info: dict[str, Any] = {"status": status, "rateLimitType": "five_hour", "isUsingOverage": False}
    if resets_at is not None:
        info["resetsAt"] = resets_at
    return {"type": "rate_limit_event", "rate_limit_info": info, "uuid": "u", "session_id": SESSION}


def test_rejected_rate_limit_says_when_it_resets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(claude.time, "time", lambda: 1_760_000_000.0)
    assert parse(rate_limit("rejected", 1_760_000_120)) == [
        Signal("rate_limited", text="the model's rate limit", data={"reset_in": 120.0})
    ]


@pytest.mark.parametrize("resets_at", [1_759_999_000, None])
def test_rejected_rate_limit_waits_at_least_a_second(monkeypatch: pytest.MonkeyPatch, resets_at: float | None) -> None:
    monkeypatch.setattr(claude.time, "time", lambda: 1_760_000_000.0)
    [signal] = parse(rate_limit("rejected", resets_at))
    assert signal.data == {"reset_in": 1.0}


@pytest.mark.parametrize("status", ["allowed", "allowed_warning"])
def test_rate_limit_event_that_is_not_a_rejection_says_nothing(status: str) -> None:
    assert parse(rate_limit(status, 1_760_000_120)) == []


# -- unknown and garbage ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "event",
    [
        {"type": "stream_event", "event": {"type": "content_block_delta"}, "session_id": SESSION},
        {"type": "control_response", "response": {"subtype": "success", "request_id": "r1"}},
        {"type": "tool_progress", "tool_use_id": "toolu_1"},
        {"type": "something_new_in_2_2", "payload": {}},
        {"no_type": True},
    ],
)
def test_unknown_event_types_are_skipped(event: dict[str, Any]) -> None:
    assert parse(event) == []


@pytest.mark.parametrize("raw", ["", "\n", "   \n", "\t"])
def test_blank_lines_say_nothing(raw: str) -> None:
    assert parse(raw) == []


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("Error: Invalid API key · Please run /login\n", "Error: Invalid API key · Please run /login"),
        ('{"type":"assistant","message":{"id":"msg_', '{"type":"assistant","message":{"id":"msg_'),
        ("[1, 2, 3]\n", "[1, 2, 3]"),
        ('"just a string"\n', '"just a string"'),
    ],
)
def test_lines_that_are_not_json_objects_are_activity(raw: str, text: str) -> None:
    assert parse(raw) == [Signal("activity", text=text)]


def test_lost_session_is_recognised_in_plain_text() -> None:
    raw = f"No conversation found with session ID: {SESSION}\n"
    assert parse(raw) == [Signal("session_lost", text=f"No conversation found with session ID: {SESSION}")]


# -- encode ----------------------------------------------------------------------------------


def test_encode_is_one_stream_json_user_line() -> None:
    out = ClaudeAdapter().encode("Task id: hello\n\nWrite hello.py.", "task")
    assert out.endswith("\n")
    assert out.count("\n") == 1
    assert json.loads(out) == {
        "type": "user",
        "message": {"role": "user", "content": "Task id: hello\n\nWrite hello.py."},
        "parent_tool_use_id": None,
        "session_id": "default",
    }


# -- launch ----------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (*QUIET, "ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"):
        monkeypatch.delenv(key, raising=False)


def context(tmp_path: Path, **kw: Any) -> LaunchContext:
    defaults: dict[str, Any] = {
        "worktree": tmp_path / "wt",
        "worker": "w1",
        "task": "hello",
        "env": {
            "CZAR_HOME": "/home/u/.czar",
            "CZAR_PROJECT": "demo",
            "CZAR_WORKER": "w1",
            "CZAR_TOKEN": "tok-123",
            "PATH": "/usr/local/bin:/usr/bin",
            "GIT_AUTHOR_NAME": "czar w1",
        },
        "messages": [("Task id: hello\n\nWrite hello.py.", "task")],
        "home": tmp_path / "agent",
        "czar": ("/opt/czar/bin/czar",),
    }
    defaults.update(kw)
    return LaunchContext(**defaults)


def after(argv: list[str], flag: str) -> str:
    return argv[argv.index(flag) + 1]


def test_first_start_chooses_a_session_id(tmp_path: Path, clean_env: None) -> None:
    launch = ClaudeAdapter().launch(context(tmp_path))
    assert launch.session is not None
    assert str(uuid.UUID(launch.session)) == launch.session
    assert after(launch.argv, "--session-id") == launch.session
    assert "--resume" not in launch.argv
    assert launch.keep_stdin is True


def test_two_first_starts_choose_different_sessions(tmp_path: Path, clean_env: None) -> None:
    a = ClaudeAdapter().launch(context(tmp_path))
    b = ClaudeAdapter().launch(context(tmp_path))
    assert a.session != b.session


def test_restart_resumes_the_session(tmp_path: Path, clean_env: None) -> None:
    launch = ClaudeAdapter().launch(context(tmp_path, session=SESSION))
    assert after(launch.argv, "--resume") == SESSION
    assert "--session-id" not in launch.argv
    assert launch.session == SESSION


def test_headless_stream_json_flags(tmp_path: Path, clean_env: None) -> None:
    argv = ClaudeAdapter().launch(context(tmp_path)).argv
    assert argv[:2] == ["claude", "-p"]
    assert after(argv, "--input-format") == "stream-json"
    assert after(argv, "--output-format") == "stream-json"
    assert "--verbose" in argv
    assert "--replay-user-messages" in argv


def test_czars_server_is_the_only_mcp_server(tmp_path: Path, clean_env: None) -> None:
    argv = ClaudeAdapter().launch(context(tmp_path)).argv
    assert json.loads(after(argv, "--mcp-config")) == {
        "mcpServers": {
            "czar": {
                "type": "stdio",
                "command": "/opt/czar/bin/czar",
                "args": ["mcp", "--worker", "w1"],
                "env": {
                    "CZAR_HOME": "/home/u/.czar",
                    "CZAR_PROJECT": "demo",
                    "CZAR_WORKER": "w1",
                    "CZAR_TOKEN": "tok-123",
                    "PATH": "/usr/local/bin:/usr/bin",
                },
                "timeout": 3_660_000,  # a permission waits for a person here too
            }
        }
    }
    assert "--strict-mcp-config" in argv


@pytest.mark.parametrize("interactive", [False, True])
def test_czars_server_over_http_is_waited_for_as_long_as_a_person_may_take(
    tmp_path: Path, clean_env: None, interactive: bool
) -> None:
    """Claude Code cuts a request to an HTTP server at 60 s, and a call with no progress at five
    minutes: a permission waiting for a person would fail (czar waits up to an hour)."""
    url = "http://127.0.0.1:7000/mcp/w1/1"
    settings = replace(context(tmp_path).settings, interactive=interactive)
    launch = ClaudeAdapter().launch(context(tmp_path, mcp_url=url, settings=settings))
    server = json.loads(after(launch.argv, "--mcp-config"))["mcpServers"]["czar"]
    assert server["type"] == "http" and server["url"] == url
    assert server["timeout"] >= (PERSON_WAIT_SECONDS + 60) * 1000  # milliseconds
    assert int(launch.env["CLAUDE_CODE_MCP_TOOL_IDLE_TIMEOUT"]) == server["timeout"]


def test_czar_run_through_python_gets_its_arguments_first(tmp_path: Path, clean_env: None) -> None:
    argv = ClaudeAdapter().launch(context(tmp_path, czar=("/venv/bin/python", "-m", "czar"))).argv
    server = json.loads(after(argv, "--mcp-config"))["mcpServers"]["czar"]
    assert server["command"] == "/venv/bin/python"
    assert server["args"] == ["-m", "czar", "mcp", "--worker", "w1"]


def test_headless_hooks_report_only_what_its_output_does_not(tmp_path: Path, clean_env: None) -> None:
    czar = ("/opt/my tools/python", "-m", "czar")
    argv = ClaudeAdapter().launch(context(tmp_path, czar=czar)).argv
    hooks = json.loads(after(argv, "--settings"))["hooks"]
    # Not Stop: its output says when a turn ends, and a hook per turn would cost a process.
    assert set(hooks) == {"Notification", "PreCompact"}
    assert shlex.split(hooks["Notification"][0]["hooks"][0]["command"]) == [*czar, "hook", "--agent", "claude"]


def test_on_its_own_screen_hooks_report_to_czar_and_the_task_is_its_first_prompt(
    tmp_path: Path, clean_env: None
) -> None:
    czar = ("/opt/my tools/python", "-m", "czar")
    settings = AgentSettings(interactive=True, home="private", env={"ANTHROPIC_API_KEY": "sk-ant-" + "k" * 30})
    launch = ClaudeAdapter().launch(context(tmp_path, czar=czar, settings=settings))
    argv = launch.argv
    assert "-p" not in argv and "--output-format" not in argv
    hooks = json.loads(after(argv, "--settings"))["hooks"]
    assert set(hooks) == {"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "Notification"}
    command = hooks["Stop"][0]["hooks"][0]["command"]
    assert shlex.split(command) == [*czar, "hook", "--agent", "claude"]
    # A tool use may wait for a person's decision: its hook waits longer than czar's wait.
    assert hooks["PreToolUse"][0]["hooks"][0]["timeout"] > 600
    assert launch.terminal and launch.stdin == []
    assert argv[-1] == "Task id: hello\n\nWrite hello.py."
    assert launch.transcript is not None and launch.transcript.name == f"{launch.session}.jsonl"
    assert str(launch.transcript).startswith(launch.env["HOME"])


def test_permissions_go_through_czars_tool(tmp_path: Path, clean_env: None) -> None:
    argv = ClaudeAdapter().launch(context(tmp_path)).argv
    assert after(argv, "--permission-prompt-tool") == "mcp__czar__permission"
    allowed = after(argv, "--allowedTools").split(",")
    assert allowed == list(ALLOWED)
    assert {f"mcp__czar__{t}" for t in CZAR_TOOLS} <= set(allowed)
    assert {"Read", "Glob", "Grep"} <= set(allowed)
    # Edits and commands are decided by the plan's policy, through the permission tool.
    assert not {"Bash", "Write", "Edit", "mcp__czar__permission"} & set(allowed)


def test_model_command_and_extra_arguments(tmp_path: Path, clean_env: None) -> None:
    settings = AgentSettings(command="/opt/claude/bin/claude", model="claude-opus-4-5", args=("--max-turns", "40"))
    argv = ClaudeAdapter().launch(context(tmp_path, settings=settings)).argv
    assert argv[0] == "/opt/claude/bin/claude"
    assert after(argv, "--model") == "claude-opus-4-5"
    assert argv[-2:] == ["--max-turns", "40"]


def test_no_model_flag_without_a_model(tmp_path: Path, clean_env: None) -> None:
    assert "--model" not in ClaudeAdapter().launch(context(tmp_path)).argv


def test_stdin_carries_the_messages_encoded(tmp_path: Path, clean_env: None) -> None:
    messages = [("Task id: hello\n\nWrite hello.py.", "task"), ("The tests fail.", "feedback")]
    launch = ClaudeAdapter().launch(context(tmp_path, messages=messages))
    assert [json.loads(s)["message"]["content"] for s in launch.stdin] == [t for t, _ in messages]
    assert all(s.endswith("\n") for s in launch.stdin)


def test_environment_is_quiet_and_carries_czars_variables(tmp_path: Path, clean_env: None) -> None:
    env = ClaudeAdapter().launch(context(tmp_path)).env
    for key, value in QUIET.items():
        assert env[key] == value
    assert env["MCP_CONNECTION_NONBLOCKING"] == "0"
    assert env["CZAR_TOKEN"] == "tok-123"
    assert env["GIT_AUTHOR_NAME"] == "czar w1"
    assert "ANTHROPIC_BASE_URL" not in env


def test_plan_environment_wins_over_the_quiet_defaults(tmp_path: Path, clean_env: None) -> None:
    settings = AgentSettings(env={"DISABLE_TELEMETRY": "0"})
    env = ClaudeAdapter().launch(context(tmp_path, settings=settings)).env
    assert env["DISABLE_TELEMETRY"] == "0"


def test_base_url_points_claude_at_the_model_server(tmp_path: Path, clean_env: None) -> None:
    settings = AgentSettings(base_url="http://127.0.0.1:8765")
    env = ClaudeAdapter().launch(context(tmp_path, settings=settings)).env
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:8765"


def test_users_home_is_kept_by_default(tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    env = ClaudeAdapter().launch(context(tmp_path)).env
    assert env["HOME"] == "/home/someone"
    assert not (tmp_path / "agent" / "home").exists()


def test_private_home_is_prepared_and_used(tmp_path: Path, clean_env: None) -> None:
    key = "sk-ant-api03-" + "k" * 40 + "ABCDEFGHIJKLMNOPQRST"
    settings = AgentSettings(home="private", env={"ANTHROPIC_API_KEY": key})
    ctx = context(tmp_path, settings=settings)
    env = ClaudeAdapter().launch(ctx).env
    home = tmp_path / "agent" / "home"
    assert env["HOME"] == str(home)
    config = json.loads((home / ".claude.json").read_text())
    assert config["hasCompletedOnboarding"] is True
    assert config["customApiKeyResponses"]["approved"] == ["ABCDEFGHIJKLMNOPQRST"]
    assert config["projects"] == {str(ctx.worktree): {"hasTrustDialogAccepted": True}}


# -- private_home ----------------------------------------------------------------------------


def test_private_home_writes_the_answers_to_the_start_up_questions(tmp_path: Path) -> None:
    home = private_home(tmp_path, Path("/wt/w1"), "sk-ant-xyz-0123456789abcdefghij")
    assert home == tmp_path / "home"
    config = json.loads((home / ".claude.json").read_text())
    assert config == {
        "hasCompletedOnboarding": True,
        "customApiKeyResponses": {"approved": ["0123456789abcdefghij"], "rejected": []},
        "projects": {"/wt/w1": {"hasTrustDialogAccepted": True}},
    }
    assert json.loads((home / ".claude" / "settings.json").read_text()) == {"skipDangerousModePermissionPrompt": True}


def test_private_home_without_a_key_approves_none(tmp_path: Path) -> None:
    home = private_home(tmp_path, Path("/wt/w1"), "")
    assert "customApiKeyResponses" not in json.loads((home / ".claude.json").read_text())


def test_private_home_twice_keeps_one_approval_and_every_worktree(tmp_path: Path) -> None:
    key = "sk-ant-xyz-0123456789abcdefghij"
    private_home(tmp_path, Path("/wt/a"), key)
    home = private_home(tmp_path, Path("/wt/b"), key)
    config = json.loads((home / ".claude.json").read_text())
    assert config["customApiKeyResponses"]["approved"] == ["0123456789abcdefghij"]
    assert set(config["projects"]) == {"/wt/a", "/wt/b"}


def test_private_home_keeps_what_claude_wrote_there(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".claude.json").write_text(json.dumps({"numStartups": 4, "userID": "abc"}))
    home = private_home(tmp_path, Path("/wt/a"), "")
    config = json.loads((home / ".claude.json").read_text())
    assert config["numStartups"] == 4
    assert config["userID"] == "abc"
    assert config["hasCompletedOnboarding"] is True


def test_private_home_replaces_a_broken_config(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".claude.json").write_text("{not json")
    home = private_home(tmp_path, Path("/wt/a"), "")
    assert json.loads((home / ".claude.json").read_text())["hasCompletedOnboarding"] is True


def test_czars_server_over_http_when_the_host_serves_one(tmp_path: Path, clean_env: None) -> None:
    ctx = context(tmp_path, mcp_url="http://127.0.0.1:43117/mcp")
    argv = ClaudeAdapter().launch(ctx).argv
    assert json.loads(after(argv, "--mcp-config")) == {
        "mcpServers": {
            "czar": {
                "type": "http",
                "url": "http://127.0.0.1:43117/mcp",
                # Expanded by Claude Code from its environment: the secret stays off the command line.
                "headers": {"Authorization": "Bearer ${CZAR_TOKEN}"},
                "timeout": 3_660_000,  # see test_czars_server_over_http_is_waited_for_as_long_as_a_person_may_take
            }
        }
    }
    env = ClaudeAdapter().launch(ctx).env
    assert env["CZAR_TOKEN"] == "tok-123"
    assert not any("tok-123" in a for a in argv)


def test_on_its_own_screen_a_first_message_too_long_for_a_command_line_is_pasted(
    tmp_path: Path, clean_env: None
) -> None:
    long = "Task id: hello\n\n" + "x" * 200_000
    settings = AgentSettings(interactive=True)
    launch = ClaudeAdapter().launch(context(tmp_path, settings=settings, messages=[(long, "task")]))
    assert long not in launch.argv and "--" not in launch.argv
    assert launch.stdin == [long]  # the worker host pastes it once the agent has started
    short = ClaudeAdapter().launch(context(tmp_path, settings=settings)).argv
    assert short[-2:] == ["--", "Task id: hello\n\nWrite hello.py."]


# -- usage over several turns ----------------------------------------------------------------
#
# Shaped as Claude Code 2.1.197 prints them (seen against the scripted model, with the cache
# figures a real session adds): an assistant event per API message, its usage as the message
# started (one output token so far); the turn's ``result`` with ``usage`` for that turn alone,
# while ``modelUsage`` and ``total_cost_usd`` run over the whole process.

TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def streamed(message_id: str, inp: int, out: int, read: int, write: int, content: str = "text") -> dict[str, Any]:
    block = {"type": "text", "text": "ok"} if content == "text" else tool_use("Bash", {"command": "pytest -q"})
    event = assistant([block], message_id)
    event["message"]["usage"] = usage(inp, 1, write, read)  # as it started: one output token so far
    return event


def turn_result(turns: list[list[tuple[str, int, int, int, int]]], cost: float) -> dict[str, Any]:
    """The ``result`` of the last of ``turns`` (each a list of its messages' final usage)."""
    last, every = turns[-1], [m for t in turns for m in t]

    def total(messages: list[tuple[str, int, int, int, int]], i: int) -> int:
        return sum(m[i] for m in messages)

    return result_event(
        num_turns=len(last),
        total_cost_usd=cost,
        usage=usage(total(last, 1), total(last, 2), total(last, 4), total(last, 3)),
        modelUsage={
            MODEL: {
                "inputTokens": total(every, 1),
                "outputTokens": total(every, 2),
                "cacheReadInputTokens": total(every, 3),
                "cacheCreationInputTokens": total(every, 4),
                "webSearchRequests": 0,
                "costUSD": cost,
                "contextWindow": 200000,
                "maxOutputTokens": 32000,
            }
        },
    )


# (message id, input, output, cache read, cache write): one message, then a turn of two (a tool
# use and its answer), then one; the cost so far after each turn.
TURNS = [
    [("msg_01Aa", 3, 40, 0, 9000)],
    [("msg_01Bb", 5, 60, 9000, 300), ("msg_01Cc", 4, 25, 9300, 120)],
    [("msg_01Dd", 2, 12, 9420, 50)],
]
COSTS = [0.0411, 0.0562, 0.0618]


def stream_json(turns: int) -> list[str]:
    lines = []
    for n in range(turns):
        for i, (mid, inp, out, read, write) in enumerate(TURNS[n]):
            tool = i < len(TURNS[n]) - 1
            lines.append(line(streamed(mid, inp, out, read, write, "tool" if tool else "text")))
            if tool:
                lines.append(line(tool_result("1 passed", False)))
        lines.append(line(turn_result(TURNS[: n + 1], COSTS[n])))
    return lines


def metered(lines: list[str]) -> tuple[dict[str, float], list[dict[str, float]]]:
    """What czar counts from ``lines``, as the worker host does: the total, and what each turn
    added (a turn ends with its result; a transcript has none, so it is one turn)."""
    meter, total, turns, turn = Meter(), dict.fromkeys(KEYS, 0.0), [], dict.fromkeys(KEYS, 0.0)
    for raw in lines:
        for s in ClaudeAdapter().parse(raw):
            if s.kind == "usage":
                now = {k: float(s.data.get(k) or 0) for k in KEYS}
                delta = meter.add(s.data, now)
                total = {k: total[k] + delta[k] for k in KEYS}
                turn = {k: turn[k] + delta[k] for k in KEYS}
            if s.kind == "turn_done":
                turns.append(turn)
                turn = dict.fromkeys(KEYS, 0.0)
    return total, turns


def expected(turns: list[list[tuple[str, int, int, int, int]]]) -> dict[str, float]:
    every = [m for t in turns for m in t]
    return {k: float(sum(m[i + 1] for m in every)) for i, k in enumerate(TOKENS)}


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_tokens_and_cost_are_right_after_each_turn(turns: int) -> None:
    total, per_turn = metered(stream_json(turns))
    assert {k: total[k] for k in TOKENS} == expected(TURNS[:turns])
    assert total["cost_usd"] == pytest.approx(COSTS[turns - 1])
    # Each turn adds its own usage, not the running total again.
    for n, added in enumerate(per_turn):
        assert {k: added[k] for k in TOKENS} == expected([TURNS[n]])


def test_a_message_repeated_in_its_turn_counts_once() -> None:
    lines = stream_json(2)
    doubled = [lines[0], *lines[:4], lines[3], *lines[4:]]  # the first message and another twice
    assert metered(doubled)[0] == metered(lines)[0]


def test_a_resumed_process_starts_its_running_totals_again() -> None:
    meter = Meter()
    first = [s for raw in stream_json(2) for s in ClaudeAdapter().parse(raw) if s.kind == "usage"]
    counted = sum(meter.add(s.data, {k: float(s.data.get(k) or 0) for k in KEYS})["input_tokens"] for s in first)
    meter.new_process()  # --resume: its modelUsage and cost start from nothing
    third = [s for raw in stream_json(1) for s in ClaudeAdapter().parse(raw) if s.kind == "usage"]
    counted += sum(meter.add(s.data, {k: float(s.data.get(k) or 0) for k in KEYS})["input_tokens"] for s in third)
    assert counted == expected(TURNS[:2])["input_tokens"] + expected(TURNS[:1])["input_tokens"]


def test_the_transcript_of_an_agent_on_its_own_screen_counts_each_message_once() -> None:
    # Its transcript: each message with its final usage, one line per content block (a message
    # with text and a tool use is two lines), and no result.
    lines = []
    for mid, inp, out, read, write in [m for t in TURNS for m in t]:
        final = assistant([{"type": "text", "text": "ok"}], mid)
        final["message"]["usage"] = usage(inp, out, write, read)
        lines += [line(final), line(final)]
    total, _ = metered(lines)
    assert {k: total[k] for k in TOKENS} == expected(TURNS)


def test_a_message_whose_usage_grows_counts_at_the_most_it_reported() -> None:
    meter = Meter()
    first = meter.add({"provisional": True, "message_id": "m"}, {**dict.fromkeys(KEYS, 0.0), "output_tokens": 1.0})
    later = meter.add({"provisional": True, "message_id": "m"}, {**dict.fromkeys(KEYS, 0.0), "output_tokens": 30.0})
    again = meter.add({"provisional": True, "message_id": "m"}, {**dict.fromkeys(KEYS, 0.0), "output_tokens": 30.0})
    assert (first["output_tokens"], later["output_tokens"], again["output_tokens"]) == (1.0, 29.0, 0.0)


# -- a model it cannot reach -----------------------------------------------------------------


def api_retry(attempt: int, status: int | None, error: str) -> dict[str, Any]:
    return {
        "type": "system",
        "subtype": "api_retry",
        "attempt": attempt,
        "max_retries": 10,
        "retry_delay_ms": 1110.13,
        "error_status": status,
        "error": error,
        "session_id": SESSION,
        "uuid": "f8b14499-71bc-4b93-8ce0-62d21251fb1e",
    }


@pytest.mark.parametrize(
    ("status", "error", "kind", "text"),
    [
        (None, "unknown", "connection", "cannot connect to the model's API (retry 2 of 10)"),
        (401, "authentication_failed", "auth", "401 authentication_failed from the model's API (retry 2 of 10)"),
        (500, "server_error", "server", "500 server_error from the model's API (retry 2 of 10)"),
        (529, "overloaded_error", "server", "529 overloaded_error from the model's API (retry 2 of 10)"),
    ],
)
def test_a_retried_request_is_a_model_error(status: int | None, error: str, kind: str, text: str) -> None:
    assert parse(api_retry(2, status, error)) == [Signal("model_error", text=text, data={"kind": kind, "retry": True})]


def test_a_rate_limited_retry_is_left_to_its_rate_limit_event() -> None:
    assert parse(api_retry(1, 429, "rate_limit")) == []


@pytest.mark.parametrize(
    ("status", "text", "kind"),
    [
        (401, "Failed to authenticate. API Error: 401 invalid x-api-key", "auth"),
        (None, "API Error: Unable to connect to API (ConnectionRefused)", "connection"),
        (500, "API Error: 500 Internal server error. This is a server-side issue, usually temporary", "server"),
        (None, "Not logged in · Please run /login", "auth"),  # no key: its words, without a request
    ],
)
def test_a_turn_that_ended_on_a_failed_request_says_so(status: int | None, text: str, kind: str) -> None:
    event = result_event(is_error=True, api_error_status=status, result=text, total_cost_usd=0, modelUsage={})
    signals = parse(event)
    assert [s.kind for s in signals] == ["usage", "model_error", "turn_done"]
    assert signals[1] == Signal("model_error", text=text, data={"kind": kind, "retry": False})


def test_other_failed_turns_are_no_model_error() -> None:
    event = result_event("error_max_turns", is_error=True, result="Reached the maximum number of turns")
    assert "model_error" not in [s.kind for s in parse(event)]
    refused = result_event(is_error=True, api_error_status=400, result="API Error: 400 prompt is too long")
    assert "model_error" not in [s.kind for s in parse(refused)]


def test_its_hooks_are_read_in_czars_words_and_answered_in_its_own() -> None:
    from czar.agents.base import HookKind
    from czar.agents.claude import ClaudeHooks

    hooks = ClaudeHooks()
    stop = hooks.read({"hook_event_name": "Stop", "stop_hook_active": True, "transcript_path": "/t.jsonl"})
    assert (stop.kind, stop.again, stop.transcript) == (HookKind.TURN_END, True, "/t.jsonl")
    use = hooks.read({"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": "ls"}})
    assert (use.kind, use.tool, use.tool_input, use.free) == (HookKind.TOOL_USE, "Bash", {"command": "ls"}, False)
    assert hooks.read({"hook_event_name": "PreToolUse", "tool_name": "Read"}).free  # reading needs no decision
    prompt = hooks.read({"hook_event_name": "UserPromptSubmit", "prompt": "hi"})
    assert (prompt.kind, prompt.prompt) == (HookKind.PROMPT, "hi")
    note = hooks.read({"hook_event_name": "Notification", "message": "waits", "notification_type": "idle"})
    assert (note.kind, note.said) == (HookKind.OTHER, {"message": "waits", "notification_type": "idle"})
    assert hooks.read({}).kind is HookKind.OTHER  # a payload without a name: recorded, not decided
    answer = json.loads(hooks.allow_or_deny(use, "deny", "not in scope").stdout)
    assert answer == {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": "not in scope",
        }
    }
    back = hooks.go_on("hand it in")
    assert (back.stderr, back.exit_code, back.stdout) == ("hand it in", 2, "")
