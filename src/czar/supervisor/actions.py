"""What the supervisor does to carry out a decision: assign, requeue, verify, merge, and tell.

Each action writes its outcome, the events that explain it, and any inbox command it causes in
one transaction, so a crash between two actions never leaves half a decision behind.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, assert_never

from czar.agent_tools import board
from czar.agents.adapters import adapter_for
from czar.core import waits
from czar.core.decide import stackable
from czar.core.events import EventKind
from czar.core.forge import changes_since
from czar.core.host_commands import MessageKind, StartTask, StopAgent, Tell
from czar.core.landing import Landing, after_landing
from czar.core.prompt import PromptInput, render
from czar.core.repository import Repository
from czar.core.review import ReviewState
from czar.core.rounds import Setback, after_setback
from czar.core.scope import in_scope, scopes_overlap
from czar.core.states import AGENT_AT_WORK, TERMINAL_TASK_STATES, AttemptOutcome, TaskState, WorkerState
from czar.core.verification import Approve, Blocker, Defer, Fail, SendBack, judge
from czar.errors import CzarError, GitError
from czar.runtime.keyed_locks import KeyedLocks
from czar.store.records import Attempt, Task
from czar.store.store import Store, Tx
from czar.supervisor import integration_guard, remote_sync, your_checkouts
from czar.supervisor.checks import KILLED_RUNS, CheckResult, ChecksKilled, describe_failure, run_checks
from czar.supervisor.project import Project
from czar.vcs import checkout as task_checkout

TAIL = 3000


def branch_of(task_id: str) -> str:
    return f"czar/{task_id}"


class NotBroughtIn(Exception):
    """The work handed in could not be fetched into the repository for a reason of the
    repository's (git failed there): the verification's job raises it, and the supervisor puts the
    task back, to be verified again after a rest (``Supervisor._failed``)."""


class BranchHeld(Exception):
    """The task's branch is checked out in a checkout of yours: its work cannot be brought in
    (``czar.supervisor.your_checkouts``); it is verified once that checkout is on another branch."""


class Actions:
    def __init__(self, project: Project) -> None:
        self.p = project
        self.store = project.store
        self.integration = project.plan.project.integration_branch
        # One thread at a time makes a task's checkout (preparing ahead, and assigning it).
        self._checkout_lock = KeyedLocks()
        self._sharers: dict[str, tuple[str, ...]] = {}  # each task's: see ``_sharing``
        self._made_ahead: dict[str, str] = {}  # where ``prepare_ahead`` made each task's branch

    # -- helpers -----------------------------------------------------------------------------

    @staticmethod
    def free_worker(conn: Tx, worker_id: str | None, attempt_id: int | None) -> None:
        """The worker's agent is done with the attempt: stop it; the worker is idle again (or, if its
        host is still starting, it stays so: starting with no host yet is how the health round
        tells a host on its way from a lost one)."""
        if worker_id is None:
            return
        starting = Store.worker(conn, worker_id).state is WorkerState.STARTING
        state = WorkerState.STARTING if starting else WorkerState.IDLE
        Store.set_worker(conn, worker_id, task_id=None, state=state, detail=None, wait_until=None, repeats=0)
        if attempt_id is not None:  # else no agent was started for it
            Store.post(conn, worker_id, StopAgent(attempt_id))

    def stop_work_on(self, conn: Tx, task: Task, why: str) -> None:
        """Whoever works on ``task`` stops: the agent of the worker that holds it, and a reviewer
        reading it (its review lost for ``why``); each worker is free again."""
        if (holder := self.holder(conn, task)) is not None:
            Store.drop_queued(conn, holder)
            self.free_worker(conn, holder, task.attempt_id)
        for review in Store.reviews_of(conn, task.id):
            if review.state is ReviewState.OPEN:
                Store.set_review(conn, review.id, state=ReviewState.LOST, reason=why)
                Store.drop_queued(conn, review.worker_id)
                self.free_worker(conn, review.worker_id, review.attempt_id)

    @staticmethod
    def holder(conn: Tx, task: Task) -> str | None:
        """The worker the task names, if it still holds the task (one freed since may hold another)."""
        held = task.worker_id is not None and Store.worker(conn, task.worker_id).task_id == task.id
        return task.worker_id if held else None

    @staticmethod
    def tell(conn: Tx, task: Task, kind: MessageKind, text: str, show: tuple[tuple[str, str], ...] = ()) -> None:
        """Send a message to the agent working on ``task`` (if one is); ``show``: branches (name,
        commit) its checkout is shown first, which the message names."""
        if task.worker_id is None or task.attempt_id is None:
            return
        Store.post(conn, task.worker_id, Tell(task.attempt_id, kind, text, show))
        Store.emit(
            conn,
            EventKind.WORKER_TOLD,
            task=task.id,
            worker=task.worker_id,
            attempt=task.attempt_id,
            about=kind,
            text=text[:1000],
        )

    def send_back(
        self,
        conn: Tx,
        task: Task,
        kind: MessageKind,
        text: str,
        *,
        held: bool,
        reason: str,
        pool_reason: str,
        **fields: Any,
    ) -> None:
        """The task's work back to its author: to its own session, told ``text`` (``held``: its
        worker still holds it), else to the pool with ``text`` as its note for whoever takes it."""
        if not held or task.worker_id is None or task.attempt_id is None:
            Store.move_task(
                conn, task.id, TaskState.READY, reason=pool_reason, note=text, worker_id=None, attempt_id=None, **fields
            )
            return
        Store.move_task(conn, task.id, TaskState.RUNNING, expect=task.state, reason=reason, **fields)
        now = self.p.clock.time()
        Store.set_worker(conn, task.worker_id, last_output=now, last_progress=now)
        # (A request it made after handing in, shown to a person, stays shown: sent back, it goes on.)
        Store.set_worker_unless_asking(conn, task.worker_id, WorkerState.WORKING, detail=None)
        self.tell(conn, task, kind, text)

    @staticmethod
    def wait_for(conn: Tx, task: Task, others: set[str] | tuple[str, ...]) -> None:
        """The task's agent waits for ``others`` to merge, besides what it waited for already."""
        now = waits.parse(Store.task(conn, task.id).blocked_on) | set(others)
        Store.set_waits(conn, task.id, waits.render(now))
        if task.worker_id is not None:
            Store.set_worker_unless_asking(conn, task.worker_id, WorkerState.BLOCKED, detail=waits.said(now))

    def finished(self, conn: Tx, done: str, kind: MessageKind, text: str) -> None:
        """Task ``done`` merged or failed: it leaves the waits of every task; those that waited for
        nothing else go on, told ``text``; those still waiting for others go on waiting."""
        for t in Store.waiting_tasks(conn):
            was = waits.parse(t.blocked_on)
            if done not in was:
                continue
            left = was - {done}
            Store.set_waits(conn, t.id, waits.render(left))
            if left or t.state not in AGENT_AT_WORK:
                continue
            if t.worker_id is not None:
                Store.set_worker_unless_asking(conn, t.worker_id, WorkerState.WORKING, detail=None)
            self.tell(conn, t, kind, text)

    # -- assign ------------------------------------------------------------------------------

    def assign(self, task_id: str, worker_id: str, reason: str, tips: dict[str, str] | None = None) -> None:
        """Give the task to the worker: its branch and worktree, then the prompt, in one transaction.

        ``tips`` (every czar branch's tip, read once for a round of assignments) saves git calls.
        """
        plan = self.p.plan
        branch = branch_of(task_id)
        worktree = self.p.paths.worktree(task_id)
        tips = self.p.repo.tips() if tips is None else tips
        with self.store.write() as conn:
            planned = Store.task(conn, task_id)
            fresh = planned.fresh
            stacked_on = self._stacked_on(conn, task_id)
            if stacked_on is None:
                # What it would build on was sent back since it was made ready: it waits again.
                if Store.task(conn, task_id).state is TaskState.READY:
                    Store.move_task(conn, task_id, TaskState.PENDING, reason="a dependency is not approved any more")
                return
        stack = self._stack_start(stacked_on, tips) if stacked_on else None
        if stacked_on and stack is None:
            # Its dependency's work conflicts with the integration branch (that merge will fail
            # too): it waits for the dependency to merge, as a task does without stacking.
            with self.store.write() as conn:
                Store.set_waits(conn, task_id, waits.render(set(stacked_on)))
                Store.emit(
                    conn, EventKind.TASK_WAITS, task=task_id, on=", ".join(stacked_on), reason="stacking conflicts"
                )
            return
        start, built_on = stack if stack is not None else (None, None)
        if start is not None and tips.get(branch) not in (None, start):
            with self.store.read() as conn:
                never_started = Store.first_base(conn, task_id) is None
            # Made ahead on what its dependencies were then: made again on what they are now.
            fresh = fresh or never_started
        if start is None and not fresh and self._merged_under(task_id, planned.spec.scope, tips):
            fresh = True  # made ahead: it starts again where that work is, checkout and all
        if not (fresh or branch not in tips):
            built_on = None  # it goes on on the branch it has: what that was built on stays recorded
        # Other tasks' checkouts may be made meanwhile; this one's, only here (or ahead, done).
        with self._checkout_lock(task_id), self.p.git_lock.held(shared=True):
            base = self._prepare(branch, worktree, fresh, tips, start)
        with self.store.write() as conn:
            task = Store.task(conn, task_id)
            worker = Store.worker(conn, worker_id)
            if task.state is not TaskState.READY or worker.task_id is not None:
                return  # the state moved on since the decision: decide again
            spec = task.spec
            prompt = render(
                PromptInput(
                    project=plan.project.name,
                    worker=worker_id,
                    task_id=task_id,
                    title=task.title,
                    body=task.body,
                    branch=branch,
                    integration_branch=self.integration,
                    scope=spec.scope,
                    accept=spec.accept,
                    subtasks=spec.subtasks,
                    board=board.excerpt(conn, worker_id),
                    previous_failure=task.note,
                    tools="mcp" if adapter_for(worker.agent).capabilities.mcp else "cli",
                    stacked_on=", ".join(stacked_on) or None,
                )
            )
            digest = hashlib.sha256(prompt.encode()).hexdigest()
            earlier = Store.launches_by(conn, worker_id)
            again = Store.started_before(conn, task_id, review=False)
            attempt_id = Store.new_attempt(
                conn,
                task_id=task_id,
                worker_id=worker_id,
                branch=branch,
                worktree=str(worktree),
                base_commit=base,
                prompt=prompt,
                prompt_sha256=digest,
                after_launch=earlier,
            )
            Store.move_task(
                conn,
                task_id,
                TaskState.ASSIGNED,
                expect=TaskState.READY,
                reason=reason,
                worker_id=worker_id,
                attempt_id=attempt_id,
                fresh=0,
                checkpoint=0,
                blocked_on=None,
            )
            Store.claim_scope(conn, task_id, worker_id, spec.scope)
            now = self.p.clock.time()
            Store.set_worker(
                conn, worker_id, task_id=task_id, state=WorkerState.WORKING, last_output=now, last_progress=None
            )
            Store.post(
                conn,
                worker_id,
                StartTask(attempt_id, task_id, str(worktree), prompt, digest, earlier_launches=earlier, again=again),
            )
            Store.emit(
                conn,
                EventKind.TASK_ASSIGNED,
                task=task_id,
                worker=worker_id,
                attempt=attempt_id,
                reason=reason,
                branch=branch,
                base=base,
                prompt_chars=len(prompt),
                tries=Store.tries(conn, task_id),  # (the attempt's id counts the whole run's)
                **({"stacked_on": ", ".join(stacked_on)} if stacked_on else {}),
                built_on=built_on,  # what a start made on its dependencies' approved work holds
            )

    def _merged_under(self, task_id: str, scope: tuple[str, ...], tips: dict[str, str]) -> bool:
        """The task's branch was made ahead (no agent has started on it) and the integration branch
        has since taken in changes within its scope: the work of a task it waited for, their scopes
        overlapping. Started where it was made, its agent would work on the old text and conflict
        with that work at once. A branch with commits of its own (a person's) is never dropped."""
        branch = branch_of(task_id)
        made = tips.get(branch)
        if not scope or made is None:
            return False
        sharing = self._sharing(task_id, scope)
        if not sharing:
            return False  # no git, no store: the common case, tasks of scopes of their own
        with self.store.read() as conn:
            if Store.first_base(conn, task_id) is not None:
                return False  # an agent started on it: its work goes on where it is
            if all(t.state is not TaskState.MERGED for t in Store.tasks_named(conn, sharing).values()):
                return False
        repo = self.p.repo
        integration = tips.get(self.integration) or repo.tip(self.integration)  # (`tips`: czar/ alone)
        if made == integration:
            return False
        # As it was made ahead (on a stacked start that is a merge czar made, in no history of the
        # integration branch), or with no commit of its own: what it has is czar's to make again.
        if self._made_ahead.get(task_id) != made and repo.commits_ahead(integration, branch) > 0:
            return False
        return any(in_scope(scope, path) for path in repo.changed_files(made, integration))

    def _sharing(self, task_id: str, scope: tuple[str, ...]) -> tuple[str, ...]:
        """The plan's other tasks whose scope may meet this one's (a task with none may change
        anything); the plan does not change during a run, so each task's are found once."""
        if task_id not in self._sharers:
            self._sharers[task_id] = tuple(
                t.id for t in self.p.plan.tasks if t.id != task_id and (not t.scope or scopes_overlap(scope, t.scope))
            )
        return self._sharers[task_id]

    def prepare_ahead(self, task_id: str, tips: dict[str, str]) -> bool:
        """Make a ready task's branch and checkout before a worker is free for it, so that handing
        it out later costs no git at all. False if it already had them (or is no longer ready)."""
        branch, checkout = branch_of(task_id), self.p.paths.worktree(task_id)
        if branch in tips or self.p.repo.has_checkout(checkout):
            return False
        with self.store.read() as conn:
            task = Store.task(conn, task_id)
            stacked_on = self._stacked_on(conn, task_id)
        if task.state is not TaskState.READY or task.fresh or stacked_on is None:
            return False
        with self._checkout_lock(task_id), self.p.git_lock.held(shared=True):
            if self.p.repo.has_checkout(checkout):
                return False  # made meanwhile, by the assignment itself
            stack = self._stack_start(stacked_on, tips) if stacked_on else None
            if stacked_on and stack is None:
                return False  # the assignment sees it and waits
            self._made_ahead[task_id] = self._prepare(branch, checkout, False, tips, stack[0] if stack else None)
        return True

    def restack(self, task_id: str, tips: dict[str, str]) -> bool:
        """A stacked task at work whose dependencies' approved work changed since its branch was
        made on it (sent back and approved again: after a conflict, a review, a broken batch) is
        restacked: czar makes its new start (the integration branch with their approved work as
        it is now) and tells its agent to merge it in, conflicts and all (``RESTACK``). A task
        handed in is restacked by its merge, after theirs (a conflict goes back to its agent).
        Returns whether it was."""
        with self.store.read() as conn:
            task = Store.task(conn, task_id)
            stacked_on = self._stacked_on(conn, task_id) if task.state in AGENT_AT_WORK else None
            records = Store.stack_records(conn, task_id) if stacked_on else []
        if not stacked_on or not records:
            return False
        built_on: dict[str, str] = records[-1]["built_on"]
        repo, tip = self.p.repo, tips.get(branch_of(task_id))
        moved = [
            d
            for d in stacked_on
            if (now := tips.get(branch_of(d))) is not None
            and built_on.get(d) != now
            and not (tip is not None and repo.is_ancestor(now, tip))  # brought in already
        ]
        if not moved:
            return False
        stack = self._stack_start(stacked_on, tips)
        base, holds = stack if stack is not None else (None, {d: tips[branch_of(d)] for d in stacked_on})
        with self.store.write() as conn:
            now_task = Store.task(conn, task_id)
            if now_task.attempt_id != task.attempt_id or now_task.state not in AGENT_AT_WORK:
                return False  # it moved on meanwhile: the next look decides again
            Store.emit(
                conn,
                EventKind.TASK_RESTACKED,
                task=task_id,
                attempt=task.attempt_id,
                on=", ".join(moved),
                built_on=holds,
                base=base,
            )
            if base is None:
                # Their new work conflicts with the integration branch: their merge will be sent
                # back too; this agent hears when they merge (``_tell_waiting``).
                return False
            ref = stack_ref(task_id)
            self.tell(
                conn,
                now_task,
                MessageKind.RESTACK,
                f"The approved work of {', '.join(f'task {d}' for d in moved)}, which your branch is built on, "
                f"changed since you started (it was sent back and approved again). Bring the new version into "
                f"your branch now: `git merge {ref}` ({self.integration} with the approved work of the tasks "
                f"yours builds on, as it is now). Where it conflicts, keep both its changes and yours; run your "
                "checks again, commit, and go on.",
                show=((ref, base),),
            )
        return True

    def _stacked_on(self, conn: Tx, task_id: str) -> tuple[str, ...] | None:
        """The dependencies a stacked task builds on (``[project] stack``): those not merged yet,
        each approved (none: every one merged). None when one of them is not approved any more
        (sent back since the task was made ready): it must wait again."""
        if not self.p.plan.project.stack:
            return ()
        deps = [Store.task(conn, d) for d in Store.task(conn, task_id).spec.depends_on]
        if not stackable(d.state for d in deps):
            return None
        return tuple(d.id for d in deps if d.state is not TaskState.MERGED)

    def _stack_start(self, dependencies: tuple[str, ...], tips: dict[str, str]) -> tuple[str, dict[str, str]] | None:
        """Where a task stacked on ``dependencies`` starts: the integration branch with their
        approved work merged in, made in memory (the branch of one that holds the integration
        branch already, as it is), and each one's commit it holds; None when they conflict (it
        waits for their merges)."""
        repo = self.p.repo
        start = tips.get(self.integration) or repo.tip(self.integration)
        built_on: dict[str, str] = {}
        for dep in dependencies:
            work = built_on[dep] = tips.get(branch_of(dep)) or repo.tip(branch_of(dep))
            if repo.is_ancestor(start, work):
                start = work
                continue
            made = repo.merge_commit(start, work, f"czar: {self.integration} with task {dep}'s approved work")
            if made is None:
                return None
            start = made
        return start, built_on

    def _prepare(self, branch: str, checkout: Path, fresh: bool, tips: dict[str, str], start: str | None = None) -> str:
        """The task's branch (from the integration branch, or ``start``: the approved work of the
        dependency it is stacked on) and its checkout, a clone of its own (see
        ``czar.vcs.checkout``); returns the commit the attempt starts from."""
        repo = self.p.repo
        start = start or tips.get(self.integration) or repo.tip(self.integration)
        if branch in tips and fresh:
            # Its earlier agents worked on the wrong task: start over from the integration branch.
            repo.discard_checkout(checkout)
            repo.reset_branch(branch, start)
            repo.make_checkout(checkout, branch)
            return start
        if branch in tips:
            if not repo.has_checkout(checkout):
                repo.make_checkout(checkout, branch)
                return tips[branch]
            # What an earlier attempt committed and czar had not brought in yet counts too.
            return repo.harvest(checkout, branch, tips[branch]) or tips[branch]
        repo.ensure_branch(branch, start)
        if not repo.has_checkout(checkout):
            repo.make_checkout(checkout, branch)
        return repo.tip(branch)

    # -- requeue -----------------------------------------------------------------------------

    def requeue(self, conn: Tx, task_id: str, reason: str, *, fresh: bool = False, waiting: bool = False) -> None:
        """Take a task back from its worker (gone, given up on, or confused); its branch keeps the
        work unless ``fresh``. Fails the task when it has no attempts left. ``waiting``: it gives
        its worker back while it waits for other tasks (no round used; it keeps waiting for them
        in the pool, and starts again once they are over)."""
        task = Store.task(conn, task_id)
        setback = Setback.GAVE_WAY if waiting else Setback.ABANDONED
        after = after_setback(setback, task.rounds, self.p.plan.project.max_rounds)
        if task.attempt_id is not None:
            Store.set_attempt(conn, task.attempt_id, outcome=AttemptOutcome.ABANDONED)
        if task.worker_id is not None:
            Store.drop_queued(conn, task.worker_id)  # commands for the old attempt must not run later
            self.free_worker(conn, task.worker_id, task.attempt_id)
        Store.release_claims(conn, task_id)
        if after.fails:
            alert = f"task {task_id} failed: {reason}"
            self.fail(conn, task_id, f"{reason}; no attempts left", alert, rounds=after.rounds)
            return
        note = (
            f"Earlier attempts worked on the wrong task ({reason}); you start from a fresh branch."
            if fresh
            else f"The previous attempt ended early: {reason}. Your branch keeps what it committed; go on from there."
        )
        Store.move_task(
            conn,
            task_id,
            TaskState.READY,
            reason=reason,
            rounds=after.rounds,
            worker_id=None,
            attempt_id=None,
            note=note,
            fresh=fresh,
            blocked_on=task.blocked_on if waiting else None,
        )
        if fresh and self.p.plan.project.stack:
            self._stacked_discard(conn, task_id)

    def _stacked_discard(self, conn: Tx, discarded: str, *, ended: str | None = None) -> None:
        """Tasks stacked on the work of ``discarded``, which its fresh start throws away: their
        branches hold it, and their merges would bring it in. Each waits again for its new approved
        work and then starts afresh on it, no round used (each of their own stacked dependents so
        too). Or ``discarded`` will not merge (it ``ended``: failed, was cancelled): their work
        stops, and they wait for it, blocked as any task waiting for it, their branches kept (its
        own goes on from its branch when a person retries it: they are restacked on its new work)."""
        if ended is None:
            why = f"it was built on the work of task {discarded}, which starts afresh"
            note = f"Task {discarded}, whose work yours was built on, starts afresh: so does yours, on its new work."
        else:
            why = f"it was built on the work of task {discarded}, which {ended}"
            note = (
                f"Task {discarded}, whose work yours was built on, {ended}, and your work was stopped. Your"
                " branch keeps what you committed: go on from there."
            )
        for tid in [t.id for t in Store.all_tasks(conn) if discarded in t.spec.depends_on]:
            t = Store.task(conn, tid)  # as it is now: a task stacked on two of these moved already
            if t.state in TERMINAL_TASK_STATES:
                continue
            if t.state is TaskState.PENDING:
                # One waiting with its branch kept (its dependency failed, then went again): if
                # that branch holds the work thrown away now, it starts afresh too.
                if ended is None and not t.fresh and self._built_on(conn, t.id, discarded):
                    Store.start_afresh(conn, t.id, note)
                    self._stacked_discard(conn, t.id)
                continue
            if ended is not None and t.state is TaskState.READY and t.attempt_id is None:
                Store.move_task(conn, t.id, TaskState.PENDING, reason=f"dependency {discarded} {ended}")
                self._stacked_discard(conn, t.id, ended=f"waits for task {discarded} again")
                continue
            if ended is None and not self._built_on(conn, t.id, discarded):
                continue  # (it started on the integration branch, once that work had merged)
            if t.attempt_id is not None:
                Store.set_attempt(conn, t.attempt_id, outcome=AttemptOutcome.ABANDONED)
            self.stop_work_on(conn, t, why)
            Store.release_claims(conn, t.id)
            if t.state in (TaskState.SUBMITTED, TaskState.VERIFYING):  # (no way to the pool but this)
                Store.move_task(conn, t.id, TaskState.RUNNING, reason=why)
            if t.state is not TaskState.READY:
                Store.move_task(conn, t.id, TaskState.READY, reason=why, worker_id=None, attempt_id=None)
            fresh = ended is None
            Store.move_task(conn, t.id, TaskState.PENDING, reason=why, fresh=fresh, note=note, blocked_on=None)
            self._stacked_discard(conn, t.id, ended=None if fresh else f"waits for task {discarded} again")

    @staticmethod
    def _built_on(conn: Tx, task_id: str, dependency: str) -> bool:
        """Whether the task's branch was last made (or restacked) on the dependency's approved work."""
        records = Store.stack_records(conn, task_id)
        return bool(records) and dependency in (records[-1].get("built_on") or {})

    def give_up(self, conn: Tx, task: Task, worker: str | None, reason: str, alert: str, **fields: Any) -> None:
        """The task fails with its attempt: the attempt marked failed, ``worker`` (the one that
        holds it, if any) freed, and ``fail``."""
        if task.attempt_id is not None:
            Store.set_attempt(conn, task.attempt_id, outcome=AttemptOutcome.FAILED)
        self.free_worker(conn, worker, task.attempt_id)
        self.fail(conn, task.id, reason, alert, **fields)

    def fail(self, conn: Tx, task_id: str, reason: str, alert: str, **fields: Any) -> None:
        """The task is out of attempts: it fails, a person is alerted, and tasks waiting for it hear."""
        Store.move_task(conn, task_id, TaskState.FAILED, reason=reason, worker_id=None, merge_from=None, **fields)
        Store.alert(conn, "critical", alert, task=task_id)
        self.will_not_merge(conn, task_id, "failed")

    def will_not_merge(self, conn: Tx, task_id: str, what: str) -> None:
        """The task ended without merging (it ``what``: failed, was cancelled): its claims and waits
        go, tasks waiting for it hear, and tasks stacked on its work wait for it afresh."""
        Store.release_claims(conn, task_id)
        Store.set_waits(conn, task_id, None)
        self.finished(
            conn,
            task_id,
            MessageKind.FAILED,
            f"Task {task_id}, which you were waiting for, {what} and will not merge. Go on without it if "
            "you can; otherwise say what you need (`czar blocked` or `czar ask`).",
        )
        self._stacked_discard(conn, task_id, ended=what)

    # -- verify ------------------------------------------------------------------------------

    def verify(self, task_id: str, blocker: Blocker | None = None, known: tuple[bool, list[str]] | None = None) -> None:
        """Check a submitted task in its worktree; runs on a worker thread. Its branch holds the
        commit handed in (``bring_in_handed_in``, before the radar looked). ``blocker`` is what the
        radar found against it; ``known``, what the radar just read of its branch: (commits of its
        own, files changed). What follows is ``czar.core.verification.judge``'s to say."""
        with self.store.read() as conn:
            task = Store.task(conn, task_id)
            assert task.attempt_id is not None, "a task being verified has an attempt"
            attempt = Store.attempt(conn, task.attempt_id)
            claimed = Store.claims_of(conn, task_id)
        # Gone (a person's `git branch -D`): made again at its last merge, not charged to the work.
        integration_guard.restore(self.p, lambda _said: None, back=False)
        # The commit the checks see: what merges (see ``MergeQueue.merge``), and is pushed if they
        # pass, with ``[project] push``.
        try:  # (that branch alone: hundreds of them, and a verification per hand-in)
            examined: str | None = self.p.repo.tip(f"refs/heads/{branch_of(task_id)}")
        except GitError:
            examined = None
        # With a blocker no check need run: the work waits, whatever they would say.
        try:
            problems, changed, results = (
                self._examine(task, attempt, claimed, known) if blocker is None else ([], [], [])
            )
        except ChecksKilled as killed:
            if self._verify_again(task, str(killed)):
                return
            problems, changed, results = [f"A check was killed by a signal, {KILLED_RUNS} times: {killed}"], [], []
        except BranchHeld as held:
            with self.store.write() as conn:
                Store.move_task(
                    conn,
                    task_id,
                    TaskState.SUBMITTED,
                    expect=TaskState.VERIFYING,
                    reason=f"{held} is checked out in a checkout of yours: verified once it is on another branch",
                )
            return
        checks = [{"command": r.command, "exit": r.returncode, "timed_out": r.timed_out} for r in results]
        unresolved = self._unresolved(task) if blocker is not None and not blocker.waits else 0
        verdict = judge(blocker, tuple(problems), task.rounds, self.p.plan.project.max_rounds, unresolved)
        with self.store.write() as conn:
            now = Store.task(conn, task_id)
            if now.state is not TaskState.VERIFYING or now.attempt_id != task.attempt_id:
                return  # taken back while its checks ran (its dependency's work thrown away, say)
            match verdict:
                case Defer(found):
                    self._sent_back(conn, task, found)
                case Approve(rounds):
                    passed = f"verified: {len(checks)} check(s) passed, {len(changed)} file(s) changed"
                    Store.emit(
                        conn,
                        EventKind.VERIFY_PASSED,
                        task=task_id,
                        attempt=task.attempt_id,
                        checks=checks,
                        changed=changed,
                        commit=examined,
                    )
                    if self.p.plan.review.enabled:
                        # Its author keeps the worker: changes requested go to the same session.
                        reason = f"{passed}; a reviewer reads it next"
                        Store.move_task(
                            conn, task_id, TaskState.REVIEWING, expect=TaskState.VERIFYING, rounds=rounds, reason=reason
                        )
                    else:
                        self.approve(conn, task, passed, expect=TaskState.VERIFYING, rounds=rounds)
                case SendBack() | Fail():
                    self._verification_failed(conn, task, verdict, checks)
                case _:
                    assert_never(verdict)
        if isinstance(verdict, Approve) and examined is not None:
            # Its branch may have been made again from scratch: the remote's copy is replaced.
            remote_sync.push(self.p, branch_of(task_id), examined, replace=True, task=task_id)

    def _unresolved(self, task: Task) -> int:
        """Hand-ins of the task's attempt deferred in a row, since its last verification that
        ended otherwise (failed, or passed: a review or a merge may send it back after), for what
        its agent had to resolve itself (no task to wait for)."""
        ended = (EventKind.VERIFY_FAILED, EventKind.VERIFY_PASSED, EventKind.MERGE_FAILED)
        with self.store.read() as conn:
            seen = Store.events_of_task(conn, task.id, (EventKind.VERIFY_DEFERRED, *ended))
        count = 0
        for e in seen:
            if e.attempt_id != task.attempt_id:
                continue
            if e.kind in ended:
                count = 0
            elif e.payload.get("about") != "killed" and not e.payload.get("waits"):
                count += 1
        return count

    def _verify_again(self, task: Task, command: str) -> bool:
        """A check was killed by a signal czar did not send: verified again, no round used; but
        not for ever (a check that kills itself so is the work's): False the ``KILLED_RUNS``th time."""
        with self.store.write() as conn:
            before = [
                e
                for e in Store.events_of_task(conn, task.id, (EventKind.VERIFY_DEFERRED,))
                if e.payload.get("about") == "killed" and e.attempt_id == task.attempt_id
            ]
            if len(before) >= KILLED_RUNS - 1:
                return False
            Store.emit(conn, EventKind.VERIFY_DEFERRED, task=task.id, attempt=task.attempt_id, about="killed", waits=[])
            Store.move_task(
                conn,
                task.id,
                TaskState.SUBMITTED,
                expect=TaskState.VERIFYING,
                reason=f"a check was killed by a signal ({command}): verified again",
            )
        return True

    def approve(
        self, conn: Tx, task: Task, reason: str, expect: TaskState, *, free: bool = True, **fields: Any
    ) -> None:
        """The task's work may merge: into the merge queue; its worker is free (``free``: it
        still holds the task)."""
        Store.move_task(
            conn,
            task.id,
            TaskState.APPROVED,
            expect=expect,
            # Its first approval: a task sent back since keeps its place in line.
            approved_window=task.approved_window if task.approved_window is not None else Store.merge_window(conn),
            reason=reason,
            **fields,
        )
        if free:
            self.free_worker(conn, task.worker_id, task.attempt_id)

    def _examine(
        self, task: Task, attempt: Attempt, claimed: tuple[str, ...], known: tuple[bool, list[str]] | None
    ) -> tuple[list[str], list[str], list[CheckResult]]:
        """What is wrong with the work handed in (each problem as evidence for its agent), the
        files it changed, and its checks' results."""
        branch, spec = branch_of(task.id), task.spec
        problems: list[str] = []
        changed: list[str] = []
        results: list[CheckResult] = []
        against = self._compared_with(task)
        try:
            handed = self._handed_in(attempt.id)
            if handed is not None and self.p.repo.tips().get(branch) != handed:
                # Not brought in: git refused (the branch checked out in a checkout of yours), or
                # the clone made it wait. The work would be judged as it was before, or as none.
                if your_checkouts.holds_work_of(self.p, task.id, fresh=True):
                    raise BranchHeld(branch)  # no fault of the work
                if task_checkout.stuck(Path(attempt.worktree)):
                    problems.append(unreadable_message(branch))
                    return problems, changed, results
                if (why := task_checkout.fetch_failure(Path(attempt.worktree))) is not None:
                    # git failed on the repository's side (a full disk, found by a probe): no
                    # fault of the work, which was judged as none and failed; tried again later.
                    raise NotBroughtIn(f"czar could not bring {branch} in: {why}")
                if (said := task_checkout.fetch_said(Path(attempt.worktree))) is not None:
                    # The clone's fault (a commit it lacks, an object git refuses): judged so, not
                    # as whatever the branch held before.
                    problems.append(
                        f"czar could not bring {branch} in from your checkout: {said}. Commit your work on "
                        f"{branch} (a plain commit), and finish again."
                    )
                    return problems, changed, results
            ahead, changed = known or (
                self.p.repo.commits_ahead(against, branch) > 0,
                self.p.repo.changed_files(against, branch),
            )
            if not ahead:
                if your_checkouts.holds_work_of(self.p, task.id, fresh=True):
                    raise BranchHeld(branch)  # (git refused to bring the work in: no fault of the work)
                problems.append(f"There are no commits on {branch} beyond {self.integration}: commit your work.")
            outside = _outside_scope(spec.scope, claimed, changed)
            if outside:
                problems.append(scope_message(spec.scope, outside, self.integration))
            if POINTS_ELSEWHERE in changed:
                problems.append(elsewhere_message(self.integration))
            project = self.p.plan.project
            if not problems and project.max_diff_lines is not None:
                size = self._diff_lines(branch, against)
                if size > project.max_diff_lines:
                    problems.append(
                        f"Your change adds and removes {size} lines against {self.integration}, more than the "
                        f"{project.max_diff_lines} this project takes in one task: make it smaller (leave out what "
                        "the task does not ask for), commit, and finish again."
                    )
            # Cheapest first: the linters, then (if they pass) the acceptance commands.
            for commands, kind in ((project.lint, "lint"), (spec.accept, "accept")):
                if problems or not commands:
                    continue
                log_path = (
                    self.p.paths.checks / task.id / f"round-{task.rounds + 1}{'-lint' if kind == 'lint' else ''}.log"
                )
                checkout = Path(attempt.worktree)
                confine = self.p.confinement(checkout, self.p.paths.checks / task.id / "home")
                ran = run_checks(list(commands), checkout, project.accept_timeout, log_path, confine)
                results += ran
                failure = describe_failure(ran)
                if failure:
                    problems.append(failure)
        except CzarError as exc:
            problems.append(f"verification could not run: {exc}")
        return problems, changed, results

    def _diff_lines(self, branch: str, against: str) -> int:
        """Lines the branch adds and removes since it left ``against``."""
        return sum(max(f.added, 0) + max(f.removed, 0) for f in changes_since(self.p.repo, against, branch))

    def _compared_with(self, task: Task) -> str:
        """What a task's work is measured against: the integration branch, or, for a stacked task
        that has not brought the integration branch in since, the commit it started from (the
        approved work of its dependencies is not its own)."""
        if not self.p.plan.project.stack:
            return self.integration
        with self.store.read() as conn:
            starts = stack_starts(conn, task.id)
        return stacked_base(self.p.repo, self.integration, branch_of(task.id), starts) or self.integration

    def _sent_back(self, conn: Tx, task: Task, blocker: Blocker) -> None:
        """Not verified, through no fault of the work: it overlaps a task that comes first, or the
        integration branch moved under it. Waiting is not failing: no round is used."""
        kind, evidence, others = blocker.kind, blocker.evidence, blocker.waits
        Store.emit(
            conn, EventKind.VERIFY_DEFERRED, task=task.id, attempt=task.attempt_id, about=kind, waits=list(others)
        )
        Store.move_task(
            conn,
            task.id,
            TaskState.RUNNING,
            expect=TaskState.VERIFYING,
            reason=f"not verified yet ({kind}); no round used",
        )
        if others:
            self.wait_for(conn, task, others)
        self.tell(conn, task, kind, f"Task {task.id} is not verified yet.\n\n{evidence}")

    def bring_in_handed_in(self, task_id: str, tips: dict[str, str] | None = None) -> bool:
        """Point the task's branch in the repository at the commit its agent handed in: what is
        verified and merged is that, whatever the agent did in its checkout since (a message it
        was still acting on). ``tips``: the repository's branches, if just read. True if the
        branch moved."""
        with self.store.read() as conn:
            task = Store.task(conn, task_id)
            attempt = Store.attempt(conn, task.attempt_id) if task.attempt_id is not None else None
        if attempt is None or not attempt.worktree:
            return False
        branch, place = branch_of(task_id), Path(attempt.worktree)
        repo = self.p.repo
        before = (tips if tips is not None else repo.tips()).get(branch)
        head = self._handed_in(attempt.id)
        if head == before and head is not None:
            return False  # the radar brought it in already
        if head is not None and repo.harvest_commit(place, branch, head):
            return True
        return repo.harvest(place, branch, before) != before

    def _handed_in(self, attempt_id: int) -> str | None:
        """The commit the attempt's agent handed in last (see ``AgentTools.done``)."""
        with self.store.read() as conn:
            last = Store.last_event_of(conn, attempt_id, EventKind.AGENT_FINISHED)
        payload = last.payload if last is not None else {}
        head = payload.get("head")
        return str(head) if head and not payload.get("refused") else None

    def _verification_failed(
        self, conn: Tx, task: Task, verdict: SendBack | Fail, checks: list[dict[str, Any]]
    ) -> None:
        max_rounds = self.p.plan.project.max_rounds
        round_no, evidence = verdict.rounds, verdict.evidence
        Store.emit(
            conn,
            EventKind.VERIFY_FAILED,
            task=task.id,
            attempt=task.attempt_id,
            round=round_no,
            checks=checks,
            evidence=evidence[-4000:],
        )
        if isinstance(verdict, Fail):
            self.give_up(
                conn,
                task,
                task.worker_id,
                f"verification failed {round_no} time(s); no attempts left",
                f"task {task.id} failed verification {round_no} time(s)",
                rounds=round_no,
            )
            return
        Store.move_task(
            conn,
            task.id,
            TaskState.RUNNING,
            expect=TaskState.VERIFYING,
            rounds=round_no,
            reason=f"verification failed (round {round_no} of {max_rounds}); evidence sent to the worker",
        )
        text = (
            f"Verification of task {task.id} failed (round {round_no} of {max_rounds}).\n\n{evidence}\n\n"
            "Fix this in your worktree, commit, and finish again."
        )
        self.tell(conn, task, MessageKind.FEEDBACK, text)

    # -- after a merge -----------------------------------------------------------------------

    def merged(self, conn: Tx, task: Task, commit: str, holds: Callable[[str], bool] = lambda _: False) -> None:
        """The task is in the integration branch: record it, free its claims, tell who waits
        (``holds``: whether a task stacked on it holds, in its branch, the very work that merged)."""
        Store.move_task(
            conn,
            task.id,
            TaskState.MERGED,
            expect=TaskState.MERGING,
            merge_from=None,
            reason=f"merged into {self.integration} at {commit[:10]}",
        )
        if task.attempt_id is not None:
            Store.set_attempt(conn, task.attempt_id, outcome=AttemptOutcome.MERGED)
        Store.release_claims(conn, task.id)
        Store.set_waits(conn, task.id, None)
        Store.emit(conn, EventKind.TASK_MERGED, task=task.id, attempt=task.attempt_id, commit=commit)
        self._tell_waiting(conn, task.id, holds)

    def _tell_waiting(self, conn: Tx, merged: str, holds: Callable[[str], bool] = lambda _: False) -> None:
        """Workers whose task comes after ``merged``, or waited for it and for nothing else any
        more, hear at once that it merged (one still waiting for other tasks hears when they have).
        An agent stacked on it whose branch holds the very work that merged (``holds``) is not
        interrupted: its own merge brings the rest (a message costs a real agent a turn)."""
        bring_in = f"Bring it into your branch now: `git merge {self.integration}`, then go on."
        waiting = {t.id for t in Store.waiting_tasks(conn) if merged in waits.parse(t.blocked_on)}
        self.finished(
            conn, merged, MessageKind.MERGED, f"Task {merged}, which you were waiting for, is merged. {bring_in}"
        )
        for t in Store.tasks_in(conn, AGENT_AT_WORK):
            if t.id not in waiting and merged in t.spec.after:
                self.tell(
                    conn, t, MessageKind.MERGED, f"Task {merged}, which your task comes after, is merged. {bring_in}"
                )
            elif t.id not in waiting and merged in t.spec.depends_on:  # stacked on its approved work
                if holds(t.id):
                    continue
                self.tell(
                    conn, t, MessageKind.MERGED, f"Task {merged}, whose work yours is built on, is merged. {bring_in}"
                )

    def merge_failed(self, conn: Tx, task: Task, problem: str, landing: Landing = Landing.BROKE) -> None:
        """The task could not be merged: back to the pool with the evidence, or failed (see
        ``czar.core.landing``: made again because the integration branch moved under it, it uses
        no round)."""
        after = after_landing(landing, task.rounds, self.p.plan.project.max_rounds)
        Store.emit(
            conn,
            EventKind.MERGE_FAILED,
            task=task.id,
            attempt=task.attempt_id,
            evidence=problem[-4000:],
            charged=after.charged,
        )
        if after.state is TaskState.FAILED:
            alert = f"task {task.id} could not be merged"
            self.fail(conn, task.id, "merge failed; no attempts left", alert, rounds=after.rounds)
            return
        Store.move_task(
            conn,
            task.id,
            after.state,
            rounds=after.rounds,
            worker_id=None,
            attempt_id=None,
            merge_from=None,
            note=problem,
            reason="merge failed; back to the pool with the evidence" + ("" if after.charged else " (no round used)"),
        )
        Store.release_claims(conn, task.id)


def stack_ref(task_id: str) -> str:
    """The branch a restacked task's checkout is shown its new start under (beside ``czar/``, so
    that no task's name can clash with it)."""
    return f"czar-stack/{task_id}"


def stack_starts(conn: Tx, task_id: str) -> tuple[str, ...]:
    """Where a stacked task's branch started, newest first: each restack's new start (or a start
    made again), then the first attempt's base (``stacked_base`` takes the newest its branch holds)."""
    restacked = [str(r["base"]) for r in reversed(Store.stack_records(conn, task_id)) if r.get("base")]
    first = Store.first_base(conn, task_id)
    return tuple(dict.fromkeys([*restacked, *([first] if first else [])]))


def stacked_base(repo: Repository, integration: str, branch: str, starts: Sequence[str]) -> str | None:
    """The commit a stacked task's own work is measured from: the newest of ``starts`` (where its
    branch began, off the integration branch, on its dependencies' approved work; or a restack's
    new start) that its branch holds, as long as the branch has not brought the integration
    branch in since; None when it is measured as any task is."""
    for start in starts:
        if repo.is_ancestor(start, integration):
            return None  # what it started on merged since (and what it started on before, too)
        if start != starts[-1] and not repo.is_ancestor(start, branch):
            continue  # a restack its agent has not brought in (yet)
        ahead_of = repo.merge_base(integration, branch)
        return start if ahead_of is None or repo.is_ancestor(ahead_of, start) else None
    return None


def _outside_scope(scope: tuple[str, ...], claimed: tuple[str, ...], changed: list[str]) -> list[str]:
    """Changed paths that neither the plan's scope nor the task's claims allow (no scope: none)."""
    if not scope:
        return []
    allowed = tuple(dict.fromkeys(scope + claimed))
    return [path for path in changed if not in_scope(allowed, path)]


# A file of the work that czar's own git would follow, outside any sandbox (its merges and the
# checkouts it makes): .lfsconfig names the server git-lfs fetches missing large files from, and
# sends them to on a push. Found by a probe: an agent's .lfsconfig had czar's merge ask a server
# of the agent's choosing (loopback, or anywhere, carrying what it likes in the address). Whatever
# its scope says, such a change is a person's to make.
POINTS_ELSEWHERE = ".lfsconfig"


def unreadable_message(branch: str) -> str:
    return (
        f"czar could not read {branch} from your checkout: git waited on a file of its .git folder and was "
        "stopped (a FIFO, a device or a link where git reads a file: HEAD, a ref, packed-refs, an object). Make "
        "it a plain git repository again, commit, and finish again."
    )


def elsewhere_message(integration: str) -> str:
    return (
        f"Your branch changes {POINTS_ELSEWHERE}: czar's own git (its merges and checkouts, outside your sandbox) "
        f"would fetch large files from the server it names, so no task may change it. Undo it "
        f"(`git checkout {integration} -- {POINTS_ELSEWHERE}` if it existed, `git rm {POINTS_ELSEWHERE}` if you added "
        "it); then commit, and say in your summary what a person should change there."
    )


def scope_message(scope: tuple[str, ...], outside: list[str], integration: str) -> str:
    listed = "\n".join(f"- {p}" for p in outside[:20]) + ("\n- ..." if len(outside) > 20 else "")
    return (
        f"Your branch changes files outside your task's scope ({', '.join(scope)}):\n{listed}\n"
        f"Undo those changes (`git checkout {integration} -- FILE` for a file that existed, `git rm FILE` for one"
        " you added), or, if the task truly needs them, claim them first (`czar claim FILE`); then commit."
    )
