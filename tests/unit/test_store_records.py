"""The store's records keep every column of their table, and a task's spec reads what any
version of czar wrote."""

from __future__ import annotations

import json
from dataclasses import fields
from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from czar.store.records import Attempt, Task, TaskSpec, Worker
from czar.store.schema import attempts, tasks, workers

# Columns a record names otherwise, or leaves to a query of their own.
RENAMED = {"ord": "order"}
READ_APART = {"attempts": {"prompt"}}


def _names(record: type) -> set[str]:
    return {f.name for f in fields(record)}


def test_each_record_has_a_field_for_every_column_of_its_table() -> None:
    for record, table in ((Task, tasks), (Worker, workers), (Attempt, attempts)):
        columns = {RENAMED.get(c.name, c.name) for c in table.c} - READ_APART.get(table.name, set())
        assert _names(record) == columns, table.name


names = st.lists(st.text("abc/*.", min_size=1, max_size=6), max_size=4)


@given(
    depends_on=names,
    scope=names,
    accept=names,
    priority=st.integers(-5, 5),
    rank=st.floats(0, 100),
    estimate=st.none() | st.floats(0.1, 100),
)
def test_a_spec_reads_back_what_it_wrote(
    depends_on: list[str], scope: list[str], accept: list[str], priority: int, rank: float, estimate: float | None
) -> None:
    spec = TaskSpec(
        depends_on=tuple(depends_on),
        scope=tuple(scope),
        accept=tuple(accept),
        priority=priority,
        rank=rank,
        estimate=estimate,
        agent="sim",
    )
    assert TaskSpec.from_json(spec.to_json()) == spec


def test_a_spec_of_an_older_czar_keeps_the_defaults_of_what_it_lacks() -> None:
    old = json.dumps({"depends_on": ["a"], "scope": ["src/*"], "accept": None, "priority": 2, "agent": "sim"})
    spec = TaskSpec.from_json(old)
    assert spec.depends_on == ("a",)
    assert spec.scope == ("src/*",)
    assert spec.accept == ()
    assert spec.rank == 1.0
    assert spec.subtasks == ()
    assert spec.budget_usd is None


def test_a_spec_from_a_plan_task_takes_its_fields() -> None:
    plan_task = SimpleNamespace(
        depends_on=["a"],
        after=["b"],
        scope=["x/**"],
        accept=["true"],
        skills=[],
        priority=3,
        subtasks=["one", "two"],
        agent="claude",
        estimate=5.0,
        rank=2.5,
        budget_usd=1.0,
    )

    spec = TaskSpec.of(plan_task)
    assert spec == TaskSpec(
        depends_on=("a",),
        after=("b",),
        scope=("x/**",),
        accept=("true",),
        priority=3,
        subtasks=("one", "two"),
        agent="claude",
        estimate=5.0,
        rank=2.5,
        budget_usd=1.0,
    )
