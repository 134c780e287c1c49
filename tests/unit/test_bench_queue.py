"""The merge queue's benchmark runs czar's own queue on the fakes: everything merges, every
breaker is found, within its targets. (What would miss them is caught where the order and the
bisection are tested: ``test_merge_order.py``, ``test_bisection.py``, ``test_merge_batches.py``.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.bench import queue


@pytest.mark.parametrize("seed", [1, 7])
def test_the_queue_meets_its_targets(tmp_path: Path, czar_home: Path, seed: int) -> None:
    r = queue.run(tasks=60, seed=seed, folder=tmp_path / "q")
    assert r["passed"], r["targets"]
    assert r["tasks_merged"] == 60 and r["breakers_found"] == r["breakers"] > 0
    assert r["check_runs"] >= r["batches"] and r["merges_per_check_run"] > 1
