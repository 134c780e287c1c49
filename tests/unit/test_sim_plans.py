"""A plan's simulated agents' scripts, looked at before a run: a script that would stop its agent
at every start, or a task with none, is said then (not found by the task failing)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from czar.agents.sim_plans import problems
from czar.plan.load import load_plan


def _task(tid: str, body: str, agent: str = "") -> str:
    pinned = f'agent = "{agent}"\n' if agent else ""
    return f'[[tasks]]\nid = "{tid}"\n{pinned}body = """\n{textwrap.dedent(body)}"""\n\n'


GOOD = "```czar-sim\nwrite a.txt <<END\na\nEND\ncommit add the README's a\nfinish done\n```\n"
BROKEN = "```czar-sim\nnote fine\nrun echo 'unclosed\nfinish\n```\n"
PROSE = "Write a.txt.\n"
BAD_REVIEW = "```czar-review\nfinding a.py\n```\n"


def _problems(
    tmp_path: Path, workers: str, tasks: str, review: str = "", settled: frozenset[str] | set[str] = frozenset()
) -> tuple[list[str], list[str]]:
    plan = tmp_path / "czar.toml"
    plan.write_text(f'[project]\nname = "p"\n\n[workers]\n{workers}\n{review}\n' + tasks, encoding="utf-8")
    return problems(load_plan(plan), settled)


def test_a_plan_of_good_scripts_has_none(tmp_path: Path) -> None:
    assert _problems(tmp_path, 'agent = "sim"', _task("a", GOOD) + _task("b", GOOD)) == ([], [])


def test_a_script_that_does_not_parse_and_a_task_with_none_are_errors_where_only_sims_work(tmp_path: Path) -> None:
    errors, warnings = _problems(tmp_path, 'agent = "sim"', _task("a", BROKEN) + _task("b", PROSE) + _task("c", GOOD))
    assert errors == [
        "task 'a': its czar-sim script: line 2: No closing quotation",
        "task 'b' has no czar-sim block: a simulated agent does only what its script says (docs/sim.md)",
    ]
    assert warnings == []


def test_among_other_agents_a_task_with_no_script_is_a_warning_and_a_broken_one_still_an_error(tmp_path: Path) -> None:
    errors, warnings = _problems(
        tmp_path, "agents = { sim = 1, claude = 1 }", _task("a", PROSE) + _task("b", BROKEN) + _task("c", PROSE, "sim")
    )
    assert errors == [
        "task 'b': its czar-sim script: line 2: No closing quotation",
        "task 'c' has no czar-sim block: a simulated agent does only what its script says (docs/sim.md)",
    ]
    assert warnings == [
        "task 'a' has no czar-sim block: a simulated agent does only what its script says (docs/sim.md)"
    ]


def test_a_task_no_simulated_agent_takes_is_not_looked_at(tmp_path: Path) -> None:
    tasks = _task("a", PROSE, "claude") + _task("b", BROKEN, "claude")
    assert _problems(tmp_path, "agents = { sim = 1, claude = 1 }", tasks) == ([], [])
    assert _problems(tmp_path, 'agent = "claude"', _task("c", BROKEN + BAD_REVIEW)) == ([], [])


def test_a_simulated_reviewers_script_is_looked_at_too(tmp_path: Path) -> None:
    errors, _ = _problems(tmp_path, 'agent = "claude"', _task("a", BAD_REVIEW), "[review]\nagents = { sim = 1 }\n")
    assert errors == ["task 'a': its czar-review script: line 1: finding takes 4+ argument(s)"]


def test_tasks_a_run_settled_already_are_not_looked_at(tmp_path: Path) -> None:
    # A plan whose failed task has no script is carried on (`czar up` after `czar down`) for the rest.
    tasks = _task("a", PROSE) + _task("b", BROKEN) + _task("c", GOOD)
    assert _problems(tmp_path, 'agent = "sim"', tasks, settled={"a", "b"}) == ([], [])
