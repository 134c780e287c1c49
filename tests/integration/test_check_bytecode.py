"""The checks of a task run its code as it is, not Python's cache of it from a moment before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from czar.supervisor.checks import run_checks


def test_a_fix_made_in_the_second_its_tests_ran_is_what_the_checks_run(tmp_path: Path) -> None:
    """Seen in the demo: a reviewer's finding fixed by changing `==` to `<=` in the second the
    tests had run (same size, same second), and Python ran its cache of the code before the fix."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    module = checkout / "limits.py"
    module.write_text("def none_for(n):\n    return n == 0\n")
    # The agent's own run of the tests: its cache of the code as it was.
    writes = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", "import limits"], cwd=checkout, check=True, env=writes)
    assert (checkout / "__pycache__").is_dir()
    stamp = module.stat().st_mtime
    module.write_text("def none_for(n):\n    return n <= 0\n")  # the fix: the same size
    os.utime(module, (stamp, stamp))  # and, as it happened, the same second
    check = f"{sys.executable} -c 'import limits; assert limits.none_for(-1)'"
    (result,) = run_checks([check], checkout, 60, tmp_path / "checks.log")
    assert result.ok, result.output
