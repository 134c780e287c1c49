"""A task's rounds: what each setback costs, and when a task has none left."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from czar.core.rounds import Setback, after_setback

CHARGED = (Setback.CHECKS_FAILED, Setback.CI_FAILED, Setback.MERGE_BROKE, Setback.ABANDONED)
limits = st.integers(1, 10)


def test_a_setback_the_work_caused_uses_a_round_and_the_last_one_fails_the_task() -> None:
    assert after_setback(Setback.CHECKS_FAILED, 0, 3) == after_setback(Setback.ABANDONED, 0, 3)
    assert after_setback(Setback.CI_FAILED, 1, 3) == after_setback(Setback.CHECKS_FAILED, 1, 3)
    assert after_setback(Setback.PERSON_ASKED, 2, 3).rounds == 2  # a person asking costs no round
    assert [after_setback(Setback.MERGE_BROKE, r, 3).fails for r in range(3)] == [False, False, True]


@given(st.sampled_from(list(Setback)), st.integers(0, 20), limits)
def test_waiting_and_a_moved_branch_never_fail_a_task_nor_use_a_round(
    setback: Setback, rounds: int, limit: int
) -> None:
    after = after_setback(setback, rounds, limit)
    if setback in CHARGED:
        assert after.rounds == rounds + 1 and after.fails == (rounds + 1 >= limit)
    else:
        assert not after.fails and after.rounds <= rounds and after.rounds >= 0


@given(st.lists(st.sampled_from([*CHARGED, Setback.GAVE_WAY]), max_size=40), limits)
def test_a_task_fails_at_its_limit_th_charged_setback_and_waiting_in_between_changes_nothing(
    setbacks: list[Setback], limit: int
) -> None:
    rounds = charged = 0
    for setback in setbacks:
        after = after_setback(setback, rounds, limit)
        charged += setback in CHARGED
        assert after.fails == (charged == limit)
        if after.fails:
            return
        rounds = after.rounds
