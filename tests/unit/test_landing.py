"""What follows a task's turn in the merge queue (``czar.core.landing``): properties over every
landing and count of rounds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from czar.core.landing import AfterLanding, Landing, after_landing
from czar.core.states import TaskState

rounds = st.integers(0, 12)
limits = st.integers(1, 10)


def test_each_landing_sends_the_task_where_it_belongs() -> None:
    assert after_landing(Landing.MERGED, 1, 3) == AfterLanding(TaskState.MERGED, 1, False)
    assert after_landing(Landing.HELD, 1, 3) == AfterLanding(TaskState.APPROVED, 1, False)
    assert after_landing(Landing.NEXT_BATCH, 1, 3) == AfterLanding(TaskState.APPROVED, 1, False)
    assert after_landing(Landing.BROKE, 1, 3) == AfterLanding(TaskState.READY, 2, True)
    assert after_landing(Landing.BROKE, 2, 3) == AfterLanding(TaskState.FAILED, 3, True)


@given(st.sampled_from(list(Landing)), rounds, limits)
def test_only_work_at_fault_uses_a_round_and_only_it_can_fail_the_task(landing: Landing, used: int, limit: int) -> None:
    after = after_landing(landing, used, limit)
    assert after.charged == (landing is Landing.BROKE)
    if after.charged:
        assert after.rounds == used + 1
        assert (after.state is TaskState.FAILED) == (used + 1 >= limit)
    else:
        assert after.state is not TaskState.FAILED and after.rounds <= used


@given(st.sampled_from([Landing.HELD, Landing.NEXT_BATCH, Landing.MOVED_UNDER]), rounds, limits)
def test_waiting_or_making_the_work_again_never_loses_the_task(landing: Landing, used: int, limit: int) -> None:
    after = after_landing(landing, used, limit)
    assert after.state in (TaskState.APPROVED, TaskState.READY) and after.rounds >= 0


@given(st.lists(st.sampled_from([Landing.HELD, Landing.BROKE]), min_size=1, max_size=30), limits)
def test_a_task_whose_merges_keep_breaking_fails_at_its_limit_th_break_and_waiting_changes_nothing(
    landings: list[Landing], limit: int
) -> None:
    used = broke = 0
    for landing in landings:
        after = after_landing(landing, used, limit)
        broke += landing is Landing.BROKE
        assert (after.state is TaskState.FAILED) == (broke == limit)
        if after.state is TaskState.FAILED:
            return
        used = after.rounds
