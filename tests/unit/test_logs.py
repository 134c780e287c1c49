"""czar's own log files: written through logging, a line at a time, each line there at once."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from czar.runtime import logs


def test_each_line_is_in_the_file_at_once_with_its_time(tmp_path: Path) -> None:
    path = tmp_path / "w1.log"
    log = logs.to_file(path)
    assert not path.exists()  # made on the first line
    log.info("worker w1 ready")
    assert re.fullmatch(r"\d\d:\d\d:\d\d worker w1 ready\n", path.read_text())
    assert logs.to_file(path) is log  # one logger (and one open file) per file
    log.info("== task a")
    assert path.read_text().splitlines()[1].endswith(" == task a")


def test_a_log_of_one_file_is_not_written_to_another(tmp_path: Path) -> None:
    logs.to_file(tmp_path / "a.log").info("to a")
    logs.to_file(tmp_path / "b.log").info("to b")
    assert "to b" not in (tmp_path / "a.log").read_text()
    assert "to a" not in (tmp_path / "b.log").read_text()


def test_closed_logs_open_again(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    logs.to_file(path).info("one")
    logs.close_all()
    logs.to_file(path).info("two")
    assert [line.split(" ", 1)[1] for line in path.read_text().splitlines()] == ["one", "two"]


def test_a_log_moved_away_is_written_again_and_one_that_cannot_be_written_stops_nothing(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "w1.log"
    path.parent.mkdir()
    log = logs.to_file(path)
    log.info("one")
    path.rename(tmp_path / "old.log")  # rotated by a person
    log.info("two")
    assert path.read_text().endswith("two\n")
    path.unlink()
    path.parent.rmdir()  # its folder gone: the line is dropped, nothing is raised or printed
    log.info("three")
    assert not path.exists()


def test_a_process_gathers_its_warnings_from_deep_inside_into_its_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "supervisor.log"
    logs.gather(path)
    logs.gather(path)  # once is enough: no line written twice
    try:
        logging.getLogger("czar.git").warning("git merge-base a b failed: bad object")
        logging.getLogger("czar.git").info("not a warning: not kept")
        logging.getLogger("elsewhere").warning("not czar's")
        lines = path.read_text().splitlines()
        assert [line.split(" ", 1)[1] for line in lines] == ["git merge-base a b failed: bad object"]
        # Still on its screen, once, as before.
        assert capsys.readouterr().err.count("git merge-base a b failed: bad object\n") == 1
    finally:
        logs.close_all()
    assert logging.getLogger("czar").handlers == []  # nothing left for the next test's process
