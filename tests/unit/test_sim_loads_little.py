"""The simulated agent is a process started for every task and every review (hundreds in a run
of the tests, one per task of the demo): it loads what it runs, not the other agents' adapters,
git's wrapper, the store or the plan's models (measured: 97 ms of imports before, 43 after)."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("czar.agents.adapters", "czar.agents.base", "czar.agents.claude", "czar.vcs", "czar.store", "czar.plan")


def test_the_simulated_agent_loads_no_adapter_nor_store() -> None:
    shown = "import sys, czar.agents.sim; print(' '.join(sorted(m for m in sys.modules if m.startswith('czar'))))"
    loaded = subprocess.run([sys.executable, "-c", shown], capture_output=True, text=True, check=True).stdout.split()
    assert "czar.agents.sim" in loaded
    assert not [m for m in loaded if m.startswith(HEAVY)], loaded
