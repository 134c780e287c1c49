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


def test_a_comment_or_a_started_tasks_text_is_no_drift(tmp_path: Path, czar_home: Path) -> None:
    # Neither is anything `czar down` and `czar up` would take in: before, any change of the
    # file's bytes was said to be one of "its settings".
    f = on_fakes(tmp_path, ["a", "b"])
    f.assign({"a": "w1"})
    path = f.project.plan.path
    path.write_text("# a comment\n" + path.read_text().replace("Do a.", "Do a better."))
    assert plan_drift(open_project(path, check_repo=False)) is None


def test_tasks_only_re_ranked_are_not_changed_and_long_lists_are_cut(tmp_path: Path, czar_home: Path) -> None:
    # A task added with an estimate changes every other task's rank (the plan computes it from the
    # whole graph): they were all said to be changed, on one line of thousands of characters.
    f = on_fakes(tmp_path, [f"t{i}" for i in range(8)])
    path = f.project.plan.path
    estimated = 'estimate = 30.0\ntitle = "task'
    added = "".join(sim_task(f"n{i}").replace('title = "task', estimated) for i in range(5))
    path.write_text(path.read_text() + added)
    said = plan_drift(open_project(path, check_repo=False))
    assert said is not None and "(task(s) added: n0, n1, n2 and 2 more)" in said
