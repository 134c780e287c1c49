"""The command line's last word on an error czar did not foresee: one line, the trace in a file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from czar.interfaces.cli import app


def test_an_unforeseen_error_is_one_line_and_its_trace_is_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a probe: a supervisor out of threads ended on fifty lines of traceback."""

    def broken() -> None:
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(app, "app", broken)
    with pytest.raises(SystemExit) as ended:
        app.main()
    assert ended.value.code == 1
    said = capsys.readouterr().err.strip()
    assert "\n" not in said and said.startswith('czar: RuntimeError("can\'t start new thread"); the trace is in ')
    found = re.search(r"the trace is in (\S+)$", said)
    assert found is not None
    trace = Path(found.group(1))
    try:
        assert "Traceback" in trace.read_text() and "broken" in trace.read_text()
    finally:
        trace.unlink()
