"""What an agent may do through czar, for one worker: report, read the board, claim and release
paths, finish, say it is blocked, ask a question, and ask for permission.

The ``czar report/board/claim/release/done/blocked/ask`` commands, the MCP server and the worker
host (for agents that speak through their output, like ``sim``) all go through this one class.
Each call is one short write transaction whose events record what the agent said.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from czar.agent_tools import board as board_mod
from czar.agent_tools.identity import Caller, CallerError, token_matches
from czar.agents.adapters import adapter_for
from czar.agents.base import HookCall, HookKind
from czar.core import policy, reviewer_policy, waits
from czar.core.asked import Asked
from czar.core.board import BoardRow
from czar.core.claims import ClaimResult
from czar.core.events import EventKind
from czar.core.forge import Finding, Verdict
from czar.core.host_commands import StopAgent
from czar.core.policy import PERSON_WAIT_SECONDS
from czar.core.prompt import digest
from czar.core.review import ReviewState, finding_problem, verdict_of, verdict_problem
from czar.core.scope import in_scope
from czar.core.states import ACTIVE_TASK_STATES, AGENT_AT_WORK, TaskState, WorkerRole, WorkerState
from czar.errors import StoreError
from czar.runtime import proc
from czar.runtime.keyed_locks import KeyedLocks
from czar.store.claims import MOST_CLAIMS
from czar.store.records import Attempt, Review, Task, Worker
from czar.store.store import Store, Tx
from czar.vcs import checkout
from czar.vcs.git import Git

PERSON = waits.PERSON  # what ``blocked_on`` says when a person, not a task, must act


@dataclass(frozen=True)
class AtWork:
    """The caller's worker, the task it holds, and that task's attempt; for a reviewer, the task
    it reviews, its own attempt and the review."""

    worker: Worker
    task: Task
    attempt: Attempt
    review: Review | None = None


class AgentTools:
    """The operations of one worker's agent. Build it with ``for_caller`` to check the token."""

    def __init__(self, store: Store, worker_id: str, launch: int | None = None) -> None:
        self.store = store
        self.worker = worker_id
        self.launch = launch  # the agent start speaking; None when unknown (a person's test call)
        # How git runs in the agent's checkout for it (its sandbox: the checkout's configuration
        # and hooks are the agent's to write); None outside a worker host.
        self.wrap: Callable[[list[str]], list[str]] | None = None

    @classmethod
    def for_caller(cls, caller: Caller) -> AgentTools:
        if not caller.paths.db.exists():
            raise CallerError(f"no czar project {caller.paths.name!r} under {caller.paths.root.parent}")
        store = Store(caller.paths)
        with store.read() as conn:
            try:
                row = Store.worker(conn, caller.worker)
            except StoreError:
                raise CallerError(f"no worker {caller.worker!r} in project {caller.paths.name!r}") from None
        if not token_matches(row.token, caller.token):
            raise CallerError(f"the token does not belong to worker {caller.worker}; a worker acts only for itself")
        return cls(store, caller.worker, caller.launch)

    # -- helpers -----------------------------------------------------------------------------

    def _current(self, conn: Tx, *, reviewer_ok: bool = False) -> AtWork:
        """What the caller works on; a reviewer only where ``reviewer_ok`` (its agent's life:
        acknowledging, activity, permissions, waiting), never for an author's tools."""
        worker = Store.worker(conn, self.worker)
        if worker.role is WorkerRole.REVIEWER:
            return self._reviewing(conn, worker, reviewer_ok)
        if worker.task_id is None:
            raise CallerError(f"worker {self.worker} has no task now")
        task = Store.task(conn, worker.task_id)
        if task.attempt_id is None or task.state not in ACTIVE_TASK_STATES:
            raise CallerError(f"task {task.id} is {task.state}; there is nothing to report on it")
        attempt = Store.attempt(conn, task.attempt_id)
        if self.launch is not None and self.launch <= attempt.stale_launch:
            # czar restarted this agent; what the replaced process still says no longer counts.
            raise CallerError(f"this agent process of worker {self.worker} was replaced")
        return AtWork(worker, task, attempt)

    def _reviewing(self, conn: Tx, worker: Worker, reviewer_ok: bool) -> AtWork:
        review = Store.reviewing(conn, self.worker)
        if review is None:
            raise CallerError(f"reviewer {self.worker} has no review open now")
        attempt = Store.attempt(conn, review.attempt_id)
        if self.launch is not None and self.launch <= attempt.stale_launch:
            raise CallerError(f"this agent process of worker {self.worker} was replaced")
        if not reviewer_ok:
            raise CallerError(
                f"you review task {review.task_id}: a reviewer changes nothing and hands nothing in; answer with"
                " `finding` (each problem) and `verdict` (once)"
            )
        return AtWork(worker, Store.task(conn, review.task_id), attempt, review)

    def _ids(self, cur: AtWork) -> dict[str, Any]:
        return {"actor": self.worker, "worker": self.worker, "task": cur.task.id, "attempt": cur.attempt.id}

    def _alive(
        self, conn: Tx, *, progress: bool = False, state: WorkerState | None = None, withdraw: bool = False
    ) -> None:
        """The agent did something: its worker seen alive, in ``state`` if given. A request of its
        shown to a person keeps waiting (what a parallel call of the same turn did is no answer to
        it), unless ``withdraw``: the agent handed its task in."""
        if state is not None and not withdraw:
            row = Store.worker(conn, self.worker)
            if row.state == WorkerState.WAITING_PERMISSION.value:
                state = None
            elif (
                state is WorkerState.WORKING
                and row.state == WorkerState.BLOCKED.value
                and row.task_id
                and Store.task(conn, row.task_id).blocked_on
            ):
                # A tool call or a report while it stands off is no end of its wait: that comes
                # when what it waits for merges (it would be taken for silent, then stuck).
                state = None
        now = time.time()
        fields: dict[str, Any] = {"last_output": now, "last_seen": now}
        if state is WorkerState.WORKING:
            self._model_back(conn)
        if progress:
            fields["last_progress"] = now
        if state is not None:
            fields["state"] = state
            if state is WorkerState.WORKING:
                fields["detail"] = None
                fields["wait_until"] = None
        Store.set_worker(conn, self.worker, **fields)

    # -- reports -----------------------------------------------------------------------------

    def acknowledge(self, named: str | None, goal: str | None = None, digest_ok: bool | None = None) -> str:
        """The agent's first report: the task it believes it has, and its goal in its own words
        (each kept within bounds: an agent's words are stored, and shown)."""
        named, goal = _bounded(named, NAME_CHARS), _bounded(goal, TEXT_CHARS)
        with self.store.write() as conn:
            cur = self._current(conn, reviewer_ok=True)
            return self._acknowledge(conn, cur, named, goal, digest_ok)

    def _acknowledge(self, conn: Tx, cur: AtWork, named: str | None, goal: str | None, digest_ok: bool | None) -> str:
        now = time.time()
        Store.set_attempt(conn, cur.attempt.id, acked_at=now, named_task=named, goal=goal)
        right = named == cur.task.id
        reviewing: dict[str, Any] = {"reviewing": True} if cur.review is not None else {}
        Store.emit(
            conn,
            EventKind.AGENT_ACK,
            **self._ids(cur),
            named=named,
            goal=goal,
            confirmed=right,
            digest_ok=digest_ok,
            **reviewing,
        )
        self._alive(conn, state=WorkerState.WORKING)
        if TaskState(cur.task.state) is TaskState.ASSIGNED:
            Store.move_task(
                conn,
                cur.task.id,
                TaskState.RUNNING,
                expect=TaskState.ASSIGNED,
                actor=self.worker,
                reason="the agent acknowledged the task"
                + ("" if right else f", naming {named or 'no task'} instead of {cur.task.id}"),
            )
        if right:
            return f"acknowledged: you work on task {cur.task.id}"
        return f"you named task {named or '(none)'}, but your task is {cur.task.id}; its full text follows"

    def report(
        self, text: str, *, checkpoint: int | None = None, task: str | None = None, goal: str | None = None
    ) -> str:
        """A progress report; the first one of an attempt must name the task (it acknowledges it)."""
        # (Found by a probe: a task named with 3 MB, five times, grew the store by 19 MB in seconds.)
        task, goal = _bounded(task, NAME_CHARS), _bounded(goal, TEXT_CHARS)
        with self.store.write() as conn:
            cur = self._current(conn)
            reply = ""
            if cur.attempt.named_task is None and cur.attempt.acked_at is None:
                if task is None:
                    raise CallerError(f"your first report must name your task: czar report --task {cur.task.id} ...")
                reply = self._acknowledge(conn, cur, task, goal or text, None) + "; "
                cur = self._current(conn)
            elif task is not None and task != cur.task.id:
                Store.emit(
                    conn, EventKind.AGENT_ACK, **self._ids(cur), named=task, goal=goal, confirmed=False, late=True
                )
                return f"you named task {task}, but your task is {cur.task.id}; its full text follows"
            Store.record_report(
                conn,
                cur.task.id,
                note=text[:500] if text else None,
                checkpoint=max(cur.task.checkpoint, checkpoint) if checkpoint is not None else None,
            )
            kind = EventKind.AGENT_PROGRESS if checkpoint is not None else EventKind.AGENT_REPORT
            Store.emit(conn, kind, **self._ids(cur), checkpoint=checkpoint, text=text[:500])
            self._alive(conn, progress=checkpoint is not None, state=_resume(cur.worker.state, answered=True))
            total = len(cur.task.spec.subtasks)
            where = f"checkpoint {checkpoint}" + (f" of {total}" if total else "") if checkpoint else "report"
            return reply + f"{where} recorded"

    def commit(self, sha: str, message: str) -> None:
        with self.store.write() as conn:
            cur = self._current(conn)
            Store.emit(conn, EventKind.AGENT_COMMIT, **self._ids(cur), sha=sha, text=message[:200])
            self._alive(conn, progress=True, state=_resume(cur.worker.state, answered=True))

    def activity(self, text: str, repeats: int = 0, **data: Any) -> None:
        """Anything else the agent did; ``repeats`` counts the same output in a row (looping)."""
        with self.store.write() as conn:
            cur = self._current(conn, reviewer_ok=True)
            Store.emit(conn, EventKind.AGENT_ACTIVITY, **self._ids(cur), text=text[:500], **data)
            self._alive(conn, state=_resume(cur.worker.state))
            Store.set_worker(conn, self.worker, repeats=repeats)

    def done(self, summary: str, head: str | None = None) -> str:
        """The agent says the task is finished: it goes to verification. What is verified is the
        commit its branch holds now (or ``head``, the one it says it handed in), whatever the
        agent does next."""
        # czar's commit for an agent that does not commit runs git in the agent's checkout, whose
        # files and configuration are the agent's (a filter that sleeps, a huge tree): before the
        # write, never inside it (found by a probe: one call held the store for two minutes, and
        # the supervisor and the worker hosts, waiting to write, gave up and ended).
        with self.store.read() as conn:
            cur = self._current(conn)
            commits = adapter_for(cur.worker.agent).capabilities.commits
            at_work = TaskState(cur.task.state) in AGENT_AT_WORK and cur.attempt.named_task in (None, cur.task.id)
            attempt_id, worktree, task_id = cur.attempt.id, Path(cur.attempt.worktree), cur.task.id
            allowed = (*cur.task.spec.scope, *Store.claims_of(conn, task_id)) if cur.task.spec.scope else ()
        committed = None
        if at_work:
            # What is verified and merged is the task's branch: commits made on another one, and
            # changes never committed, were dropped with the checkout (found by a probe).
            refused = off_branch(worktree, task_id)
            if refused is None and commits:
                refused = left_uncommitted(worktree, allowed, self.wrap)
            if refused is not None:
                with self.store.write() as conn:
                    Store.emit(conn, EventKind.AGENT_FINISHED, **self._ids(self._current(conn)), refused=refused)
                raise CallerError(f"not submitted: {refused}")
        if at_work and not commits:
            with _committing(str(worktree)):  # (a `done` sent again meanwhile finds it committed)
                committed = commit_for_agent(worktree, task_id, self.worker, summary, self.wrap)
        with self.store.write() as conn:
            cur = self._current(conn)
            state = TaskState(cur.task.state)
            if state not in AGENT_AT_WORK:
                # (An agent told something while its work is under review may have committed again.)
                return (
                    f"task {cur.task.id} is already {state}: the work you handed in before is what is checked and "
                    "merged; commits you made since are not part of it (czar keeps them, and says so)"
                )
            named = cur.attempt.named_task
            if named is not None and named != cur.task.id:
                # Work handed in for the wrong task is not verified; the health round corrects the agent.
                Store.emit(conn, EventKind.AGENT_FINISHED, **self._ids(cur), summary=summary[:2000], refused=True)
                return f"not submitted: you named task {named}, but your task is {cur.task.id}"
            if committed and cur.attempt.id == attempt_id:
                Store.emit(conn, EventKind.AGENT_COMMIT, **self._ids(cur), sha=committed, text=summary[:200], by="czar")
            Store.set_attempt(conn, cur.attempt.id, finished_at=time.time(), summary=summary[:2000])
            if head is None or not checkout.is_commit_id(head):
                head = checkout.tip(Path(cur.attempt.worktree), f"czar/{cur.task.id}")
            Store.emit(conn, EventKind.AGENT_FINISHED, **self._ids(cur), summary=summary[:2000], head=head)
            if state is TaskState.ASSIGNED:
                Store.move_task(
                    conn, cur.task.id, TaskState.RUNNING, actor=self.worker, reason="finished before acking"
                )
            Store.move_task(
                conn,
                cur.task.id,
                TaskState.SUBMITTED,
                expect=TaskState.RUNNING,
                actor=self.worker,
                reason=f"the agent finished: {summary[:200]}",
            )
            self._alive(conn, state=WorkerState.WORKING, withdraw=True)
            return f"task {cur.task.id} submitted; czar verifies it now and tells you if anything fails"

    # -- reviewing ---------------------------------------------------------------------------

    def finding(self, path: str, line: int, severity: str, failure: str) -> str:
        """One finding of the caller's review, on a line of the reviewed commit; refused (with an
        event) if that line is not there or the finding says no failure."""
        found = Finding(path.strip().removeprefix("./"), int(line), severity.strip().lower(), failure.strip()[:2000])
        with self.store.read() as conn:  # (git reads the commit's file before the write, not in it)
            cur = self._review_at_work(conn)
            assert cur.review is not None
            commit, repo = cur.review.commit, Store.get_meta(conn, "repo", None)
        lines = Git(Path(repo)).lines_at(commit, found.path) if repo else None
        with self.store.write() as conn:
            cur = self._review_at_work(conn)
            assert cur.review is not None
            problem = finding_problem(found, lines) if cur.review.commit == commit else "the review moved on meanwhile"
            if problem:
                # Recorded, then refused (outside the transaction: a refusal must not undo its record).
                Store.emit(conn, EventKind.REVIEW_REFUSED, **self._ids(cur), review=cur.review.id, problem=problem)
            else:
                n = Store.add_finding(conn, cur.review.id, found)
                Store.emit(conn, EventKind.REVIEW_FINDING, **self._ids(cur), review=cur.review.id, **asdict(found))
                self._alive(conn)
        if problem:
            raise CallerError(f"finding not taken: {problem}")
        return f"finding {n} recorded ({found.severity}, {found.path}:{found.line})"

    def verdict(self, decision: str, commit: str, summary: str = "") -> str:
        """The caller's verdict on the commit it reviewed: it must name that commit; approve allows
        no blocking finding, request-changes needs one. Ends the review."""
        with self.store.write() as conn:
            cur = self._review_at_work(conn)
            review = cur.review
            assert review is not None
            verdict = verdict_of(decision)
            given = commit.strip().lower()
            problem = None
            if verdict is None:
                problem = f"the verdict is approve or request-changes, not {decision!r}"
            elif len(given) < 7 or not review.commit.startswith(given):
                problem = f"you review commit {review.commit}, not {commit!r}: a verdict is on the commit reviewed"
            else:
                problem = verdict_problem(verdict, review.findings)
            if problem or verdict is None:
                Store.emit(conn, EventKind.REVIEW_REFUSED, **self._ids(cur), review=review.id, problem=problem)
                refused = f"verdict not taken: {problem}"
            else:
                refused = None
                self._close_review(conn, cur, verdict, summary)
        if refused:
            raise CallerError(refused)  # outside the transaction: its record stays
        return f"{decision.strip()} recorded for {review.commit[:10]}; your review is over"

    def _close_review(self, conn: Tx, cur: AtWork, verdict: Verdict, summary: str) -> None:
        review = cur.review
        assert review is not None
        state = ReviewState.APPROVED if verdict is Verdict.APPROVE else ReviewState.CHANGES_REQUESTED
        Store.set_review(conn, review.id, state=state, summary=summary[:2000] or None)
        Store.set_attempt(conn, cur.attempt.id, finished_at=time.time(), summary=summary[:2000] or state.value)
        Store.emit(
            conn,
            EventKind.REVIEW_VERDICT,
            **self._ids(cur),
            review=review.id,
            verdict=verdict.value,
            commit=review.commit,
            findings=len(review.findings),
            blocking=sum(f.severity == "blocking" for f in review.findings),
            summary=summary[:500],
        )
        self._reviewer_free(conn, cur)

    def _review_at_work(self, conn: Tx) -> AtWork:
        cur = self._current(conn, reviewer_ok=True)
        if cur.review is None:
            raise CallerError(f"worker {self.worker} reviews nothing: `finding` and `verdict` are a reviewer's")
        return cur

    def _review_lost(self, conn: Tx, cur: AtWork, reason: str) -> None:
        """The review ends with no verdict: another reviewer reads the commit (never an approval)."""
        assert cur.review is not None
        Store.set_review(conn, cur.review.id, state=ReviewState.LOST, reason=reason)
        Store.emit(conn, EventKind.REVIEW_LOST, **self._ids(cur), review=cur.review.id, reason=reason)
        self._reviewer_free(conn, cur)

    def _reviewer_free(self, conn: Tx, cur: AtWork) -> None:
        Store.set_worker(conn, self.worker, state=WorkerState.IDLE, detail=None, wait_until=None, repeats=0)
        Store.post(conn, self.worker, StopAgent(cur.attempt.id))

    # -- waiting -----------------------------------------------------------------------------

    def idle(self) -> None:
        """The agent stopped and waits for a message without having finished."""
        with self.store.write() as conn:
            cur = self._current(conn, reviewer_ok=True)
            if cur.review is not None:
                self._review_lost(conn, cur, "its agent stopped with no verdict")
                return
            if TaskState(cur.task.state) in AGENT_AT_WORK and cur.worker.state == WorkerState.WORKING.value:
                Store.set_worker(conn, self.worker, state=WorkerState.WAITING_INPUT, detail="waiting for input")
                Store.emit(conn, EventKind.AGENT_IDLE, **self._ids(cur))

    def rate_limited(self, reset_in: float, text: str = "") -> None:
        with self.store.write() as conn:
            cur = self._current(conn, reviewer_ok=True)
            until = time.time() + max(0.0, reset_in)
            # Over a request shown to a person, only its reset is kept: the answer sets the state.
            if not Store.set_worker_unless_asking(
                conn, self.worker, WorkerState.RATE_LIMITED, wait_until=until, detail=text[:200]
            ):
                Store.set_worker(conn, self.worker, wait_until=until)
            Store.emit(conn, EventKind.AGENT_RATE_LIMITED, **self._ids(cur), reset_in=reset_in, text=text[:200])

    def model_unreachable(self, evidence: str) -> None:
        """The agent cannot reach its model (its key refused, no connection, a failing server): the
        worker waits, its task not charged, until czar has it try again (``czar.core.health``), a
        while after its last failed request: an agent still retrying by itself is left to it."""
        with self.store.write() as conn:
            cur = self._current(conn, reviewer_ok=True)
            if cur.worker.state == WorkerState.MODEL_UNREACHABLE.value:
                # Known already: one event per outage, however often the agent retries.
                Store.set_worker(conn, self.worker, state_since=time.time(), detail=evidence[:500])
                return
            # (Over a request shown to a person, recorded only: the agent's next failed request
            # after the answer says it again.)
            Store.set_worker_unless_asking(conn, self.worker, WorkerState.MODEL_UNREACHABLE, detail=evidence[:500])
            Store.emit(conn, EventKind.AGENT_MODEL_UNREACHABLE, **self._ids(cur), evidence=evidence[:1000])

    def model_reachable(self) -> None:
        """Its model answered again: back to work."""
        with self.store.write() as conn:
            self._alive(conn, state=WorkerState.WORKING)

    def _model_back(self, conn: Tx) -> None:
        """A worker whose model was unreachable works again (its output or a tool call, which
        only an answer of its model makes, says so, whichever czar hears first): said once."""
        cur = self._current(conn, reviewer_ok=True)
        if cur.worker.state == WorkerState.MODEL_UNREACHABLE.value:
            Store.emit(conn, EventKind.AGENT_MODEL_REACHABLE, **self._ids(cur))

    def blocked(self, on_task: str | None, need: str) -> str:
        """The agent cannot go on until another task merges (``on_task``) or a person helps."""
        with self.store.write() as conn:
            cur = self._current(conn)
            if on_task is not None:
                other = Store.find_task(conn, on_task)
                if other is None:
                    raise CallerError(f"no task {on_task!r} in this plan")
                if other.state is TaskState.MERGED:
                    return f"task {on_task} is merged already: bring it in with `git merge {self._integration(conn)}`"
            # A task waits for every task it named until each has merged, or for a person.
            now = waits.parse(cur.task.blocked_on) | {on_task} if on_task is not None else {PERSON}
            Store.set_waits(conn, cur.task.id, waits.render(now))
            Store.set_worker_unless_asking(conn, self.worker, WorkerState.BLOCKED, detail=need[:500])
            Store.emit(conn, EventKind.AGENT_BLOCKED, **self._ids(cur), on=on_task, need=need[:500])
            if on_task is None:
                Store.alert(
                    conn,
                    "warning",
                    f"worker {self.worker} on task {cur.task.id} is blocked: {need[:200]}",
                    task=cur.task.id,
                    worker=self.worker,
                    actor=self.worker,
                )
                return "recorded; a person has been alerted, and the answer comes as a message"
            return f"recorded; you are told as soon as task {on_task} merges"

    def ask(self, question: str) -> str:
        with self.store.write() as conn:
            cur = self._current(conn)
            # Waiting for a person is waiting rightly (blocked), not idling: nobody nudges it.
            Store.set_waits(conn, cur.task.id, PERSON)
            Store.set_worker_unless_asking(conn, self.worker, WorkerState.BLOCKED, detail=question[:500])
            Store.emit(conn, EventKind.AGENT_QUESTION, **self._ids(cur), question=question[:2000])
            Store.alert(
                conn,
                "warning",
                f"worker {self.worker} on task {cur.task.id} asks: {question[:200]}",
                task=cur.task.id,
                worker=self.worker,
                actor=self.worker,
            )
            return "asked; a person has been alerted, and the answer comes as a message"

    def permission(self, tool: str, target: str) -> policy.Verdict:
        """Decide a permission request by the plan's policy; undecided ones wait for a person."""
        return self._decide(tool, target)[0]

    def _decide(self, tool: str, target: str) -> tuple[policy.Verdict, int | None]:
        """The policy's verdict on a request, recorded; for one that asks a person, the id of its
        ask, which the person's answer names. None for an ask while another request of the worker
        waits for a person still: one request at a time is shown and answered (a person who saw
        one must not answer another with it), so this one waits its turn, not recorded yet; the
        same request as the one shown waits for that one's answer (its id)."""
        with self.store.write() as conn:
            cur = self._current(conn, reviewer_ok=True)
            verdict = (
                reviewer_policy.decide(policy.Request(tool, target))
                if cur.review
                else policy.decide(
                    policy.Request(tool, target),
                    policy.Context(
                        worktree=cur.attempt.worktree,
                        base_branch=Store.get_meta(conn, "base_branch", "main"),
                        branch=cur.attempt.branch,
                        integration_branch=self._integration(conn),
                        writable=(tempfile.gettempdir(),),  # the agent's temp files
                    ),
                    allow=_rules(Store.get_meta(conn, "permissions_allow", [])),
                    deny=_rules(Store.get_meta(conn, "permissions_deny", [])),
                    defaults=Store.get_meta(conn, "permissions_defaults", True),
                )
            )
            asking = verdict.decision is policy.Decision.ASK
            waiting = Store.worker(conn, self.worker)
            if asking and waiting.state == WorkerState.WAITING_PERMISSION.value:
                shown = Asked.read(waiting.detail)
                # The very request shown already, whose call was cut (czar's tools server ended,
                # and the call's waiting with it), asked again by the agent: it takes the shown
                # one's place, and the person's answer to it is its answer. Not while that call
                # still waits: the same request twice at once is shown twice, answered twice.
                # (Whole: one shown cut at 1000 characters is the same as none longer.)
                cut = shown.waiter is not None and not proc.pid_alive(shown.waiter)
                if cut and (shown.tool, shown.target) == (tool, target) and shown.ask is not None:
                    taken = replace(shown, waiter=os.getpid()).dumps()
                    Store.set_worker(conn, self.worker, state=WorkerState.WAITING_PERMISSION, detail=taken)
                    return verdict, shown.ask
                return verdict, None
            event = Store.emit(
                conn,
                EventKind.PERMISSION_DECIDED
                if verdict.decision is not policy.Decision.ASK
                else EventKind.PERMISSION_ASKED,
                **self._ids(cur),
                tool=tool,
                target=target[:1000],
                decision=verdict.decision.value,
                reason=verdict.reason,
                by="policy",
            )
            if asking:
                detail = Asked(tool, target[:1000], time.time(), event, os.getpid()).dumps()
                Store.set_worker(conn, self.worker, state=WorkerState.WAITING_PERMISSION, detail=detail)
                Store.alert(
                    conn,
                    "warning",
                    f"worker {self.worker} asks to use {tool}: {target[:200]} ({verdict.reason}); "
                    f"`czar allow {self.worker}` or `czar deny {self.worker}`",
                    task=cur.task.id,
                    worker=self.worker,
                    actor=self.worker,
                )
            else:
                self._alive(conn, state=WorkerState.WORKING)  # (not over a request shown to a person)
            return verdict, event if asking else None

    def decide_permission(self, tool: str, target: str) -> tuple[policy.Decision, str]:
        """The policy's decision on a tool use, or, when it has none, a person's (``czar allow``,
        ``czar deny``) on this request, or a denial once the health round's timeout passes: waits
        for it (behind the worker's request that waits for a person already, if any)."""
        store = self.store
        listener = store.listen(f"permission-{self.worker}-{time.monotonic_ns()}")
        deadline = time.monotonic() + PERSON_WAIT_SECONDS
        try:
            while True:
                since = store.last_event_id()
                verdict, asked = self._decide(tool, target)
                if verdict.decision is not policy.Decision.ASK:
                    return verdict.decision, verdict.reason
                if asked is not None:
                    break
                if time.monotonic() >= deadline:
                    return policy.Decision.DENY, f"nobody answered within {PERSON_WAIT_SECONDS:g} s"
                listener.wait(2.0)  # its turn comes when the worker's request before it is answered
            while time.monotonic() < deadline:
                answer, since = self._answer(since, asked)
                if answer is not None:
                    return answer
                with store.read() as conn:
                    worker = Store.worker(conn, self.worker)
                if worker.state != WorkerState.WAITING_PERMISSION.value or Asked.read(worker.detail).ask != asked:
                    # Answered between the two reads, or withdrawn (the attempt replaced, say).
                    return self._answer(since, asked)[0] or (policy.Decision.DENY, "the request was withdrawn")
                listener.wait(2.0)
        finally:
            listener.close()
        return policy.Decision.DENY, f"nobody answered within {PERSON_WAIT_SECONDS:g} s"

    def _answer(self, since: int, asked: int) -> tuple[tuple[policy.Decision, str] | None, int]:
        """A person's (or the timeout's) decision on the ask ``asked``, recorded after ``since``
        (None if none yet); and the last decision looked at, to look after next time."""
        for e in self.store.events_after(since, kinds=(EventKind.PERMISSION_DECIDED,)):
            since = e.id
            answers = e.payload.get("asked", asked) == asked  # (a decision that names none: older)
            if e.worker_id == self.worker and e.payload.get("by") in ("person", "timeout") and answers:
                return (policy.Decision(e.payload["decision"]), str(e.payload.get("reason", ""))), since
        return None, since

    def on_hook(self, call: HookCall) -> str | None:
        """Record an agent's hook (its adapter read it); for a turn that ended before the task was
        handed in, the reason to go on (see ``turn_ended``)."""
        with self.store.write() as conn:
            try:
                cur = self._current(conn, reviewer_ok=True)
            except CallerError:
                return None
            detail: dict[str, Any] = {**call.said, "again": call.again}
            if call.tool:
                detail["tool"] = call.tool
            if call.transcript:
                detail["transcript_path"] = call.transcript
            if call.prompt is not None:
                # What the agent received as a prompt, to confirm a delivery (see ``digest``).
                detail["prompt_digest"] = digest(call.prompt)
            Store.emit(conn, EventKind.AGENT_HOOK, **self._ids(cur), hook=call.name, about=call.kind, detail=detail)
            self._alive(conn)
            return self._turn_ended(conn, cur, call.again) if call.kind is HookKind.TURN_END else None

    def turn_ended(self, *, again: bool) -> str | None:
        """The agent's turn ended (its output said so). Before its task is handed in, the reason
        to go on, once: ``again``, it was sent back already, and now waits for input."""
        with self.store.write() as conn:
            cur = self._current(conn, reviewer_ok=True)
            self._alive(conn)
            return self._turn_ended(conn, cur, again)

    def _turn_ended(self, conn: Tx, cur: AtWork, again: bool) -> str | None:
        if cur.review is not None:
            if again:
                self._review_lost(conn, cur, "its turn ended twice with no verdict")
                return None
            Store.emit(conn, EventKind.AGENT_SENT_BACK, **self._ids(cur))
            return (
                f"Your review of task {cur.task.id} has no verdict yet. Call czar's `verdict` tool once: approve, or"
                f" request-changes after your blocking findings, with commit {cur.review.commit}."
            )
        # Sent back once; not when it waits for a person or another task (it said so).
        working = cur.task.state in AGENT_AT_WORK and cur.worker.state is WorkerState.WORKING
        if not working:
            return None
        if not again:
            Store.emit(conn, EventKind.AGENT_SENT_BACK, **self._ids(cur))
            return (
                f"Task {cur.task.id} is not handed in yet. When your work is committed and its checks pass, "
                "call czar's `done` tool with a summary; if something blocks you, call `blocked` or `ask`."
            )
        Store.set_worker(conn, self.worker, state=WorkerState.WAITING_INPUT, detail="waiting for input")
        Store.emit(conn, EventKind.AGENT_IDLE, **self._ids(cur))
        return None

    # -- reading -----------------------------------------------------------------------------

    def board(self) -> list[BoardRow]:
        with self.store.read() as conn:
            return board_mod.board(conn)

    def claim(self, patterns: list[str]) -> list[ClaimResult]:
        patterns = _few_patterns(patterns)
        with self.store.write() as conn:
            cur = self._current(conn)
            results = Store.claim(conn, cur.task.id, self.worker, patterns)
            for r in results:
                Store.emit(
                    conn,
                    EventKind.CLAIM_GRANTED if r.granted else EventKind.CLAIM_REFUSED,
                    **self._ids(cur),
                    pattern=r.pattern,
                    reason=r.reason,
                )
            return results

    def release(self, patterns: list[str]) -> list[ClaimResult]:
        patterns = _few_patterns(patterns)
        with self.store.write() as conn:
            cur = self._current(conn)
            results = Store.release_extra(conn, cur.task.id, patterns)
            for r in results:
                if r.granted:
                    Store.emit(conn, EventKind.CLAIM_RELEASED, **self._ids(cur), pattern=r.pattern)
            return results

    @staticmethod
    def _integration(conn: Tx) -> str:
        return str(Store.get_meta(conn, "integration_branch", "czar/integration"))


_committing = KeyedLocks()  # one commit for an agent at a time in a checkout


def _few_patterns(patterns: list[str]) -> list[str]:
    """A call's patterns, each once, and no more than a task may hold: each is checked against
    every other task's in a write of the store (found by a review: 100,000 in one call held it 19 s)."""
    unique = list(dict.fromkeys(patterns))
    if len(unique) > MOST_CLAIMS:
        raise CallerError(f"{len(unique)} paths in one call: a task holds at most {MOST_CLAIMS}; claim folders")
    return unique


NAME_CHARS = 100  # a task's name as an agent gives it (ids are 64 at most)
TEXT_CHARS = 500  # a goal, a report's words


def _bounded(text: str | None, most: int) -> str | None:
    return None if text is None else text[:most]


def off_branch(worktree: Path, task: str) -> str | None:
    """Why a hand-in is refused because the checkout is not on the task's branch with commits of
    its own; None if it is (or its HEAD cannot be read: the branch is what is verified anyway)."""
    branch, at = checkout.head(worktree)
    ours = f"czar/{task}"
    if branch == ours or at is None or at == checkout.tip(worktree, ours):
        return None
    where = f"branch {branch}" if branch is not None else f"a detached commit ({at[:10]})"
    return (
        f"your checkout is on {where}, not on your task's branch {ours}, which is what czar verifies and "
        f"merges: work committed there would be lost. Bring it onto {ours} (`git checkout {ours}`, then "
        f"`git merge` or `git cherry-pick` it), then finish again"
    )


def left_uncommitted(
    worktree: Path, allowed: tuple[str, ...], wrap: Callable[[list[str]], list[str]] | None
) -> str | None:
    """Why a hand-in is refused because work is left uncommitted: files of the repository changed,
    or new files in the task's scope (``allowed``; empty: anywhere), which a merge of the branch
    would leave behind; None if there are none (or git could not say: nothing is refused for that)."""
    found = checkout.uncommitted(worktree, wrap)
    if found is None:
        return None
    changed, untracked = found
    left = [*changed, *(p for p in untracked if in_scope(allowed, p))]
    if not left:
        return None
    shown = ", ".join(left[:10]) + (f" and {len(left) - 10} more" if len(left) > 10 else "")
    return (
        f"changes not committed in {shown}: czar verifies and merges your commits only. Commit them "
        "(or undo them if they are not part of the task), then finish again"
    )


def commit_for_agent(
    worktree: Path, task: str, worker: str, summary: str, wrap: Callable[[list[str]], list[str]] | None = None
) -> str | None:
    """Commit what an agent that cannot commit (a sandbox keeps ``.git`` read-only) left in its
    worktree; the commit's author is the worker. Returns the commit, or None if nothing changed.
    ``wrap``: the agent's sandbox, which git then runs in."""
    git = Git(worktree, wrap, remember=False)  # the agent's checkout
    git.run("add", "-A", cwd=worktree)
    if git.run("diff", "--cached", "--quiet", cwd=worktree, check=False).ok:
        return None
    who = ("-c", f"user.name=czar {worker}", "-c", f"user.email={worker}@czar.localhost")
    git.run(*who, "commit", "-q", "-m", f"{task}: {summary.strip()[:200] or 'the work'}", cwd=worktree)
    return git.out("rev-parse", "HEAD", cwd=worktree)


def _resume(state: str, *, answered: bool = False) -> WorkerState | None:
    """Output from an agent that was waiting means it works again (a person or czar answered);
    ``answered``: what it did needs an answer of its model (a report, a commit), so a model
    called unreachable is back too. Mere output is not: it may be the agent's next retry."""
    waiting = (WorkerState.WAITING_INPUT.value, WorkerState.STUCK.value, WorkerState.RATE_LIMITED.value)
    if answered and state == WorkerState.MODEL_UNREACHABLE.value:
        return WorkerState.WORKING
    return WorkerState.WORKING if state in waiting else None


def _rules(raw: list[dict[str, str]]) -> list[policy.Rule]:
    return [policy.Rule(r.get("tool", "*"), r.get("match", "*"), r.get("reason", "")) for r in raw]
