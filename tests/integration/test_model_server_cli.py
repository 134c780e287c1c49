"""`czar model-server` started where it cannot work says so in one line (it raised a traceback
for a port in use, and at every request for a log it could not write)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from czar.model.server import ScriptedModel
from helpers import czar


def test_a_port_in_use_or_a_log_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = czar("model-server", "--port", str(port), timeout=30)
    assert result.returncode == 1
    assert result.stderr == f"czar: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "pipe")  # it waited for a reader, saying nothing
    cases = (
        (tmp_path / "folder", "not a file"),
        (tmp_path / "pipe", "not a file"),
        (Path("/dev/full"), "not a file"),
        (tmp_path / "no" / "log", "No such file or directory"),
    )
    for log, why in cases:
        result = czar("model-server", "--log", str(log), timeout=30)
        assert result.returncode == 1
        assert result.stderr == f"czar: cannot write the log {log}: {why}\n"


def test_a_log_that_fails_while_it_serves_stops_and_the_requests_are_still_answered(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = ScriptedModel(tmp_path / "model.log")
    model.log = Path("/dev/full")  # a disk that filled up meanwhile
    model._log({"task": "a"})
    assert model.log is None
    assert capsys.readouterr().err == "czar model-server: no more log in /dev/full: No space left on device\n"
    model._log({"task": "a"})  # said once
    assert capsys.readouterr().err == ""
