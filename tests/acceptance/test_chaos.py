"""czar under random SIGKILLs (``czar bench chaos``, the simulated agent): its supervisor, tools
server, worker hosts, agents, reviewers and sandbox listeners killed at random moments, the run
started again whenever the supervisor is gone; every task still merges, reviewed, every file is
in the integration branch. The benchmark's own check, on a run small enough for the suite, with a
reviewer and stacked dependents (the plain plan's path is a part of that one's)."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import czar


def test_a_run_under_random_kills_merges_every_task(tmp_path: Path, czar_home: Path) -> None:
    folder = tmp_path / "chaos"
    argv = ["bench", "chaos", "--tasks", "6", "--workers", "2", "--seed", "3", "--review", "--stack"]
    argv += ["--dir", str(folder), "--json"]
    result = czar(*argv, "--timeout", "240", timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    measured = json.loads(result.stdout)
    assert measured["passed"] and measured["tasks_merged"] == 6 and measured["files_missing"] == 0
    assert measured["merged_not_as_reviewed"] == 0 and measured["review"] and measured["stack"]
    assert measured["why_tasks_failed"] == ""
    assert measured["kills"] >= 3, measured  # (a run the kills never reached proves nothing)
    roles = measured["kills_by_role"]
    assert any(role in roles for role in ("supervisor", "host", "tools")), roles


def test_an_unknown_agent_is_one_line(tmp_path: Path, czar_home: Path) -> None:
    result = czar("bench", "chaos", "--agent", "robot", "--dir", str(tmp_path / "c"))
    assert result.returncode != 0
    assert "no agent 'robot' for the chaos benchmark" in result.stderr and "Traceback" not in result.stderr


def test_its_options_are_its_own(tmp_path: Path, czar_home: Path) -> None:
    result = czar("bench", "stack", "--kills", "5", "--dir", str(tmp_path / "s"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "--review, --stack, --forge, --kills and --every are for the chaos benchmark" in result.stderr


def test_a_timeout_that_is_no_time_is_refused(tmp_path: Path, czar_home: Path) -> None:
    # Found by fuzzing: nan never timed out, a negative one was taken.
    for timeout in ("nan", "-5"):
        result = czar("bench", "chaos", "--timeout", timeout, "--dir", str(tmp_path / "c"))
        assert result.returncode == 1 and "--timeout must be a number of seconds above 0" in result.stderr
