"""The supervisor's health round: examine every busy worker, report each new problem once with
its evidence, and carry out the next repair on the ladder (see ``czar.core.health``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any

from czar.core import health, waits
from czar.core.asked import Asked
from czar.core.events import EventKind
from czar.core.health import Diagnosis, Problem, Repair, Thresholds, Vitals, repaired
from czar.core.host_commands import Answer, MessageKind, Restart, StartTask, Tell
from czar.core.states import AGENT_AT_WORK, TERMINAL_TASK_STATES, AttemptOutcome, TaskState, WorkerRole, WorkerState
from czar.runtime import proc
from czar.store.records import Station, Task, TaskBrief, Worker
from czar.store.store import Store, Tx
from czar.supervisor import stall
from czar.supervisor.actions import Actions
from czar.supervisor.clock_jumps import ClockJumps, SinceJump
from czar.supervisor.project import Project

HOST_START_SECONDS = 30.0  # a worker host that has not registered by then is started again
LAST_WORDS = 300  # characters of what an agent said last, in the evidence of its exit
STARTS = (EventKind.AGENT_STARTED, EventKind.AGENT_RESTARTED)  # an agent's start, for ``last_said``


@dataclass(frozen=True)
class _Look:
    """What a health round reads, in one read transaction: the workers with their tasks and
    attempts, every task, the merges held back (task -> the tasks it conflicts with or
    duplicates), and how many workers are idle. A round that changes no wait reads it once."""

    stations: list[Station]
    tasks: list[TaskBrief]
    holds: dict[str, frozenset[str]]
    idle: int

    @cached_property
    def wait_graph(self) -> tuple[set[str], dict[str, frozenset[str]], dict[str, int], dict[str, frozenset[str]]]:
        """The tasks that can no longer come (merged, failed, cancelled), who waits for which,
        the plan's order, and the waits to drop to break every cycle of waits (by plan order,
        see czar.core.waits)."""
        finished, graph, order = _wait_graph(self.tasks)
        return finished, graph, order, waits.releases(graph, order, self.holds)


@dataclass(frozen=True)
class Patient:
    vitals: Vitals
    attempt: int
    base_commit: str
    worker_pid: int | None


def last_said(conn: Tx, attempt: int) -> str | None:
    """What the attempt's agent said last (its last line of activity, or of error), since its last
    start: a start that said nothing is not quoted with the words of the one before."""
    kinds = (EventKind.AGENT_ACTIVITY, EventKind.AGENT_ERROR)
    said = [e for e in (Store.last_event_of(conn, attempt, k) for k in kinds) if e]
    starts = [e.id for e in (Store.last_event_of(conn, attempt, k) for k in STARTS) if e]
    last = max(said, key=lambda e: e.id) if said else None
    return str(last.payload.get("text")) if last is not None and last.id > max(starts, default=0) else None


def thresholds(project: Project) -> Thresholds:
    return Thresholds(**project.plan.health.model_dump())


class Healer:
    def __init__(self, project: Project, actions: Actions, say: Callable[[str], None]) -> None:
        self.p = project
        self.store = project.store
        self.actions = actions
        self.say = say
        self.t = thresholds(project)
        self.jumps = ClockJumps(project.clock)
        self.since_jump = SinceJump()  # times stored before the wall clock last jumped count from it
        self.reported: dict[str, tuple[Problem, int]] = {}  # worker -> the incident reported last
        self.unreachable: set[int] = set()  # attempts whose unreachable model people were alerted to
        self.sidelined: set[str] = set()  # workers whose agent cannot start, until the run starts again
        with self.store.read() as conn:
            self.earlier = Store.last_attempt_id(conn)  # attempts of earlier supervisors, and settings

    # -- one round ---------------------------------------------------------------------------

    def tick(self, now: float | None = None) -> tuple[float | None, list[str]]:
        """Examine and repair; returns the next moment worth looking again, and the workers whose
        host must be started again."""
        now = self.p.clock.time() if now is None else now
        self._jumped(now)
        look = self._look()
        if self._settle_waits(look):
            look = self._look()  # what the round examines is read after its changes, not before
        patients, lost = self._read(now, look)
        nxt: list[float] = []
        for pt in patients:
            v = pt.vitals
            finding = health.examine(v, now, self.t)
            if finding is not None and finding.problem is Problem.AGENT_EXITED:
                finding = self._last_words(finding, pt.attempt)
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

    def _jumped(self, now: float) -> None:
        jumped = self.jumps.look()
        if not jumped:
            return
        self.since_jump.jumped(now)
        with self.store.write() as conn:
            Store.emit(conn, EventKind.CLOCK_JUMPED, seconds=round(jumped, 1))
        said = f"{jumped:.0f} s on" if jumped > 0 else f"{-jumped:.0f} s back"
        self.say(
            f"health: the clock jumped {said} (the machine slept, or the clock was set); no agent is judged for it"
        )

    def _last_words(self, f: Diagnosis, attempt: int) -> Diagnosis:
        """An agent's exit with what it said last: the alert of a task that fails for it says why
        (a script that does not parse, a missing key), not only that it exited."""
        with self.store.read() as conn:
            said = last_said(conn, attempt)
        return replace(f, evidence=f"{f.evidence}; it said last: {said[:LAST_WORDS]}") if said else f

    def _look(self) -> _Look:
        with self.store.read() as conn:
            return _Look(Store.stations(conn), Store.task_briefs(conn), Store.held_tasks(conn), Store.idle_count(conn))

    def _read(self, now: float, look: _Look) -> tuple[list[Patient], list[str]]:
        stations = look.stations
        spent = self._spent()
        finished, _, _, release = look.wait_graph
        patients: list[Patient] = []
        lost: list[str] = []
        # Asked of tmux only while a host is on its way: one that died before registering is lost.
        on_way = any(s.worker.state is WorkerState.STARTING and s.worker.pid is None for s in stations)
        live = self.p.tmux.live_windows() if on_way else set()
        for w, task, attempt in ((s.worker, s.task, s.attempt) for s in stations):
            alive = host_alive(w, now, live, self.since_jump)
            if task is None or task.state not in AGENT_AT_WORK or attempt is None:
                # A host that ended on its own (stopped, or an error) is started again too; one the
                # supervisor gave up on (crashed: it kept dying) is not.
                if not alive and w.state is not WorkerState.CRASHED:
                    lost.append(w.id)
                continue
            spec = task.spec
            vitals = Vitals(
                worker=w.id,
                task=task.id,
                state=w.state,
                state_since=self.since_jump(w.state_since or attempt.started_at, now),
                host_alive=alive,
                agent_exited=attempt.agent_exited_at is not None,
                started_at=self.since_jump(attempt.started_at, now),
                last_output=self.since_jump(w.last_output, now),
                last_progress=self.since_jump(w.last_progress, now),
                wait_until=w.wait_until,
                asked_at=self.since_jump(Asked.read(w.detail).asked_at, now)
                if w.state is WorkerState.WAITING_PERMISSION
                else None,
                repeats=w.repeats,
                nudges=attempt.nudges,
                restarts=attempt.restarts,
                healed_at=self.since_jump(attempt.healed_at, now),
                expected_gap=health.expected_gap(
                    spec.estimate,
                    len(spec.subtasks),
                    task.checkpoint,
                    self.since_jump(attempt.started_at, now),
                    self.since_jump(w.last_progress, now),
                ),
                named_task=attempt.named_task,
                confusions=task.confusions,
                spent_usd=spent.get(task.id, 0.0),
                budget_usd=spec.budget_usd,
                detail=w.detail,
                waits_for=waits.parse(task.blocked_on),
                wait_over=waits.over(waits.parse(task.blocked_on), finished),
                release=release.get(task.id, frozenset()),
                reached_model=attempt.acked_at is not None or attempt.input_tokens + attempt.output_tokens > 0,
            )
            patients.append(Patient(vitals, attempt.id, attempt.base_commit, w.pid))
        return patients, lost

    def _settle_waits(self, look: _Look) -> bool:
        """Waits of tasks no agent holds, and waits that hold every worker: a task back in the
        pool stops waiting for tasks that are over, or that wait for it in a cycle it comes first
        in; and when every worker waits for a task that needs one to start, the waiting agent last
        in the plan gives its worker back (see czar.core.waits). Agents at work hear theirs from
        their own examination. True if it changed something."""
        rows, idle, holds = look.tasks, look.idle, look.holds
        finished, graph, order, released = look.wait_graph
        changes: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        for r in rows:
            if r.state is TaskState.READY and r.blocked_on:
                now = waits.parse(r.blocked_on)
                left = frozenset() if waits.over(now, finished) else now - released.get(r.id, frozenset())
                if left != now:
                    changes[r.id] = (now, left)
        states = {r.id: r.state for r in rows}
        yielding = waits.starved(states, graph, order, idle, holds)
        if not changes and yielding is None:
            return False  # the usual case: nothing to write
        with self.store.write() as conn:
            for tid, (before, left) in changes.items():
                if Store.task(conn, tid).blocked_on != waits.render(before):
                    continue  # it moved on since the look
                Store.set_waits(conn, tid, waits.render(left))
                Store.emit(conn, EventKind.TASK_WAITS, task=tid, before=sorted(before), after=sorted(left))
            if yielding is not None:
                row = Store.task(conn, yielding)
                if row.state != states[yielding] or waits.parse(row.blocked_on) != graph[yielding]:
                    return True
                needed = sorted(t for t in graph[yielding] if states.get(t) == TaskState.READY.value)
                why = f"every worker waits, and {', '.join(needed) or 'a task it waits for'} needs one to start"
                self.actions.requeue(conn, yielding, f"gave its worker back: {why}", waiting=True)
        if yielding is not None:
            self.say(f"task {yielding} gives its worker back while it waits: {why}")
        return True

    def _spent(self) -> dict[str, float]:
        """What each task's attempts cost so far."""
        with self.store.read() as conn:
            return {task: c.cost_usd for task, c in Store.costs_by_task(conn).items()}

    # -- reporting and repairing -------------------------------------------------------------

    def _detected(self, pt: Patient, f: Diagnosis) -> None:
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

    def _repair(self, pt: Patient, f: Diagnosis, repair: Repair, now: float) -> None:
        v = pt.vitals
        ids: dict[str, Any] = {"task": v.task, "worker": v.worker, "attempt": pt.attempt}
        why = f"{f.problem}: {f.evidence}"
        with self.store.write() as conn:
            task = Store.task(conn, v.task)
            if task.attempt_id != pt.attempt:
                return  # the attempt ended since we looked
            if repair is Repair.DENY and not _still_shown(Store.worker(conn, v.worker), f.since, self.since_jump, now):
                return  # answered since we looked, or another request shown since: its own time
            sidelines = Store.events_of_task(conn, v.task, (EventKind.HEALTH_SIDELINE,))
            if (
                repair is Repair.SIDELINE
                and any("review" not in e.payload for e in sidelines)  # an author's, not a reviewer's
                and Store.reached_a_model(conn, Store.worker(conn, v.worker).agent, self.earlier)
            ):
                # A second worker could not start on it either, where its kind of agent starts on
                # other tasks: the task's doing, not the workers' (a prompt too long for a command
                # line, settings its checkout holds). It is charged, as any lost attempt, and no more
                # workers are lost to it. (Where none ever started, the agent's settings are the
                # likelier cause: with one task, it would be failed for them.)
                repair = Repair.REASSIGN
            if repair is Repair.NUDGE:
                Store.count_repair(conn, pt.attempt, "nudges", now)
                Store.set_worker(conn, v.worker, repeats=0)
                refused = Store.last_event_of(conn, pt.attempt, EventKind.AGENT_FINISHED)
                why_not = refused.payload.get("refused") if refused is not None else None
                text = nudge_text(f, v.task)
                if f.problem is Problem.IDLE and isinstance(why_not, str):
                    text += f" Your last `done` was not taken: {why_not}."  # (where it may have missed it)
                self.actions.tell(conn, task, MessageKind.NUDGE, text)
            elif repair is Repair.RESTART:
                Store.count_repair(conn, pt.attempt, "restarts", now)
                Store.supersede(conn, pt.attempt)
                Store.set_attempt(conn, pt.attempt, agent_exited_at=None)
                Store.set_worker(conn, v.worker, state=WorkerState.WORKING, repeats=0, last_output=now, detail=None)
                if not agent_start_waiting(conn, v.worker, pt.attempt):
                    Store.post(conn, v.worker, Restart(pt.attempt, why))
            elif repair is Repair.CORRECT:
                Store.supersede(conn, pt.attempt)
                Store.set_attempt(conn, pt.attempt, named_task=None, healed_at=now)
                Store.count_confusion(conn, v.task)
                Store.set_worker(conn, v.worker, state=WorkerState.WORKING, last_output=now)
                correction = correction_text(v.named_task, v.task) + Store.prompt(conn, pt.attempt)
                Store.post(conn, v.worker, Restart(pt.attempt, why, reset_to=pt.base_commit, prompt=correction))
            elif repair is Repair.REASSIGN:
                self.actions.requeue(conn, v.task, why, fresh=f.problem is Problem.WRONG_TASK)
            elif repair is Repair.CONTINUE:
                Store.set_worker_unless_asking(conn, v.worker, WorkerState.WORKING, wait_until=None, detail=None)
                self.actions.tell(conn, task, MessageKind.CONTINUE, continue_text(f))
            elif repair is Repair.STOP:
                self.actions.free_worker(conn, v.worker, pt.attempt)
                Store.set_attempt(conn, pt.attempt, outcome=AttemptOutcome.FAILED)
                self.actions.fail(conn, v.task, why, f"task {v.task} stopped: {f.evidence}")
            elif repair is Repair.RELEASE:
                self._release(conn, task, v)
            elif repair is Repair.SIDELINE:
                self._sideline(conn, pt, f)
            elif repair is Repair.DENY:
                asked = Asked.read(Store.worker(conn, v.worker).detail).answered()
                Store.after_answer(conn, v.worker, task.blocked_on)
                reason = f"nobody answered within {self.t.permission_timeout:g} s"
                Store.post(conn, v.worker, Answer(pt.attempt, False, reason))
                Store.emit(
                    conn, EventKind.PERMISSION_DECIDED, **ids, decision="deny", reason=reason, by="timeout", **asked
                )
            Store.emit(conn, repaired(repair), **ids, problem=f.problem.value, evidence=f.evidence)
            authors = {w.id: w.agent for w in Store.all_workers(conn) if w.role is WorkerRole.AUTHOR}
        self.say(f"health: {v.worker} on {v.task}: {repair} ({f.problem})")
        if repair is Repair.SIDELINE and authors and authors.keys() <= self.sidelined:
            # Nothing is left to take the tasks: said now, not after ``stall_after`` of nothing.
            stall.none_can_start(self.store, "worker", "take a task", authors)

    def _sideline(self, conn: Tx, pt: Patient, f: Diagnosis) -> None:
        """The worker's agent cannot start (every start ended before its model said a word): its
        task goes back to the pool with no round used, and the worker takes no more tasks until
        the run is started again; a person hears what the agent said last."""
        v = pt.vitals
        kind = Store.worker(conn, v.worker).agent
        last = last_said(conn, pt.attempt)
        words = f" (it said: {last})" if last else ""
        self.actions.requeue(conn, v.task, f"{f.problem}: {f.evidence}", waiting=True)  # not the task's fault
        Store.set_worker(conn, v.worker, state=WorkerState.CRASHED, detail=f"its agent cannot start{words}")
        self.sidelined.add(v.worker)
        Store.alert(
            conn,
            "critical",
            f"the {kind} agent of {v.worker} cannot start: each of its starts on task {v.task} ended before its "
            f"model said a word{words}; {v.worker} takes no more tasks and {v.task} waits for another worker. "
            f"Fix [agents.{kind}] (`czar doctor`), then `czar down` and `czar up`",
            task=v.task,
            worker=v.worker,
            problem=f.problem.value,
        )

    def _release(self, conn: Tx, task: Task, v: Vitals) -> None:
        """Stop the agent waiting: for tasks that are over, or for those of a cycle it comes first in."""
        waited = waits.parse(task.blocked_on)
        left = waited - v.release if v.release else frozenset()
        Store.set_waits(conn, task.id, waits.render(left))
        if left:
            return  # it still waits, rightly, for tasks outside the cycle
        Store.set_worker_unless_asking(conn, v.worker, WorkerState.WORKING, detail=None)
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


def agent_start_waiting(conn: Tx, worker: str, attempt: int) -> bool:
    """A command that starts the worker's agent on ``attempt`` waits in its inbox (for a host
    that died before reading it, say): another restart on top of it would start the agent twice."""
    starts = (StartTask, Restart, Tell)
    return any(isinstance(p.command, starts) and p.command.attempt == attempt for p in Store.queued(conn, worker))


def _wait_graph(rows: list[TaskBrief]) -> tuple[set[str], dict[str, frozenset[str]], dict[str, int]]:
    """From the tasks' rows: those that can no longer come, who waits for which tasks (tasks back
    in the pool or at work), and the plan's order."""
    finished = {r.id for r in rows if r.state in TERMINAL_TASK_STATES}
    waiting = (TaskState.READY, TaskState.ASSIGNED, TaskState.RUNNING)
    graph = {r.id: waits.parse(r.blocked_on) - {waits.PERSON} for r in rows if r.blocked_on and r.state in waiting}
    return finished, graph, {r.id: r.order for r in rows}


def host_alive(worker: Worker, now: float, live: set[str], since_jump: SinceJump | None = None) -> bool:
    """Whether ``worker``'s host runs, or is on its way: started in its window (one of ``live``,
    the windows whose process runs), not registered yet, for a while."""
    if worker.state is WorkerState.STARTING and worker.pid is None:
        since = worker.state_since or worker.updated_at
        since = since_jump(since, now) if since_jump is not None else since  # (a sleep is no slow start)
        return worker.id in live and now - since < HOST_START_SECONDS
    return proc.pid_alive(worker.pid)


def _still_shown(worker: Worker, since: float, since_jump: SinceJump, now: float) -> bool:
    """The worker still waits for a person on the request shown at ``since`` (the one the health
    round found unanswered for too long; counted from the clock's last jump if it came before)."""
    shown = Asked.read(worker.detail)
    asked = since_jump(worker.state_since if shown.asked_at is None else shown.asked_at, now)
    return worker.state == WorkerState.WAITING_PERMISSION.value and asked == since


def nudge_text(f: Diagnosis, task: str) -> str:
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


def continue_text(f: Diagnosis) -> str:
    if f.problem is Problem.MODEL_UNREACHABLE:
        return "czar tries your model again: continue your task where you left off."
    return "The rate limit has reset: continue where you left off."


def correction_text(named: str | None, task: str) -> str:
    return (
        f"Correction from czar: you named task {named or '(none)'}, but your task is {task}. Whatever you did "
        f"for {named or 'another task'} has been undone. Here is your own task again, in full.\n\n"
    )
