"""The agents benchmark's arithmetic and plan (the runs themselves need the real CLIs)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from czar.bench.agents import measure, plan_text


def run(
    starts: list[float], finishes: list[float], cpu: float, merged: int, czar_cpu: float = 0.0, mb: float = 30.0
) -> dict[str, object]:
    return {
        "tasks": len(starts),
        "merged": merged,
        "starts": starts,
        "finishes": finishes,
        "cpu_seconds": cpu,
        "czar_cpu_seconds": czar_cpu or cpu,
        "host_mb": [mb] * len(starts),
        "tools_server_mb": 70.0,
        "czar_cpu_parts": {"supervisor": cpu, "front_end": 0.0, "tools_server": 0.0, "worker_hosts": 0.0},
    }


def test_the_overheads_are_medians_over_the_bare_cli() -> None:
    one = run([1.2, 0.8, 0.9], [0.02, 0.03, 0.01], cpu=0.15, merged=3)
    four = run([1.9, 2.0, 2.1, 2.2], [0.04, 0.05, 0.02, 0.03], cpu=0.2, merged=4)
    r = measure("claude", [0.6, 0.7, 0.65], [1.5, 1.6, 1.7, 1.8], one, four, 30.0, Path("/tmp/x"), 0.9)
    assert r["cli_start_seconds"] == 0.65 and r["czar_start_seconds"] == 0.9
    assert r["start_overhead_seconds"] == 0.25
    assert r["czar_start_four_seconds"] == 2.05 and r["four_at_once_overhead_seconds"] == 0.4
    assert r["finish_ms"] == 30.0 and r["finish_ms_max"] == 50.0
    assert r["supervisor_cpu_seconds_per_task"] == 0.05
    assert r["czar_cpu_seconds_per_task"] == 0.05 and r["host_memory_mb"] == 30.0 and r["cold_start_seconds"] == 0.9
    assert r["passed"] is True


def test_all_of_czars_cpu_its_hosts_memory_and_a_cold_start_have_targets() -> None:
    one = run([0.8] * 5, [0.02] * 5, cpu=0.15, merged=5, czar_cpu=3.0, mb=38.0)
    four = run([1.9, 2.0, 2.1, 2.2], [0.02] * 4, cpu=0.2, merged=4, czar_cpu=0.0, mb=52.5)
    r = measure("claude", [0.6, 0.7, 0.65], [1.5, 1.6, 1.7, 1.8], one, four, 30.0, Path("/tmp/x"), 1.4)
    targets = r["targets"]
    assert targets["czar_cpu_seconds_per_task"] == {"target": 0.3, "value": 0.3556, "met": False}  # (3.0 + 0.2) / 9
    assert targets["host_memory_mb"] == {"target": 40.0, "value": 52.5, "met": False}  # the largest host
    assert r["host_memory_mb_median"] == 38.0 and r["tools_server_mb"] == 70.0  # one for all the hosts
    assert r["czar_cpu_seconds_parts"]["supervisor"] == 0.35  # 0.15 + 0.2
    assert targets["cold_start_seconds"] == {"target": 1.0, "value": 1.4, "met": False}
    assert r["passed"] is False


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
