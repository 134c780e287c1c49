"""A message pasted into an agent's screen: Enter again while it is not confirmed, a few times,
its clock held while the agent is at work on a turn."""

from __future__ import annotations

from czar.host.agent_run import Submit
from czar.host.delivery import SUBMIT_TRIES, SUBMIT_WAIT, Pasted, look


def test_a_paste_waits_then_gets_enter_again_then_is_lost() -> None:
    pending = Submit("d", deadline=SUBMIT_WAIT)
    assert look(pending, busy=False, seen_other=False, now=1.0) is Pasted.WAITING
    now = SUBMIT_WAIT
    seen = []
    for _ in range(SUBMIT_TRIES + 1):
        seen.append(look(pending, busy=False, seen_other=False, now=now))
        now += SUBMIT_WAIT
    assert seen == [Pasted.ENTER_AGAIN] * (SUBMIT_TRIES - 1) + [Pasted.LOST, Pasted.LOST]
    assert pending.tries == SUBMIT_TRIES


def test_an_agent_at_work_holds_the_clock() -> None:
    pending = Submit("d", deadline=SUBMIT_WAIT)
    for now in range(1, 60):  # a long turn: the paste is queued behind it
        assert look(pending, busy=True, seen_other=False, now=float(now)) is Pasted.WAITING
    assert pending.tries == 1
    assert look(pending, busy=False, seen_other=False, now=59 + SUBMIT_WAIT) is Pasted.ENTER_AGAIN


def test_another_prompt_meanwhile_makes_it_unconfirmed_not_lost() -> None:
    pending = Submit("d", deadline=0.0, tries=SUBMIT_TRIES)
    assert look(pending, busy=False, seen_other=True, now=1.0) is Pasted.UNCONFIRMED
    # Seen once is remembered.
    again = Submit("d", deadline=10.0, tries=SUBMIT_TRIES)
    assert look(again, busy=False, seen_other=True, now=1.0) is Pasted.WAITING
    assert look(again, busy=False, seen_other=False, now=11.0) is Pasted.UNCONFIRMED
