"""From a czar-model turn to the scripted model's answer, with tools chosen among those offered."""

from __future__ import annotations

import shlex
from dataclasses import replace

import pytest

from czar.model.answers import Call, Say, answer, czar_tool
from czar.model.script import Turn, parse

# The tools each agent offers in its requests (names only), as the scripted model sees them.
CZAR = [f"mcp__czar__{t}" for t in ("report", "board", "claim", "release", "done", "blocked", "ask", "permission")]
CLAUDE = ["Task", "Bash", "Glob", "Grep", "LS", "Read", "Edit", "Write", "NotebookEdit", "TodoWrite", *CZAR]
CODEX = ["exec_command", "write_stdin", "apply_patch", "update_plan", "view_image", *CZAR]
GEMINI = ["list_directory", "read_file", "write_file", "glob", "replace", "run_shell_command", *CZAR]
CWD = "/work/repo/.czar/worktrees/w1"


def one(source: str) -> Turn:
    [turn] = parse(source)
    return turn


def ans(source: str, offered: list[str], *, cwd: str | None = CWD, task: str | None = "hello") -> Call | Say:
    return answer(one(source), offered, cwd=cwd, task=task)


# -- czar_tool -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "name", "expected"),
    [
        (CLAUDE, "report", "mcp__czar__report"),
        (["czar__done", "exec_command"], "done", "czar__done"),
        (["mcp__other__report", "mcp__czar__report"], "report", "mcp__czar__report"),
        (["mcp__other__report"], "report", None),
        (["mcp__czar__report"], "port", None),
        (["Bash", "Write"], "report", None),
        ([], "done", None),
    ],
)
def test_czar_tool(offered: list[str], name: str, expected: str | None) -> None:
    assert czar_tool(offered, name) == expected


# -- final texts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "text"),
    [("say Working on it.", "Working on it."), ("end All done.", "All done."), ("end", "Done."), ("say", "Done.")],
)
def test_say_and_end_answer_with_text(source: str, text: str) -> None:
    assert ans(source, CLAUDE) == Say(text)


# -- write -----------------------------------------------------------------------------------


def test_write_with_claudes_write_tool_is_absolute_in_the_worktree() -> None:
    turn = one("write pkg/hello.py <<EOF\nprint('hi')\nEOF\n")
    assert answer(turn, CLAUDE, cwd=CWD, task="hello") == Call(
        "Write", {"file_path": f"{CWD}/pkg/hello.py", "content": "print('hi')\n"}
    )


def test_write_of_an_absolute_path_keeps_it() -> None:
    turn = one("write /tmp/out.txt <<EOF\nx\nEOF\n")
    assert answer(turn, CLAUDE, cwd=CWD, task=None) == Call("Write", {"file_path": "/tmp/out.txt", "content": "x\n"})


def test_write_without_a_known_cwd_keeps_the_relative_path() -> None:
    turn = one("write hello.py <<EOF\nx\nEOF\n")
    assert answer(turn, CLAUDE, cwd=None, task=None) == Call("Write", {"file_path": "hello.py", "content": "x\n"})


def test_write_with_geminis_write_file() -> None:
    turn = one("write pkg/hello.py <<EOF\nx = 1\nEOF\n")
    assert answer(turn, GEMINI, cwd=CWD, task=None) == Call(
        "write_file", {"file_path": "pkg/hello.py", "content": "x = 1\n"}
    )


def test_write_through_codexs_shell_is_a_quoted_heredoc() -> None:
    turn = one("write pkg/sub/hello.py <<EOF\nname = '$USER'\nprint(f\"{name}\")\nEOF\n")
    reply = answer(turn, CODEX, cwd=CWD, task=None)
    assert reply == Call(
        "exec_command",
        {
            "cmd": "mkdir -p pkg/sub && cat > pkg/sub/hello.py <<'CZAR_EOF'\n"
            "name = '$USER'\nprint(f\"{name}\")\nCZAR_EOF"
        },
    )


def test_write_through_the_shell_at_the_top_needs_no_mkdir() -> None:
    reply = ans("write hello.py <<EOF\nx\nEOF\n", CODEX)
    assert reply == Call("exec_command", {"cmd": "cat > hello.py <<'CZAR_EOF'\nx\nCZAR_EOF"})


def test_write_through_the_shell_quotes_odd_paths() -> None:
    reply = ans("write docs/it's.md <<EOF\nx\nEOF\n", CODEX)
    assert isinstance(reply, Call)
    first_line = reply.input["cmd"].split("\n", 1)[0]
    assert shlex.split(first_line) == ["mkdir", "-p", "docs", "&&", "cat", ">", "docs/it's.md", "<<CZAR_EOF"]


def test_write_prefers_a_file_tool_to_the_shell() -> None:
    reply = ans("write a.txt <<EOF\nx\nEOF\n", ["Bash", "Write", "exec_command"])
    assert isinstance(reply, Call)
    assert reply.name == "Write"


def test_write_without_any_tool_says_so() -> None:
    reply = ans("write a.txt <<EOF\nx\nEOF\n", ["Read", "mcp__czar__report"])
    assert reply == Say("[scripted model] the agent offered no tool for a shell; it offered: Read, mcp__czar__report")


# -- run and commit --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (CLAUDE, Call("Bash", {"command": "python -m pytest -q", "description": "python -m pytest -q"})),
        (CODEX, Call("exec_command", {"cmd": "python -m pytest -q"})),
        (GEMINI, Call("run_shell_command", {"command": "python -m pytest -q", "description": "python -m pytest -q"})),
        (["shell"], Call("shell", {"cmd": "python -m pytest -q"})),
    ],
)
def test_run_uses_the_agents_shell(offered: list[str], expected: Call) -> None:
    assert ans("run python -m pytest -q", offered) == expected


def test_run_prefers_bash_to_other_shells() -> None:
    reply = ans("run ls", ["exec_command", "run_shell_command", "Bash"])
    assert isinstance(reply, Call)
    assert reply.name == "Bash"


def test_run_description_is_cut_at_60_characters() -> None:
    command = "echo " + "a" * 100
    reply = ans(f"run {command}", CLAUDE)
    assert reply == Call("Bash", {"command": command, "description": command[:60]})


def test_run_without_a_shell_says_so() -> None:
    assert ans("run ls", ["Read"]) == Say("[scripted model] the agent offered no tool for a shell; it offered: Read")


def test_commit_adds_everything_and_quotes_the_message() -> None:
    reply = ans('commit add "hello" greeting; rm -rf $HOME', CODEX)
    assert reply == Call(
        "exec_command", {"cmd": """git add -A && git commit -q -m 'add "hello" greeting; rm -rf $HOME'"""}
    )
    assert isinstance(reply, Call)
    assert shlex.split(reply.input["cmd"])[-1] == 'add "hello" greeting; rm -rf $HOME'


def test_commit_message_with_an_apostrophe_is_quoted() -> None:
    reply = answer(Turn("commit", "fix the greeting's punctuation"), CODEX, cwd=CWD, task=None)
    assert isinstance(reply, Call)
    assert shlex.split(reply.input["cmd"]) == [
        *("git", "add", "-A", "&&", "git", "commit", "-q", "-m"),
        "fix the greeting's punctuation",
    ]


def test_commit_with_claude() -> None:
    reply = ans("commit wip", CLAUDE)
    assert reply == Call("Bash", {"command": "git add -A && git commit -q -m wip", "description": "commit the work"})


# -- czar's tools ----------------------------------------------------------------------------


def test_report_names_the_task() -> None:
    assert ans("report writing hello.py", CLAUDE, task="hello.greet") == Call(
        "mcp__czar__report", {"task": "hello.greet", "text": "writing hello.py"}
    )


def test_report_without_a_task_id_names_none() -> None:
    assert ans("report writing", CLAUDE, task=None) == Call("mcp__czar__report", {"task": "", "text": "writing"})


def test_checkpoint_is_a_numbered_report() -> None:
    assert ans("checkpoint 2 tests pass", CLAUDE) == Call("mcp__czar__report", {"checkpoint": 2, "text": "tests pass"})


def test_checkpoint_without_a_note() -> None:
    assert ans("checkpoint 3", CLAUDE) == Call("mcp__czar__report", {"checkpoint": 3, "text": "checkpoint 3"})


def test_claim_splits_paths_like_a_shell() -> None:
    assert ans('claim src/hello.py "docs/a b.md" tests/*', CODEX) == Call(
        "mcp__czar__claim", {"paths": ["src/hello.py", "docs/a b.md", "tests/*"]}
    )


def test_blocked_names_the_task_and_the_need() -> None:
    assert ans("blocked base the base task must merge first", CLAUDE) == Call(
        "mcp__czar__blocked", {"on": "base", "need": "the base task must merge first"}
    )


def test_blocked_without_a_need() -> None:
    assert ans("blocked base", CLAUDE) == Call("mcp__czar__blocked", {"on": "base", "need": "waits for base"})


@pytest.mark.parametrize(
    ("source", "summary"), [("done hello.greet is in place", "hello.greet is in place"), ("done", "done")]
)
def test_done(source: str, summary: str) -> None:
    assert ans(source, CLAUDE) == Call("mcp__czar__done", {"summary": summary})


def test_codex_flattened_server_names_are_found() -> None:
    assert ans("done ok", ["exec_command", "czar__done"]) == Call("czar__done", {"summary": "ok"})


@pytest.mark.parametrize("source", ["report hi", "checkpoint 1", "claim a.py", "blocked base", "done ok"])
def test_czar_verb_without_czars_tools_says_so(source: str) -> None:
    reply = ans(source, ["Bash", "Write"])
    assert isinstance(reply, Say)
    assert reply.text.startswith("[scripted model] the agent offered no tool for czar's ")
    assert reply.text.endswith("; it offered: Bash, Write")


def test_checkpoint_without_czars_tools_names_the_verb() -> None:
    assert ans("checkpoint 1", ["Bash"]) == Say(
        "[scripted model] the agent offered no tool for czar's checkpoint; it offered: Bash"
    )


# -- tool ------------------------------------------------------------------------------------


def test_tool_calls_an_offered_tool_by_its_exact_name() -> None:
    assert ans('tool Read {"file_path": "/etc/hostname"}', CLAUDE) == Call("Read", {"file_path": "/etc/hostname"})


def test_tool_finds_czars_tool_by_its_short_name() -> None:
    assert ans('tool ask {"question": "Which name?"}', CLAUDE) == Call("mcp__czar__ask", {"question": "Which name?"})


def test_tool_without_input_sends_an_empty_object() -> None:
    assert ans("tool mcp__czar__board", CLAUDE) == Call("mcp__czar__board", {})


def test_tool_that_is_not_offered_says_so() -> None:
    assert ans('tool WebSearch {"query": "x"}', ["Bash"]) == Say(
        "[scripted model] the agent offered no tool for WebSearch; it offered: Bash"
    )


def test_fail_answers_with_its_http_error_as_each_api_words_it() -> None:
    from czar.model.answers import Fail
    from czar.model.server import error_body

    [turn] = parse("fail 401 invalid x-api-key")
    fail = answer(turn, ["Bash"], cwd=None, task=None)
    assert fail == Fail(401, "invalid x-api-key")
    assert error_body("anthropic", fail) == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }
    assert error_body("openai", Fail(500, "boom"))["error"]["type"] == "server_error"
    assert error_body("gemini", Fail(401, "no"))["error"] == {"code": 401, "message": "no", "status": "UNAUTHENTICATED"}
    assert answer(parse("fail 503")[0], [], cwd=None, task=None) == Fail(503, "the scripted model fails with 503")


def test_a_call_its_agent_never_ran_is_asked_for_again() -> None:
    # Codex killed between the model's call and running it resumes its session with the call and
    # no output: the script asks for it again (a step was skipped: the commit found nothing).
    from czar.model.server import _openai_request

    def call(n: int, output: bool) -> list[dict[str, object]]:
        made = {"type": "function_call", "call_id": f"c{n}", "name": "exec_command", "arguments": "{}"}
        return [made, {"type": "function_call_output", "call_id": f"c{n}", "output": "ok"}] if output else [made]

    task = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "the task"}]}
    go_on = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "continue"}]}
    assert _openai_request({"input": [task, *call(1, True), *call(2, True)]}).answered == 2
    assert _openai_request({"input": [task, *call(1, True), *call(2, False), go_on]}).answered == 1


UNREACHED = (
    "<tool_use_error>Error calling tool (Bash): Unable to connect. Is the computer able to access the url?"
    "</tool_use_error>"
)


def test_a_call_its_agent_could_not_make_is_asked_again_twice_at_most() -> None:
    """Claude Code's Bash with czar's permission check unreachable (its sandbox's network killed;
    seen in a chaos run): a model tries again rather than go on to hand in uncommitted work. A
    command that ran and failed is the command's answer: the script goes on."""
    from czar.model.server import _anthropic_request

    def turn(n: int, result: str, error: bool = True, name: str = "Bash") -> list[dict[str, object]]:
        use = {"type": "tool_use", "id": f"u{n}", "name": name, "input": {"command": "git commit"}}
        back = {"type": "tool_result", "tool_use_id": f"u{n}", "is_error": error, "content": result}
        return [{"role": "assistant", "content": [use]}, {"role": "user", "content": [back]}]

    task = {"role": "user", "content": "the task"}
    asked = lambda *turns: _anthropic_request({"messages": [task, *turns]}).answered  # noqa: E731
    assert asked(*turn(1, "ok", error=False)) == 1
    assert asked(*turn(1, UNREACHED)) == 0  # the same call again, after a moment
    assert _anthropic_request({"messages": [task, *turn(1, UNREACHED), *turn(2, UNREACHED)]}).retrying == 2
    assert asked(*turn(1, UNREACHED), *turn(2, "ok", error=False)) == 1  # made at the second try
    assert asked(*turn(1, UNREACHED), *turn(2, UNREACHED)) == 0
    assert asked(*turn(1, UNREACHED), *turn(2, UNREACHED), *turn(3, UNREACHED)) == 1  # given up: on
    closed = "The socket connection was closed unexpectedly. For more information, pass `verbose: true` ..."
    done = "mcp__czar__done"
    assert asked(*turn(1, closed, name=done), *turn(2, "ok", error=False, name=done)) == 1  # (another chaos run)
    assert asked(*turn(1, "Exit code 1\nfatal: not a git repository")) == 1  # the command's own failure
    assert asked(*turn(1, "Exit code 1\ncurl: (7) Connection refused")) == 1  # ... whatever it says
    assert asked(*turn(1, closed)) == 1  # (not czar's tool, nor Claude Code's own error)
    # Resumed after the agent was started again: the failed call is still to be made.
    go_on = {"role": "user", "content": "czar restarted you. Continue your task where you left off."}
    assert asked(*turn(1, "ok", error=False), *turn(2, UNREACHED), go_on) == 1


def test_codex_and_gemini_calls_that_could_not_be_made_are_asked_again() -> None:
    from czar.model.server import _gemini_request, _openai_request

    def codex(n: int, output: str) -> list[dict[str, object]]:
        made = {"type": "function_call", "call_id": f"c{n}", "name": "czar__done", "arguments": "{}"}
        return [made, {"type": "function_call_output", "call_id": f"c{n}", "output": output}]

    task = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "the task"}]}
    closed = "tool call error: Transport channel closed"
    assert _openai_request({"input": [task, *codex(1, "ok"), *codex(2, closed)]}).answered == 1
    assert _openai_request({"input": [task, *codex(1, closed), *codex(2, "ok")]}).answered == 1
    # Refused as made by a process czar had replaced (killed with its host), then resumed.
    replaced = "tool call error: this agent process of worker w3 was replaced"
    go_on = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "czar restarted you."}]}
    assert _openai_request({"input": [task, *codex(1, "ok"), *codex(2, replaced), go_on]}).answered == 1
    shell = [
        {"type": "function_call", "call_id": "s1", "name": "exec_command", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "s1", "output": "npm ERR! fetch failed"},
    ]
    assert _openai_request({"input": [task, *shell]}).answered == 1  # a command's output: its answer
    spaced = {"type": "function_call", "call_id": "n1", "namespace": "mcp__czar__", "name": "done", "arguments": "{}"}
    out = {"type": "function_call_output", "call_id": "n1", "output": closed}
    assert _openai_request({"input": [task, spaced, out]}).answered == 0  # (Codex's MCP tools, by namespace)

    def gemini(error: str | None) -> list[dict[str, object]]:
        call = {"role": "model", "parts": [{"functionCall": {"name": "mcp_czar_done", "args": {}}}]}
        response = {"error": error} if error else {"output": "ok"}
        back = {"role": "user", "parts": [{"functionResponse": {"name": "mcp_czar_done", "response": response}}]}
        return [call, back]

    first = {"role": "user", "parts": [{"text": "the task"}]}
    assert _gemini_request({"contents": [first, *gemini(None)]}).answered == 1
    assert _gemini_request({"contents": [first, *gemini("MCP error: fetch failed")]}).answered == 0
    assert _gemini_request({"contents": [first, *gemini("fetch failed"), *gemini(None)]}).answered == 1


def test_a_call_tried_again_waits_a_moment_longer_each_time() -> None:
    from czar.model.server import RETRY_WAIT, Request, ScriptedModel

    script = "```czar-model\nrun true\nend Done.\n```"
    model = ScriptedModel()
    req = Request("anthropic", [script], 0, ["Bash"], "/w", 10)
    assert model.decide(req)[0] == 0.0
    assert model.decide(replace(req, retrying=2))[0] == 2 * RETRY_WAIT
