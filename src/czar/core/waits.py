"""Who waits for whom: a task's agent waits for a set of other tasks to merge (told to stand off,
or it said it was blocked on them), or for a person. Pure.

The wait-for graph has an edge from each waiting task to each task it waits for. A task goes on
only when every task it waits for has merged (or failed, or was cancelled); a cycle of waits
would hold its tasks forever, so it is broken by plan order: the task that comes first in the
plan stops waiting for the others of its cycle, whatever the order in which the waits arose.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

PERSON = "a person"  # what a task waits for when a person, not a task, must act
SEPARATOR = ", "

WaitGraph = Mapping[str, frozenset[str]]


def parse(blocked_on: str | None) -> frozenset[str]:
    """The tasks (or ``PERSON``) a ``blocked_on`` value names."""
    if not blocked_on:
        return frozenset()
    if blocked_on == PERSON:
        return frozenset({PERSON})
    return frozenset(t for t in blocked_on.split(SEPARATOR) if t)


def render(waits: Iterable[str]) -> str | None:
    """The ``blocked_on`` value for a set of waits (None for none); task ids never hold the separator."""
    names = sorted(set(waits))
    if not names:
        return None
    if PERSON in names:
        return PERSON  # a person is asked: that wait says it all
    return SEPARATOR.join(names)


def said(waits: Iterable[str]) -> str:
    """What a worker whose task waits so is shown doing."""
    names = sorted(set(waits))
    if PERSON in names:
        return f"waits for {PERSON}"
    return f"stands off for {SEPARATOR.join(names)}"


def cycles(graph: WaitGraph) -> list[tuple[str, ...]]:
    """The groups of tasks that wait for each other, directly or round a loop (strongly connected
    components of more than one task, or a task that waits for itself), each sorted, in order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[tuple[str, ...]] = []
    counter = 0

    def visit(root: str) -> None:
        # Tarjan's algorithm, iteratively: a long chain of waits must not exhaust the recursion.
        nonlocal counter
        work: list[tuple[str, list[str]]] = []

        def enter(node: str) -> None:
            nonlocal counter
            index[node] = low[node] = counter
            counter += 1
            stack.append(node)
            on_stack.add(node)
            work.append((node, sorted(graph.get(node, frozenset()))))

        enter(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop(0)
                if nxt not in index:
                    enter(nxt)
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph.get(node, frozenset()):
                    out.append(tuple(sorted(group)))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(out)


def releases(graph: WaitGraph, order: Mapping[str, int], fixed: WaitGraph | None = None) -> dict[str, frozenset[str]]:
    """What to drop so that no cycle is left: for each task told to go on, the tasks it stops
    waiting for. In each cycle the task first in the plan (``order``; unknown ones last, then by
    id) stops waiting for the others of that cycle; repeated until none is left. ``fixed`` waits
    (merges held back until another task merges) count for the cycles but are never dropped: the
    first task of the cycle that has a wait to drop drops it."""
    fixed = fixed or {}
    current = {t: frozenset(w) for t, w in graph.items()}
    out: dict[str, frozenset[str]] = {}
    while True:
        combined = {t: current.get(t, frozenset()) | fixed.get(t, frozenset()) for t in {*current, *fixed}}
        found = [g for g in cycles(combined) if any(current.get(t, frozenset()) & frozenset(g) for t in g)]
        if not found:
            return out
        for group in found:
            members = frozenset(group)
            droppable = [t for t in group if current.get(t, frozenset()) & members]
            first = min(droppable, key=lambda t: (order.get(t, len(order)), t))
            dropped = current[first] & members
            current[first] = current[first] - dropped
            out[first] = out.get(first, frozenset()) | dropped


def over(waits: frozenset[str], finished: Iterable[str]) -> bool:
    """True when a task waited for other tasks and every one of them has finished (merged, failed
    or cancelled): nothing it waits for can still come. A wait for a person is never over here."""
    if not waits or PERSON in waits:
        return False
    return waits <= set(finished)


def starved(
    states: Mapping[str, str],
    graph: WaitGraph,
    order: Mapping[str, int],
    idle_workers: int,
    holds: WaitGraph | None = None,
) -> str | None:
    """The waiting agent that must give its worker back, if any: when no worker is idle and an
    agent waits, directly or through the tasks it waits for (``graph``) and those they are held
    back by (``holds``: merges that must come first), for a task back in the pool and free to
    start, that task can only start on a worker a waiting agent holds. The waiting agent last in
    the plan gives its worker back."""
    if idle_workers > 0:
        return None
    unfinished = {t for t, state in states.items() if state not in ("merged", "failed", "cancelled")}
    free = {t for t, state in states.items() if state == "ready" and not graph.get(t, frozenset()) & unfinished}
    at_work = [t for t, w in graph.items() if states.get(t) in ("assigned", "running") and w]
    holds = holds or {}

    def reaches_free(start: str) -> bool:
        seen: set[str] = set()
        todo = list(graph.get(start, frozenset()))
        while todo:
            t = todo.pop()
            if t in free:
                return True
            if t not in seen:
                seen.add(t)
                todo.extend(graph.get(t, frozenset()) | holds.get(t, frozenset()))
        return False

    if not any(reaches_free(t) for t in at_work):
        return None
    return max(at_work, key=lambda t: (order.get(t, len(order)), t))


@dataclass(frozen=True)
class TaskLine:
    """What a diagnosis needs to know of one unfinished task."""

    id: str
    state: str
    worker: str | None = None
    worker_state: str | None = None
    waits: frozenset[str] = frozenset()
    held_by: frozenset[str] = frozenset()  # tasks in flight it may merge only after (the radar)


def diagnose(tasks: Iterable[TaskLine], idle_workers: int) -> list[str]:
    """Why a run makes no progress, one line per fact: who waits for whom, which waits go round
    in a cycle, what is held, what is ready with nobody to take it."""
    rows = sorted(tasks, key=lambda t: t.id)
    lines: list[str] = []
    graph = {t.id: frozenset(w for w in t.waits if w != PERSON) for t in rows if t.waits}
    for group in cycles(graph):
        lines.append(f"waits go round in a cycle: {' -> '.join((*group, group[0]))}")
    for t in rows:
        who = f" (worker {t.worker}, {t.worker_state})" if t.worker else ""
        if t.waits:
            lines.append(f"task {t.id}{who} waits for {', '.join(sorted(t.waits))}")
        elif t.held_by:
            lines.append(f"task {t.id} is {t.state}, held until {', '.join(sorted(t.held_by))} merge(s)")
        elif t.state == "ready":
            lines.append(
                f"task {t.id} is ready; " + (f"{idle_workers} worker(s) idle" if idle_workers else "no worker free")
            )
        else:
            lines.append(f"task {t.id} is {t.state}{who}")
    return lines
