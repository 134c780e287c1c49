"""The summary `czar run` prints covers the whole run, also when it joins one `czar up` started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from helpers import czar, make_repo, retry_until, sim_task, write_plan


def _waits_for_a_person(tid: str) -> str:
    """A task whose agent writes its file, reports checkpoint 2, and goes on only when told to."""
    script = "\n".join(
        [
            "progress 1 starting",
            f"write {tid}.txt <<END",
            tid,
            "END",
            "progress 2 waiting for a person",
            "wait",
            "on person",
            f"commit add {tid}",
            f"finish {tid} done",
        ]
    )
    return (
        f'[[tasks]]\nid = "{tid}"\ntitle = "task {tid}"\nscope = ["{tid}.txt"]\n'
        f"body = '''\nDo {tid}.\n\n```czar-sim\n{script}\n```\n'''\n"
    )


def test_a_joined_runs_summary_counts_the_whole_run(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    plan = write_plan(
        tmp_path, "joined", [sim_task("a"), _waits_for_a_person("b"), _waits_for_a_person("c")], workers=3
    )

    def status() -> dict[str, Any]:
        return dict(json.loads(czar("status", str(plan), "--json", check=True).stdout))

    def task(tid: str) -> dict[str, Any]:
        return next(t for t in status()["tasks"] if t["id"] == tid)

    def tell(tid: str) -> None:
        czar("tell", task(tid)["worker"], "go on", "--plan", str(plan), check=True)

    czar("up", str(plan), check=True)
    up_returned = time.time()  # the run began before this
    retry_until(lambda: task("a")["state"] == "merged", timeout=60, what="task a to merge")
    for tid in ("b", "c"):
        retry_until(lambda tid=tid: task(tid)["checkpoint"] == 2, timeout=60, what=f"task {tid} to wait")
    tell("b")  # a person's intervention before `czar run` joins
    retry_until(lambda: task("b")["state"] == "merged", timeout=60, what="task b to merge")

    joined = subprocess.Popen(
        [sys.executable, "-m", "czar", "run", str(plan), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        told_c = time.time()  # task c merges after this
        tell("c")
        out, err = joined.communicate(timeout=120)
    finally:
        if joined.poll() is None:
            joined.kill()
            joined.wait()
    assert joined.returncode == 0, err
    summary = json.loads(out)
    assert (summary["tasks_total"], summary["tasks_merged"], summary["tasks_failed"]) == (3, 3, 0)
    # Both of the person's messages, the one before the join included.
    assert summary["interventions"] == 2
    # From the run's start (before `czar up` returned) to its last merge (after c was told).
    assert summary["wall_seconds"] >= round(told_c - up_returned, 2)


def test_a_run_nobody_follows_still_gets_its_report(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    plan = write_plan(tmp_path, "alone", [sim_task("a"), sim_task("b")], workers=2)
    czar("up", str(plan), check=True)
    report = czar_home / "projects" / "alone" / "reports" / "report.md"
    try:
        retry_until(report.exists, timeout=90, what="the supervisor to write the run's report")
        text = report.read_text(encoding="utf-8")
    finally:
        czar("down", str(plan), check=True)
    assert "Run report: alone" in text and "| a " in text and "| b " in text
    assert "merged" in text
