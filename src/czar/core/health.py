"""Is a busy worker healthy, and if not, what repair comes next? Pure: time is an argument.

Signals, in order of trust: is the worker host alive, did the agent process exit, what state
the agent's own output put the worker in, and how long ago it last printed anything, committed or
reached a checkpoint. Repairs climb a ladder: nudge (a message), restart (the agent, its session
resumed), reassign (the task goes back to the pool), fail (no attempts left; the requeue that
finds none left fails the task and raises an alert).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from czar.core.events import EventKind
from czar.core.states import WorkerState


class Problem(StrEnum):
    CRASHED = "crashed"  # the worker host died: its process is gone
    AGENT_EXITED = "agent_exited"  # the agent process ended without finishing its task
    SILENT = "silent"  # no output at all for too long: hung
    STUCK = "stuck"  # output, but no commit or checkpoint for far longer than the task's pace
    IDLE = "idle"  # waiting for input without having finished
    LOOPING = "looping"  # the same output again and again
    WRONG_TASK = "wrong_task"  # its first report named another task
    RATE_LIMIT_OVER = "rate_limit_over"  # it waited for a rate limit that has now reset
    PERMISSION_TIMEOUT = "permission_timeout"  # nobody answered its permission request in time
    OVER_BUDGET = "over_budget"  # the task spent more on models than its budget allows
    MODEL_UNREACHABLE = "model_unreachable"  # its model refuses the key, cannot be reached, or fails
    WAIT_OVER = "wait_over"  # it waits for tasks that have all merged or failed: nobody will tell it
    DEADLOCK = "deadlock"  # it waits for tasks that wait for it in turn, and comes first in the plan


class Repair(StrEnum):
    NUDGE = "nudge"  # a message: what is wrong, and what to do
    RESTART = "restart"  # stop the agent and start it again, its session resumed
    CORRECT = "correct"  # undo its changes and restart it with the full, right task text
    REASSIGN = "reassign"  # take the task back; another (or the same, fresh) worker gets it
    CONTINUE = "continue"  # tell a rate-limited agent to go on
    DENY = "deny"  # deny an unanswered permission request
    STOP = "stop"  # stop the agent and fail the task, with an alert (it spent its budget)
    RELEASE = "release"  # tell a waiting agent to go on: what it waits for is over, or waits for it
    SIDELINE = "sideline"  # its agent cannot start at all: the task back (no round used), the worker idle for good


def repaired(repair: Repair) -> EventKind:
    """The event that records a repair made: ``health.<repair>`` (each has one in the catalogue)."""
    return EventKind(f"health.{repair.value}")


# Problems where waiting a little after a repair is the right thing: the agent may be recovering.
_PATIENT = frozenset({Problem.SILENT, Problem.STUCK, Problem.IDLE, Problem.LOOPING})


@dataclass(frozen=True)
class Thresholds:
    silent_after: float = 180.0
    stuck_after: float = 600.0
    stuck_factor: float = 3.0
    idle_after: float = 2.0
    loop_after: int = 8
    grace: float = 60.0
    nudges: int = 1
    restarts: int = 2
    permission_timeout: float = 300.0
    stall_after: float = 900.0  # the whole run without progress (see czar.supervisor.stall)
    model_retry: float = 60.0  # seconds before an agent that could not reach its model tries again


@dataclass(frozen=True)
class Vitals:
    """What is known now about one worker whose agent should be working on a task."""

    worker: str
    task: str
    state: WorkerState
    state_since: float
    host_alive: bool
    agent_exited: bool
    started_at: float  # when the attempt began
    last_output: float | None = None
    last_progress: float | None = None
    wait_until: float | None = None  # rate-limited until
    asked_at: float | None = None  # permission requested at
    repeats: int = 0
    nudges: int = 0
    restarts: int = 0
    healed_at: float | None = None
    expected_gap: float | None = None  # seconds expected between two checkpoints
    named_task: str | None = None  # the task its agent named
    confusions: int = 0  # times earlier agents on this task named another
    spent_usd: float = 0.0  # what the task's attempts cost so far
    budget_usd: float | None = None
    detail: str | None = None  # what it waits for, or what went wrong (the evidence of an unreachable model)
    waits_for: frozenset[str] = frozenset()  # the tasks (or a person) its agent waits for
    wait_over: bool = False  # every task it waits for has merged, failed or was cancelled
    release: frozenset[str] = frozenset()  # waits to drop to break a cycle (see czar.core.waits)
    reached_model: bool = True  # its agent took the task on or its model answered, in this attempt


@dataclass(frozen=True)
class Diagnosis:
    problem: Problem
    evidence: str
    since: float  # when the condition began, as far as it can be told


def expected_gap(
    estimate_minutes: float | None, subtasks: int, checkpoint: int, started: float, last_progress: float | None
) -> float | None:
    """Seconds expected between two checkpoints: the slower of the plan's estimate and the pace so far."""
    gaps = []
    if estimate_minutes:
        gaps.append(estimate_minutes * 60 / (subtasks + 1))
    if checkpoint > 0 and last_progress is not None and last_progress > started:
        gaps.append((last_progress - started) / checkpoint)
    return max(gaps) if gaps else None


def _since(signal: float | None, start: float) -> float:
    """When the attempt last gave this signal; its start if it never did (or did before it)."""
    return start if signal is None else max(signal, start)


def _working_since(v: Vitals) -> float:
    """Silence and standstill count from when the attempt began, or when the worker last went back
    to work (a wait for another task, a person or a rate limit is not silence)."""
    return max(v.started_at, v.state_since) if v.state is WorkerState.WORKING else v.started_at


def stuck_limit(v: Vitals, t: Thresholds) -> float:
    return t.stuck_after if v.expected_gap is None else max(t.stuck_after, t.stuck_factor * v.expected_gap)


def examine(v: Vitals, now: float, t: Thresholds) -> Diagnosis | None:
    """The worker's most pressing problem, or None if it looks healthy."""
    if not v.host_alive:
        return Diagnosis(Problem.CRASHED, f"the worker host of {v.worker} is gone", now)
    if v.budget_usd is not None and v.spent_usd > v.budget_usd:
        evidence = f"spent ${v.spent_usd:.2f} of its ${v.budget_usd:.2f} budget"
        return Diagnosis(Problem.OVER_BUDGET, evidence, now)
    if v.agent_exited:
        return Diagnosis(Problem.AGENT_EXITED, f"the agent of {v.worker} exited before finishing {v.task}", now)
    if v.named_task is not None and v.named_task != v.task:
        return Diagnosis(Problem.WRONG_TASK, f"the agent named task {v.named_task}, but its task is {v.task}", now)
    if v.state is WorkerState.MODEL_UNREACHABLE:
        # Not the agent's fault, nor the task's: no repair of the ladder, which would spend its
        # restarts and attempts on an outage; people hear at once, and it tries again later.
        return Diagnosis(Problem.MODEL_UNREACHABLE, v.detail or "its model cannot be reached", v.state_since)
    if v.state is WorkerState.WAITING_PERMISSION:
        asked = v.state_since if v.asked_at is None else v.asked_at
        if now - asked >= t.permission_timeout:
            return Diagnosis(
                Problem.PERMISSION_TIMEOUT, f"no answer to its permission request for {now - asked:.0f} s", asked
            )
        return None
    if v.state is WorkerState.RATE_LIMITED:
        if v.wait_until is not None and now >= v.wait_until:
            return Diagnosis(Problem.RATE_LIMIT_OVER, "the rate limit has reset", v.wait_until)
        return None
    if v.state is WorkerState.BLOCKED:
        # Waiting is right while what it waits for can still come; not once it is over, nor in a
        # cycle of waits, which nothing else would ever break.
        if v.release:
            cycle = ", ".join(sorted(v.release))
            return Diagnosis(Problem.DEADLOCK, f"it waits for {cycle}, which wait(s) for it in turn", now)
        if v.wait_over:
            named = ", ".join(sorted(v.waits_for))
            return Diagnosis(Problem.WAIT_OVER, f"it waits for {named}, which merged or failed already", now)
        return None
    if v.state is WorkerState.STARTING:
        return None
    if v.state is WorkerState.WAITING_INPUT:
        if now - v.state_since >= t.idle_after:
            return Diagnosis(
                Problem.IDLE, f"waiting for input for {now - v.state_since:.0f} s, not finished", v.state_since
            )
        return None
    if v.repeats + 1 >= t.loop_after:
        return Diagnosis(Problem.LOOPING, f"the same output {v.repeats + 1} times in a row", _since(v.last_output, now))
    heard = _since(v.last_output, _working_since(v))
    if now - heard >= t.silent_after:
        return Diagnosis(Problem.SILENT, f"no output for {now - heard:.0f} s", heard)
    moved = _since(v.last_progress, _working_since(v))
    limit = stuck_limit(v, t)
    if now - moved >= limit:
        return Diagnosis(Problem.STUCK, f"no commit or checkpoint for {now - moved:.0f} s (limit {limit:.0f} s)", moved)
    return None


def repair_for(f: Diagnosis, v: Vitals, now: float, t: Thresholds) -> Repair | None:
    """The next repair on the ladder, or None while a recent repair is given time to work."""
    if f.problem is Problem.RATE_LIMIT_OVER:
        return Repair.CONTINUE
    if f.problem is Problem.PERMISSION_TIMEOUT:
        return Repair.DENY
    if f.problem is Problem.MODEL_UNREACHABLE:
        return Repair.CONTINUE if now - f.since >= t.model_retry else None
    if f.problem is Problem.CRASHED:
        # Its host is started again and carries the attempt on: the agent restarts, its session
        # resumed, as long as restarts are left; a host that keeps dying costs the task a round.
        return Repair.RESTART if v.restarts < t.restarts else Repair.REASSIGN
    if f.problem is Problem.OVER_BUDGET:
        return Repair.STOP
    if f.problem in (Problem.WAIT_OVER, Problem.DEADLOCK):
        return Repair.RELEASE
    if f.problem is Problem.WRONG_TASK:
        return Repair.CORRECT if v.confusions == 0 else Repair.REASSIGN
    if f.problem in _PATIENT and v.healed_at is not None and now - v.healed_at < t.grace:
        return None
    if f.problem is not Problem.AGENT_EXITED and v.nudges < t.nudges:
        return Repair.NUDGE
    if v.restarts < t.restarts:
        return Repair.RESTART
    if f.problem is Problem.AGENT_EXITED and not v.reached_model:
        # Every start ended before its model said a word: its program or its settings are broken
        # (an unknown option, a missing library), not the task. Given again, the task would fail
        # for it, and then every other task this worker took: the worker stops taking tasks.
        return Repair.SIDELINE
    return Repair.REASSIGN


def next_check(v: Vitals, now: float, t: Thresholds) -> float | None:
    """The next moment ``examine`` or ``repair_for`` may answer differently with no new signal."""
    times = [
        _since(v.last_output, _working_since(v)) + t.silent_after,
        _since(v.last_progress, _working_since(v)) + stuck_limit(v, t),
    ]
    if v.state is WorkerState.WAITING_INPUT:
        times.append(v.state_since + t.idle_after)
    if v.wait_until is not None:
        times.append(v.wait_until)
    if v.state is WorkerState.MODEL_UNREACHABLE:
        times.append(v.state_since + t.model_retry)
    if v.state is WorkerState.WAITING_PERMISSION:
        times.append((v.state_since if v.asked_at is None else v.asked_at) + t.permission_timeout)
    if v.healed_at is not None:
        times.append(v.healed_at + t.grace)
    future = [x for x in times if x > now]
    return min(future) if future else None
