"""The plan's dependency graph: cycles, topological order and depth."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from czar.core.graph import depth, find_cycle, topological_order

FAST = settings(max_examples=150, deadline=None)


def _is_cycle(edges: dict[str, set[str]], cycle: list[str]) -> bool:
    """``cycle`` is ``[a, b, ..., a]`` and every step follows an edge of the graph."""
    if len(cycle) < 2 or cycle[0] != cycle[-1]:
        return False
    return all(b in edges[a] for a, b in itertools.pairwise(cycle))


@st.composite
def dags(draw: st.DrawFn, min_nodes: int = 1) -> dict[str, set[str]]:
    """A random DAG ``node -> dependencies``: node i may only depend on nodes before it."""
    n = draw(st.integers(min_value=min_nodes, max_value=12))
    # Names whose sorted order differs from the construction order, so tie-breaking is exercised.
    names = draw(st.permutations([f"t{i:02d}" for i in range(n)]))
    edges: dict[str, set[str]] = {}
    for i, name in enumerate(names):
        deps = draw(st.sets(st.sampled_from(names[:i]), max_size=i)) if i else set()
        edges[name] = deps
    return edges


# -- find_cycle ----------------------------------------------------------------------------


def test_no_cycle_in_empty_graph() -> None:
    assert find_cycle({}) is None


def test_no_cycle_in_a_chain() -> None:
    assert find_cycle({"a": [], "b": ["a"], "c": ["b"]}) is None


def test_no_cycle_in_a_diamond() -> None:
    assert find_cycle({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}) is None


def test_self_loop_is_a_cycle() -> None:
    assert find_cycle({"a": ["a"]}) == ["a", "a"]


def test_two_cycle_is_reported_from_its_start() -> None:
    assert find_cycle({"a": ["b"], "b": ["a"]}) == ["a", "b", "a"]


def test_cycle_behind_a_tail_leaves_the_tail_out() -> None:
    # x -> a -> b -> c -> a: the cycle is a, b, c; x only leads into it.
    cycle = find_cycle({"x": ["a"], "a": ["b"], "b": ["c"], "c": ["a"]})
    assert cycle == ["a", "b", "c", "a"]


def test_unknown_dependencies_are_ignored() -> None:
    assert find_cycle({"a": ["ghost"], "b": ["a", "ghost"]}) is None


def test_long_chain_does_not_hit_the_recursion_limit() -> None:
    n = 5000
    edges = {f"n{i}": [f"n{i - 1}"] if i else [] for i in range(n)}
    assert find_cycle(edges) is None
    edges["n0"] = [f"n{n - 1}"]
    cycle = find_cycle(edges)
    assert cycle is not None
    assert len(cycle) == n + 1
    assert _is_cycle({k: set(v) for k, v in edges.items()}, cycle)


# -- topological_order ---------------------------------------------------------------------


def test_order_puts_dependencies_first_and_breaks_ties_by_name() -> None:
    assert topological_order({"c": ["a"], "b": [], "a": []}) == ["a", "b", "c"]


def test_order_of_a_diamond() -> None:
    assert topological_order({"d": ["b", "c"], "c": ["a"], "b": ["a"], "a": []}) == ["a", "b", "c", "d"]


def test_order_ignores_unknown_dependencies() -> None:
    assert topological_order({"b": ["ghost"], "a": ["b"]}) == ["b", "a"]


def test_order_of_a_cyclic_graph_raises() -> None:
    with pytest.raises(ValueError, match="cycle"):
        topological_order({"a": ["b"], "b": ["a"], "c": []})


def test_order_of_empty_graph_is_empty() -> None:
    assert topological_order({}) == []


# -- depth ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({}, 0),
        ({"a": []}, 1),
        ({"a": [], "b": []}, 1),
        ({"a": [], "b": ["a"], "c": ["b"]}, 3),
        ({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}, 3),
        ({"a": [], "b": ["a"], "c": ["b"], "d": ["a"], "e": ["d", "c"]}, 4),
        ({"a": ["ghost"]}, 1),
    ],
)
def test_depth(edges: dict[str, list[str]], expected: int) -> None:
    assert depth(edges) == expected


# -- properties ----------------------------------------------------------------------------


@FAST
@given(dags())
def test_random_dag_has_no_cycle(edges: dict[str, set[str]]) -> None:
    assert find_cycle(edges) is None


@FAST
@given(dags())
def test_topological_order_respects_every_edge(edges: dict[str, set[str]]) -> None:
    order = topological_order(edges)
    assert sorted(order) == sorted(edges)
    position = {node: i for i, node in enumerate(order)}
    for node, deps in edges.items():
        for dep in deps:
            assert position[dep] < position[node], f"{dep} must come before {node}"


@FAST
@given(dags())
def test_depth_is_the_longest_chain(edges: dict[str, set[str]]) -> None:
    longest: dict[str, int] = {}

    def chain(node: str) -> int:
        if node not in longest:
            longest[node] = 1 + max((chain(d) for d in edges[node]), default=0)
        return longest[node]

    assert depth(edges) == max((chain(n) for n in edges), default=0)


@FAST
@given(dags(min_nodes=1), st.data())
def test_a_back_edge_makes_a_real_cycle(edges: dict[str, set[str]], data: st.DataObject) -> None:
    # Pick a path dep_k -> ... -> node in the DAG (node depends, transitively, on target) and
    # make target depend on node: that closes a cycle.
    node = data.draw(st.sampled_from(sorted(edges)))
    reachable: set[str] = set()
    todo = [node]
    while todo:
        for d in edges[todo.pop()]:
            if d not in reachable:
                reachable.add(d)
                todo.append(d)
    target = data.draw(st.sampled_from(sorted(reachable | {node})))
    cyclic = {k: set(v) for k, v in edges.items()}
    cyclic[target].add(node)

    cycle = find_cycle(cyclic)
    assert cycle is not None
    assert _is_cycle(cyclic, cycle), cycle
    # A simple cycle: no node repeats except the closing one.
    assert len(set(cycle[:-1])) == len(cycle) - 1
    with pytest.raises(ValueError):
        topological_order(cyclic)
