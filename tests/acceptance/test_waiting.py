"""Agents that wait, in a real run: waits that go round in a cycle are broken by plan order, and a
run that makes no progress ends `czar run` with who waits for whom instead of hanging."""

from __future__ import annotations

import json
from pathlib import Path

from czar.paths import ProjectPaths
from czar.store.store import Event, Store
from helpers import czar, make_repo, write_plan


def task(tid: str, script: str) -> str:
    return f"[[tasks]]\nid = \"{tid}\"\nbody = '''\nDo {tid}.\n\n```czar-sim\n{script}\n```\n'''\n"


def work(tid: str) -> str:
    return f"write {tid}.txt <<E\n{tid}\nE\ncommit {tid}\nfinish {tid} done"


def events_of(name: str) -> list[Event]:
    store = Store(ProjectPaths.for_project(name))
    try:
        return store.events_after(0, limit=100_000)
    finally:
        store.close()


def test_two_agents_waiting_for_each_other_the_first_in_the_plan_goes_on(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    tasks = [
        task("first", f'run czar blocked --on second "I need what second builds"\nwait\non go-on\n{work("first")}'),
        task(
            "second",
            f'run czar blocked --on first "I need what first builds"\nwait\n'
            f"on merged\n{work('second')}\non go-on\n{work('second')}",
        ),
    ]
    plan = write_plan(tmp_path, "cycle", tasks, workers=2, project_extra="[health]\nsilent_after = 60\n")
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2
    events = events_of("cycle")
    found = [(e.task_id, e.payload["problem"]) for e in events if e.kind == "health.detected"]
    assert found == [("first", "deadlock")]
    told = [(e.task_id, e.payload["about"]) for e in events if e.kind == "worker.told"]
    assert ("first", "go-on") in told and ("second", "merged") in told and ("second", "go-on") not in told
    merged = [e.task_id for e in events if e.kind == "task.merged"]
    assert merged == ["first", "second"]


def test_czar_run_ends_with_a_diagnosis_when_the_run_makes_no_progress(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    tasks = [task("keyless", 'run czar blocked "I need the API key"\nwait'), task("done", work("done"))]
    plan = write_plan(tmp_path, "stall", tasks, workers=2, project_extra="[health]\nstall_after = 2\n")
    result = czar("run", str(plan), timeout=120)
    assert result.returncode != 0
    assert "czar: the run has made no progress for" in result.stderr
    assert "task keyless (worker w" in result.stderr and "waits for a person" in result.stderr
    assert "Traceback" not in result.stderr
    stalled = [e for e in events_of("stall") if e.kind == "run.stalled"]
    assert len(stalled) == 1 and any("keyless" in line for line in stalled[0].payload["diagnosis"])
    alerts = [
        e.payload["message"] for e in events_of("stall") if e.kind == "alert" and e.payload["level"] == "critical"
    ]
    assert any("no progress" in a for a in alerts)
