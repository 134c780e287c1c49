"""The plan `czar bench replay` writes for a history: dependencies by file, and each task's script."""

from __future__ import annotations

from pathlib import Path

from czar.agents.sim_script import extract, parse
from czar.bench.replay import Commit, dependencies, plan_text, script, task_id
from czar.plan.load import load_plan

HISTORY = [
    Commit("a" * 40, "first", ("a.txt",)),
    Commit("b" * 40, "second", ("b.txt",)),
    Commit("c" * 40, "third, on both", ("a.txt", "b.txt")),
    Commit("d" * 40, "fourth: 'quoted' \\\\ text", ("a.txt",)),
    Commit("e" * 40, "fifth: ''' three quotes, \"and\" a tab\there", ("b.txt",)),
]


def test_a_task_depends_on_the_latest_earlier_commit_of_each_of_its_files() -> None:
    ids = [task_id(i, c) for i, c in enumerate(HISTORY)]
    assert dependencies(HISTORY) == {
        ids[0]: (),
        ids[1]: (),
        ids[2]: (ids[0], ids[1]),
        ids[3]: (ids[2],),
        ids[4]: (ids[2],),
    }


def test_the_script_picks_the_commit_and_makes_it_again_when_told() -> None:
    parsed = parse(script(HISTORY[3]))
    assert ("pick", ("d" * 40,)) in [(s.verb, s.args) for s in parsed.main]
    assert [s.verb for s in parsed.main][-2:] == ["commit", "finish"]
    assert parsed.main[-1].text == "fourth: 'quoted' \\\\ text"  # prose, taken as it is
    # It starts from the integration branch as czar shows it to the checkout.
    assert parsed.main[0].args == ("git", "reset", "-q", "--hard", "czar/integration")
    assert set(parsed.every) == {"stand-off", "merged", "go-on", "conflict", "feedback"}
    assert "pick" not in [s.verb for s in parsed.every["stand-off"]]  # it waits, its branch as it is


def test_the_plan_loads_with_or_without_dependencies(tmp_path: Path) -> None:
    for deps in (True, False):
        plan = tmp_path / "czar.toml"
        plan.write_text(plan_text("replay", HISTORY, 3, deps))
        tasks = {t.id: t for t in load_plan(plan).tasks}
        third = tasks[task_id(2, HISTORY[2])]
        assert bool(third.depends_on) is deps
        assert extract(third.body) is not None
        fifth = parse(extract(tasks[task_id(4, HISTORY[4])].body) or "")
        assert fifth.main[-1].text == HISTORY[4].subject  # three quotes and a tab, whole
