"""The supervisor: reconcile on start, then decide and act whenever the store changes.

The loop wakes on the project's doorbell (any process that writes rings it) with a slow poll as
the safety net; it never sleeps as a way to notice things. Checks and merges run on threads so
the loop stays responsive; their results come back through the store like everything else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import IO

from czar.core.decide import (
    STACKED_ON,
    Assign,
    Block,
    Merge,
    Order,
    Promote,
    Review,
    Reviewed,
    Snapshot,
    Verify,
    decide,
    run_finished,
)
from czar.core.events import EventKind
from czar.core.host_commands import Restart
from czar.core.review import ReviewState
from czar.core.shown import visible
from czar.core.states import ACTIVE_TASK_STATES, AGENT_AT_WORK, TaskState, WorkerState
from czar.errors import CzarError, StoreError
from czar.runtime import logs, proc
from czar.runtime.ancestry import process
from czar.store.doorbell import Listener
from czar.store.records import Worker
from czar.store.store import Store, TransitionRefused, Tx
from czar.supervisor import integration_guard, your_checkouts
from czar.supervisor.actions import Actions, branch_of
from czar.supervisor.alerts import AlertSender
from czar.supervisor.checks import CHECK
from czar.supervisor.forge_feedback import ForgeFeedback
from czar.supervisor.healer import Healer, agent_start_waiting, host_alive
from czar.supervisor.lock import SupervisorLock
from czar.supervisor.merge_queue import MergeQueue, discard_leftovers
from czar.supervisor.project import Project
from czar.supervisor.pulls import PullRequests
from czar.supervisor.radar import Radar, gate
from czar.supervisor.reviews import Reviewing
from czar.supervisor.snapshot import Snapshots
from czar.supervisor.stall import StallWatch
from czar.supervisor.tools import ToolsServer

GIT_PATIENCE = 10.0  # seconds the git commands a killed supervisor left are let finish
POLL_SECONDS = 2.0  # the safety net; the doorbell and the health round's deadlines wake the loop
LIVENESS_SECONDS = 1.0  # how often worker hosts are checked for life with nothing else happening
RADAR_SECONDS = 0.5  # the least time between two radar scans
PULLS_SECONDS = 10.0  # pull requests follow verifications and merges at once; the rest within this
HEAL_SECONDS = 0.25  # the least time between two health rounds, unless one is due
MERGE_SLOT = "(merge)"  # the key of the merge in progress among the busy futures
PREPARE_AHEAD = 8  # ready tasks whose worktrees are made before a worker is free for them
HOST_RESTARTS = 5  # starts of one worker's host within HOST_RESTART_WINDOW before czar gives up on it
HOST_RESTART_WINDOW = 60.0
STEP_SECONDS = 0.02  # the least time between two decision steps (a flood of events is taken at once)
START_RETRY = (1.0, 60.0)  # seconds before a task whose start failed is tried again: doubling, at most
START_ALERT = 3  # failed starts of a task in a row before a person hears
START_GIVE_UP = 8  # ... and before it fails (about two minutes of tries): the run goes on without it


class Supervisor:
    def __init__(self, project: Project, out: IO[str] = sys.stdout) -> None:
        self.p = project
        self.store = project.store
        self.actions = Actions(project)
        self.out = out
        self.stopping = False
        self.listener: Listener | None = None
        self.stopped_by: int | None = None  # the signal that stopped it, if one did
        self.busy: dict[str, Future[None]] = {}  # task -> its running check or merge
        # Verification mostly waits on git and the checks' processes: a few run side by side.
        self.checks = ThreadPoolExecutor(max_workers=4, thread_name_prefix="verify")
        self.merges = ThreadPoolExecutor(max_workers=1, thread_name_prefix="merge")
        self.assigners = ThreadPoolExecutor(max_workers=4, thread_name_prefix="assign")
        self.healer = Healer(project, self.actions, self.say)
        self.radar = Radar(project, self.actions)
        self.merge_queue = MergeQueue(project, self.actions, self.radar)
        self.radar_wanted = threading.Event()
        self.snapshots = Snapshots(self.store)  # read by the main thread alone, at each step
        self.stall = StallWatch(self.store, project.plan.health.stall_after, project.clock)
        self.stall_look = 0.0  # when the run's progress was last looked at
        self.alerts = AlertSender(project)
        self.tools = ToolsServer(project, self.say)
        self.pulls = PullRequests(project, self.say)
        self.feedback = ForgeFeedback(project, self.actions, self.say)
        self.reviewing = Reviewing(project, self.actions, self.say)
        self.pulls_wanted = threading.Event()
        self.to_start: list[str] = []  # workers whose host the start of the run must start
        self.host_starts: dict[str, list[float]] = {}  # worker -> when its host was started lately
        self.preparing: Future[None] | None = None  # worktrees made ahead for ready tasks
        self.prepared: set[str] = set()
        self.restack_look: tuple[object, float] = ((), 0.0)  # what the last look for restacks saw, and when
        self.reported_done = False
        self.budget_alerted = False
        self.failed_starts: dict[str, tuple[int, float]] = {}  # task -> failures in a row, not before
        # A verification or the merge whose job raised (git could not run: a full disk, no file
        # descriptors left): failures in a row, and not tried again before when.
        self.failing: dict[str, tuple[int, float]] = {}
        self.log = logs.to_file(project.paths.logs / "supervisor.log")

    def say(self, text: str) -> None:
        text = visible(text)  # it quotes agents: no escape sequence of theirs acts on its window
        self.log.info(text)
        print(f"{time.strftime('%H:%M:%S')} {text}", file=self.out, flush=True)

    # -- life cycle --------------------------------------------------------------------------

    def run(self) -> int:
        self.p.check_sandbox()
        lock = SupervisorLock(self.p)
        lock.acquire()
        for sig in proc.STOP_SIGNALS:
            signal.signal(sig, self._on_signal)
        listener = self.listener = self.store.listen("supervisor")
        # First: it takes a few tenths of a second to load, and the hosts' first calls wait for it.
        self.tools.start()
        try:
            self.p.sync_plan()
            self.reconcile()
        except BaseException:
            if self.tools.child is not None:  # started now, for a run that does not start: ended
                self.tools.stop()
            lock.release()
            raise
        with self.store.write() as conn:
            Store.emit(conn, EventKind.SUPERVISOR_STARTED, pid=os.getpid(), plan=str(self.p.plan.path))
        self.say(f"supervisor of {self.p.name} started (pid {os.getpid()})")
        # Started after the announcement: `czar up` need not wait for a hundred windows.
        self.start_hosts(self.to_start)
        threading.Thread(target=self._radar_loop, name="radar", daemon=True).start()
        threading.Thread(target=self._pulls_loop, name="pulls", daemon=True).start()
        if self.p.plan.alerts.webhook:
            threading.Thread(target=self._alert_loop, name="alerts", daemon=True).start()
        ended: BaseException | None = None  # what ended it, if not a stop (said where `czar run` reads it)
        try:
            next_heal = due = 0.0
            while not self.stopping:
                stepped = time.monotonic()
                self.step()
                now = time.monotonic()
                if now >= next_heal:
                    # The health round runs on any wake-up, at most every HEAL_SECONDS (so an agent
                    # that just exited is seen within that), and by itself when a deadline it
                    # computed falls due, or for the next look at the hosts' liveness. Paced on the
                    # monotonic clock: planned by the wall clock, the rounds stopped for an hour
                    # when the clock was set back an hour.
                    deadline = self.heal() - time.time()  # the round's deadline is a wall-clock time
                    next_heal = now + HEAL_SECONDS
                    due = now + min(deadline, LIVENESS_SECONDS)
                # Coalesce a flood of events: at most one step per STEP_SECONDS.
                time.sleep(max(0.0, STEP_SECONDS - (time.monotonic() - stepped)))
                listener.wait(max(0.0, min(POLL_SECONDS, max(due, next_heal) - time.monotonic())))
        except BaseException as exc:
            ended = exc
            raise
        finally:
            self.radar_wanted.set()
            listener.close()
            # Stopping is not the work's fault: the checks running are killed and their outcome is
            # dropped (ChecksStopped), so no task is charged a round. Then the supervisor waits for
            # its verifications and merges to end (git's part is short; killing it would leave
            # locks behind), so that when its lock is free nothing of it runs any more.
            proc.kill_running(CHECK)
            for pool in (self.checks, self.merges, self.assigners):
                pool.shutdown(wait=True, cancel_futures=True)
            proc.kill_running()
            # The tools server outlives the supervisor, as the hosts do (`czar down` ends it).
            self.pulls_wanted.set()
            with contextlib.suppress(Exception):  # best effort: `czar up` catches up on the rest
                self.pulls.sync()  # the last merges' pull requests, recorded merged
            if self.p.plan.alerts.webhook:
                with contextlib.suppress(Exception):  # best effort: the alerts stay in the store
                    self.alerts.flush()  # what the run's last moments raised (bounded)
            # (Found by a probe: a supervisor ended by an error said "stopped", and `czar run` that it
            # was stopped; the cause was only in its window, gone with it.)
            why = None if ended is None or isinstance(ended, KeyboardInterrupt) else str(ended) or repr(ended)
            self.say("supervisor stopped" if why is None else f"supervisor ended on an error: {why}")
            if why is None and self.stopped_by == signal.SIGINT:
                # Ctrl-C typed in its window (`czar attach supervisor`, then Ctrl-C to leave): the
                # workers go on, and nothing merges until it is started again.
                self.say(f"the workers go on; `czar up {self.p.plan.path}` starts the supervisor again")
            with self.store.write() as conn:
                if why is None:
                    Store.emit(conn, EventKind.SUPERVISOR_STOPPED, pid=os.getpid())
                else:
                    Store.emit(conn, EventKind.SUPERVISOR_STOPPED, pid=os.getpid(), error=why)
        return 0

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.stopping = True
        self.stopped_by = signum
        if self.listener is not None:
            self.listener.poke()

    # -- reconcile ---------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Make the store agree with what tmux and git show, before deciding anything."""
        p, git = self.p, self.p.git
        integration = p.plan.project.integration_branch
        with p.git_lock.held():
            integration_guard.restore(p, self.say)  # at its last merge, if one was recorded
            if git.ensure_branch(integration, p.plan.project.base_branch):
                self.say(f"created {integration} from {p.plan.project.base_branch}")
            self.free_integration_worktree()
            git.clean_worktree_if_present(p.paths.integration_worktree)
            # Detached: merges are made and checked there before the branch moves (see Actions.merge).
            git.ensure_worktree(p.paths.integration_worktree, integration, detach=True)
        # A merge that was in progress is carried on by the loop (see Actions.merge).
        with self.store.write() as conn:
            for t in Store.tasks_in(conn, (TaskState.VERIFYING,)):
                Store.move_task(conn, t.id, TaskState.SUBMITTED, reason="reconcile: verification was interrupted; redo")
        discard_leftovers(p)
        self.to_start = self.take_back(list(p.plan.worker_kinds))

    def free_integration_worktree(self) -> None:
        """What a supervisor killed at work left in the integration worktree, gone: its git
        commands finish (killed, one would leave your repository's refs locked: the gc a merge
        starts in the background, say), its checks (the project's tests) end; then the worktree's
        own locks of a git killed in the middle of a command (with them, the reset below fails
        and the run could never be started again), if nothing works there any more."""
        worktree = self.p.paths.integration_worktree
        if worktree.is_symlink() or not worktree.is_dir():
            return
        here, marks = worktree.resolve(), self.p.marks()
        deadline = time.monotonic() + GIT_PATIENCE
        while any(_is_git(pid) for pid in proc.find_by_env(marks, under=here)) and time.monotonic() < deadline:
            time.sleep(0.2)
        checks = [pid for pid in proc.find_by_env(marks, under=here) if not _is_git(pid)]
        if checks:
            proc.kill_all(checks, 5.0)
            self.say("ended the checks a stopped supervisor left running in the integration worktree")
        if proc.find_by_env({}, under=here):
            return  # a git still at work there (yours, or one that does not end): its locks are its own
        if removed := self.p.repo.unlock_worktree(worktree):
            self.say(f"removed what a stopped supervisor left locked: {', '.join(removed)}")

    def take_back(self, wids: list[str]) -> list[str]:
        """Of these workers, the ones without a live host, marked starting; returns them, for
        ``start_hosts``. Each keeps the task it holds: its next host carries the attempt on (see
        ``WorkerHost._adopt``), so a crashed host or a person's `czar down` costs the task nothing."""
        live = self.p.tmux.live_windows()
        rows = {w.id: w for w in self.store.workers()}
        with self.store.read() as conn:
            reviewing = {r.worker_id for r in Store.reviews_in(conn, (ReviewState.OPEN,))}
        lost, now = [], self.p.clock.time()
        for wid in wids:
            row = rows[wid]
            # A host on its way (a supervisor before this one started it) is left to come: one
            # started over it would leave the agent it may start meanwhile to no one.
            if wid in live and host_alive(row, now, live):
                busy = row.task_id is not None or wid in reviewing  # a reviewer's review goes on
                if not busy and row.state not in (WorkerState.IDLE, WorkerState.STARTING):
                    with self.store.write() as conn:
                        Store.set_worker(conn, wid, state=WorkerState.IDLE)
                continue
            self._end_agents(row)
            with self.store.write() as conn:
                if row.task_id is not None:
                    self._keep_task(conn, wid, row.task_id)
                # Its new host's grace runs from now, also when it was starting already (one that
                # never came): else it would be taken for lost at once, and started every round.
                Store.set_worker(conn, wid, state=WorkerState.STARTING, pid=None, agent_pid=None, state_since=now)
                Store.emit(conn, EventKind.WORKER_SPAWNED, worker=wid, reason="no live worker host")
            lost.append(wid)
        return lost

    def _end_agents(self, row: Worker) -> None:
        """End what the dead host of ``row`` left: an orphan must not keep editing a checkout the
        task's next agent works in. The agent it recorded, and one it started and died before
        recording (outside a sandbox, nothing else ends that one), found by its environment; no
        scan of every process where no host was recorded (a first start, after `czar down`)."""
        if row.agent_pid:
            proc.kill_group(row.agent_pid)
        # Two rounds (one may fork meanwhile) at most: the loop waits for them.
        if row.pid and proc.kill_by_env(self.p.agent_marks(row.id), rounds=2):
            self.say(f"ended what the dead host of {row.id} left running")

    def _keep_task(self, conn: Tx, wid: str, task_id: str) -> None:
        task = Store.task(conn, task_id)
        if task.worker_id != wid or task.attempt_id is None or task.state not in ACTIVE_TASK_STATES:
            Store.set_worker(conn, wid, task_id=None)  # a stale link: nothing to carry on
            return
        # The dead host's agent is killed, or, outside a sandbox, may live on (with a start the host
        # died before recording): its words do not count.
        Store.supersede(conn, task.attempt_id, unrecorded=True)
        # Its agent must start again, unless a command waiting for the new host starts it anyway
        # (a start it never read, the health round's restart, a message).
        working = task.state in AGENT_AT_WORK
        if working and not agent_start_waiting(conn, wid, task.attempt_id):
            reason = f"the worker host of {wid} was started again"
            Store.post(conn, wid, Restart(task.attempt_id, reason))

    def start_hosts(self, wids: list[str]) -> None:
        for wid in wids:
            argv = [sys.executable, "-m", "czar.host", "--settings", str(self.p.write_host_settings(wid))]
            self.p.tmux.start_window(wid, argv, env=self.p.child_env(), cwd=self.p.paths.root)
            self.host_starts.setdefault(wid, []).append(self.p.clock.monotonic())
            self.say(f"started worker host {wid}")

    def _keeps_dying(self, wid: str) -> bool:
        """True, once, for a worker whose host died ``HOST_RESTARTS`` times within
        ``HOST_RESTART_WINDOW``: starting it again would only loop. Its task goes back to the pool
        (if its agent was at work on it), a person hears, and the worker stays crashed."""
        now = self.p.clock.monotonic()
        recent = [t for t in self.host_starts.get(wid, []) if now - t < HOST_RESTART_WINDOW]
        self.host_starts[wid] = recent
        if len(recent) < HOST_RESTARTS:
            return False
        with self.store.read() as conn:
            last = Store.worker(conn, wid)
        self._end_agents(last)
        with self.store.write() as conn:
            row = Store.worker(conn, wid)
            if row.task_id is not None:
                task = Store.task(conn, row.task_id)
                if task.worker_id == wid and task.state in AGENT_AT_WORK:
                    self.actions.requeue(conn, task.id, f"the worker host of {wid} kept dying")
            Store.set_worker(conn, wid, state=WorkerState.CRASHED, pid=None, agent_pid=None)
            why = f"the worker host of {wid} died {len(recent)} times within {HOST_RESTART_WINDOW:g} s"
            Store.alert(conn, "critical", f"{why}; czar no longer starts it (see `czar logs {wid}`)", worker=wid)
        self.say(f"{why}: no longer started")
        return True

    # -- decide and act ----------------------------------------------------------------------

    def step(self) -> None:
        for name, fut in list(self.busy.items()):
            if fut.done():
                del self.busy[name]
                self.pulls_wanted.set()  # a verification or a merge ended: pull requests follow
                exc = fut.exception()
                if exc is None:
                    self.failing.pop(name, None)
                else:
                    self.say(f"error while handling task {name}: {exc!r}")
                    self._failed(name, exc)
        self.radar_wanted.set()
        plan = self.p.plan
        snap = self.snapshots.read()
        for task in [
            t for t in self.failed_starts if t not in snap.tasks or snap.tasks[t].state is not TaskState.READY
        ]:
            del self.failed_starts[task]  # started, failed, cancelled: a person's retry starts afresh
        now = self.p.clock.monotonic()
        resting = frozenset(t for t, (_, until) in self.failed_starts.items() if until > now)
        unready = self.merge_queue.held_by_forge()
        snap = replace(
            snap, prefer_other=plan.review.prefer_other, stack=plan.project.stack, resting=resting, unready=unready
        )
        if self.p.plan.project.budget_usd is not None and self._run_spent() >= self.p.plan.project.budget_usd:
            snap = replace(snap, out_of_budget=True)
        decisions = decide(snap)
        for decision in decisions:
            if not isinstance(decision, Assign):
                # Another process may have moved the task first; the next step decides again.
                with contextlib.suppress(TransitionRefused):
                    self.apply(decision)
        # Assignments prepare branches and worktrees (git, tens of milliseconds each): side by side.
        assigns = [d for d in decisions if isinstance(d, Assign)]
        if assigns:
            tips = self.p.repo.tips()
            for fut in [self.assigners.submit(self._assign, d, tips) for d in assigns]:
                fut.result()
        self._prepare_ahead(snap, {d.task for d in assigns})
        if plan.project.stack:
            self._restack(snap)
        if time.monotonic() - self.stall_look >= LIVENESS_SECONDS:
            self.stall_look = time.monotonic()
            stalled = self.stall.check(run_finished(snap))
            if stalled:
                self.say("no progress for a while; who waits for what:\n  " + "\n  ".join(stalled))
        if run_finished(snap) and snap.tasks and not self.reported_done:
            self.reported_done = True
            self.say("every task is merged, failed or cancelled")
            # The run's report, also for a run nobody follows (`czar up`); on a thread: it reads
            # the whole run, and `czar run` writes it again with the integration branch's checks.
            threading.Thread(target=self._report, name="report", daemon=True).start()

    def _report(self) -> None:
        from czar.supervisor.report import report_line  # here: the report reads what imports the loop

        self.say(report_line(self.p))

    def _run_spent(self) -> float:
        """What the run spent on models; the first time it reaches the budget, a person hears."""
        budget = self.p.plan.project.budget_usd
        with self.store.read() as conn:
            spent = Store.spent(conn)
        if budget is not None and spent >= budget and not self.budget_alerted:
            self.budget_alerted = True
            with self.store.write() as conn:
                Store.alert(
                    conn, "critical", f"the run spent ${spent:.2f} of its ${budget:.2f} budget: no task starts any more"
                )
            self.say(f"budget spent (${spent:.2f} of ${budget:.2f}): no task starts any more")
        return spent

    def _radar_loop(self) -> None:
        """Watch the branches in flight; at most one scan per ``RADAR_SECONDS``, sooner never."""
        while not self.stopping:
            self.radar_wanted.wait(POLL_SECONDS)
            self.radar_wanted.clear()
            if self.stopping:
                return
            started = time.monotonic()
            try:
                found = self.radar.scan()
                if found is not None:
                    for f in self.radar.act(found):
                        other = f"task {f.other}" if f.other else "the integration branch"
                        self.say(f"radar: {f.kind} for task {f.task} with {other} in {', '.join(f.files[:5])}")
            except Exception as exc:  # the radar is advice: its failure must not stop the supervisor
                self.say(f"radar error: {exc!r}")
            time.sleep(max(0.0, RADAR_SECONDS - (time.monotonic() - started)))

    def _pulls_loop(self) -> None:
        """Keep the tasks' pull requests in step (``czar.supervisor.pulls``), when a verification
        or a merge ends, and every ``PULLS_SECONDS`` for the rest (a task that failed)."""
        looked = 0.0
        spec = self.p.plan.forge
        while not self.stopping:
            self.pulls_wanted.wait(min(PULLS_SECONDS, spec.poll_seconds))
            self.pulls_wanted.clear()
            if self.stopping:
                return
            parts: list[Callable[[], None]] = [self.pulls.sync]
            if spec.kind != "local" and time.monotonic() - looked >= spec.poll_seconds:
                looked = time.monotonic()
                # The forge's CI and people's remarks; what it holds (closed there, its rules), let go?
                parts += [self.feedback.look, self.merge_queue.look_again]
            for part in parts:  # each on its own: one's trouble must not stop the supervisor, nor the others
                try:
                    part()
                except Exception as exc:
                    self.say(f"pull requests error: {exc!r}")

    def _alert_loop(self) -> None:
        """Send alerts to the webhook as they come (on a thread: a slow server must not slow the loop)."""
        sender = self.alerts
        listener = self.store.listen("alerts")
        try:
            while not self.stopping:
                try:
                    sender.send_pending()
                except Exception as exc:  # delivery is best effort; the alert stays in the store
                    self.say(f"alert delivery error: {exc!r}")
                listener.wait(POLL_SECONDS)
        finally:
            listener.close()

    def _verify(self, task: str) -> None:
        """Verification, gated by what the radar sees against the task right now: against the
        commit handed in, brought into the repository first."""
        self.actions.bring_in_handed_in(task)
        found, known = self.radar.findings_for(task)
        self.actions.verify(task, gate(found), known)

    def _prepare_ahead(self, snap: Snapshot, assigned: set[str]) -> None:
        """Ready tasks next in line get their worktrees now, on a thread, off the critical path."""
        if self.preparing is not None and not self.preparing.done():
            return
        waiting = sorted(
            (t for t in snap.tasks.values() if t.state is TaskState.READY and t.id not in assigned),
            key=lambda t: (-t.priority, -t.rank, t.order, t.id),
        )[:PREPARE_AHEAD]
        todo = [t.id for t in waiting if t.id not in self.prepared]
        if todo:
            self.preparing = self.assigners.submit(self._prepare_tasks, todo)

    def _prepare_tasks(self, task_ids: list[str]) -> None:
        tips = self.p.repo.tips()
        for t in task_ids:
            try:
                self.actions.prepare_ahead(t, tips)
            except CzarError as exc:  # only an optimisation: the assignment will try again
                self.say(f"could not prepare task {t} ahead: {exc}")
            self.prepared.add(t)

    def _restack(self, snap: Snapshot) -> None:
        """Stacked tasks at work whose dependencies' approved work changed are restacked
        (``Actions.restack``). Looked at when a dependency of one changes state, and every
        ``LIVENESS_SECONDS`` besides (git is read only then)."""
        tasks = snap.tasks
        stacked = {
            t.id: tuple((d, tasks[d].state) for d in t.depends_on if d in tasks)
            for t in tasks.values()
            if t.state in AGENT_AT_WORK and any(d in tasks and tasks[d].state in STACKED_ON for d in t.depends_on)
        }
        seen, when = self.restack_look
        if not stacked or (stacked == seen and time.monotonic() - when < LIVENESS_SECONDS):
            return
        self.restack_look = (stacked, time.monotonic())
        tips = self.p.repo.tips()
        for task in stacked:
            try:
                if self.actions.restack(task, tips):
                    self.say(f"task {task} restacked on its dependencies' new approved work")
            except CzarError as exc:
                self.say(f"could not restack task {task}: {exc}")

    def _assign(self, d: Assign, tips: dict[str, str]) -> None:
        try:
            self.actions.assign(d.task, d.worker, reason=f"ready and worker {d.worker} is idle", tips=tips)
            self.say(f"assigned task {d.task} to {d.worker}")
            self.failed_starts.pop(d.task, None)
        except TransitionRefused:
            pass  # another process moved the task first; the next step decides again
        except CzarError as exc:
            # git refused (a branch or clone it cannot make): the task stays ready and rests, longer
            # each time (tried again at once, it failed thousands of times a minute), and the other
            # tasks start meanwhile; a person hears when it keeps failing. Its branch checked out
            # in a checkout of yours (git will not move it) is no try: said once, it waits for you.
            if your_checkouts.where(self.p, branch_of(d.task), f"task {d.task} does not start", fresh=True):
                self.failed_starts[d.task] = (0, self.p.clock.monotonic() + START_RETRY[0])
                return
            failures = self.failed_starts.get(d.task, (0, 0.0))[0] + 1
            self.failed_starts[d.task] = (failures, self.p.clock.monotonic() + _rest(failures))
            self.say(f"could not assign task {d.task} to {d.worker}: {exc}")
            with self.store.write() as conn:
                Store.emit(conn, EventKind.SUPERVISOR_ERROR, task=d.task, worker=d.worker, error=str(exc))
                if failures == START_ALERT:
                    Store.alert(conn, "critical", f"task {d.task} cannot start ({failures} tries): {exc}", task=d.task)
                elif failures >= START_GIVE_UP:
                    self.failed_starts.pop(d.task, None)  # a person's retry starts afresh
                    with contextlib.suppress(TransitionRefused):
                        why = f"it could not start ({failures} tries): {exc}"
                        self.actions.fail(conn, d.task, reason=why, alert=f"task {d.task} failed: {why}")

    def heal(self) -> float:
        """One health round; starts lost worker hosts again. Returns when to look again."""
        deadline, lost = self.healer.tick()
        self.tools.check()
        if self.p.plan.review.enabled:
            try:
                self.reviewing.sweep()
            except CzarError as exc:
                self.say(f"reviews: {exc}")
        ours = set(self.p.plan.worker_kinds)
        lost = [wid for wid in lost if wid in ours and not self._keeps_dying(wid)]
        if lost:
            self.start_hosts(self.take_back(lost))
        return deadline if deadline is not None else self.p.clock.time() + POLL_SECONDS

    def apply(self, d: Order) -> None:
        if isinstance(d, Promote):
            with self.store.write() as conn:
                why = (
                    "dependencies approved (stacked: it may start on their work before they merge)"
                    if d.stacked
                    else "dependencies merged"
                )
                Store.move_task(conn, d.task, TaskState.READY, expect=TaskState.PENDING, reason=why)
            self.say(f"task {d.task} is ready")
        elif isinstance(d, Block):
            with self.store.write() as conn:
                Store.move_task(
                    conn,
                    d.task,
                    TaskState.FAILED,
                    expect=TaskState.PENDING,
                    reason=f"dependency {d.dependency} failed or was cancelled",
                )
            self.say(f"task {d.task} cannot run: dependency {d.dependency} failed")
        elif isinstance(d, Verify) and d.task not in self.busy and not self._resting(d.task):
            if your_checkouts.holds_work_of(self.p, d.task) is not None:
                return  # (its work cannot be brought in: it waits, submitted, no round used)
            with self.store.write() as conn:
                Store.move_task(conn, d.task, TaskState.VERIFYING, expect=TaskState.SUBMITTED, reason="submitted")
            self.say(f"verifying task {d.task}")
            self._hold(d.task, self.checks.submit(self._verify, d.task))
        elif isinstance(d, Review) and f"review:{d.task}" not in self.busy:
            self._hold(f"review:{d.task}", self.assigners.submit(self.reviewing.start, d.task, d.worker))
        elif isinstance(d, Reviewed):
            self.reviewing.act(d.task)
            self.pulls_wanted.set()  # the verdict goes on the pull request
        elif isinstance(d, Merge) and MERGE_SLOT not in self.busy and not self._resting(MERGE_SLOT):
            kept: list[str] = []
            with self.store.read() as conn:
                rows = {t: Store.task(conn, t) for t in d.tasks}
            deps = {t: rows[t].spec.depends_on for t in d.tasks}
            # One already merging (a supervisor that restarted mid-merge) passed these gates when
            # it started, and the forge's CI verdict lives in memory: it goes on.
            resumed = {t for t in d.tasks if rows[t].state is TaskState.MERGING}
            tips = self.p.repo.tips()
            for t in d.tasks:
                # A stacked task merges after its dependency: not without it, if it was left out.
                if (
                    all(dep not in d.tasks or dep in kept for dep in deps[t])
                    and self.reviewing.as_approved(t, tips)
                    and (t in resumed or self.merge_queue.as_verified(t, tips))
                    and (t in resumed or self.feedback.ci_passed(t, tips.get(branch_of(t))))
                    # (One merging already, a supervisor restarted mid-merge: its merge asks the
                    # forge again and puts it back where it waits, if it does.)
                    and (t in resumed or not self.merge_queue.waits_on_forge(t))
                ):
                    kept.append(t)
            d = Merge(tuple(kept))
            if not d.tasks or self.merge_queue.checked_out_by_you() is not None:
                return  # (a checkout of yours has the integration branch: said, and nothing merges)
            merging: list[str] = []
            with self.store.write() as conn:
                Store.next_merge_window(conn)  # the approved tasks left out of it wait one more
                for t in d.tasks:
                    state = Store.task(conn, t).state
                    if state is TaskState.APPROVED:
                        Store.move_task(
                            conn, t, TaskState.MERGING, expect=TaskState.APPROVED, reason="next in the merge queue"
                        )
                    # Only what merges now: another thread (the forge's CI, a person's review) may
                    # have sent a task back since the decision.
                    if state in (TaskState.APPROVED, TaskState.MERGING):
                        merging.append(t)
            d = Merge(tuple(merging))
            if not d.tasks:
                return
            self.say(f"merging {'task' if len(d.tasks) == 1 else 'tasks'} {', '.join(d.tasks)}")
            self._integration_worktree()
            self._hold(MERGE_SLOT, self.merges.submit(self.merge_queue.merge, d.tasks))

    def _integration_worktree(self) -> None:
        """The worktree merges are made in, made again if it was deleted (found by a probe: every
        merge failed, with a critical alert, until the supervisor was started again)."""
        worktree = self.p.paths.integration_worktree
        if (worktree / ".git").is_file() or self.p.repository is not None:  # (the fakes have none)
            return
        with self.p.git_lock.held():
            self.p.git.ensure_worktree(worktree, self.p.plan.project.integration_branch, detach=True)
        self.say(f"the worktree merges are made in was gone: made again at {worktree}")

    def _failed(self, name: str, exc: BaseException) -> None:
        """A verification's or the merge's job raised: what it held goes back where it waits (a
        task left verifying waited for a new supervisor; found by a probe), and is tried again
        after a rest that doubles, up to a minute (the merge was tried 25 times a second on a
        full disk); a person hears it from the third time."""
        failures = self.failing.get(name, (0, 0.0))[0] + 1
        self.failing[name] = (failures, time.monotonic() + _rest(failures))
        with self.store.write() as conn:
            Store.emit(conn, EventKind.SUPERVISOR_ERROR, task=name, error=repr(exc))
            if name != MERGE_SLOT and not name.startswith("review:"):
                with contextlib.suppress(TransitionRefused, StoreError):
                    Store.move_task(
                        conn, name, TaskState.SUBMITTED, expect=TaskState.VERIFYING, reason=f"verified again: {exc}"
                    )
            if failures == 3:
                what = "the merges" if name == MERGE_SLOT else f"task {name}"
                Store.alert(conn, "critical", f"czar fails at {what}, again and again: {exc}", task=None)

    def _resting(self, name: str) -> bool:
        return self.failing.get(name, (0, 0.0))[1] > time.monotonic()

    def _hold(self, key: str, job: Future[None]) -> None:
        """``key`` is busy until ``job`` ends, and its end wakes the loop: the job's last store
        write rang the loop before the job was over, and what waits on the slot (the next merge
        batch behind this one) would otherwise wait for the next event or the safety net."""
        self.busy[key] = job
        job.add_done_callback(self._wake)

    def _wake(self, _job: object) -> None:
        if self.listener is not None:
            self.listener.poke()


def _rest(failures: int) -> float:
    """Seconds before something that failed ``failures`` times in a row is tried again: doubling
    from ``START_RETRY``'s first, up to its most."""
    first, most = START_RETRY
    return float(min(most, first * 2 ** min(failures - 1, 16)))


def _is_git(pid: int) -> bool:
    info = process(pid)
    return info is not None and bool(info.cmdline) and os.path.basename(info.cmdline[0]).startswith("git")
