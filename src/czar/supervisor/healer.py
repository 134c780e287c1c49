"""The supervisor's health round: examine every busy worker, report each new problem once with
its evidence, and carry out the next repair on the ladder (see ``czar.core.health``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select, update

from czar.core import health, waits
from czar.core.events import EventKind
from czar.core.health import Finding, Problem, Repair, Thresholds, Vitals, repaired
from czar.core.host_commands import Answer, MessageKind, Restart, StartTask, Tell
from czar.core.states import AGENT_AT_WORK, TERMINAL_TASK_STATES, TaskState, WorkerState
from czar.runtime import proc
from czar.store.schema import attempts, tasks, workers
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.project import Project
from czar.supervisor.snapshot import held_tasks

HOST_START_SECONDS = 30.0  # a worker host that has not registered by then is started again


@dataclass(frozen=True)
class Patient:
    vitals: Vitals
    attempt: int
    prompt: str
    base_commit: str
    worker_pid: int | None


def thresholds(project: Project) -> Thresholds:
    return Thresholds(**project.plan.health.model_dump())


class Healer:
    def __init__(self, project: Project, actions: Actions, say: Callable[[str], None]) -> None:
        self.p = project
        self.store = project.store
        self.actions = actions
        self.say = say
        self.t = thresholds(project)
        self.reported: dict[str, tuple[Problem, int]] = {}  # worker -> the incident reported last
        self.unreachable: set[int] = set()  # attempts whose unreachable model people were alerted to

    # -- one round ---------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> tuple[float | None, list[str]]:
        """Examine and repair; returns the next moment worth looking again, and the workers whose
        host must be started again."""
        now = time.time() if now is None else now
        self._settle_waits()
        patients, lost = self._read(now)
        nxt: list[float] = []
        for pt in patients:
            v = pt.vitals
            finding = health.examine(v, now, self.t)
            if finding is None:
                self.reported.pop(v.worker, None)
            else:
                self._detected(pt, finding)
                repair = health.repair_for(finding, v, now, self.t)
                if repair is not None:
                    self._repair(pt, finding, repair, now)
                if finding.problem is Problem.CRASHED:
                    lost.append(v.worker)  # the supervisor starts its host again
            when = health.next_check(v, now, self.t)
            if when is not None:
                nxt.append(when)
        return (min(nxt) if nxt else None), lost

    def _read(self, now: float) -> tuple[list[Patient], list[str]]:
        with self.store.read() as conn:
            rows = conn.execute(
                select(
                    workers,
                    tasks.c.id.label("task"),
                    tasks.c.spec,
                    tasks.c.checkpoint,
                    tasks.c.confusions,
                    tasks.c.state.label("task_state"),
                    tasks.c.blocked_on,
                    attempts.c.id.label("attempt"),
                    attempts.c.started_at,
                    attempts.c.agent_exited_at,
                    attempts.c.nudges,
                    attempts.c.restarts,
                    attempts.c.healed_at,
                    attempts.c.named_task,
                    attempts.c.prompt,
                    attempts.c.base_commit,
                )
                .outerjoin(tasks, tasks.c.id == workers.c.task_id)
                .outerjoin(attempts, attempts.c.id == tasks.c.attempt_id)
            ).all()
        spent = self._spent()
        finished, release = self._waits()
        patients: list[Patient] = []
        lost: list[str] = []
        for r in rows:
            alive = _host_alive(r, now)
            busy = r.task is not None and r.task_state in AGENT_AT_WORK
            if not busy or r.attempt is None:
                # A host that ended on its own (stopped, or an error) is started again too; one the
                # supervisor gave up on (crashed: it kept dying) is not.
                if not alive and r.state != WorkerState.CRASHED.value:
                    lost.append(r.id)
                continue
            spec = json.loads(r.spec)
            vitals = Vitals(
                worker=r.id,
                task=r.task,
                state=WorkerState(r.state),
                state_since=r.state_since or r.started_at,
                host_alive=alive,
                agent_exited=r.agent_exited_at is not None,
                started_at=r.started_at,
                last_output=r.last_output,
                last_progress=r.last_progress,
                wait_until=r.wait_until,
                asked_at=_asked_at(r.detail) if r.state == WorkerState.WAITING_PERMISSION.value else None,
                repeats=r.repeats,
                nudges=r.nudges,
                restarts=r.restarts,
                healed_at=r.healed_at,
                expected_gap=health.expected_gap(
                    spec.get("estimate"), len(spec["subtasks"]), r.checkpoint, r.started_at, r.last_progress
                ),
                named_task=r.named_task,
                confusions=r.confusions,
                spent_usd=spent.get(r.task, 0.0),
                budget_usd=spec.get("budget_usd"),
                detail=r.detail,
                waits_for=waits.parse(r.blocked_on),
                wait_over=waits.over(waits.parse(r.blocked_on), finished),
                release=release.get(r.task, frozenset()),
            )
            patients.append(Patient(vitals, r.attempt, r.prompt, r.base_commit, r.pid))
        return patients, lost

    def _waits(self) -> tuple[set[str], dict[str, frozenset[str]]]:
        """The tasks that can no longer come (merged, failed, cancelled), and the waits to drop
        to break every cycle of waits (by plan order, see czar.core.waits)."""
        with self.store.read() as conn:
            rows = conn.execute(select(tasks.c.id, tasks.c.state, tasks.c.ord, tasks.c.blocked_on)).all()
            holds = held_tasks(conn)
        finished, graph, order = _wait_graph(rows)
        return finished, waits.releases(graph, order, holds)

    def _settle_waits(self) -> None:
        """Waits of tasks no agent holds, and waits that hold every worker: a task back in the
        pool stops waiting for tasks that are over, or that wait for it in a cycle it comes first
        in; and when every worker waits for a task that needs one to start, the waiting agent last
        in the plan gives its worker back (see czar.core.waits). Agents at work hear theirs from
        their own examination."""
        with self.store.read() as conn:
            rows = conn.execute(select(tasks.c.id, tasks.c.state, tasks.c.ord, tasks.c.blocked_on)).all()
            idle = conn.execute(
                select(func.count())
                .select_from(workers)
                .where(workers.c.state == WorkerState.IDLE.value, workers.c.task_id.is_(None))
            ).scalar_one()
            holds = held_tasks(conn)
        finished, graph, order = _wait_graph(rows)
        released = waits.releases(graph, order, holds)
        changes: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        for r in rows:
            if r.state == TaskState.READY.value and r.blocked_on:
                now = waits.parse(r.blocked_on)
                left = frozenset() if waits.over(now, finished) else now - released.get(r.id, frozenset())
                if left != now:
                    changes[r.id] = (now, left)
        states = {r.id: r.state for r in rows}
        yielding = waits.starved(states, graph, order, int(idle), holds)
        if not changes and yielding is None:
            return  # the usual case: nothing to write
        with self.store.write() as conn:
            for tid, (before, left) in changes.items():
                if Store.task_row(conn, tid).blocked_on != waits.render(before):
                    continue  # it moved on since the look
                conn.execute(update(tasks).where(tasks.c.id == tid).values(blocked_on=waits.render(left)))
                Store.emit(conn, EventKind.TASK_WAITS, task=tid, before=sorted(before), after=sorted(left))
            if yielding is not None:
                row = Store.task_row(conn, yielding)
                if row.state != states[yielding] or waits.parse(row.blocked_on) != graph[yielding]:
                    return
                needed = sorted(t for t in graph[yielding] if states.get(t) == TaskState.READY.value)
                why = f"every worker waits, and {', '.join(needed) or 'a task it waits for'} needs one to start"
                self.actions.requeue(conn, yielding, f"gave its worker back: {why}", waiting=True)
        if yielding is not None:
            self.say(f"task {yielding} gives its worker back while it waits: {why}")

    def _spent(self) -> dict[str, float]:
        """What each task's attempts cost so far."""
        with self.store.read() as conn:
            rows = conn.execute(
                select(attempts.c.task_id, func.sum(attempts.c.cost_usd)).group_by(attempts.c.task_id)
            ).all()
        return {task: float(total or 0.0) for task, total in rows}

    # -- reporting and repairing -------------------------------------------------------------

    def _detected(self, pt: Patient, f: Finding) -> None:
        v = pt.vitals
        incident = (f.problem, pt.attempt)
        if self.reported.get(v.worker) == incident:
            return
        self.reported[v.worker] = incident
        with self.store.write() as conn:
            Store.emit(
                conn,
                EventKind.HEALTH_DETECTED,
                task=v.task,
                worker=v.worker,
                attempt=pt.attempt,
                problem=f.problem.value,
                evidence=f.evidence,
                since=f.since,
            )
            if f.problem is Problem.MODEL_UNREACHABLE and pt.attempt not in self.unreachable:
                # Nothing czar does brings a model back: a person must look (a key, a proxy, an
                # outage), once per attempt however often it is retried.
                self.unreachable.add(pt.attempt)
                message = f"the agent of {v.worker} cannot reach its model: {f.evidence}"
                Store.alert(conn, "critical", message, task=v.task, worker=v.worker, problem=f.problem.value)
        self.say(f"health: {v.worker} on {v.task}: {f.problem} ({f.evidence})")

    def _repair(self, pt: Patient, f: Finding, repair: Repair, now: float) -> None:
        v = pt.vitals
        ids: dict[str, Any] = {"task": v.task, "worker": v.worker, "attempt": pt.attempt}
        why = f"{f.problem}: {f.evidence}"
        with self.store.write() as conn:
            task = Store.task_row(conn, v.task)
            if task.attempt_id != pt.attempt:
                return  # the attempt ended since we looked
            if repair is Repair.NUDGE:
                self._bump(conn, pt.attempt, "nudges", now)
                Store.set_worker(conn, v.worker, repeats=0)
                self.actions.tell(conn, task, MessageKind.NUDGE, nudge_text(f, v.task))
            elif repair is Repair.RESTART:
                self._bump(conn, pt.attempt, "restarts", now)
                self.supersede(conn, pt.attempt)
                conn.execute(Store.attempt_update(pt.attempt, agent_exited_at=None))
                Store.set_worker(conn, v.worker, state=WorkerState.WORKING, repeats=0, last_output=now, detail=None)
                if not agent_start_waiting(conn, v.worker, pt.attempt):
                    Store.post(conn, v.worker, Restart(pt.attempt, why))
            elif repair is Repair.CORRECT:
                self.supersede(conn, pt.attempt)
                conn.execute(Store.attempt_update(pt.attempt, named_task=None, healed_at=now))
                conn.execute(update(tasks).where(tasks.c.id == v.task).values(confusions=tasks.c.confusions + 1))
                Store.set_worker(conn, v.worker, state=WorkerState.WORKING, last_output=now)
                correction = correction_text(v.named_task, v.task) + pt.prompt
                Store.post(conn, v.worker, Restart(pt.attempt, why, reset_to=pt.base_commit, prompt=correction))
            elif repair is Repair.REASSIGN:
                self.actions.requeue(conn, v.task, why, fresh=f.problem is Problem.WRONG_TASK)
            elif repair is Repair.CONTINUE:
                Store.set_worker(conn, v.worker, state=WorkerState.WORKING, wait_until=None, detail=None)
                self.actions.tell(conn, task, MessageKind.CONTINUE, continue_text(f))
            elif repair is Repair.STOP:
                self.actions.free_worker(conn, v.worker, pt.attempt)
                conn.execute(Store.attempt_update(pt.attempt, outcome="failed"))
                self.actions.fail(conn, v.task, why, f"task {v.task} stopped: {f.evidence}")
            elif repair is Repair.RELEASE:
                self._release(conn, task, v)
            elif repair is Repair.DENY:
                Store.set_worker(conn, v.worker, state=WorkerState.WORKING, detail=None)
                reason = f"nobody answered within {self.t.permission_timeout:g} s"
                Store.post(conn, v.worker, Answer(pt.attempt, False, reason))
                Store.emit(conn, EventKind.PERMISSION_DECIDED, **ids, decision="deny", reason=reason, by="timeout")
            Store.emit(conn, repaired(repair), **ids, problem=f.problem.value, evidence=f.evidence)
        self.say(f"health: {v.worker} on {v.task}: {repair} ({f.problem})")

    def _release(self, conn: Connection, task: Any, v: Vitals) -> None:
        """Stop the agent waiting: for tasks that are over, or for those of a cycle it comes first in."""
        waited = waits.parse(task.blocked_on)
        left = waited - v.release if v.release else frozenset()
        conn.execute(update(tasks).where(tasks.c.id == task.id).values(blocked_on=waits.render(left)))
        if left:
            return  # it still waits, rightly, for tasks outside the cycle
        Store.set_worker(conn, v.worker, state=WorkerState.WORKING, detail=None)
        integration = self.p.plan.project.integration_branch
        if v.release:
            names = ", ".join(sorted(v.release))
            text = (
                f"Task(s) {names}, which you wait for, wait for you in turn. Your task comes first in the plan: "
                f"go on with it without waiting for them (bring in what has merged: `git merge {integration}`)."
            )
        else:
            names = ", ".join(sorted(waited))
            text = (
                f"Every task you were waiting for ({names}) has merged or failed. Bring the integration branch "
                f"into yours (`git merge {integration}`) and go on."
            )
        self.actions.tell(conn, task, MessageKind.GO_ON, text)

    @staticmethod
    def supersede(conn: Connection, attempt: int) -> None:
        """From now on, ignore what the agent process being replaced still reports."""
        conn.execute(update(attempts).where(attempts.c.id == attempt).values(stale_launch=attempts.c.launches))

    @staticmethod
    def _bump(conn: Connection, attempt: int, column: str, now: float) -> None:
        conn.execute(
            update(attempts).where(attempts.c.id == attempt).values({column: attempts.c[column] + 1, "healed_at": now})
        )


def agent_start_waiting(conn: Connection, worker: str, attempt: int) -> bool:
    """A command that starts the worker's agent on ``attempt`` waits in its inbox (for a host
    that died before reading it, say): another restart on top of it would start the agent twice."""
    starts = (StartTask, Restart, Tell)
    return any(isinstance(p.command, starts) and p.command.attempt == attempt for p in Store.queued(conn, worker))


def _wait_graph(rows: Any) -> tuple[set[str], dict[str, frozenset[str]], dict[str, int]]:
    """From the tasks' rows: those that can no longer come, who waits for which tasks (tasks back
    in the pool or at work), and the plan's order."""
    finished = {r.id for r in rows if TaskState(r.state) in TERMINAL_TASK_STATES}
    waiting = (TaskState.READY.value, TaskState.ASSIGNED.value, TaskState.RUNNING.value)
    graph = {r.id: waits.parse(r.blocked_on) - {waits.PERSON} for r in rows if r.blocked_on and r.state in waiting}
    return finished, graph, {r.id: r.ord for r in rows}


def _host_alive(row: Any, now: float) -> bool:
    if row.state == WorkerState.STARTING.value and row.pid is None:
        since: float = row.state_since or row.updated_at
        return now - since < HOST_START_SECONDS
    pid: int | None = row.pid
    return proc.pid_alive(pid)


def _asked_at(detail: str | None) -> float | None:
    try:
        value = json.loads(detail or "")
    except json.JSONDecodeError:
        return None
    return float(value["asked_at"]) if isinstance(value, dict) and "asked_at" in value else None


def nudge_text(f: Finding, task: str) -> str:
    if f.problem is Problem.IDLE:
        return (
            f"You stopped before finishing task {task}. Carry on with it; when your work is committed and its "
            "checks pass, finish (`czar done`). If something blocks you, say so (`czar blocked` or `czar ask`)."
        )
    if f.problem is Problem.LOOPING:
        return f"You keep doing the same thing ({f.evidence}). Step back, and try another way to finish task {task}."
    if f.problem is Problem.SILENT:
        return (
            f"czar has heard nothing from you on task {task} ({f.evidence}). If you are working, report your "
            "progress (`czar report`); if you are stuck, say what blocks you (`czar blocked` or `czar ask`)."
        )
    return (
        f"Task {task} has not moved ({f.evidence}). Commit what works, report your checkpoint "
        "(`czar report --checkpoint N`), or say what blocks you."
    )


def continue_text(f: Finding) -> str:
    if f.problem is Problem.MODEL_UNREACHABLE:
        return "czar tries your model again: continue your task where you left off."
    return "The rate limit has reset: continue where you left off."


def correction_text(named: str | None, task: str) -> str:
    return (
        f"Correction from czar: you named task {named or '(none)'}, but your task is {task}. Whatever you did "
        f"for {named or 'another task'} has been undone. Here is your own task again, in full.\n\n"
    )
