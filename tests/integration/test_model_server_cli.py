"""`czar model-server` started where it cannot work says so in one line (it raised a traceback
for a port in use, and at every request for a log it could not write)."""

from __future__ import annotations

import socket
from pathlib import Path

from helpers import czar


def test_a_port_in_use_or_a_log_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = czar("model-server", "--port", str(port), timeout=30)
    assert result.returncode == 1
    assert result.stderr == f"czar: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    (tmp_path / "folder").mkdir()
    for log, why in ((tmp_path / "folder", "Is a directory"), (tmp_path / "no" / "log", "No such file or directory")):
        result = czar("model-server", "--log", str(log), timeout=30)
        assert result.returncode == 1
        assert result.stderr == f"czar: cannot write the log {log}: {why}\n"
