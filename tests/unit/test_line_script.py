"""The line language of both script languages: one reader, and one meaning for each shared verb."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from czar.agents import sim_script
from czar.core.line_script import SHARED, LineError, lines
from czar.model import script as model_script

text_lines = st.lists(st.text(st.characters(blacklist_categories=("Cs", "Zl", "Zp", "Cc")), max_size=20), max_size=6)


@given(text_lines)
def test_a_heredoc_gives_its_lines_back_as_they_were(body: list[str]) -> None:
    body = [line for line in body if line.strip() != "END"]
    source = "write a.txt <<END\n" + "".join(line + "\n" for line in body) + "END\nrun true\n"
    got = list(lines(source, heredoc_verbs=("write",)))
    assert [(g.verb, g.rest) for g in got] == [("write", "a.txt"), ("run", "true")]
    assert got[0].text == "".join(line + "\n" for line in body)
    assert got[1].number == len(body) + 3


def test_comments_and_blank_lines_are_skipped_and_lines_keep_their_numbers() -> None:
    got = list(lines("# a comment\n\n  run  ls -l  \n", heredoc_verbs=()))
    assert [(g.number, g.verb, g.rest, g.text) for g in got] == [(3, "run", "ls -l", None)]


def test_a_heredoc_without_its_end_names_its_line() -> None:
    with pytest.raises(LineError, match=re.escape("line 2: write a.py: no closing 'EOF'")):
        list(lines("run x\nwrite a.py <<EOF\nprint(1)\n", heredoc_verbs=("write",)))


def test_a_heredocs_path_is_split_as_a_shell_splits_it() -> None:
    # A path with spaces, quoted (met writing "docs/notes ü/a file.rst": "unknown action 'write'").
    source = "write \"docs/notes ü/a file.rst\" <<END\nx\nEND\nappend 'docs/it'\"'\"'s.md'<<END\ny\nEND\n"
    got = list(lines(source, heredoc_verbs=("write", "append")))
    assert [(g.verb, g.rest, g.text) for g in got] == [
        ("write", "docs/notes ü/a file.rst", "x\n"),
        ("append", "docs/it's.md", "y\n"),
    ]
    assert sim_script.parse(source).main[0].args == ("docs/notes ü/a file.rst",)
    assert model_script.parse(source.split("append")[0]) == [
        model_script.Turn("write", "x\n", "docs/notes ü/a file.rst", 1)
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("write docs/a file.rst <<END\nx\nEND\n", "line 1: write takes one path (quote a path with spaces)"),
        ('write "" <<END\nx\nEND\n', "line 1: write takes one path (quote a path with spaces)"),
        ("run x\nwrite 'a.rst <<END\nx\nEND\n", "line 2: write: No closing quotation"),
        ("write a.rst\n", "line 1: write takes PATH <<MARKER, then the file's lines and MARKER"),
        ("write it's a.rst <<END\nx\nEND\n", "line 1: write: No closing quotation"),
        ("write a.rst <<\n", "line 1: write takes PATH <<MARKER"),
    ],
)
def test_a_heredoc_verb_written_wrong_says_how_it_is_written(source: str, message: str) -> None:
    for parse, error in (
        (sim_script.parse, sim_script.ScriptError),
        (model_script.parse, model_script.ModelScriptError),
    ):
        with pytest.raises(error, match=re.escape(message)):
            parse(source)


def test_a_bare_heredoc_path_is_taken_as_written() -> None:
    got = list(lines("write docs/it's.md <<END\nx\nEND\nwrite a\\b <<END\nEND\n", heredoc_verbs=("write",)))
    assert [g.rest for g in got] == ["docs/it's.md", "a\\b"]


def test_only_the_languages_heredoc_verbs_take_a_heredoc() -> None:
    got = list(lines("run cat <<EOF\n", heredoc_verbs=("write",)))
    assert (got[0].verb, got[0].rest, got[0].text) == ("run", "cat <<EOF", None)


SAMPLES = {
    "write": "write a.txt <<END\nhi\nEND\n",
    "run": "run python -c pass\n",
    "commit": "commit add a\n",
    "checkpoint": "checkpoint 1 half way\n",
    "done": "done it works\n",
    "sleep": "sleep 0.5\n",
    "finding": "finding a.py 2 blocking an empty list raises IndexError\n",
    "approve": "approve it is right\n",
    "request-changes": "request-changes fix the empty case\n",
}


def test_each_shared_verb_reads_in_both_languages_with_one_meaning() -> None:
    assert set(SAMPLES) == set(SHARED)
    for source in SAMPLES.values():
        sim_script.parse(source)  # neither refuses it
        model_script.parse(source)
    # Where a language had its own older name, the shared verb reads as that name did.
    assert sim_script.parse("done it works\n").main == sim_script.parse("finish it works\n").main
    assert sim_script.parse("checkpoint 1 half\n").main == sim_script.parse("progress 1 half\n").main
    assert model_script.parse("sleep 2\n") == model_script.parse("wait 2\n")


def test_a_verb_ends_at_any_white_space_and_messages_name_the_verb_as_written() -> None:
    script = sim_script.parse("finish x\non\tfeedback\nrun\tls\n")
    assert script.feedback == [[sim_script.Step("run", ("ls",), "ls", 3)]]
    with pytest.raises(sim_script.ScriptError, match="line 1: checkpoint takes 1"):
        sim_script.parse("checkpoint\n")
    with pytest.raises(model_script.ModelScriptError, match="line 1: sleep needs a number"):
        model_script.parse("sleep soon\n")
