"""The dependency graph of a plan: cycles, depth, and topological order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def find_cycle(edges: Mapping[str, Iterable[str]]) -> list[str] | None:
    """Return one cycle as ``[a, b, ..., a]`` if the graph ``node -> dependencies`` has one."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(edges, white)
    for root in sorted(edges):
        if colour[root] != white:
            continue
        # Iterative DFS so a long chain of tasks cannot exhaust Python's recursion limit.
        path: list[str] = [root]
        stack = [iter(sorted(edges[root]))]
        colour[root] = grey
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                colour[path.pop()] = black
                stack.pop()
                continue
            if nxt not in colour:
                continue  # unknown dependency: reported elsewhere
            if colour[nxt] == grey:
                return [*path[path.index(nxt) :], nxt]
            if colour[nxt] == white:
                colour[nxt] = grey
                path.append(nxt)
                stack.append(iter(sorted(edges[nxt])))
    return None


def topological_order(edges: Mapping[str, Iterable[str]]) -> list[str]:
    """Nodes with every dependency before its dependents; ties broken by name. Assumes no cycle."""
    remaining = {n: {d for d in deps if d in edges} for n, deps in edges.items()}
    order: list[str] = []
    while remaining:
        free = sorted(n for n, deps in remaining.items() if not deps)
        if not free:
            raise ValueError("graph has a cycle")
        order.extend(free)
        for n in free:
            del remaining[n]
        for deps in remaining.values():
            deps.difference_update(free)
    return order


def depth(edges: Mapping[str, Iterable[str]]) -> int:
    """Number of tasks on the longest dependency chain (1 for tasks without dependencies)."""
    level: dict[str, int] = {}
    for node in topological_order(edges):
        level[node] = 1 + max((level[d] for d in edges[node] if d in level), default=0)
    return max(level.values(), default=0)


def chain_rank(edges: Mapping[str, Iterable[str]], weight: Mapping[str, float]) -> dict[str, float]:
    """Each node's weight plus the heaviest chain of its dependents: the work that must still
    follow it, one after another. Starting high ranks first keeps the critical path moving."""
    dependents: dict[str, list[str]] = {n: [] for n in edges}
    for node, deps in edges.items():
        for d in deps:
            if d in dependents:
                dependents[d].append(node)
    rank: dict[str, float] = {}
    for node in reversed(topological_order(edges)):
        rank[node] = weight.get(node, 1.0) + max((rank[c] for c in dependents[node]), default=0.0)
    return rank
