"""What follows a verification (``czar.core.verification.judge``): properties over every mix of
what the radar and the checks can find."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from czar.core.host_commands import MessageKind
from czar.core.verification import Approve, Blocker, Defer, Fail, SendBack, judge

blockers = st.none() | st.builds(
    Blocker,
    st.sampled_from([MessageKind.STAND_OFF, MessageKind.CONFLICT]),
    st.text(min_size=1, max_size=40),
    st.lists(st.sampled_from(["a", "b", "c"]), max_size=3, unique=True).map(tuple),
)
problems = st.lists(st.text(min_size=1, max_size=40), max_size=4).map(tuple)
rounds = st.integers(0, 12)
limits = st.integers(1, 10)


def test_clean_work_is_approved_with_its_round_counted() -> None:
    assert judge(None, (), 0, 3) == Approve(1)
    assert judge(None, ("no commits",), 0, 3) == SendBack(1, "no commits")
    assert judge(None, ("no commits", "tests failed"), 2, 3) == Fail(3, "no commits\n\ntests failed")


@given(blockers, problems, rounds, limits)
def test_what_the_radar_found_defers_the_work_whatever_else_and_costs_nothing(
    blocker: Blocker | None, found: tuple[str, ...], used: int, limit: int
) -> None:
    verdict = judge(blocker, found, used, limit)
    if blocker is not None:
        assert verdict == Defer(blocker)
    else:
        assert not isinstance(verdict, Defer)


@given(problems, rounds, limits)
def test_problems_use_one_round_and_the_last_one_fails_the_task_with_every_piece_of_evidence(
    found: tuple[str, ...], used: int, limit: int
) -> None:
    verdict = judge(None, found, used, limit)
    if not found:
        assert verdict == Approve(used + 1)
        return
    assert isinstance(verdict, SendBack | Fail)
    assert verdict.rounds == used + 1
    assert isinstance(verdict, Fail) == (used + 1 >= limit)
    assert all(p in verdict.evidence for p in found)


@given(st.lists(st.booleans(), min_size=1, max_size=30), limits)
def test_a_task_is_sent_back_limit_minus_one_times_then_fails(failures: list[bool], limit: int) -> None:
    used = 0
    for failed in failures:
        verdict = judge(None, ("tests failed",) if failed else (), used, limit)
        if isinstance(verdict, Approve):
            return  # approved: it goes on to the merge queue
        if isinstance(verdict, Fail):
            assert verdict.rounds == limit
            return
        assert isinstance(verdict, SendBack) and verdict.rounds < limit
        used = verdict.rounds
