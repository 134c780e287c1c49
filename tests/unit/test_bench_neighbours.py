"""A benchmark says which czar processes already run on the machine: they share the cores it
measures (a supervisor left by an interrupted test made the stack benchmark's runs a half slower,
unseen)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import czar

from czar.bench import neighbours

PY = "/venv/bin/python"


def test_each_czar_process_is_named_by_the_command_it_runs() -> None:
    assert neighbours.role((PY, "-m", "czar", "supervise", "/p/czar.toml")) == "a supervisor (/p/czar.toml)"
    assert neighbours.role((PY, "/venv/bin/czar", "run", "--json")) == "a `czar run`"
    assert neighbours.role((PY, "/venv/bin/czar", "run", "plan.toml", "--json")) == "a `czar run` (plan.toml)"
    assert neighbours.role(("/usr/local/bin/czar", "web")) == "`czar web`"
    assert neighbours.role((PY, "-m", "czar.host", "--settings", "w1.json")) == "a worker host"
    assert neighbours.role((PY, "-m", "czar.agent_tools.tools_server", "--plan", "p")) == "a tools server"
    # Not what a benchmark competes with: czar's other commands, other programs, a file named czar.
    assert neighbours.role((PY, "-m", "czar", "status")) is None
    assert neighbours.role((PY, "-P", "-m", "czar.agents.sim")) is None
    assert neighbours.role(("/usr/bin/vim", "czar")) is None
    assert neighbours.role(("git", "log")) is None
    assert neighbours.role(()) is None


def test_the_warning_names_a_few_and_counts_the_rest() -> None:
    assert neighbours.warning([]) is None
    found = [f"a worker host, pid {n}" for n in range(6)]
    line = neighbours.warning(found)
    assert line is not None and line.startswith("6 other czar process(es) run on this machine (")
    assert "pid 2; a worker host, pid 3 and 2 more): " in line and "pid 4" not in line


def test_a_benchmark_warns_of_a_supervisor_running_and_its_figures_still_come(tmp_path: Path, czar_home: Path) -> None:
    plan = tmp_path / "elsewhere" / "czar.toml"
    # A process that looks, to /proc, like a supervisor left running.
    with subprocess.Popen(
        [sys.executable, "-c", "import os, time; os.close(1); time.sleep(120)", "-m", "czar", "supervise", str(plan)],
        stdout=subprocess.PIPE,
    ) as left:
        try:
            assert left.stdout is not None and left.stdout.read() == b""  # it is past its start
            r = czar("bench", "queue", "--tasks", "10", "--json", "--dir", str(tmp_path / "q"), cwd=tmp_path)
        finally:
            left.kill()
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["tasks_merged"] == 10  # standard output stays the figures alone
    warned = [line for line in r.stderr.splitlines() if line.startswith("czar: warning: ")]
    assert len(warned) == 1 and f"a supervisor ({plan}), pid {left.pid}" in warned[0], r.stderr
    assert "figures will be slower" in warned[0]
