"""Values written into generated plans as TOML, read back by Python's own TOML reader."""

from __future__ import annotations

import tomllib

from hypothesis import given
from hypothesis import strategies as st

from czar.bench.scenario import toml_task
from czar.plan.toml_text import toml_string, toml_strings


@given(st.text())
def test_every_text_reads_back_as_itself(text: str) -> None:
    expected = text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate cannot be written
    assert tomllib.loads(f"v = {toml_string(text)}\nw = {toml_strings([text, 'x'])}") == {
        "v": expected,
        "w": [expected, "x"],
    }


def test_a_commit_subject_with_an_emoji_makes_a_task_that_reads_back() -> None:
    # Found by a probe: `czar bench replay` of a history with "🐛 fix a" in it made a plan that did
    # not parse (JSON's surrogate escapes, which TOML refuses).
    for body_extra in ("", "'''", "\x7f", "\udc80"):
        entry = toml_task("c1", "🐛 fix a", f"Replay 🔧 {body_extra}", "finish c1 done", deps=("c0",), scope=("a.py",))
        (task,) = tomllib.loads(entry)["tasks"]
        assert task["title"] == "🐛 fix a" and task["depends_on"] == ["c0"] and "Replay 🔧" in task["body"]
