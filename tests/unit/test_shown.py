"""Text from agents shown on a person's terminal: no control character acts there."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from czar.core.shown import visible


def test_escape_sequences_are_written_out_and_lines_and_tabs_kept() -> None:
    said = "a\x1b]52;c;ZXZpbA==\x07b\tc\nd \x1b[2J\x9b31m\x7f\r\x00"
    assert visible(said) == "a^[]52;c;ZXZpbA==^Gb\tc\nd ^[[2J\\x9b31m^?^M^@"


@given(st.text())
def test_nothing_but_tabs_and_line_breaks_is_left_of_the_controls(text: str) -> None:
    shown = visible(text)
    controls = {c for c in shown if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000}
    assert controls <= {"\t", "\n"}
    assert visible(shown) == shown  # written out once: nothing left to write out


def test_text_without_controls_is_left_as_it_is() -> None:
    text = "Ünïcödé — it's [bold]fine[/bold] 漢字 עברית"
    assert visible(text) == text


def test_marks_that_reorder_or_hide_text_and_undecodable_bytes_are_named() -> None:
    # `rm -rf /tmp/x` that reads as another command, and a byte of an agent's output Python could
    # not decode (a lone surrogate, which went out raw or failed to encode).
    assert visible("ls \u202e/tmp\u200b x\udc9b") == "ls <U+202E>/tmp<U+200B> x<U+DC9B>"
    visible("\udc9b").encode("utf-8")  # encodes


def test_the_dashboards_cells_show_agents_words_written_out() -> None:
    from czar.interfaces.tui import rows

    (cell,) = rows._cells(rows.one_line("done \x1b]0;PWNED\x07 it"))
    assert cell.plain == "done ^[]0;PWNED^G it"


def test_an_agents_line_breaks_never_make_a_line_of_czars_own_in_a_workers_log(tmp_path: Path) -> None:
    """A worker's log (`czar logs w1`) and window show what its agent says, one said thing a
    line: a summary with a break in it printed a line that read as czar's."""
    from czar.host.worker_host import WorkerHost
    from czar.runtime import logs

    path = tmp_path / "w1.log"
    host = SimpleNamespace(log=logs.to_file(path), current=None, out=io.StringIO())
    WorkerHost.say(host, "agent finished: done\n12:00:00 task b: merging -> merged\r\n\x1b[2J")  # type: ignore[arg-type]
    lines = path.read_text().splitlines()
    assert len(lines) == 1 and lines[0].endswith("agent finished: done ↵ 12:00:00 task b: merging -> merged^M ↵ ^[[2J")
    assert host.out.getvalue().count("\n") == 1
