"""The stacking benchmark's figures (``czar.bench.stack.figures``): medians of each kind's runs,
compared; the runs themselves are ``czar bench stack`` (`make bench`)."""

from __future__ import annotations

from czar.bench.stack import TARGET, figures


def test_the_medians_are_compared_so_one_slow_run_of_either_kind_moves_nothing() -> None:
    out = figures([14.0, 19.5, 15.0], [11.0, 11.5, 16.0])
    assert (out["waiting_wall_seconds"], out["stacked_wall_seconds"]) == (15.0, 11.5)
    assert out["ratio"] == round(11.5 / 15.0, 3)
    assert out["passed"] is (out["ratio"] <= TARGET) is True
    assert out["waiting_runs"] == [14.0, 19.5, 15.0] and out["pairs"] == 3


def test_a_ratio_over_the_target_fails() -> None:
    out = figures([10.0], [8.5], duplication=0.0)
    assert out["ratio"] == 0.85 and not out["passed"]
    assert out["targets"]["ratio"] == {"value": 0.85, "target": f"<= {TARGET}", "met": False}
