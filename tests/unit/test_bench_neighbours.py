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
    role = neighbours.role
    assert role((PY, "-m", "czar", "supervise", "/p/czar.toml")) == ("a supervisor", "/p/czar.toml")
    assert role((PY, "-X", "dev", "-W", "ignore", "-m", "czar", "supervise", "p.toml")) == ("a supervisor", "p.toml")
    assert role((PY, "/venv/bin/czar", "run", "--json")) == ("a `czar run`", None)
    assert role(("/usr/bin/python3.11", "/venv/bin/czar", "run", "--timeout", "600", "x.toml")) == (
        "a `czar run`",
        "x.toml",
    )
    assert role(("/opt/pypy3", "/venv/bin/czar", "up", "--foreground")) == ("a supervisor", None)
    assert role(("/usr/local/bin/czar", "web")) == ("`czar web`", None)
    assert role((PY, "-m", "czar", "worker-host", "--plan", "p.toml", "--worker", "w1")) == ("a worker host", "p.toml")
    assert role((PY, "-m", "czar.host", "--settings", "w1.json")) == ("a worker host", None)
    assert role((PY, "-m", "czar.agent_tools.tools_server", "--plan", "p")) == ("a tools server", None)
    # Not what a benchmark competes with: czar's other commands (`up` starts a supervisor and is
    # gone), other programs, wrappers (what they run is counted itself), a file named czar.
    assert role((PY, "-m", "czar", "up", "p.toml")) is None
    assert role((PY, "-m", "czar", "status")) is None
    assert role((PY, "-P", "-m", "czar.agents.sim")) is None
    assert role(("timeout", "600", PY, "-m", "czar", "bench", "stack")) is None
    assert role(("strace", "-f", PY, "-m", "czar", "run")) is None
    assert role((PY, "-c", "pass", "-m", "czar", "supervise", "p.toml")) is None
    assert role((PY, "tool.py", "czar", "bench")) is None
    assert role(("/usr/bin/vim", "czar")) is None
    assert role(()) is None


def test_the_warning_names_what_a_person_stops_and_counts_the_rest() -> None:
    assert neighbours.warning([]) is None
    found = [("a worker host", None, n) for n in range(1, 4)] + [("a tools server", None, 9)]
    found += [("a supervisor", "/p/czar.toml", 20), ("a `czar run`", None, 21)]
    line = neighbours.warning(found)
    assert line == (
        "6 other czar process(es) run on this machine (a supervisor (/p/czar.toml), pid 20; a `czar run`, "
        "pid 21; a tools server; 3 worker hosts): they share the cores this measures, so its figures will "
        "be slower than the machine's"
    )


def test_a_benchmark_warns_of_a_supervisor_running_and_its_figures_still_come(tmp_path: Path, czar_home: Path) -> None:
    plan = tmp_path / "elsewhere" / "czar.toml"
    # A process that looks, to /proc, like a supervisor left running: czar's script, by its interpreter.
    script = tmp_path / "bin" / "czar"
    script.parent.mkdir()
    script.write_text("import os, time\nos.close(1)\ntime.sleep(120)\n")
    with subprocess.Popen([sys.executable, str(script), "supervise", str(plan)], stdout=subprocess.PIPE) as left:
        try:
            assert left.stdout is not None and left.stdout.read() == b""  # it is past its start
            assert ("a supervisor", str(plan), left.pid) in neighbours.running()
            r = czar("bench", "queue", "--tasks", "10", "--json", "--dir", str(tmp_path / "q"), cwd=tmp_path)
            wrong = czar("bench", "nonsense", cwd=tmp_path)
        finally:
            left.kill()
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["tasks_merged"] == 10  # standard output stays the figures alone
    warned = [line for line in r.stderr.splitlines() if line.startswith("czar: warning: ")]
    # Other tests' runs may be there too (in parallel): each supervisor is named whatever their number.
    assert len(warned) == 1 and f"a supervisor ({plan}), pid {left.pid}" in warned[0], r.stderr
    assert "figures will be slower" in warned[0]
    # A benchmark that cannot start says only why.
    assert wrong.returncode != 0 and "no benchmark 'nonsense'" in wrong.stderr and "warning" not in wrong.stderr
