"""Task, attempt and worker states, and the one table of allowed task transitions."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    PENDING = "pending"  # a hard dependency is not merged yet
    READY = "ready"  # may be assigned to an idle worker
    ASSIGNED = "assigned"  # a worker was chosen and the prompt sent; no acknowledgement yet
    RUNNING = "running"  # the agent acknowledged the task and works on it
    SUBMITTED = "submitted"  # the agent said it is done; waiting for verification
    VERIFYING = "verifying"  # acceptance checks run in the task's worktree
    REVIEWING = "reviewing"  # its checks passed; a reviewer reads the commit (or waits for one)
    APPROVED = "approved"  # verified; waiting in the merge queue
    MERGING = "merging"  # being merged into the integration branch
    MERGED = "merged"  # in the integration branch; dependents may start
    FAILED = "failed"  # attempts exhausted; needs a person
    CANCELLED = "cancelled"  # withdrawn by a person


TERMINAL_TASK_STATES = frozenset({TaskState.MERGED, TaskState.FAILED, TaskState.CANCELLED})

# Tasks in these states occupy a worker.
# Under review its author keeps the worker: changes requested go to the same session.
ACTIVE_TASK_STATES = frozenset(
    {TaskState.ASSIGNED, TaskState.RUNNING, TaskState.SUBMITTED, TaskState.VERIFYING, TaskState.REVIEWING}
)
# Its agent works on the task (it may not have acknowledged it yet): what it commits is its work.
AGENT_AT_WORK = frozenset({TaskState.ASSIGNED, TaskState.RUNNING})
# Handed in and not approved yet: the commit handed in is the work, whatever the agent does next.
HANDED_IN = frozenset({TaskState.SUBMITTED, TaskState.VERIFYING, TaskState.REVIEWING})
# From assigned until merged: its scope is busy.
IN_FLIGHT = ACTIVE_TASK_STATES | {TaskState.APPROVED, TaskState.MERGING}
# Not merged, failed or cancelled, and started at least once or ready to: its branch may still
# change or merge (a task back in the pool keeps its branch's work).
UNMERGED = IN_FLIGHT | {TaskState.READY}

_T = TaskState
TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    _T.PENDING: frozenset({_T.READY, _T.FAILED, _T.CANCELLED}),  # FAILED: a dependency failed
    # READY -> FAILED: it could not start, try after try (git cannot make its branch or clone).
    _T.READY: frozenset({_T.ASSIGNED, _T.PENDING, _T.FAILED, _T.CANCELLED}),
    # ASSIGNED -> READY: the worker vanished before it acknowledged; the task goes back to the pool.
    _T.ASSIGNED: frozenset({_T.RUNNING, _T.READY, _T.FAILED, _T.CANCELLED}),
    _T.RUNNING: frozenset({_T.SUBMITTED, _T.READY, _T.FAILED, _T.CANCELLED}),
    _T.SUBMITTED: frozenset({_T.VERIFYING, _T.RUNNING, _T.FAILED, _T.CANCELLED}),
    # VERIFYING -> RUNNING: checks failed and the same worker gets the evidence.
    _T.VERIFYING: frozenset({_T.APPROVED, _T.REVIEWING, _T.RUNNING, _T.SUBMITTED, _T.FAILED, _T.CANCELLED}),
    # REVIEWING -> RUNNING: changes requested, the findings go to the author's session.
    _T.REVIEWING: frozenset({_T.APPROVED, _T.RUNNING, _T.READY, _T.FAILED, _T.CANCELLED}),
    # APPROVED -> REVIEWING: its branch moved since the review: that commit needs one of its own.
    # APPROVED -> SUBMITTED: with no review, its branch moved since its verification: verified again.
    # APPROVED -> RUNNING, READY: the forge's CI failed on its pull request, or a person asked for
    # changes there: back to its author (RUNNING, if its worker still holds it) or to the pool.
    _T.APPROVED: frozenset({_T.MERGING, _T.REVIEWING, _T.SUBMITTED, _T.RUNNING, _T.READY, _T.FAILED, _T.CANCELLED}),
    # MERGING -> READY: the merge conflicted or broke the integration tests; the task goes back
    # to the pool with the evidence, and its branch keeps the work.
    _T.MERGING: frozenset({_T.MERGED, _T.APPROVED, _T.READY, _T.FAILED}),
    _T.MERGED: frozenset(),
    # A person may retry a failed task (PENDING: its dependencies are not all merged), or give it up.
    _T.FAILED: frozenset({_T.READY, _T.PENDING, _T.CANCELLED}),
    _T.CANCELLED: frozenset(),
}


def can_transition(old: TaskState, new: TaskState) -> bool:
    """True when the table allows ``old -> new``."""
    return new in TRANSITIONS[old]


class AttemptOutcome(StrEnum):
    OPEN = "open"  # still being worked on or checked
    MERGED = "merged"  # its work reached the integration branch
    FAILED = "failed"  # checks failed and no attempts were left, or the worker gave up
    ABANDONED = "abandoned"  # the worker vanished; the task went back to the pool
    CANCELLED = "cancelled"  # the task was cancelled


class WorkerRole(StrEnum):
    AUTHOR = "author"  # works on tasks
    REVIEWER = "reviewer"  # reads verified work and gives a verdict (the plan's ``[review]``)


class WorkerState(StrEnum):
    STARTING = "starting"  # the worker host is being started
    IDLE = "idle"  # no task; ready for one
    WORKING = "working"  # its agent works on a task
    WAITING_INPUT = "waiting_input"  # the agent stopped and waits for a message
    WAITING_PERMISSION = "waiting_permission"  # the agent asks to be allowed something
    RATE_LIMITED = "rate_limited"  # the agent's model refuses for now; it continues at the reset
    MODEL_UNREACHABLE = "model_unreachable"  # the agent cannot reach its model; czar tries again later
    BLOCKED = "blocked"  # the agent waits, rightly, for another task to merge
    STUCK = "stuck"  # no sign of life for too long
    CRASHED = "crashed"  # the worker host or its agent died
    STOPPED = "stopped"  # stopped on purpose
