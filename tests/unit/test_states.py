"""The one table of task transitions."""

from __future__ import annotations

import itertools

import pytest

from czar.core.states import (
    ACTIVE_TASK_STATES,
    AGENT_AT_WORK,
    HANDED_IN,
    IN_FLIGHT,
    TERMINAL_TASK_STATES,
    TRANSITIONS,
    UNMERGED,
    TaskState,
    can_transition,
)

T = TaskState


def test_every_state_has_an_entry() -> None:
    assert set(TRANSITIONS) == set(TaskState)


def test_every_target_is_a_state() -> None:
    for targets in TRANSITIONS.values():
        assert targets <= set(TaskState)


def test_no_state_moves_to_itself() -> None:
    for state, targets in TRANSITIONS.items():
        assert state not in targets


@pytest.mark.parametrize("state", [T.MERGED, T.CANCELLED])
def test_merged_and_cancelled_have_no_way_out(state: TaskState) -> None:
    assert TRANSITIONS[state] == frozenset()
    for other in TaskState:
        assert not can_transition(state, other)


def test_a_failed_task_may_only_be_retried_or_given_up() -> None:
    # Retried: ready, or pending while its dependencies are not all merged; given up: cancelled.
    assert TRANSITIONS[T.FAILED] == frozenset({T.READY, T.PENDING, T.CANCELLED})


def test_terminal_and_active_states() -> None:
    assert frozenset({T.MERGED, T.FAILED, T.CANCELLED}) == TERMINAL_TASK_STATES
    assert not (ACTIVE_TASK_STATES & TERMINAL_TASK_STATES)


def test_the_named_sets_partition_a_tasks_life() -> None:
    # A worker's task is either with its agent or handed in.
    assert AGENT_AT_WORK | HANDED_IN == ACTIVE_TASK_STATES and not AGENT_AT_WORK & HANDED_IN
    assert {T.APPROVED, T.MERGING} == IN_FLIGHT - ACTIVE_TASK_STATES
    # Every task is waiting for a dependency, over, or can still merge.
    assert UNMERGED | TERMINAL_TASK_STATES | {T.PENDING} == set(TaskState)
    assert not UNMERGED & TERMINAL_TASK_STATES and T.PENDING not in UNMERGED


def test_the_happy_path_is_allowed() -> None:
    path = [T.PENDING, T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING, T.MERGED]
    for old, new in itertools.pairwise(path):
        assert can_transition(old, new), f"{old} -> {new}"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (T.VERIFYING, T.RUNNING),  # checks failed: the same worker gets the evidence
        (T.ASSIGNED, T.READY),  # the worker vanished before acknowledging
        (T.RUNNING, T.READY),  # requeue
        (T.MERGING, T.READY),  # the merge conflicted
        (T.MERGING, T.APPROVED),
        (T.PENDING, T.FAILED),  # a dependency failed
        (T.FAILED, T.READY),  # a person retries
        (T.READY, T.PENDING),
    ],
)
def test_recovery_transitions_are_allowed(old: TaskState, new: TaskState) -> None:
    assert can_transition(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (T.PENDING, T.ASSIGNED),  # dependencies must be merged first
        (T.PENDING, T.MERGED),
        (T.READY, T.RUNNING),
        (T.RUNNING, T.APPROVED),  # nothing skips verification
        (T.SUBMITTED, T.MERGED),
        (T.APPROVED, T.MERGED),  # nothing skips the merge
        (T.MERGED, T.READY),
        (T.CANCELLED, T.READY),
        (T.MERGING, T.CANCELLED),  # a merge in progress is finished or undone, not dropped
    ],
)
def test_forbidden_transitions(old: TaskState, new: TaskState) -> None:
    assert not can_transition(old, new)


def test_every_non_terminal_state_can_be_left() -> None:
    for state in set(TaskState) - {T.MERGED, T.CANCELLED}:
        assert TRANSITIONS[state], state


def test_merged_is_reachable_from_every_state_but_cancelled() -> None:
    def reachable(start: TaskState) -> set[TaskState]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in TRANSITIONS[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    for state in TaskState:
        assert (T.MERGED in reachable(state)) is (state is not T.CANCELLED), state


def test_can_transition_agrees_with_the_table() -> None:
    for old, new in itertools.product(TaskState, TaskState):
        assert can_transition(old, new) is (new in TRANSITIONS[old])
