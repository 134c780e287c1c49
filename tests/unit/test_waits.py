"""Who waits for whom: the blocked_on sets, cycles of waits and how they are broken, diagnoses."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from czar.core.waits import PERSON, TaskLine, cycles, diagnose, over, parse, releases, render, starved

FAST = settings(max_examples=200, deadline=None)

NAMES = [f"t{i}" for i in range(7)]


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, frozenset[str]]:
    """A random wait-for graph over a few tasks (self-waits and cycles included)."""
    nodes = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=7, unique=True))
    return {n: frozenset(draw(st.sets(st.sampled_from(nodes), max_size=3))) for n in nodes}


def _reachable(graph: dict[str, frozenset[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(graph.get(start, ()))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(graph.get(n, ()))
    return seen


def _after(graph: dict[str, frozenset[str]], dropped: dict[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    return {t: w - dropped.get(t, frozenset()) for t, w in graph.items()}


def test_blocked_on_holds_a_set_of_tasks_or_a_person() -> None:
    assert parse(None) == parse("") == frozenset()
    assert parse("b, a") == {"a", "b"}
    assert render(["b", "a", "b"]) == "a, b"
    assert render([]) is None
    assert parse(PERSON) == {PERSON} and render(["a", PERSON]) == PERSON


@FAST
@given(st.sets(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True), max_size=5))
def test_a_set_of_task_ids_survives_the_round_trip(ids: set[str]) -> None:
    assert parse(render(ids)) == ids


def test_two_tasks_waiting_for_each_other_are_a_cycle_broken_by_plan_order() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"a"}), "c": frozenset({"a"})}
    assert cycles(graph) == [("a", "b")]
    # b comes first in the plan: it goes on, whatever the names or the order the waits arose in.
    assert releases(graph, {"b": 0, "a": 1, "c": 2}) == {"b": frozenset({"a"})}
    assert releases(graph, {"a": 0, "b": 1, "c": 2}) == {"a": frozenset({"b"})}


def test_a_chain_of_waits_is_no_cycle_and_a_self_wait_is() -> None:
    assert cycles({"a": frozenset({"b"}), "b": frozenset({"c"})}) == []
    assert cycles({"a": frozenset({"a"})}) == [("a",)]
    assert releases({"a": frozenset({"a", "b"})}, {"a": 0}) == {"a": frozenset({"a"})}


def test_a_long_chain_needs_no_deep_recursion() -> None:
    n = 5000
    graph = {f"t{i}": frozenset({f"t{i + 1}"}) for i in range(n)}
    graph[f"t{n}"] = frozenset({"t0"})
    assert len(cycles(graph)) == 1 and len(cycles(graph)[0]) == n + 1


@FAST
@given(graphs())
def test_a_cycle_is_exactly_a_group_whose_tasks_reach_each_other(graph: dict[str, frozenset[str]]) -> None:
    found = cycles(graph)
    in_cycle = {t for group in found for t in group}
    for t in graph:
        assert (t in in_cycle) == (t in _reachable(graph, t))
    for group in found:
        assert all(b in _reachable(graph, a) for a in group for b in group)


@FAST
@given(graphs(), st.permutations(NAMES))
def test_releases_leave_no_cycle_and_drop_only_waits_inside_cycles(
    graph: dict[str, frozenset[str]], plan: list[str]
) -> None:
    order = {t: i for i, t in enumerate(plan)}
    dropped = releases(graph, order)
    assert cycles(_after(graph, dropped)) == []
    for task, gone in dropped.items():
        assert gone and gone <= graph[task]
        assert all(task in _reachable(graph, other) for other in gone)  # each dropped wait closed a cycle
    # Deterministic: the same graph, built in another order, gives the same answer.
    assert releases(dict(reversed(list(graph.items()))), order) == dropped


@FAST
@given(graphs(), st.permutations(NAMES))
def test_in_a_simple_cycle_the_task_first_in_the_plan_goes_on(
    graph: dict[str, frozenset[str]], plan: list[str]
) -> None:
    order = {t: i for i, t in enumerate(plan)}
    for group in cycles(graph):
        first = min(group, key=lambda t: order[t])
        if all(len(graph[t] & set(group)) == 1 for t in group):  # one loop, no inner choices
            assert first in releases(graph, order)


def test_a_wait_is_over_when_every_task_it_names_finished() -> None:
    assert over(frozenset({"a", "b"}), ["a", "b", "c"])
    assert not over(frozenset({"a", "b"}), ["a"])
    assert not over(frozenset(), ["a"])
    assert not over(frozenset({PERSON}), ["a"])


def test_a_diagnosis_names_who_waits_for_whom_and_the_cycles() -> None:
    lines = diagnose(
        [
            TaskLine("a", "running", "w1", "blocked", frozenset({"b"})),
            TaskLine("b", "running", "w2", "blocked", frozenset({"a"})),
            TaskLine("c", "approved", held_by=frozenset({"a"})),
            TaskLine("d", "ready"),
        ],
        idle_workers=0,
    )
    assert lines == [
        "waits go round in a cycle: a -> b -> a",
        "task a (worker w1, blocked) waits for b",
        "task b (worker w2, blocked) waits for a",
        "task c is approved, held until a merge(s)",
        "task d is ready; no worker free",
    ]


def test_when_every_worker_waits_for_a_task_in_the_pool_the_last_in_the_plan_gives_its_worker_back() -> None:
    states = {"a": "ready", "b": "running", "c": "running", "d": "approved"}
    graph = {"b": frozenset({"a"}), "c": frozenset({"d"})}
    order = {"a": 0, "b": 1, "c": 2, "d": 3}
    assert starved(states, graph, order, idle_workers=0) == "c"
    assert starved(states, graph, order, idle_workers=1) is None  # the idle worker takes the task
    # The task in the pool itself waits for one in flight: freeing a worker would not start it.
    assert starved(states, {**graph, "a": frozenset({"d"})}, order, idle_workers=0) is None
    assert starved({**states, "a": "running"}, graph, order, idle_workers=0) is None


def test_a_worker_is_given_back_for_a_task_in_the_pool_that_a_held_merge_waits_for() -> None:
    # Every agent waits for c, which is approved but held until a (back in the pool) merges.
    states = {"a": "ready", "b": "running", "c": "approved", "d": "running"}
    graph = {"b": frozenset({"c"}), "d": frozenset({"c", "b"})}
    order = {"a": 0, "b": 1, "c": 2, "d": 3}
    assert starved(states, graph, order, 0) is None  # nothing shows that c needs a
    assert starved(states, graph, order, 0, holds={"c": frozenset({"a"})}) == "d"


def test_a_cycle_through_a_held_merge_is_broken_by_a_wait_never_by_the_hold() -> None:
    # b waits for a; a is approved but held until b merges (its work overlaps b's, which came first).
    graph = {"b": frozenset({"a"})}
    holds = {"a": frozenset({"b"})}
    assert releases(graph, {"a": 0, "b": 1}, holds) == {"b": frozenset({"a"})}
    assert releases({}, {"a": 0}, holds) == {}  # holds alone never form a cycle to break


@FAST
@given(graphs(), graphs(), st.permutations(NAMES))
def test_releases_with_holds_leave_no_cycle_that_a_wait_is_part_of(
    graph: dict[str, frozenset[str]], holds: dict[str, frozenset[str]], plan: list[str]
) -> None:
    dropped = releases(graph, {t: i for i, t in enumerate(plan)}, holds)
    left = _after(graph, dropped)
    combined = {t: left.get(t, frozenset()) | holds.get(t, frozenset()) for t in {*left, *holds}}
    for group in cycles(combined):
        assert not any(left.get(t, frozenset()) & set(group) for t in group)
    assert all(gone <= graph[t] for t, gone in dropped.items())  # only waits are dropped
