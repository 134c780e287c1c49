"""The czar-sim script language: finding the block in a prompt and parsing it."""

from __future__ import annotations

import re
import textwrap

import pytest

from czar.agents.sim_script import ScriptError, Step, extract, parse


def src(text: str) -> str:
    return textwrap.dedent(text)


# -- extract -------------------------------------------------------------------------------


def test_extract_finds_the_block_in_a_prompt() -> None:
    prompt = "Task id: a\n\nDo things.\n\n```czar-sim\nnote hi\nfinish ok\n```\n\nMore text.\n"
    assert extract(prompt) == "note hi\nfinish ok\n"


def test_extract_takes_the_first_block() -> None:
    prompt = "```czar-sim\nnote one\n```\n\n```czar-sim\nnote two\n```\n"
    assert extract(prompt) == "note one\n"


def test_extract_allows_trailing_spaces_on_the_fences() -> None:
    assert extract("```czar-sim  \nnote x\n```  \n") == "note x\n"


@pytest.mark.parametrize(
    "prompt",
    [
        "no block here",
        "```python\nprint(1)\n```\n",
        "```czar-sim\nnote never closed\n",
        "  ```czar-sim\nnote indented fence\n```\n",
        "",
    ],
)
def test_extract_without_a_block(prompt: str) -> None:
    assert extract(prompt) is None


def test_extract_keeps_heredoc_indentation() -> None:
    prompt = "```czar-sim\nwrite a.py <<EOF\ndef f():\n    return 1\nEOF\n```\n"
    block = extract(prompt)
    assert block is not None
    assert parse(block).main[0].text == "def f():\n    return 1\n"


# -- parse ---------------------------------------------------------------------------------


def test_parse_the_documented_example() -> None:
    script = parse(
        src(
            """\
            write src/pkg/mod.py <<EOF
            def f(): return 1
            EOF
            run python -m pytest -q
            commit add f
            finish added f
            on feedback
            append src/pkg/mod.py <<EOF
            def g(): return 2
            EOF
            commit add g
            finish added g too
            """
        )
    )
    assert script.main == [
        Step("write", ("src/pkg/mod.py",), "def f(): return 1\n", 1),
        Step("run", ("python", "-m", "pytest", "-q"), "python -m pytest -q", 4),
        Step("commit", ("add", "f"), "add f", 5),
        Step("finish", ("added", "f"), "added f", 6),
    ]
    assert script.feedback == [
        [
            Step("append", ("src/pkg/mod.py",), "def g(): return 2\n", 8),
            Step("commit", ("add", "g"), "add g", 11),
            Step("finish", ("added", "g", "too"), "added g too", 12),
        ]
    ]


def test_blank_lines_and_comments_are_skipped_but_lines_still_count() -> None:
    script = parse("\n# a comment\n   \n  note hello  \n")
    assert script.main == [Step("note", ("hello",), "hello", 4)]


def test_heredoc_with_several_lines_blank_lines_and_custom_marker() -> None:
    script = parse(
        src("""\
        write docs/a.md <<END_OF_TEXT
        # Title

        on feedback
        finish inside the heredoc is text
        END_OF_TEXT
        finish
        """)
    )
    (write, finish) = script.main
    assert write.verb == "write"
    assert write.args == ("docs/a.md",)
    assert write.text == "# Title\n\non feedback\nfinish inside the heredoc is text\n"
    assert finish == Step("finish", (), "", 7)
    assert script.feedback == []


def test_heredoc_marker_without_space() -> None:
    (step,) = parse("append log.txt <<EOF\nx\nEOF\n").main
    assert step == Step("append", ("log.txt",), "x\n", 1)


def test_heredoc_marker_line_may_be_indented() -> None:
    (step,) = parse("write a.txt <<EOF\nx\n   EOF   \n").main
    assert step.text == "x\n"


def test_empty_heredoc() -> None:
    (step,) = parse("write empty.txt <<EOF\nEOF\n").main
    assert step.verb == "write"
    assert step.args == ("empty.txt",)


def test_empty_heredoc_writes_nothing() -> None:
    (step,) = parse("write pkg/__init__.py <<EOF\nEOF\n").main
    assert step.text == ""


def test_several_feedback_sections_in_order() -> None:
    script = parse("finish one\non feedback\nnote fix 1\nfinish two\non feedback\nfinish three\n")
    assert [s.text for s in script.main] == ["one"]
    assert [[s.text for s in section] for section in script.feedback] == [["fix 1", "two"], ["three"]]


def test_empty_feedback_section() -> None:
    script = parse("finish\non feedback\n")
    assert script.feedback == [[]]


def test_quoted_words_are_split_like_a_shell() -> None:
    (step,) = parse("run python -c 'print(1 + 1)'\n").main
    assert step.args == ("python", "-c", "print(1 + 1)")
    assert step.text == "python -c 'print(1 + 1)'"


@pytest.mark.parametrize(
    ("line", "verb", "args"),
    [
        ("delete src/old.py", "delete", ("src/old.py",)),
        ("progress 2 tests written", "progress", ("2", "tests", "written")),
        ("sleep 0.5", "sleep", ("0.5",)),
        ("crash", "crash", ()),
        ("hang", "hang", ()),
        ("quit", "quit", ()),
        ("ask may I delete the database", "ask", ("may", "I", "delete", "the", "database")),
        ("claim-task other", "claim-task", ("other",)),
    ],
)
def test_every_action(line: str, verb: str, args: tuple[str, ...]) -> None:
    (step,) = parse(line + "\n").main
    assert (step.verb, step.args) == (verb, args)


def test_claimed_task() -> None:
    assert parse("claim-task other\nfinish\n").claimed_task == "other"
    assert parse("finish\n").claimed_task is None


# -- errors name the line ------------------------------------------------------------------


def test_unknown_action_names_the_line() -> None:
    with pytest.raises(ScriptError) as info:
        parse("note fine\n\nexplode everything\n")
    assert str(info.value) == "line 3: unknown action 'explode'"


def test_write_without_heredoc_says_how_write_is_written() -> None:
    # Not "unknown action 'write'": write is known, it is written wrong.
    with pytest.raises(ScriptError, match=r"^line 1: write takes PATH <<MARKER, then the file's lines and MARKER$"):
        parse("write a.py\n")


def test_missing_heredoc_terminator_names_the_line() -> None:
    with pytest.raises(ScriptError) as info:
        parse("note start\nwrite a.py <<EOF\nx = 1\nfinish\n")
    assert str(info.value) == "line 2: write a.py: no closing 'EOF'"


def test_missing_heredoc_terminator_in_feedback_section() -> None:
    with pytest.raises(ScriptError, match=r"^line 3: append b\.py: no closing 'DONE'$"):
        parse("finish\non feedback\nappend b.py <<DONE\ny\nEOF\n")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("crash now", "line 1: crash takes 0 argument(s)"),
        ("delete a b", "line 1: delete takes 1 argument(s)"),
        ("delete", "line 1: delete takes 1 argument(s)"),
        ("run", "line 1: run takes 1+ argument(s)"),
        ("sleep", "line 1: sleep takes 1 argument(s)"),
        ("claim-task a b", "line 1: claim-task takes 1 argument(s)"),
    ],
)
def test_wrong_number_of_arguments(line: str, message: str) -> None:
    with pytest.raises(ScriptError) as info:
        parse(line + "\n")
    assert str(info.value) == message


def test_unbalanced_quote_names_the_line() -> None:
    with pytest.raises(ScriptError, match=r"^line 2: No closing quotation"):
        parse("note ok\nrun echo 'unclosed\n")


@pytest.mark.parametrize(
    "line",
    [
        "commit fix the README's title",
        "progress 1 it's half done",
        "note don't forget the tests",
        "finish the README's title is fixed",
        "ask edit the team's config",
        "finding a.py 3 high the user's input is never checked",
        "request-changes it's missing a test",
        "approve it's fine",
    ],
)
def test_prose_is_split_at_spaces_an_apostrophe_is_a_letter(line: str) -> None:
    """A commit message or a summary is prose: it was split as a shell would, and the first
    apostrophe in one stopped the agent ("No closing quotation") at every start of its task."""
    (step,) = parse(line + "\n").main
    assert step.args == tuple(line.split()[1:])
    assert step.text == line.split(" ", 1)[1]


def test_script_error_is_a_value_error() -> None:
    assert issubclass(ScriptError, ValueError)


def test_sections_are_kept_per_kind_in_order() -> None:
    script = parse(
        "note main\non stand-off\nnote s1\non feedback\nnote f1\non stand-off\nnote s2\non wrong-task\nnote w\n"
    )
    assert [s.text for s in script.main] == ["main"]
    assert [[s.text for s in sec] for sec in script.sections["stand-off"]] == [["s1"], ["s2"]]
    assert [[s.text for s in sec] for sec in script.feedback] == [["f1"]]
    assert [[s.text for s in sec] for sec in script.sections["wrong-task"]] == [["w"]]


@pytest.mark.parametrize(
    ("line", "verb", "args"),
    [("idle", "idle", ()), ("loop reading a.py", "loop", ("reading", "a.py")), ("ratelimit 2", "ratelimit", ("2",))],
)
def test_fault_switches_parse(line: str, verb: str, args: tuple[str, ...]) -> None:
    (step,) = parse(line + "\n").main
    assert (step.verb, step.args) == (verb, args)


def test_an_every_section_answers_each_message_once_the_numbered_ones_are_used() -> None:
    script = parse(
        src("""\
        finish
        on merged
        note first
        on every merged
        note again
        pick 0123abcd
        """)
    )
    assert [[s.text for s in sec] for sec in script.sections["merged"]] == [["first"]]
    assert [(s.verb, s.args) for s in script.every["merged"]] == [("note", ("again",)), ("pick", ("0123abcd",))]


def test_pick_takes_one_commit() -> None:
    with pytest.raises(ScriptError, match="pick takes 1"):
        parse("pick a b")


@pytest.mark.parametrize(
    ("line", "size", "how"),
    [("flood 4096", 4096, None), ("flood 200k lines", 200 << 10, "lines"), ("flood 50M same", 50 << 20, "same")],
)
def test_flood_takes_a_size_and_how_it_prints(line: str, size: int, how: str | None) -> None:
    from czar.agents.sim_script import flood_size

    [step] = parse(line).main
    assert step.verb == "flood" and flood_size(step.args[0]) == size
    assert step.args[1:] == ((how,) if how else ())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("flood", "flood takes 1+ argument"),
        ("flood lots", "flood needs a size in bytes"),
        ("flood 5G", "flood needs a size in bytes"),
        ("flood 5M loud", "flood prints lines, same, unbroken, not 'loud'"),
    ],
)
def test_flood_errors_name_the_line(line: str, message: str) -> None:
    with pytest.raises(ScriptError, match=re.escape(f"line 1: {message}")):
        parse(line)


def test_a_section_for_a_kind_no_message_has_is_refused() -> None:
    """``on stnad-off`` would wait for a message that never comes: the script is wrong, said at once."""
    with pytest.raises(ScriptError, match=r"^line 2: no message is of kind 'stnad-off' \(kinds: .*stand-off"):
        parse("finish done\non stnad-off\nnote waiting\n")
    assert parse("finish done\non every stand-off\nnote waiting\n").every["stand-off"][0].verb == "note"
