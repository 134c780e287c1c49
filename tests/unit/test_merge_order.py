"""The order approved tasks merge in (``czar.core.decide.merge_order``): priority, raised by the
batches a task waited, then the longest chain of work waiting on it, then the plan's order; a task
that waited two batches goes first; never a task before its dependency. Simulated over many
batches: nothing waits more than two."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from czar.core.decide import AGED, MERGE_BATCH, TaskView, merge_order
from czar.core.states import TaskState


def view(
    tid: str, order: int, priority: int = 0, waited: int = 0, deps: tuple[str, ...] = (), rank: float = 0.0
) -> TaskView:
    return TaskView(tid, TaskState.APPROVED, deps, (), priority, order, "sim", waited=waited, rank=rank)


def ids(tasks: list[TaskView]) -> list[str]:
    return [t.id for t in tasks]


def test_priority_then_the_plans_order_and_waiting_raises_priority() -> None:
    assert ids(merge_order([view("b", 2), view("a", 1), view("c", 3, priority=1)])) == ["c", "a", "b"]
    # A batch waited counts as a point of priority.
    assert ids(merge_order([view("urgent", 1, priority=1), view("old", 2, waited=1)])) == ["urgent", "old"]
    assert ids(merge_order([view("urgent", 1, priority=1), view("older", 2, priority=1, waited=1)])) == [
        "older",
        "urgent",
    ]


def test_the_longest_chain_waiting_goes_before_the_plans_order_but_not_before_priority_or_age() -> None:
    assert ids(merge_order([view("side", 1, rank=2.0), view("critical", 5, rank=4.0)])) == ["critical", "side"]
    assert ids(merge_order([view("urgent", 9, priority=1), view("critical", 5, rank=4.0)])) == ["urgent", "critical"]
    assert ids(merge_order([view("old", 9, waited=1), view("critical", 5, rank=4.0)])) == ["old", "critical"]


def test_two_batches_waited_go_first_whatever_the_priority() -> None:
    tasks = [
        view("hot", 1, priority=50),
        view("stale", 9, priority=-5, waited=AGED),
        view("staler", 8, waited=AGED + 1),
    ]
    assert ids(merge_order(tasks)) == ["staler", "stale", "hot"]


def test_never_before_a_dependency() -> None:
    tasks = [view("child", 2, priority=9, deps=("parent",)), view("parent", 1)]
    assert ids(merge_order(tasks)) == ["parent", "child"]


@given(
    st.lists(
        st.lists(st.integers(min_value=-3, max_value=3), max_size=MERGE_BATCH),  # each batch's arrivals
        min_size=1,
        max_size=40,
    )
)
def test_with_no_more_arrivals_than_a_batch_takes_nothing_waits_more_than_two_batches(
    arrivals: list[list[int]],
) -> None:
    waiting: dict[str, tuple[int, int, int]] = {}  # id -> (priority, plan order, batch it arrived in)
    count = 0
    for batch, priorities in enumerate([*arrivals, *[[]] * (AGED + 1)]):
        for priority in priorities:
            waiting[f"t{count}"] = (priority, count, batch)
            count += 1
        views = [view(tid, order, priority, batch - since) for tid, (priority, order, since) in waiting.items()]
        for t in merge_order(views)[:MERGE_BATCH]:
            assert batch - waiting.pop(t.id)[2] <= AGED, t.id
    assert not waiting
