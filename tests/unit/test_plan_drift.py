"""A running supervisor took the plan in when it started: a plan edited since (a task added, one
not started yet changed, a setting) is said to the person who runs `czar up` or `czar run` again,
instead of the new tasks never coming."""

from __future__ import annotations

from pathlib import Path

from czar.core.states import TaskState as T
from czar.supervisor.project import open_project, plan_drift
from helpers import on_fakes, sim_task


def test_a_plan_as_the_supervisor_took_it_in_has_no_drift(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a", "b"])
    assert plan_drift(f.project) is None


def test_tasks_added_or_changed_before_they_started_are_named(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a", "b", "c"])
    f.assign({"a": "w1"})  # a started: its text is the one it was given, whatever the plan says now
    path = f.project.plan.path
    text = path.read_text()
    path.write_text(text.replace("Do a.", "Do a better.").replace("Do b.", "Do b better.") + sim_task("d"))
    said = plan_drift(open_project(path, check_repo=False))
    assert said == (
        "the running supervisor took czar.toml in when it started, and it has changed since "
        "(task(s) added: d; changed: b): `czar down`, then `czar up`, takes it in (nothing done is lost)"
    )
    assert f.task("a").state is T.ASSIGNED


def test_a_setting_changed_is_said_too(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"])
    path = f.project.plan.path
    path.write_text(path.read_text().replace("count = 2", "count = 3"))
    said = plan_drift(open_project(path, check_repo=False))
    assert said is not None and "it has changed since (its settings)" in said
