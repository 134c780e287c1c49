"""Codex's adapter: ``codex exec --json`` events read into signals, and the command that starts it.

The sample events are shaped like what Codex CLI prints with ``exec --json`` (thread.started,
turn.*, item.* with the item types of its exec_events schema).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from czar.agents.base import AgentSettings, LaunchContext, Signal
from czar.agents.codex import CodexAdapter, private_home

THREAD = "0199a213-81c0-7800-8aa1-bbab2a035a53"


def line(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":")) + "\n"


def parse(event: dict[str, Any] | str) -> list[Signal]:
    return CodexAdapter().parse(event if isinstance(event, str) else line(event))


def item(kind: str, event: str = "item.completed", **fields: Any) -> dict[str, Any]:
    return {"type": event, "item": {"id": "item_1", "type": kind, **fields}}


# -- thread and turn -------------------------------------------------------------------------


def test_thread_started_names_the_session() -> None:
    assert parse({"type": "thread.started", "thread_id": THREAD}) == [Signal("session", text=THREAD)]


def test_turn_started_says_nothing() -> None:
    assert parse({"type": "turn.started"}) == []


def test_turn_completed_counts_this_runs_tokens_and_ends_the_turn() -> None:
    event = {
        "type": "turn.completed",
        "usage": {"input_tokens": 24763, "cached_input_tokens": 24448, "output_tokens": 122},
    }
    assert parse(event) == [
        Signal(
            "usage",
            data={
                "cumulative": False,
                "input_tokens": 24763,
                "output_tokens": 122,
                "cache_read_tokens": 24448,
                "cache_write_tokens": 0,
            },
        ),
        Signal("turn_done", text="completed"),
    ]


def test_turn_completed_usage_carries_no_cost() -> None:
    # Codex reports tokens only: czar prices them (the host looks for a missing cost_usd).
    [usage, _] = parse({"type": "turn.completed", "usage": {"input_tokens": 10, "output_tokens": 2}})
    assert "cost_usd" not in usage.data


def test_turn_completed_with_cache_writes() -> None:
    usage = {"input_tokens": 5000, "cached_input_tokens": 0, "cache_write_input_tokens": 4096, "output_tokens": 9}
    [signal, _] = parse({"type": "turn.completed", "usage": usage})
    assert signal.data["cache_write_tokens"] == 4096


def test_turn_completed_without_usage_counts_zero() -> None:
    [usage, done] = parse({"type": "turn.completed"})
    assert usage.data == {
        "cumulative": False,
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
    }
    assert done.kind == "turn_done"


def test_turn_failed_is_an_error_with_its_message() -> None:
    event = {"type": "turn.failed", "error": {"message": "model response stream ended unexpectedly"}}
    assert parse(event) == [Signal("error", text="model response stream ended unexpectedly")]


@pytest.mark.parametrize("event", [{"type": "turn.failed"}, {"type": "turn.failed", "error": None}])
def test_turn_failed_without_a_message(event: dict[str, Any]) -> None:
    assert parse(event) == [Signal("error", text="the turn failed")]


def test_reconnect_notice_is_not_an_error() -> None:
    # Codex prints transient retries as top-level "error" events; the turn goes on.
    signals = parse({"type": "error", "message": "Reconnecting... 1/5"})
    assert [s for s in signals if s.kind in ("error", "turn_done")] == []


# What Codex 0.169 printed here against an API that refused the key, answered 500, or was not
# listening at all.
REFUSED = "unexpected status 401 Unauthorized: invalid key, url: http://127.0.0.1:8765/v1/responses"


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (f"Reconnecting... 1/5 ({REFUSED})", "auth"),
        (
            "Reconnecting... 2/5 (We\u2019re currently experiencing high demand, which may cause temporary errors.)",
            "server",
        ),
        ("Reconnecting... waiting for network (Connection failed: error sending request)", "offline"),
        ("Reconnecting... 3/5 (stream disconnected before completion: error sending request for url)", "connection"),
        ("Reconnecting... 1/5 (something new)", "other"),
    ],
)
def test_a_retried_request_is_a_model_error(message: str, kind: str) -> None:
    assert parse({"type": "error", "message": message}) == [
        Signal("model_error", text=message, data={"kind": kind, "retry": True})
    ]


def test_a_turn_that_failed_on_its_model_says_so() -> None:
    assert parse({"type": "turn.failed", "error": {"message": REFUSED}}) == [
        Signal("model_error", text=REFUSED, data={"kind": "auth", "retry": False}),
        Signal("error", text=REFUSED),
    ]


def test_a_turn_that_failed_for_want_of_a_key_cannot_reach_its_model() -> None:
    missing = "Missing environment variable: `OPENAI_API_KEY`."  # what Codex 0.169 says, and exits 1
    assert parse({"type": "turn.failed", "error": {"message": missing}}) == [
        Signal("model_error", text=missing, data={"kind": "auth", "retry": False}),
        Signal("error", text=missing),
    ]


def test_the_error_before_a_failed_turn_is_not_counted_twice() -> None:
    assert parse({"type": "error", "message": REFUSED}) == []


# -- items -----------------------------------------------------------------------------------


def test_completed_command_says_what_ran_and_its_exit() -> None:
    event = item("command_execution", command="bash -lc ls", aggregated_output="docs\nsrc\n", exit_code=0)
    assert parse(event) == [Signal("activity", text="ran `bash -lc ls` -> exit 0")]


def test_failed_command_shows_its_exit_code() -> None:
    event = item("command_execution", command="bash -lc false", aggregated_output="", exit_code=1, status="failed")
    assert parse(event) == [Signal("activity", text="ran `bash -lc false` -> exit 1")]


def test_started_command_says_nothing_yet() -> None:
    event = item(
        "command_execution",
        "item.started",
        command="bash -lc ls",
        aggregated_output="",
        exit_code=None,
        status="in_progress",
    )
    assert parse(event) == []


def test_file_change_lists_the_paths() -> None:
    changes = [{"path": "docs/exec.md", "kind": "add"}, {"path": "src/hello.py", "kind": "update"}]
    assert parse(item("file_change", changes=changes, status="completed")) == [
        Signal("activity", text="changed docs/exec.md, src/hello.py")
    ]


def test_mcp_tool_call_names_server_tool_and_status() -> None:
    event = item(
        "mcp_tool_call",
        server="czar",
        tool="report",
        arguments={"task": "hello", "text": "writing hello.py"},
        result={"content": [{"type": "text", "text": "ok"}], "structured_content": None},
        error=None,
        status="completed",
    )
    assert parse(event) == [Signal("activity", text="czar.report: completed")]


def test_failed_mcp_tool_call() -> None:
    event = item("mcp_tool_call", server="czar", tool="done", error={"message": "tool timeout"}, status="failed")
    assert parse(event) == [Signal("activity", text="czar.done: failed")]


def test_started_mcp_tool_call_says_nothing_yet() -> None:
    event = item("mcp_tool_call", "item.started", server="czar", tool="report", status="in_progress")
    assert parse(event) == []


def test_agent_message_is_said_stripped_and_cut() -> None:
    text = "\nDone. I added hello.greet and its test. " + "z" * 400
    [signal] = parse(item("agent_message", text=text))
    assert signal == Signal("activity", text="says: " + text.strip()[:300])


@pytest.mark.parametrize("event", ["item.started", "item.completed"])
def test_error_item_is_a_note(event: str) -> None:
    assert parse(item("error", event, message="command output truncated")) == [
        Signal("activity", text="note: command output truncated")
    ]


@pytest.mark.parametrize(
    "event",
    [
        item("reasoning", text="**Scanning docs for exec JSON schema**"),
        item("todo_list", "item.started", items=[{"text": "Scan docs", "completed": False}]),
        item("todo_list", "item.updated", items=[{"text": "Scan docs", "completed": True}]),
        item("web_search", query="codex exec --json schema"),
        item("agent_message", "item.updated", text="partial"),
        {"type": "item.completed"},
        {"type": "item.completed", "item": None},
    ],
)
def test_other_items_say_nothing(event: dict[str, Any]) -> None:
    assert parse(event) == []


# -- garbage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "\n", "   \n", "Reading prompt from stdin...\n"])
def test_blank_lines_and_the_stdin_notice_say_nothing(raw: str) -> None:
    assert parse(raw) == []


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (
            "2025-10-01T12:00:00.000Z ERROR codex_core::exec: exec error: No such file\n",
            "2025-10-01T12:00:00.000Z ERROR codex_core::exec: exec error: No such file",
        ),
        ('{"type":"item.completed","item":{"id":', '{"type":"item.completed","item":{"id":'),
        ("[]\n", "[]"),
    ],
)
def test_other_lines_are_activity(raw: str, text: str) -> None:
    assert parse(raw) == [Signal("activity", text=text)]


def test_unknown_event_types_are_skipped() -> None:
    assert parse({"type": "thread.compacted", "thread_id": THREAD}) == []


# -- encode ----------------------------------------------------------------------------------


def test_encode_is_the_message_itself() -> None:
    assert CodexAdapter().encode("The tests fail.\nFix them.", "feedback") == "The tests fail.\nFix them."


# -- launch ----------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODEX_HOME", raising=False)


def context(tmp_path: Path, **kw: Any) -> LaunchContext:
    defaults: dict[str, Any] = {
        "worktree": tmp_path / "wt",
        "worker": "w2",
        "task": "hello",
        "env": {
            "CZAR_HOME": "/home/u/.czar",
            "CZAR_WORKER": "w2",
            "CZAR_TOKEN": 'tok "quoted"',
            "PATH": "/usr/bin",
            "GIT_AUTHOR_NAME": "czar w2",
        },
        "messages": [("Task id: hello\n\nWrite hello.py.", "task")],
        "home": tmp_path / "agent",
        "czar": ("/venv/bin/python", "-m", "czar"),
    }
    defaults.update(kw)
    return LaunchContext(**defaults)


def overrides(argv: list[str]) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == "-c"]


def merged_toml(values: list[str]) -> dict[str, Any]:
    """Each ``-c key=value`` read as TOML (as Codex reads it), merged into one table."""
    out: dict[str, Any] = {}

    def merge(into: dict[str, Any], new: dict[str, Any]) -> None:
        for k, v in new.items():
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                merge(into[k], v)
            else:
                into[k] = v

    for value in values:
        merge(out, tomllib.loads(value))
    return out


def test_first_start_is_exec_in_the_worktree_with_workspace_write(tmp_path: Path, clean_env: None) -> None:
    ctx = context(tmp_path)
    argv = CodexAdapter().launch(ctx).argv
    assert argv[:4] == ["codex", "exec", "--json", "--skip-git-repo-check"]
    assert argv[argv.index("-C") + 1] == str(ctx.worktree)
    assert argv[argv.index("-s") + 1] == "workspace-write"
    assert "resume" not in argv
    assert argv[-1] == "-"


@pytest.mark.parametrize("session", [None, THREAD])
def test_in_czars_sandbox_codex_runs_without_its_own(tmp_path: Path, clean_env: None, session: str | None) -> None:
    """Codex's own sandbox cannot be made inside czar's (no namespaces there); czar's confines it."""
    argv = CodexAdapter().launch(context(tmp_path, session=session, confined=True)).argv
    mode = argv[argv.index("-s") + 1] if "-s" in argv else merged_toml(overrides(argv))["sandbox_mode"]
    assert mode == "danger-full-access"


def test_later_message_resumes_the_thread(tmp_path: Path, clean_env: None) -> None:
    argv = CodexAdapter().launch(context(tmp_path, session=THREAD)).argv
    assert argv[:6] == ["codex", "exec", "resume", THREAD, "--json", "--skip-git-repo-check"]
    # `codex exec resume` takes neither -C nor -s.
    assert "-C" not in argv
    assert "-s" not in argv
    assert argv[-1] == "-"


@pytest.mark.parametrize("session", [None, THREAD])
def test_czars_server_is_given_per_run(tmp_path: Path, clean_env: None, session: str | None) -> None:
    argv = CodexAdapter().launch(context(tmp_path, session=session)).argv
    config = merged_toml(overrides(argv))
    # A resumed run gets its sandbox through the configuration (`exec resume` takes no -s).
    assert config.pop("sandbox_mode", None) == ("workspace-write" if session else None)
    # Its commands in a plain shell: a login shell's profile sets PATH again (czar's is lost).
    assert config.pop("allow_login_shell") is False
    assert config == {
        "mcp_servers": {
            "czar": {
                "command": "/venv/bin/python",
                "args": ["-m", "czar", "mcp", "--worker", "w2"],
                "env": {
                    "CZAR_HOME": "/home/u/.czar",
                    "CZAR_WORKER": "w2",
                    "CZAR_TOKEN": 'tok "quoted"',
                    "PATH": "/usr/bin",
                },
                "default_tools_approval_mode": "approve",
                "startup_readiness": "connection",
                "startup_timeout_sec": 60,
            }
        }
    }


def test_czars_server_with_no_environment(tmp_path: Path, clean_env: None) -> None:
    argv = CodexAdapter().launch(context(tmp_path, env={})).argv
    assert merged_toml(overrides(argv))["mcp_servers"]["czar"]["env"] == {}


def test_model_and_extra_arguments_come_before_the_stdin_marker(tmp_path: Path, clean_env: None) -> None:
    settings = AgentSettings(command="/opt/codex", model="gpt-5-codex", args=("--add-dir", "/repo/.git"))
    argv = CodexAdapter().launch(context(tmp_path, settings=settings)).argv
    assert argv[0] == "/opt/codex"
    assert argv[argv.index("-m") + 1] == "gpt-5-codex"
    assert argv[-3:] == ["--add-dir", "/repo/.git", "-"]


def test_no_model_flag_without_a_model(tmp_path: Path, clean_env: None) -> None:
    assert "-m" not in CodexAdapter().launch(context(tmp_path)).argv


def test_messages_go_on_stdin_which_then_closes(tmp_path: Path, clean_env: None) -> None:
    messages = [("Task id: hello\n\nWrite hello.py.", "task"), ("Also add a test.", "feedback")]
    launch = CodexAdapter().launch(context(tmp_path, messages=messages))
    assert launch.stdin == ["Task id: hello\n\nWrite hello.py.\n\nAlso add a test."]
    assert launch.keep_stdin is False
    assert launch.session is None


def test_users_codex_home_is_kept_by_default(tmp_path: Path, clean_env: None) -> None:
    env = CodexAdapter().launch(context(tmp_path)).env
    assert "CODEX_HOME" not in env
    assert env["GIT_AUTHOR_NAME"] == "czar w2"
    assert not (tmp_path / "agent" / "codex-home").exists()


def test_base_url_gets_a_private_codex_home(tmp_path: Path, clean_env: None) -> None:
    settings = AgentSettings(base_url="http://127.0.0.1:8765", model="gpt-5-mini")
    env = CodexAdapter().launch(context(tmp_path, settings=settings)).env
    home = tmp_path / "agent" / "codex-home"
    assert env["CODEX_HOME"] == str(home)
    assert tomllib.loads((home / "config.toml").read_text()) == {
        "model": "gpt-5-mini",
        "model_provider": "czar",
        "model_providers": {
            "czar": {
                "name": "czar",
                "base_url": "http://127.0.0.1:8765/v1",
                "env_key": "OPENAI_API_KEY",
                "wire_api": "responses",
            }
        },
    }


def test_private_home_without_base_url_names_only_the_model(tmp_path: Path, clean_env: None) -> None:
    env = CodexAdapter().launch(context(tmp_path, settings=AgentSettings(home="private"))).env
    assert tomllib.loads((Path(env["CODEX_HOME"]) / "config.toml").read_text()) == {"model": "gpt-5"}


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765/v1"),
        ("http://127.0.0.1:8765/", "http://127.0.0.1:8765/v1"),
        ("http://127.0.0.1:8765/v1", "http://127.0.0.1:8765/v1"),
        ("http://127.0.0.1:8765/v1/", "http://127.0.0.1:8765/v1"),
        ("https://proxy.example/openai", "https://proxy.example/openai/v1"),
    ],
)
def test_private_home_base_url_ends_in_v1_once(tmp_path: Path, base_url: str, expected: str) -> None:
    home = private_home(tmp_path, base_url, None)
    config = tomllib.loads((home / "config.toml").read_text())
    assert config["model_providers"]["czar"]["base_url"] == expected
    assert config["model"] == "gpt-5"


def test_private_home_twice_rewrites_the_config(tmp_path: Path) -> None:
    private_home(tmp_path, "http://a:1", "gpt-5")
    home = private_home(tmp_path, None, "gpt-5-codex")
    assert tomllib.loads((home / "config.toml").read_text()) == {"model": "gpt-5-codex"}


def test_the_worker_hosts_server_is_reached_over_http_with_the_token_from_the_environment(
    tmp_path: Path, clean_env: None
) -> None:
    launch = CodexAdapter().launch(context(tmp_path, mcp_url="http://127.0.0.1:4242/mcp"))
    server = merged_toml(overrides(launch.argv))["mcp_servers"]["czar"]
    assert server["url"] == "http://127.0.0.1:4242/mcp"
    assert server["bearer_token_env_var"] == "CZAR_TOKEN"
    assert launch.env["CZAR_TOKEN"] == 'tok "quoted"'
    assert "command" not in server and "env" not in server
    assert not any('tok "quoted"' in a for a in launch.argv)  # the secret is not on the command line


TRANSPORT_CLOSED = (
    "2026-12-05T12:00:32.727257Z ERROR rmcp::transport::worker: worker quit with fatal: Transport channel closed,"
    ' when Client(HttpRequest(HttpRequest("http/request failed: error sending request for url'
    ' (http://127.0.0.1:38111/mcp/w1/4)")))'
)


def test_its_mcp_client_giving_up_on_czars_server_has_lost_czars_tools() -> None:
    """Seen in a chaos run: the tools server killed as Codex connected; this process's czar tools
    are gone for good (each later call fails), its host starts it again."""
    [signal] = parse(TRANSPORT_CLOSED + "\n")
    assert signal.kind == "tools_lost" and "Transport channel closed" in signal.text
    # Another server of the person's (not czar's path), or another of rmcp's lines: its activity.
    other = TRANSPORT_CLOSED.replace("/mcp/w1/4", "/v1/mcp")
    assert [s.kind for s in parse(other + "\n")] == ["activity"]
    assert [s.kind for s in parse("ERROR rmcp::service: task cancelled /mcp/w1/4\n")] == ["activity"]
