"""What follows a verification (``czar.core.verification.judge``): properties over every mix of
what the radar and the checks can find."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from czar.core.host_commands import MessageKind
from czar.core.verification import UNRESOLVED, Approve, Blocker, Defer, Fail, SendBack, judge

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


@given(blockers, problems, rounds, limits, st.integers(0, 10))
def test_a_blocker_its_agent_leaves_unresolved_hand_in_after_hand_in_uses_a_round(
    blocker: Blocker | None, found: tuple[str, ...], used: int, limit: int, unresolved: int
) -> None:
    # Found by a probe: an agent that handed in the same conflict again and again was deferred
    # 404 times in 194 s, no round used, with no end.
    verdict = judge(blocker, found, used, limit, unresolved)
    if blocker is None:
        assert verdict == judge(None, found, used, limit)  # only blockers are counted
    elif blocker.waits or unresolved < UNRESOLVED - 1:
        assert verdict == Defer(blocker)  # a task to wait for, or not yet the UNRESOLVEDth
    else:
        assert isinstance(verdict, SendBack | Fail) and verdict.rounds == used + 1
        assert blocker.evidence in verdict.evidence and all(p in verdict.evidence for p in found)
        assert isinstance(verdict, Fail) == (used + 1 >= limit)


def test_an_agent_that_never_resolves_its_conflict_fails_its_task_after_its_rounds() -> None:
    conflict = Blocker(MessageKind.CONFLICT, "Your branch conflicts with the integration branch in a.py")
    used, unresolved, hand_ins = 0, 0, 0
    while True:
        hand_ins += 1
        verdict = judge(conflict, (), used, 3, unresolved)
        if isinstance(verdict, Fail):
            break
        if isinstance(verdict, SendBack):
            used, unresolved = verdict.rounds, 0
        else:
            unresolved += 1
    assert hand_ins == 3 * UNRESOLVED and verdict.rounds == 3
    assert "Handed in 3 times in a row without resolving this" in verdict.evidence


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
