"""czar finds in a sed script exactly what ``sed --sandbox`` refuses (e, r, w and their s///
flags): checked against GNU sed itself on scripts built from pieces that hide a command's letter
in regular expressions, replacements, brackets, text, labels and comments."""

from __future__ import annotations

import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from czar.core.sed_script import SedError, effects

PIECES = [
    "p",
    "d",
    "s/a/b/",
    "s/a/b/g",
    "s/w/e/2p",
    "s|/w|e|",
    "s/[/]/w/",
    "s/[]w]/e/",
    "s/[[:alpha:]/]/x/",
    "s/a/\\//",
    "s/x/a\\\nw b/",
    "s/a/b/w out",
    "s/a/b/e",
    "s/a/b/ w out",
    "y/we/ew/",
    "y/a\\/b/xyz/",
    "/w/d",
    "\\%w%d",
    "/[/]/!p",
    "1~2p",
    "0,/e/d",
    "$!N",
    "2,+3{p}",
    "a text w",
    "a\\\nw foo",
    "i\\",
    "cfoo;w x",
    ":w",
    "b w",
    "t e",
    "l 5",
    "q5",
    "#w x\n",
    "w out",
    "W out",
    "r in",
    "R in",
    "e",
    "e echo",
    "v 4.2",
    ":a w out",
    "b a w out",
    "t x e",
    "v 4.2 w out",
    ":a\tw out",
    "{",
    "}",
    "=",
]
JOINS = [";", "\n", " ; ", "\n\n"]


def _sandbox_refuses(script: str) -> bool | None:
    """True if GNU sed refuses ``script`` in its sandbox, False if it runs it, None if it is not sed."""
    done = subprocess.run(["sed", "--sandbox", "-n", "-e", script, "/dev/null"], capture_output=True, text=True)
    if "disabled in sandbox mode" in done.stderr:
        return True
    return False if done.returncode == 0 else None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(JOINS), st.sampled_from(PIECES)), min_size=1, max_size=5))
def test_czar_finds_what_sed_s_sandbox_refuses(pieces: list[tuple[str, str]]) -> None:
    script = pieces[0][1] + "".join(join + piece for join, piece in pieces[1:])
    refuses = _sandbox_refuses(script)
    try:
        found = effects(script).any
    except SedError:
        return  # refused by czar's reading: the policy asks a person
    if refuses is not None:
        assert found == refuses, script


@pytest.mark.parametrize(
    ("script", "writes", "runs"),
    [
        ("s/a/b/w /tmp/x", ["/tmp/x"], False),
        ("/x/I,+2{p;w out/z\n}", ["out/z"], False),
        ("s/a/b/gew", [""], True),
        ("a foo; w /tmp/q", [], False),
        ("s/[/]/x/;W /etc/passwd", ["/etc/passwd"], False),
        ("1e rm -rf /", [], True),
        (":a w /home/x", ["/home/x"], False),
        ("b end e touch x", [], True),
    ],
)
def test_the_files_a_script_writes_are_named(script: str, writes: list[str], runs: bool) -> None:
    found = effects(script)
    assert (found.writes, found.runs) == (writes, runs)
