"""The czar-model script language: finding the block, the task id, and parsing the turns."""

from __future__ import annotations

import textwrap

import pytest

from czar.model.script import VERBS, ModelScriptError, Turn, extract, parse, task_id


def src(text: str) -> str:
    return textwrap.dedent(text)


# -- extract and task_id ---------------------------------------------------------------------


def test_extract_finds_the_block_in_a_prompt() -> None:
    prompt = "Task id: hello\n\nWrite it.\n\n```czar-model\nreport writing\nend Done.\n```\n\nThanks.\n"
    assert extract(prompt) == "report writing\nend Done.\n"


def test_extract_takes_the_first_block() -> None:
    prompt = "```czar-model\nsay one\n```\n\n```czar-model\nsay two\n```\n"
    assert extract(prompt) == "say one\n"


def test_extract_allows_trailing_blanks_on_the_fences() -> None:
    assert extract("```czar-model \t\nsay hi\n```  \n") == "say hi\n"


def test_extract_keeps_nested_indentation() -> None:
    prompt = "```czar-model\nwrite a.py <<EOF\ndef f():\n    return 1\nEOF\n```\n"
    assert extract(prompt) == "write a.py <<EOF\ndef f():\n    return 1\nEOF\n"


@pytest.mark.parametrize(
    "prompt",
    [
        "",
        "no block here",
        "```czar-sim\nnote hi\n```\n",
        "```python\nprint(1)\n```\n",
        "```czar-model\nsay never closed\n",
        "  ```czar-model\nsay indented fence\n```\n",
        "```czar-modelx\nsay hi\n```\n",
    ],
)
def test_extract_without_a_block(prompt: str) -> None:
    assert extract(prompt) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("You are worker w1.\nTask id: hello.greet\nTitle: x\n", "hello.greet"),
        ("Task id: A1_b-2   \n", "A1_b-2"),
        ("Task id: first\nTask id: second\n", "first"),
        ("The Task id: inline is not a line\n", None),
        ("Task id:\n", None),
        ("no task here", None),
    ],
)
def test_task_id(text: str, expected: str | None) -> None:
    assert task_id(text) == expected


# -- parse: valid scripts --------------------------------------------------------------------


def test_parse_the_documented_example() -> None:
    turns = parse(
        src(
            """\
            report writing hello.py
            write hello.py <<EOF
            def greet(name):
                return f"Hello, {name}!"
            EOF
            run python -c "import hello"
            commit add hello.greet
            done hello.greet is in place
            end Done.
            """
        )
    )
    assert turns == [
        Turn("report", "writing hello.py", "", 1),
        Turn("write", 'def greet(name):\n    return f"Hello, {name}!"\n', "hello.py", 2),
        Turn("run", 'python -c "import hello"', "", 6),
        Turn("commit", "add hello.greet", "", 7),
        Turn("done", "hello.greet is in place", "", 8),
        Turn("end", "Done.", "", 9),
    ]


def test_parse_every_verb() -> None:
    turns = parse(
        src(
            """\
            report hello: starting
            checkpoint 2 tests pass
            claim src/hello.py "docs/a b.md"
            blocked base waits for the base task
            tool mcp__czar__ask {"question": "Which name?"}
            wait 1.5
            say Working on it.
            run ls -la
            commit wip
            done finished
            end
            """
        )
    )
    assert [(t.verb, t.text) for t in turns] == [
        ("report", "hello: starting"),
        ("checkpoint", "2 tests pass"),
        ("claim", 'src/hello.py "docs/a b.md"'),
        ("blocked", "base waits for the base task"),
        ("tool", 'mcp__czar__ask {"question": "Which name?"}'),
        ("wait", "1.5"),
        ("say", "Working on it."),
        ("run", "ls -la"),
        ("commit", "wip"),
        ("done", "finished"),
        ("end", ""),
    ]


def test_comments_blank_lines_and_indentation_are_skipped_but_lines_still_count() -> None:
    turns = parse("# the plan\n\n   say hi   \n\t# indented comment\nend bye\n")
    assert turns == [Turn("say", "hi", "", 3), Turn("end", "bye", "", 5)]


def test_empty_script_has_no_turns() -> None:
    assert parse("") == []
    assert parse("# only a comment\n\n") == []


def test_write_keeps_the_body_verbatim() -> None:
    source = "write pkg/a.py <<PY\n  indented\n\ttab\ntrailing   \n\n# not a comment\nPY\nend\n"
    [write, end] = parse(source)
    assert write == Turn("write", "  indented\n\ttab\ntrailing   \n\n# not a comment\n", "pkg/a.py", 1)
    assert end == Turn("end", "", "", 8)


def test_write_with_an_empty_body() -> None:
    assert parse("write empty.txt <<EOF\nEOF\n") == [Turn("write", "", "empty.txt", 1)]


def test_write_closing_marker_may_be_indented() -> None:
    assert parse("write a.txt <<END\nx\n   END  \n") == [Turn("write", "x\n", "a.txt", 1)]


def test_write_marker_must_be_the_whole_line() -> None:
    # "EOF2" and "xEOF" do not close an EOF heredoc: they are part of the text.
    [write] = parse("write a.txt <<EOF\nEOF2\nxEOF\nEOF\n")
    assert write.text == "EOF2\nxEOF\n"


def test_write_with_a_space_before_the_marker() -> None:
    assert parse("write a.txt << DONE\nhi\nDONE\n") == [Turn("write", "hi\n", "a.txt", 1)]


def test_two_writes_in_a_row() -> None:
    turns = parse("write a <<A\n1\nA\nwrite b <<B\n2\nB\n")
    assert turns == [Turn("write", "1\n", "a", 1), Turn("write", "2\n", "b", 4)]


def test_tool_without_input_is_an_empty_object() -> None:
    assert parse("tool mcp__czar__board\n") == [Turn("tool", "mcp__czar__board", "", 1)]


@pytest.mark.parametrize("seconds", ["0", "2", "0.25", "10"])
def test_wait_takes_seconds(seconds: str) -> None:
    assert parse(f"wait {seconds}\n") == [Turn("wait", seconds, "", 1)]


def test_every_verb_is_documented() -> None:
    assert set(VERBS) == {
        "report",
        "checkpoint",
        "write",
        "run",
        "commit",
        "claim",
        "blocked",
        "done",
        "finding",
        "approve",
        "request-changes",
        "tool",
        "sleep",
        "wait",
        "say",
        "end",
        "fail",
    }
    assert all(VERBS.values())


def test_fail_takes_an_http_error_status_and_an_optional_message() -> None:
    assert [(t.verb, t.text) for t in parse("fail 401 invalid x-api-key\nfail 503")] == [
        ("fail", "401 invalid x-api-key"),
        ("fail", "503"),
    ]


@pytest.mark.parametrize("status", ["", "200", "99", "5xx", "600"])
def test_fail_needs_an_error_status(status: str) -> None:
    with pytest.raises(ModelScriptError, match="line 1: fail needs an HTTP error status"):
        parse(f"fail {status}")


# -- parse: errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("say hi\nfly away\n", "line 2: unknown action 'fly' (one of: report, checkpoint, write"),
        ("Report upper case\n", "line 1: unknown action 'Report'"),
        ("\n\n# c\nwrite a.py <<EOF\nbody\n", "line 4: write a.py: no closing 'EOF'"),
        ("write a.py <<EOF\nbody\neof\n", "line 1: write a.py: no closing 'EOF'"),
        ("tool mcp__czar__report {text: hi}\n", "line 1: tool mcp__czar__report: its input is not JSON: "),
        ('tool mcp__czar__report {"text": "hi"\n', "line 1: tool mcp__czar__report: its input is not JSON: "),
        ("checkpoint\n", "line 1: checkpoint needs a number first"),
        ("checkpoint two tests pass\n", "line 1: checkpoint needs a number first"),
        ("checkpoint -1 back\n", "line 1: checkpoint needs a number first"),
        ("wait\n", "line 1: wait needs a number of seconds"),
        ("wait a bit\n", "line 1: wait needs a number of seconds"),
        ("run echo 'unclosed\n", "line 1: No closing quotation"),
        ('claim "src/a.py\n', "line 1: No closing quotation"),
        ("say ok\nrun echo 'half\n", "line 2: No closing quotation"),
        ("run echo trailing\\\n", "line 1: No escaped character"),
    ],
)
def test_parse_errors_name_the_line(source: str, message: str) -> None:
    with pytest.raises(ModelScriptError) as exc:
        parse(source)
    assert str(exc.value).startswith(message)


def test_model_script_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        parse("nope\n")


def test_write_without_a_heredoc_is_refused() -> None:
    with pytest.raises(ModelScriptError, match="line 1: "):
        parse("write hello.py\n")


@pytest.mark.parametrize("source", ["write hello.py\n", "write hello.py <<'EOF'\nx\nEOF\n"])
def test_write_without_a_heredoc_says_what_is_missing(source: str) -> None:
    with pytest.raises(ModelScriptError) as exc:
        parse(source)
    assert "unknown action" not in str(exc.value)
    assert "<<" in str(exc.value)


@pytest.mark.parametrize("seconds", ["-1", "nan", "inf"])
def test_wait_must_be_a_finite_non_negative_number(seconds: str) -> None:
    with pytest.raises(ModelScriptError, match="line 1: wait"):
        parse(f"wait {seconds}\nend\n")


@pytest.mark.parametrize("data", ["[1, 2]", '"text"', "3", "null"])
def test_tool_input_must_be_a_json_object(data: str) -> None:
    with pytest.raises(ModelScriptError, match="line 1: tool mcp__czar__report"):
        parse(f"tool mcp__czar__report {data}\n")


def test_checkpoint_number_must_be_a_decimal_integer() -> None:
    with pytest.raises(ModelScriptError, match="checkpoint needs a number first"):
        parse("checkpoint ² squared\n")


@pytest.mark.parametrize("message", ["fix the greeting's punctuation", "don't greet twice"])
def test_commit_message_may_hold_an_apostrophe(message: str) -> None:
    assert parse(f"commit {message}\n") == [Turn("commit", message, "", 1)]
