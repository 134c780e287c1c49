"""The agents benchmark's arithmetic and plan (the runs themselves need the real CLIs)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from czar.bench.agents import measure, plan_text


def run(starts: list[float], finishes: list[float], cpu: float, merged: int) -> dict[str, object]:
    return {"tasks": len(starts), "merged": merged, "starts": starts, "finishes": finishes, "cpu_seconds": cpu}


def test_the_overheads_are_medians_over_the_bare_cli() -> None:
    one = run([1.2, 0.8, 0.9], [0.02, 0.03, 0.01], cpu=0.15, merged=3)
    four = run([1.9, 2.0, 2.1, 2.2], [0.04, 0.05, 0.02, 0.03], cpu=0.2, merged=4)
    r = measure("claude", [0.6, 0.7, 0.65], [1.5, 1.6, 1.7, 1.8], one, four, 30.0, Path("/tmp/x"))
    assert r["cli_start_seconds"] == 0.65 and r["czar_start_seconds"] == 0.9
    assert r["start_overhead_seconds"] == 0.25
    assert r["czar_start_four_seconds"] == 2.05 and r["four_at_once_overhead_seconds"] == 0.4
    assert r["finish_ms"] == 30.0 and r["finish_ms_max"] == 50.0
    assert r["supervisor_cpu_seconds_per_task"] == 0.05
    assert r["passed"] is True


def test_a_missed_target_fails_the_benchmark() -> None:
    one = run([1.6, 1.7, 1.8], [0.2, 0.3, 0.25], cpu=0.1, merged=3)
    four = run([2.0, 2.0, 2.0, 2.0], [0.02] * 4, cpu=0.1, merged=3)
    r = measure("claude", [0.6, 0.6, 0.6], [1.9, 1.9, 1.9, 1.9], one, four, 30.0, Path("/tmp/x"))
    targets = r["targets"]
    assert not targets["start_overhead_seconds"]["met"] and targets["start_overhead_seconds"]["value"] == 1.1
    assert not targets["all_merged"]["met"]
    assert targets["finish_ms"]["met"]  # the median of 0.2, 0.3, 0.25 and four 0.02: 0.02 s
    assert r["passed"] is False


def test_without_samples_no_target_is_met() -> None:
    empty = run([], [], cpu=0.0, merged=0)
    r = measure("codex", [], [], empty, empty, 1.0, Path("/tmp/x"))
    assert r["start_overhead_seconds"] is None and r["passed"] is False


def test_the_plan_starts_four_tasks_together_after_a_first_one() -> None:
    text = plan_text("b", "claude", "/bin/claude", "http://127.0.0.1:9", 4, ["t0", "t1"], after="first")
    plan = tomllib.loads(text)
    assert plan["workers"] == {"agent": "claude", "count": 4}
    assert plan["agents"]["claude"]["base_url"] == "http://127.0.0.1:9"
    deps = {t["id"]: t["depends_on"] for t in plan["tasks"]}
    assert deps == {"first": [], "t0": ["first"], "t1": ["first"]}
    assert "```czar-model\nreport writing t0.txt" in plan["tasks"][1]["body"]
