"""The health ladder, on plain values: what counts as which problem, and which repair comes next."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from czar.core.health import (
    Problem,
    Repair,
    Thresholds,
    Vitals,
    examine,
    expected_gap,
    next_check,
    repair_for,
    stuck_limit,
)
from czar.core.states import WorkerState as W

T = Thresholds(silent_after=10, stuck_after=60, stuck_factor=3, idle_after=2, loop_after=5, grace=5)
NOW = 1000.0


def vitals(**kw: object) -> Vitals:
    base = Vitals(
        worker="w1",
        task="a",
        state=W.WORKING,
        state_since=NOW - 5,
        host_alive=True,
        agent_exited=False,
        started_at=NOW - 5,
        last_output=NOW - 1,
        last_progress=NOW - 1,
    )
    kw.setdefault("state_since", kw.get("started_at", base.started_at))  # working since it started
    return replace(base, **kw)  # type: ignore[arg-type]


def problem(v: Vitals, now: float = NOW) -> Problem | None:
    f = examine(v, now, T)
    return f.problem if f else None


def test_a_busy_healthy_worker_has_no_problem() -> None:
    assert examine(vitals(), NOW, T) is None


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"host_alive": False}, Problem.CRASHED),
        ({"agent_exited": True}, Problem.AGENT_EXITED),
        ({"named_task": "b"}, Problem.WRONG_TASK),
        ({"last_output": NOW - 10, "started_at": NOW - 50}, Problem.SILENT),
        ({"last_output": None, "started_at": NOW - 11, "last_progress": None}, Problem.SILENT),
        ({"last_progress": NOW - 61, "started_at": NOW - 100}, Problem.STUCK),
        ({"repeats": 4}, Problem.LOOPING),
        ({"state": W.WAITING_INPUT, "state_since": NOW - 2}, Problem.IDLE),
        ({"state": W.RATE_LIMITED, "wait_until": NOW}, Problem.RATE_LIMIT_OVER),
        ({"state": W.WAITING_PERMISSION, "asked_at": NOW - 300}, Problem.PERMISSION_TIMEOUT),
    ],
)
def test_each_problem_is_told_apart(kw: dict[str, object], expected: Problem) -> None:
    assert problem(vitals(**kw)) is expected


@pytest.mark.parametrize(
    "kw",
    [
        {"state": W.WAITING_INPUT, "state_since": NOW - 1},  # not idle long enough yet
        {"state": W.RATE_LIMITED, "wait_until": NOW + 1, "last_output": NOW - 500},  # waits rightly
        {"state": W.BLOCKED, "last_output": NOW - 500, "last_progress": NOW - 500},  # waits for a task
        {"state": W.WAITING_PERMISSION, "asked_at": NOW - 10, "last_output": NOW - 500},
        {"repeats": 3},
        {"named_task": "a"},
    ],
)
def test_waiting_for_good_reason_is_not_a_problem(kw: dict[str, object]) -> None:
    assert problem(vitals(**kw)) is None


def test_silence_counts_from_the_return_to_work() -> None:
    # It waited for another task for a long time, quietly, and was told to go on a moment ago.
    back = vitals(started_at=NOW - 500, last_output=NOW - 400, last_progress=NOW - 400, state_since=NOW - 1)
    assert problem(back) is None
    assert problem(back, NOW + T.silent_after) is Problem.SILENT


def test_a_dead_host_outranks_everything_else() -> None:
    assert problem(vitals(host_alive=False, agent_exited=True, named_task="b", repeats=10)) is Problem.CRASHED


def test_the_stuck_limit_follows_the_estimate_and_the_pace() -> None:
    # 30 minutes over 2 checkpoints: 10 minutes expected between checkpoints, 3 times that allowed.
    gap = expected_gap(30, 2, 0, NOW - 100, None)
    assert gap == 600
    assert stuck_limit(vitals(expected_gap=gap), T) == 1800
    # Slow progress so far stretches the limit too: 2 checkpoints in 200 s.
    assert expected_gap(None, 3, 2, NOW - 200, NOW) == 100
    assert expected_gap(None, 3, 0, NOW - 200, None) is None
    quiet = vitals(started_at=NOW - 2000, last_progress=NOW - 1000, last_output=NOW)
    assert problem(quiet) is Problem.STUCK
    assert problem(replace(quiet, expected_gap=600)) is None


def test_the_ladder_nudges_then_restarts_then_reassigns() -> None:
    v = vitals(last_output=NOW - 20, started_at=NOW - 30)
    f = examine(v, NOW, T)
    assert f is not None
    assert repair_for(f, v, NOW, T) is Repair.NUDGE
    nudged = replace(v, nudges=1, healed_at=NOW - 6)
    assert repair_for(f, nudged, NOW, T) is Repair.RESTART
    restarted = replace(nudged, restarts=T.restarts)
    assert repair_for(f, restarted, NOW, T) is Repair.REASSIGN


def test_a_recent_repair_is_given_time_to_work() -> None:
    v = vitals(last_output=NOW - 20, started_at=NOW - 30, nudges=1, healed_at=NOW - 1)
    f = examine(v, NOW, T)
    assert f is not None and repair_for(f, v, NOW, T) is None
    assert next_check(v, NOW, T) == NOW - 1 + T.grace


def test_an_exited_agent_is_restarted_at_once_without_a_nudge() -> None:
    v = vitals(agent_exited=True, healed_at=NOW - 0.1)
    f = examine(v, NOW, T)
    assert f is not None and repair_for(f, v, NOW, T) is Repair.RESTART
    assert repair_for(f, replace(v, restarts=T.restarts), NOW, T) is Repair.REASSIGN


def test_an_agent_whose_every_start_ended_before_its_model_spoke_is_sidelined_not_reassigned() -> None:
    v = vitals(agent_exited=True, restarts=T.restarts, reached_model=False)
    f = examine(v, NOW, T)
    assert f is not None and repair_for(f, v, NOW, T) is Repair.SIDELINE
    assert repair_for(f, replace(v, restarts=0), NOW, T) is Repair.RESTART  # its restarts first
    assert repair_for(f, replace(v, reached_model=True), NOW, T) is Repair.REASSIGN
    silent = vitals(started_at=NOW - 100, last_output=None, restarts=T.restarts, nudges=1, reached_model=False)
    found = examine(silent, NOW, T)
    assert found is not None and repair_for(found, silent, NOW, T) is Repair.REASSIGN  # a hang is not a start


def test_wrong_task_is_corrected_once_then_reassigned_fresh() -> None:
    v = vitals(named_task="b")
    f = examine(v, NOW, T)
    assert f is not None
    assert repair_for(f, v, NOW, T) is Repair.CORRECT
    assert repair_for(f, replace(v, confusions=1), NOW, T) is Repair.REASSIGN


def test_simple_repairs() -> None:
    rate = vitals(state=W.RATE_LIMITED, wait_until=NOW - 1)
    permission = vitals(state=W.WAITING_PERMISSION, asked_at=NOW - 400)
    for v, expected in ((rate, Repair.CONTINUE), (permission, Repair.DENY)):
        f = examine(v, NOW, T)
        assert f is not None and repair_for(f, v, NOW, T) is expected


def test_a_crashed_host_restarts_the_agent_until_restarts_run_out() -> None:
    # Its next host carries the attempt on; only a host that keeps dying costs the task a round.
    crashed = vitals(host_alive=False, nudges=0)
    f = examine(crashed, NOW, T)
    assert f is not None and f.problem is Problem.CRASHED
    assert repair_for(f, crashed, NOW, T) is Repair.RESTART  # no nudge: nobody would hear it
    assert repair_for(f, replace(crashed, restarts=T.restarts), NOW, T) is Repair.REASSIGN


times = st.floats(min_value=0, max_value=500)


@st.composite
def any_vitals(draw: st.DrawFn) -> Vitals:
    started = NOW - draw(times)
    return vitals(
        state=draw(st.sampled_from([W.WORKING, W.WAITING_INPUT, W.RATE_LIMITED, W.WAITING_PERMISSION, W.BLOCKED])),
        state_since=NOW - draw(times),
        started_at=started,
        last_output=draw(st.none() | st.floats(min_value=started, max_value=NOW)),
        last_progress=draw(st.none() | st.floats(min_value=started, max_value=NOW)),
        wait_until=draw(st.none() | st.floats(min_value=NOW - 100, max_value=NOW + 100)),
        asked_at=draw(st.none() | st.floats(min_value=NOW - 500, max_value=NOW)),
        repeats=draw(st.integers(min_value=0, max_value=3)),
        healed_at=draw(st.none() | st.floats(min_value=NOW - 20, max_value=NOW)),
        expected_gap=draw(st.none() | st.floats(min_value=1, max_value=100)),
    )


@settings(max_examples=300, deadline=None)
@given(any_vitals(), st.floats(min_value=0, max_value=1))
def test_nothing_changes_before_the_next_check(v: Vitals, fraction: float) -> None:
    """The supervisor sleeps until ``next_check``: in between, with no new signal, nothing may
    become due that it would miss."""
    nxt = next_check(v, NOW, T)
    before = examine(v, NOW, T)
    later = NOW + fraction * ((nxt if nxt is not None else NOW + 1000) - NOW) * 0.999
    after = examine(v, later, T)
    assert (before.problem if before else None) == (after.problem if after else None)
    if before is not None and after is not None:
        assert repair_for(before, v, NOW, T) == repair_for(after, v, later, T)


@settings(max_examples=300, deadline=None)
@given(any_vitals())
def test_next_check_is_in_the_future(v: Vitals) -> None:
    nxt = next_check(v, NOW, T)
    assert nxt is None or nxt > NOW


def test_a_task_over_its_budget_is_stopped() -> None:
    v = vitals(spent_usd=2.5, budget_usd=2.0)
    f = examine(v, NOW, T)
    assert f is not None and f.problem is Problem.OVER_BUDGET and "$2.50 of its $2.00" in f.evidence
    assert repair_for(f, v, NOW, T) is Repair.STOP
    assert examine(vitals(spent_usd=1.0, budget_usd=2.0), NOW, T) is None


def test_an_agent_that_cannot_reach_its_model_waits_uncharged_and_tries_again_later() -> None:
    evidence = "claude's model API: 401 authentication_failed (1 failed request in a row)"
    long_ago = {"started_at": NOW - 500, "last_output": NOW - 500, "last_progress": NOW - 500}
    v = vitals(state=W.MODEL_UNREACHABLE, state_since=NOW - 1, detail=evidence, **long_ago)
    f = examine(v, NOW, T)
    assert f is not None and (f.problem, f.evidence, f.since) == (Problem.MODEL_UNREACHABLE, evidence, NOW - 1)
    # No nudge, restart or reassignment (they would spend the task's attempts on an outage): it
    # waits, then is told to try again.
    assert repair_for(f, v, NOW, T) is None
    assert next_check(v, NOW, T) == NOW - 1 + T.model_retry
    assert repair_for(f, v, NOW - 1 + T.model_retry, T) is Repair.CONTINUE
    exhausted = replace(v, nudges=9, restarts=9)
    assert repair_for(f, exhausted, NOW + T.model_retry, T) is Repair.CONTINUE


def test_a_blocked_worker_is_examined_for_a_wait_that_is_over_or_goes_round_a_cycle() -> None:
    waiting = vitals(state=W.BLOCKED, last_output=NOW - 500, last_progress=NOW - 500, waits_for=frozenset({"b"}))
    assert problem(waiting) is None  # waiting rightly: what it waits for can still come
    over = replace(waiting, wait_over=True)
    assert problem(over) is Problem.WAIT_OVER
    assert repair_for(examine(over, NOW, T), over, NOW, T) is Repair.RELEASE  # type: ignore[arg-type]
    cycle = replace(waiting, release=frozenset({"b"}))
    found = examine(cycle, NOW, T)
    assert found is not None and found.problem is Problem.DEADLOCK and "b" in found.evidence
    assert repair_for(found, cycle, NOW, T) is Repair.RELEASE
    # Its host dying still comes first.
    assert problem(replace(cycle, host_alive=False)) is Problem.CRASHED
