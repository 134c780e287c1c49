"""Gemini CLI and Aider: one message per process; their output read into signals.

Gemini's events are shaped like ``gemini -p ... --output-format stream-json`` (init, message,
tool_use, tool_result, error, result with the stats of its StreamJsonFormatter); Aider's lines like
the usage report it prints after each message (``Tokens: ... Cost: ...``).
"""

from __future__ import annotations

import json
import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from czar.agents.aider import AiderAdapter
from czar.agents.base import AgentSettings, LaunchContext, Signal
from czar.agents.oneshot import GeminiAdapter

SESSION = "c1f4b0a2-6a0e-4d3b-9f9e-2b7d3e8a1c55"
TS = "2025-11-04T10:21:33.512Z"


def line(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":")) + "\n"


def gemini(event: dict[str, Any] | str) -> list[Signal]:
    return GeminiAdapter().parse(event if isinstance(event, str) else line(event))


def context(tmp_path: Path, **kw: Any) -> LaunchContext:
    defaults: dict[str, Any] = {
        "worktree": tmp_path / "wt",
        "worker": "w3",
        "task": "hello",
        "env": {"CZAR_HOME": "/home/u/.czar", "CZAR_WORKER": "w3", "CZAR_TOKEN": "t", "GIT_AUTHOR_NAME": "czar w3"},
        "messages": [("Task id: hello\n\nWrite hello.py.", "task")],
        "home": tmp_path / "agent",
        "czar": ("/opt/czar/bin/czar",),
    }
    defaults.update(kw)
    return LaunchContext(**defaults)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GEMINI_CLI_HOME", "GOOGLE_GEMINI_BASE_URL", "OPENAI_API_BASE", "ANTHROPIC_API_BASE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", "/home/someone")


# -- Gemini: parse ---------------------------------------------------------------------------


def test_gemini_init_names_the_session() -> None:
    event = {"type": "init", "timestamp": TS, "session_id": SESSION, "model": "gemini-2.5-pro"}
    assert gemini(event) == [Signal("session", text=SESSION)]


def test_gemini_assistant_message_is_said() -> None:
    event = {"type": "message", "timestamp": TS, "role": "assistant", "content": "I'll create hello.py.", "delta": True}
    assert gemini(event) == [Signal("activity", text="says: I'll create hello.py.")]


def test_gemini_assistant_message_is_cut_at_300_characters() -> None:
    event = {"type": "message", "timestamp": TS, "role": "assistant", "content": "w" * 1000, "delta": True}
    assert gemini(event) == [Signal("activity", text="says: " + "w" * 300)]


def test_gemini_user_message_says_nothing() -> None:
    event = {"type": "message", "timestamp": TS, "role": "user", "content": "Task id: hello"}
    assert gemini(event) == []


def test_gemini_tool_use_names_the_tool_and_its_parameters() -> None:
    params = {"file_path": "hello.py", "content": "def greet(name):\n    return name\n"}
    event = {
        "type": "tool_use",
        "timestamp": TS,
        "tool_name": "write_file",
        "tool_id": "write_file-1",
        "parameters": params,
    }
    assert gemini(event) == [Signal("activity", text=f"write_file {json.dumps(params)}")]


def test_gemini_tool_use_parameters_are_cut_at_200_characters() -> None:
    params = {"command": "echo " + "x" * 500, "description": "print"}
    event = {
        "type": "tool_use",
        "timestamp": TS,
        "tool_name": "run_shell_command",
        "tool_id": "r1",
        "parameters": params,
    }
    [signal] = gemini(event)
    assert signal.text == "run_shell_command " + json.dumps(params)[:200]


def test_gemini_tool_result_says_nothing() -> None:
    event = {"type": "tool_result", "timestamp": TS, "tool_id": "write_file-1", "status": "success", "output": "ok"}
    assert gemini(event) == []


def test_gemini_error_event_is_a_note() -> None:
    event = {"type": "error", "timestamp": TS, "severity": "warning", "message": "Loop detected, stopping execution"}
    assert gemini(event) == [Signal("activity", text="note: Loop detected, stopping execution")]


STATS = {
    "total_tokens": 1500,
    "input_tokens": 1000,
    "output_tokens": 200,
    "cached": 400,
    "input": 600,
    "duration_ms": 1234,
    "tool_calls": 2,
    "models": {"gemini-2.5-pro": {"total_tokens": 1500, "input_tokens": 1000, "output_tokens": 200}},
}


@pytest.mark.parametrize(
    ("severity", "message", "kind"),
    [
        ("error", "[API Error: 401 Unauthorized] API key not valid. Please pass a valid API key.", "auth"),
        ("warning", "Request failed: fetch failed (ECONNREFUSED 127.0.0.1:9), retrying", "connection"),
        ("error", "[API Error: 503 Service Unavailable] The model is overloaded.", "server"),
    ],
)
def test_gemini_error_that_its_model_cannot_be_reached_is_a_model_error(severity: str, message: str, kind: str) -> None:
    event = {"type": "error", "timestamp": TS, "severity": severity, "message": message}
    assert gemini(event) == [Signal("model_error", text=message, data={"kind": kind, "retry": severity == "warning"})]


def test_gemini_result_counts_tokens_and_ends_the_turn() -> None:
    event = {"type": "result", "timestamp": TS, "status": "success", "stats": STATS}
    signals = gemini(event)
    assert [s.kind for s in signals] == ["usage", "turn_done"]
    usage, done = signals
    assert usage.data["cumulative"] is False
    assert usage.data["input_tokens"] == 1000
    assert usage.data["output_tokens"] == 200
    assert "cost_usd" not in usage.data  # czar prices Gemini's tokens
    assert done == Signal("turn_done", text="success")


def test_gemini_result_reports_the_cached_part_of_the_input() -> None:
    event = {"type": "result", "timestamp": TS, "status": "success", "stats": STATS}
    usage, _ = gemini(event)
    assert usage.data["input_tokens"] == 1000
    assert usage.data["cache_read_tokens"] == 400


def test_gemini_result_with_older_stat_names() -> None:
    event = {"type": "result", "timestamp": TS, "status": "success", "stats": {"input": 70, "output": 9}}
    usage, _ = gemini(event)
    assert (usage.data["input_tokens"], usage.data["output_tokens"]) == (70, 9)


def test_gemini_error_result_still_counts_and_ends_the_turn() -> None:
    event = {
        "type": "result",
        "timestamp": TS,
        "status": "error",
        "error": {"type": "FatalTurnLimitedError", "message": "Reached max session turns for this session."},
        "stats": {**STATS, "input_tokens": 42, "output_tokens": 0},
    }
    usage, done = gemini(event)
    assert usage.data["input_tokens"] == 42
    assert done == Signal("turn_done", text="error")


def test_gemini_result_without_stats_counts_zero() -> None:
    usage, done = gemini({"type": "result", "timestamp": TS, "status": "success"})
    assert usage.data == {"cumulative": False, "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0}
    assert done.text == "success"


@pytest.mark.parametrize("raw", ["", "\n", "  \n"])
def test_gemini_blank_lines_say_nothing(raw: str) -> None:
    assert gemini(raw) == []


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (
            "YOLO mode is enabled. All tool calls will be automatically approved.\n",
            "YOLO mode is enabled. All tool calls will be automatically approved.",
        ),
        ('{"type":"message","timestamp":', '{"type":"message","timestamp":'),
    ],
)
def test_gemini_other_lines_are_activity(raw: str, text: str) -> None:
    assert gemini(raw) == [Signal("activity", text=text)]


@pytest.mark.parametrize(
    "raw",
    [
        "Invalid auth method selected.\n",  # no auth type chosen: czar chooses one only with a key
        "When using Gemini API, you must specify the GEMINI_API_KEY environment variable.\n",
    ],
)
def test_gemini_without_credentials_cannot_reach_its_model(raw: str) -> None:
    # It prints this outside its events and exits 41: a person must give it a key, and the task
    # is not to blame (it is kept, not failed, while its agent cannot start).
    assert gemini(raw) == [Signal("model_error", text=raw.strip(), data={"kind": "auth", "retry": False})]


def test_gemini_unknown_events_are_skipped() -> None:
    assert gemini({"type": "thought", "timestamp": TS, "subject": "Planning"}) == []


# -- Gemini: launch --------------------------------------------------------------------------


def test_gemini_command_carries_the_message(tmp_path: Path, clean_env: None) -> None:
    messages = [("Task id: hello\n\nWrite hello.py.", "task"), ("Add a test too.", "feedback")]
    launch = GeminiAdapter().launch(context(tmp_path, messages=messages))
    policy = tmp_path / "agent" / "gemini-home" / "czar-policy.toml"
    assert launch.argv == [
        "gemini",
        "-p",
        "Task id: hello\n\nWrite hello.py.\n\nAdd a test too.",
        "--output-format",
        "stream-json",
        "--approval-mode",
        "auto_edit",
        "--policy",
        str(policy),
        "-m",
        "gemini-2.5-pro",  # named, so that it asks no side question to choose one
    ]
    # Its shell and edits need no confirmation of its own: czar's BeforeTool hook decides them.
    rules = tomllib.loads(policy.read_text())["rule"]
    assert rules == [{"toolName": ["run_shell_command", "write_file", "replace"], "decision": "allow", "priority": 100}]
    assert launch.stdin == []
    assert launch.keep_stdin is False


def test_gemini_model_and_extra_arguments(tmp_path: Path, clean_env: None) -> None:
    settings = AgentSettings(command="/opt/gemini", model="gemini-2.5-flash", args=("--debug",))
    argv = GeminiAdapter().launch(context(tmp_path, settings=settings)).argv
    assert argv[0] == "/opt/gemini"
    assert argv[-3:] == ["-m", "gemini-2.5-flash", "--debug"]


def test_gemini_gets_czars_server_through_its_settings(tmp_path: Path, clean_env: None) -> None:
    env = GeminiAdapter().launch(context(tmp_path)).env
    home = tmp_path / "agent" / "gemini-home"
    assert env["GEMINI_CLI_HOME"] == str(home)
    settings = json.loads((home / ".gemini" / "settings.json").read_text())
    assert settings["mcpServers"] == {
        "czar": {
            "command": "/opt/czar/bin/czar",
            "args": ["mcp", "--worker", "w3"],
            "env": {"CZAR_HOME": "/home/u/.czar", "CZAR_WORKER": "w3", "CZAR_TOKEN": "t"},
            "trust": True,
        }
    }
    hook = settings["hooks"]["BeforeTool"][0]["hooks"][0]
    assert shlex.split(hook["command"])[-4:] == ["hook", "--agent", "gemini", "--deny-on-error"]
    assert hook["timeout"] > 3_600_000  # ms
    assert env["GEMINI_CLI_TRUST_WORKSPACE"] == "true"
    assert "security" not in settings  # no API key in the environment: its own login, if any
    assert settings["privacy"] == {"usageStatisticsEnabled": False}  # nothing sent to Google's statistics


def test_gemini_over_http_with_an_api_key(tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    GeminiAdapter().launch(context(tmp_path, mcp_url="http://127.0.0.1:5/mcp"))
    settings = json.loads((tmp_path / "agent" / "gemini-home" / ".gemini" / "settings.json").read_text())
    czar = {"httpUrl": "http://127.0.0.1:5/mcp", "headers": {"Authorization": "Bearer $CZAR_TOKEN"}, "trust": True}
    assert settings["mcpServers"]["czar"] == czar
    assert settings["security"] == {"auth": {"selectedType": "gemini-api-key"}}


def test_gemini_keeps_the_users_home_by_default(tmp_path: Path, clean_env: None) -> None:
    env = GeminiAdapter().launch(context(tmp_path)).env
    assert env["HOME"] == "/home/someone"
    assert "GOOGLE_GEMINI_BASE_URL" not in env


def test_gemini_private_home_and_base_url(tmp_path: Path, clean_env: None) -> None:
    settings = AgentSettings(home="private", base_url="http://127.0.0.1:9000")
    env = GeminiAdapter().launch(context(tmp_path, settings=settings)).env
    assert env["HOME"] == str(tmp_path / "agent" / "gemini-home")
    assert env["GOOGLE_GEMINI_BASE_URL"] == "http://127.0.0.1:9000"


def test_gemini_encode_is_the_text() -> None:
    assert GeminiAdapter().encode("Go on.", "continue") == "Go on."


# -- Aider: parse ----------------------------------------------------------------------------


def aider(raw: str) -> list[Signal]:
    return AiderAdapter().parse(raw)


@pytest.mark.parametrize(
    ("raw", "sent", "received", "cost"),
    [
        ("Tokens: 2.3k sent, 156 received. Cost: $0.0091 message, $0.0091 session.\n", 2300, 156, 0.0091),
        ("Tokens: 12k sent, 1.2k received. Cost: $0.05 message, $0.12 session.\n", 12000, 1200, 0.05),
        ("Tokens: 845 sent, 37 received. Cost: $0.00026 message, $0.0031 session.\n", 845, 37, 0.00026),
        ("Tokens: 1234k sent, 9.9k received. Cost: $3.71 message, $3.71 session.\n", 1_234_000, 9900, 3.71),
        ("Tokens: 4.1k sent, 0 received. Cost: $0.00 message, $0.40 session.\n", 4100, 0, 0.0),
    ],
)
def test_aider_usage_report_is_counted(raw: str, sent: int, received: int, cost: float) -> None:
    [signal] = aider(raw)
    assert signal.kind == "usage"
    assert signal.data["cumulative"] is False
    assert signal.data["input_tokens"] == sent
    assert signal.data["output_tokens"] == received
    assert signal.data["cost_usd"] == pytest.approx(cost)


def test_aider_message_cost_is_taken_not_the_session_total() -> None:
    [signal] = aider("Tokens: 3.0k sent, 210 received. Cost: $0.01 message, $0.25 session.")
    assert signal.data["cost_usd"] == pytest.approx(0.01)


@pytest.mark.parametrize(
    "raw",
    [
        "Tokens: 16k sent, 15k cache hit, 1.2k received. Cost: $0.01 message, $0.03 session.\n",
        "Tokens: 16k sent, 15k cache write, 1.2k received. Cost: $0.01 message, $0.03 session.\n",
    ],
)
def test_aider_usage_report_with_prompt_cache_is_counted(raw: str) -> None:
    signals = aider(raw)
    assert [s.kind for s in signals] == ["usage"]
    assert signals[0].data["input_tokens"] == 16000
    assert signals[0].data["output_tokens"] == 1200
    assert signals[0].data["cost_usd"] == pytest.approx(0.01)


@pytest.mark.parametrize(
    "raw",
    [
        "Aider v0.86.1\n",
        "Model: gpt-5 with diff edit format\n",
        "Applied edit to hello.py\n",
        "czar blocked --on other 'a word'\n",  # a czar command czar does not carry out for it
    ],
)
def test_aider_other_lines_are_activity(raw: str) -> None:
    assert aider(raw) == [Signal("activity", text=raw.rstrip())]


@pytest.mark.parametrize("raw", ["", "\n", "   \n"])
def test_aider_blank_lines_say_nothing(raw: str) -> None:
    assert aider(raw) == []


# -- Aider: launch ---------------------------------------------------------------------------


def test_aider_without_a_price_reports_tokens_for_czar_to_price() -> None:
    adapter = AiderAdapter()
    assert adapter.parse("Tokens: 2.3k sent, 156 received.\n") == []  # its cost may follow
    [signal, shown] = adapter.parse("Applied edit to a.py\n")
    assert signal.kind == "usage" and "cost_usd" not in signal.data and shown.kind == "activity"
    assert signal.data["input_tokens"] == 2300 and signal.data["output_tokens"] == 156


def test_aider_cost_on_the_line_after_its_tokens() -> None:
    adapter = AiderAdapter()
    assert adapter.parse("Tokens: 16k sent, 15k cache hit, 2k cache write, 1.2k received.\n") == []
    [signal] = adapter.parse("Cost: $0.02 message, $0.05 session.\n")
    assert signal.data["cost_usd"] == pytest.approx(0.02) and signal.data["input_tokens"] == 16000


# What Aider prints for one message: its reply (with the commands it proposes in shell blocks),
# its token count, its edits applied and committed, then the commands it proposes, listed.
REPLY = [
    "I will write hello.py, then tell czar.\n",
    "czar done 'not a proposal: prose'\n",
    "hello.py\n",
    "```\n",
    "<<<<<<< SEARCH\n",
    "=======\n",
    "czar done 'not a proposal: file content'\n",
    ">>>>>>> REPLACE\n",
    "```\n",
    "```bash\n",
    "czar report --task hello 'writing hello.py'\n",
    "czar report --checkpoint 1 'hello written'\n",
    "czar claim docs/hello.md\n",
    "czar done 'hello.py is in place'\n",
    "```\n",
    "Tokens: 2.8k sent, 83 received. Cost: $0.0043 message, $0.0043 session.\n",
    "Applied edit to hello.py\n",
    "Commit 0473669 Add hello.py\n",
    "czar report --task hello 'writing hello.py'\n",
    "czar report --checkpoint 1 'hello written'\n",
    "czar claim docs/hello.md\n",
    "czar done 'hello.py is in place'\n",
    "czar done 'hello.py is in place'\n",  # printed again: carried out once
    "  czar done 'not a proposal: indented'\n",
    "czar done 'not a proposal: not in its reply'\n",
]


def test_the_czar_commands_aider_proposes_are_carried_out_once_after_its_edits() -> None:
    adapter = AiderAdapter()
    signals = [sig for line in REPLY for sig in adapter.parse(line)]
    kinds = [(s.kind, s.task, s.text, s.data.get("checkpoint")) for s in signals if s.kind not in ("activity", "usage")]
    assert kinds == [
        ("progress", "hello", "writing hello.py", None),
        ("progress", None, "hello written", 1),
        ("claim", None, "", None),
        ("finished", None, "hello.py is in place", None),
    ]
    assert [s.data["paths"] for s in signals if s.kind == "claim"] == [["docs/hello.md"]]


def test_aider_command(tmp_path: Path, clean_env: None) -> None:
    launch = AiderAdapter().launch(context(tmp_path))
    folder = tmp_path / "agent" / "aider"
    assert launch.argv == [
        "aider",
        "--message",
        "Task id: hello\n\nWrite hello.py.",
        "--yes-always",
        "--no-pretty",
        "--no-check-update",
        "--analytics-disable",
        "--no-show-model-warnings",
        "--no-gitignore",
        "--chat-history-file",
        str(folder / "chat.md"),
        "--input-history-file",
        str(folder / "input.txt"),
    ]
    # Its own files stay out of the work: its git (and the agent's) ignores them.
    settings = _git_settings(launch.env)
    assert Path(settings["core.excludesFile"]).read_text().startswith(".aider*\n")
    assert settings["commit.gpgsign"] == "false"  # its commits are not signed with your key
    assert launch.stdin == []
    assert launch.keep_stdin is False
    assert "OPENAI_API_BASE" not in launch.env and "ANTHROPIC_API_BASE" not in launch.env


def test_aider_keeps_the_users_git_settings_and_ignores(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "xdg" / "git").mkdir(parents=True)
    (tmp_path / "xdg" / "git" / "ignore").write_text(".env\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "user.name")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "someone")
    env = AiderAdapter().launch(context(tmp_path)).env
    assert env["GIT_CONFIG_KEY_0"] == "user.name" and env["GIT_CONFIG_VALUE_0"] == "someone"  # kept, first
    assert Path(_git_settings(env)["core.excludesFile"]).read_text() == ".aider*\n.env\n"


def _git_settings(env: dict[str, str]) -> dict[str, str]:
    """The git settings an environment carries (GIT_CONFIG_*), the later winning."""
    count = int(env["GIT_CONFIG_COUNT"])
    return {env[f"GIT_CONFIG_KEY_{i}"]: env[f"GIT_CONFIG_VALUE_{i}"] for i in range(count)}


def test_aider_model_base_url_and_extra_arguments(tmp_path: Path, clean_env: None) -> None:
    settings = AgentSettings(
        command="/venv/bin/aider", model="openai/gpt-5", base_url="http://127.0.0.1:9000/v1", args=("--map-tokens", "0")
    )
    launch = AiderAdapter().launch(context(tmp_path, settings=settings))
    assert launch.argv[0] == "/venv/bin/aider"
    assert launch.argv[-4:] == ["--model", "openai/gpt-5", "--map-tokens", "0"]
    assert launch.env["OPENAI_API_BASE"] == "http://127.0.0.1:9000/v1"
    assert launch.env["ANTHROPIC_API_BASE"] == "http://127.0.0.1:9000"  # /v1/messages added by it
    assert launch.env["GIT_AUTHOR_NAME"] == "czar w3"


def test_aider_has_no_mcp_and_reports_its_cost() -> None:
    caps = AiderAdapter.capabilities
    assert (caps.mcp, caps.long_lived, caps.resumes, caps.reports_cost) == (False, False, False, True)


def test_aider_encode_is_the_text() -> None:
    assert AiderAdapter().encode("Fix the test.", "feedback") == "Fix the test."


def test_gemini_hooks_decide_tool_uses_in_its_own_answer_format() -> None:
    from czar.agents.base import HookKind
    from czar.agents.oneshot import GeminiHooks

    hooks = GeminiHooks()
    use = hooks.read(
        {"hook_event_name": "BeforeTool", "tool_name": "run_shell_command", "tool_input": {"command": "ls"}}
    )
    assert (use.kind, use.tool, use.free) == (HookKind.TOOL_USE, "run_shell_command", False)
    assert hooks.read({"hook_event_name": "BeforeTool", "tool_name": "mcp_czar_report"}).free
    assert hooks.read({"hook_event_name": "AfterAgent"}).kind is HookKind.OTHER
    assert json.loads(hooks.allow_or_deny(use, "allow", "in scope").stdout) == {
        "decision": "allow",
        "reason": "in scope",
    }


def test_aider_without_any_key_cannot_reach_its_model() -> None:
    # Aider 0.86 then offers a login in a browser and waits five minutes for it: czar says so at once.
    line = "No LLM model was specified and no API keys were provided.\n"
    assert AiderAdapter().parse(line) == [
        Signal("model_error", text=line.strip(), data={"kind": "auth", "retry": False})
    ]


def test_an_agents_commits_stay_unsigned_whatever_the_plans_env_numbers_among_gits_settings(
    tmp_path: Path, clean_env: None
) -> None:
    plans = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "commit.gpgsign", "GIT_CONFIG_VALUE_0": "true"}
    ctx = context(tmp_path, settings=AgentSettings(env=plans))
    for adapter in (GeminiAdapter(), AiderAdapter()):
        assert _git_settings(adapter.launch(ctx).env)["commit.gpgsign"] == "false", adapter


def test_aider_with_a_base_url_and_no_model_named_is_given_no_key_that_would_go_past_it(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no model named it picks one by the keys it finds (OpenRouter's and DeepSeek's before
    OpenAI's, Gemini's after), and those providers' requests cannot be sent to base_url: it went
    to Google with only GEMINI_API_KEY set. A model named is the plan's choice: all keys stay."""
    for key in ("OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "GEMINI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.setenv(key, f"{key.lower()}-value")
    monkeypatch.delenv("VERTEXAI_PROJECT", raising=False)
    monkeypatch.delenv("AIDER_MODEL", raising=False)
    adapter = AiderAdapter()
    env = adapter.launch(context(tmp_path, settings=AgentSettings(base_url="http://127.0.0.1:9000/v1"))).env
    assert env["OPENAI_API_KEY"] == "openai_api_key-value"
    assert not {"OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "GEMINI_API_KEY"} & set(env)
    line = "No LLM model was specified and no API keys were provided.\n"
    (said,) = adapter.parse(line)
    assert said.text.startswith(line.strip()) and "no OPENROUTER_API_KEY, DEEPSEEK_API_KEY, GEMINI_API_KEY" in said.text
    named = [
        AgentSettings(base_url="http://127.0.0.1:9000/v1", model="gemini/gemini-2.5-pro"),
        AgentSettings(base_url="http://127.0.0.1:9000/v1", args=("--deepseek",)),
        AgentSettings(base_url="http://127.0.0.1:9000/v1", env={"AIDER_MODEL": "openrouter/x"}),
        AgentSettings(base_url="http://127.0.0.1:9000/v1", env={"AIDER_DEEPSEEK": "1"}),
        AgentSettings(base_url="http://127.0.0.1:9000/v1", args=("--model=gemini/gemini-2.5-pro",)),
        AgentSettings(base_url="http://127.0.0.1:9000/v1", args=("-c", "my.aider.conf.yml")),
        AgentSettings(),  # no base_url: its providers are its own
    ]
    for settings in named:
        env = AiderAdapter().launch(context(tmp_path, settings=settings)).env
        assert env["GEMINI_API_KEY"] == "gemini_api_key-value", settings
        assert env["OPENROUTER_API_KEY"] == "openrouter_api_key-value", settings


def test_aider_taking_a_model_past_the_plans_base_url_is_stopped_with_what_to_do(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A key czar does not give it, it may find itself (~/.env, .aider.conf.yml, its OpenRouter
    login): the model it says it took, at its start, shows where its requests go."""
    monkeypatch.delenv("AIDER_MODEL", raising=False)
    routed = AgentSettings(base_url="http://127.0.0.1:9000/v1")
    past = "Model: openrouter/anthropic/claude-sonnet-4 with diff edit format, prompt cache\n"
    fine = (
        "Main model: anthropic/claude-sonnet-4-20250514 with diff edit format, infinite output\n",
        "Model: gpt-4o with diff edit format\n",
        "Model: openai/gpt-5 with diff edit format\n",
    )
    adapter = AiderAdapter()
    adapter.launch(context(tmp_path, settings=routed))
    (stop,) = adapter.parse(past)
    assert stop.kind == "model_error" and stop.data == {"kind": "auth", "retry": False}
    assert stop.text.startswith("aider took the model openrouter/anthropic/claude-sonnet-4, which is not reached")
    for line in fine:
        adapter.launch(context(tmp_path, settings=routed))
        assert [s.kind for s in adapter.parse(line)] == ["activity"], line
    for settings in (AgentSettings(), AgentSettings(base_url="http://127.0.0.1:9000/v1", model="openrouter/x")):
        adapter.launch(context(tmp_path, settings=settings))  # no base_url, or a model the plan named
        assert [s.kind for s in adapter.parse(past)] == ["activity"], settings


def test_aiders_model_hosts_are_closed_when_the_plan_gives_its_model_elsewhere(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from czar.agents.claude import ClaudeAdapter
    from czar.agents.host_settings import SandboxSettings
    from czar.host.sandboxing import AgentSandbox

    def hosts(adapter: Any, base_url: str | None) -> tuple[str, ...]:
        box = AgentSandbox(
            worker="w1",
            agent_kind=adapter.kind,
            settings=AgentSettings(base_url=base_url),
            home=tmp_path / "w1",
            repo=None,
            config=SandboxSettings(allow_hosts=("pypi.org",)),
            on_denied=lambda host, why: None,
        )
        run = SimpleNamespace(relay=None, mcp_url=None, adapter=adapter, attempt=1, launches=1)
        return box.network(run).hosts  # type: ignore[arg-type]

    assert hosts(AiderAdapter(), "http://models.lan:9000/v1") == ("pypi.org", "models.lan")
    assert "openrouter.ai" in hosts(AiderAdapter(), None) and "pypi.org" in hosts(AiderAdapter(), None)
    claude = ClaudeAdapter()  # its hosts serve more than its model (its login): kept
    assert hosts(claude, "http://models.lan:9000") == (*claude.capabilities.hosts, "pypi.org", "models.lan")


def test_gemini_trying_a_request_again_after_it_failed_to_connect_is_a_model_error() -> None:
    """Gemini CLI prints each failed try as text, not as an event (seen when its sandbox lost its
    network): czar hears it, and looks at why (``WorkerHost.network_lost``)."""
    said = "Attempt 8 failed. Retrying with backoff... Error: exception TypeError: fetch failed sending request"
    assert gemini(said + "\n") == [Signal("model_error", text=said, data={"kind": "connection", "retry": True})]
    assert gemini("Attempt 2 failed. Retrying with backoff... Error: something else\n")[0].kind == "activity"


def test_gemini_saying_its_mcp_server_did_not_connect_has_lost_czars_tools() -> None:
    """czar's server is its only one: started while czar's tools server was down (seen in a chaos
    run), it says so once, then works without czar's tools; its host starts it again."""
    said = gemini("MCP issues detected. Run /mcp list for status.\n")
    assert [s.kind for s in said] == ["tools_lost"]
