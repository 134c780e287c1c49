"""Reviews of verified work (the plan's ``[review]``): a reviewer given a task's commit, its
verdict acted on, and a review that ends with no verdict given to a reviewer again.

A review reads one commit, in a checkout of its own made read-only in the reviewer's sandbox;
its verdict counts for that commit only (``czar.core.review``). What follows a verdict is
``after_review``'s to say; the author's worker waits with its session meanwhile, so changes
requested reach the agent that made the work.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable

from czar.agents.adapters import adapter_for
from czar.core.events import EventKind
from czar.core.forge import Verdict, changes_since
from czar.core.host_commands import MessageKind, StartTask, StopAgent
from czar.core.prompt import ReviewInput, render_review
from czar.core.review import (
    LOST_LIMIT,
    Approved,
    ChangesRequested,
    OutOfRounds,
    ReviewState,
    after_review,
    findings_text,
)
from czar.core.states import TaskState, WorkerRole, WorkerState
from czar.errors import CzarError
from czar.runtime import untrusted
from czar.store.records import Review, Task
from czar.store.store import Store, Tx
from czar.supervisor import stall
from czar.supervisor.actions import Actions, branch_of
from czar.supervisor.healer import last_said
from czar.supervisor.project import Project

ENDED = (WorkerState.STARTING, WorkerState.CRASHED, WorkerState.STOPPED)  # no agent of its host runs
# A review lost so is the reviewer's settings' doing, not the commit's: it does not count towards
# ``LOST_LIMIT``, and a reviewer that loses ``FALSE_STARTS`` in a row so takes no more.
NOT_STARTED = "the reviewer's agent ended before its model said a word"
FALSE_STARTS = 2


class Reviewing:
    def __init__(self, project: Project, actions: Actions, say: Callable[[str], None]) -> None:
        self.p = project
        self.store = project.store
        self.actions = actions
        self.say = say
        self.config = project.plan.review
        self.integration = project.plan.project.integration_branch
        # Making a review's checkout and recording the review, against removing the checkouts of
        # reviews that are over: one at a time (else a checkout not recorded yet looks over).
        self._checkouts = threading.Lock()
        self._alerted = False  # a person heard that no reviewer is left
        self.sidelined: set[str] = set()  # reviewers whose agent cannot start, until the run starts again
        self.false_starts: dict[str, int] = {}  # reviews in a row each reviewer's agent did not start on
        with self.store.read() as conn:
            self.earlier = Store.last_attempt_id(conn)  # attempts of earlier supervisors, and settings

    # -- a reviewer is given a commit ---------------------------------------------------------

    def start(self, task_id: str, worker_id: str) -> None:
        """Give the task's commit (its branch's tip) to the reviewer: a checkout of it, then the
        prompt, in one transaction. A commit that lost ``LOST_LIMIT`` reviews fails the task."""
        repo = self.p.repo
        commit = repo.tip(branch_of(task_id))
        with self.store.read() as conn:
            task = Store.task(conn, task_id)
            earlier = Store.reviews_of(conn, task_id)
            summary = Store.attempt(conn, task.attempt_id).summary if task.attempt_id is not None else None
            agent = Store.worker(conn, worker_id).agent
        lost = sum(r.state is ReviewState.LOST and r.commit == commit and r.reason != NOT_STARTED for r in earlier)
        if lost >= LOST_LIMIT:
            self._no_reviewer(task_id, commit, lost)
            return
        asked = [r for r in earlier if r.state is ReviewState.CHANGES_REQUESTED]
        base = repo.merge_base(self.integration, commit) or commit
        files = changes_since(repo, self.integration, commit)
        checkout = self.p.paths.review_checkout(f"{task_id}-{len(earlier) + 1}")
        with self._checkouts:  # until the review is recorded, its checkout is not to be tidied away
            with self.p.git_lock.held(shared=True):
                repo.make_review_checkout(checkout, commit)
            prompt = render_review(
                ReviewInput(
                    project=self.p.name,
                    worker=worker_id,
                    task_id=task_id,
                    title=task.title,
                    body=task.body,
                    commit=commit,
                    base=base,
                    files=[f"{f.path} (+{f.added} -{f.removed})" for f in files],
                    summary=summary,
                    round=len(asked) + 1,
                    earlier=findings_text(asked[-1].findings) if asked else None,
                    tools="mcp" if adapter_for(agent).capabilities.mcp else "cli",
                )
            )
            digest = hashlib.sha256(prompt.encode()).hexdigest()
            with self.store.write() as conn:
                task, worker = Store.task(conn, task_id), Store.worker(conn, worker_id)
                taken = Store.reviewing(conn, worker_id) is not None or task_id in Store.pending_reviews(conn)
                if task.state is not TaskState.REVIEWING or worker.state is not WorkerState.IDLE or taken:
                    untrusted.remove(checkout, ignore_errors=True)
                    return  # the state moved on since the decision: decide again
                # Its agent's starts are numbered on from the reviewer's earlier ones: what an agent of
                # an earlier review still says (a hook as it ends) is not taken for this review.
                launched = Store.launches_by(conn, worker_id)
                again = Store.started_before(conn, task_id, review=True)
                attempt_id = Store.new_attempt(
                    conn,
                    task_id=task_id,
                    worker_id=worker_id,
                    branch="",  # a reviewer has no branch: it reads a commit
                    worktree=str(checkout),
                    base_commit=commit,
                    prompt=prompt,
                    prompt_sha256=digest,
                    after_launch=launched,
                )
                review_id = Store.new_review(
                    conn, task_id=task_id, worker_id=worker_id, attempt_id=attempt_id, agent=worker.agent, commit=commit
                )
                now = self.p.clock.time()
                detail = f"reviews {task_id} at {commit[:10]}"
                Store.set_worker(
                    conn, worker_id, state=WorkerState.WORKING, last_output=now, last_progress=None, detail=detail
                )
                Store.post(
                    conn,
                    worker_id,
                    StartTask(
                        attempt_id, task_id, str(checkout), prompt, digest, earlier_launches=launched, again=again
                    ),
                )
                Store.emit(
                    conn,
                    EventKind.REVIEW_STARTED,
                    task=task_id,
                    worker=worker_id,
                    attempt=attempt_id,
                    review=review_id,
                    commit=commit,
                    round=len(asked) + 1,
                    agent=worker.agent,
                    author=task.worker_id,
                )
        self.say(f"reviewer {worker_id} reads task {task_id} at {commit[:10]}")

    def _no_reviewer(self, task_id: str, commit: str, lost: int) -> None:
        with self.store.write() as conn:
            task = Store.task(conn, task_id)
            if task.state is not TaskState.REVIEWING:
                return
            why = f"{lost} reviews of {commit[:10]} ended with no verdict"
            alert = f"task {task_id} failed: {why} (see `czar logs` of its reviewers)"
            self.actions.give_up(conn, task, self.actions.holder(conn, task), why, alert)
        self.say(f"task {task_id} failed: no reviewer answered")

    # -- its verdict is acted on --------------------------------------------------------------

    def act(self, task_id: str) -> None:
        """Carry out the verdict of the task's last review: approved, changes sent back to its
        author's session with the findings, or (rounds used up) failed."""
        tip = self.p.repo.tips().get(branch_of(task_id))
        with self.store.write() as conn:
            task = Store.task(conn, task_id)
            review = _last_verdict(Store.reviews_of(conn, task_id))
            if task.state is not TaskState.REVIEWING or review is None:
                return
            if tip != review.commit:
                # Its branch moved under the review: that verdict is on another commit, and counts
                # for nothing (no round): another review reads the branch as it is.
                reason = f"the branch moved to {str(tip)[:10]} after the review of {review.commit[:10]}"
                Store.set_review(conn, review.id, state=ReviewState.LOST, reason=reason)
                Store.emit(
                    conn, EventKind.REVIEW_LOST, task=task_id, worker=review.worker_id, review=review.id, reason=reason
                )
                return
            Store.set_review(conn, review.id, applied=1)
            self.false_starts.pop(review.worker_id, None)  # its agent works
            asked = sum(r.state is ReviewState.CHANGES_REQUESTED and r.applied for r in Store.reviews_of(conn, task_id))
            verdict = Verdict.APPROVE if review.state is ReviewState.APPROVED else Verdict.REQUEST_CHANGES
            limit = self.config.max_review_rounds
            # Its author keeps the worker under review, unless the task came back to review after
            # its approval (its branch moved): then that worker may hold another task by now.
            author = self.actions.holder(conn, task)
            match after_review(verdict, asked - (verdict is Verdict.REQUEST_CHANGES), limit):
                case Approved():
                    reason = f"approved by reviewer {review.worker_id} ({review.agent}) at {review.commit[:10]}"
                    self.actions.approve(conn, task, reason, expect=TaskState.REVIEWING, free=author is not None)
                case ChangesRequested(round_no):
                    self._send_back(conn, task, review, round_no, limit, held=author is not None)
                case OutOfRounds(round_no):
                    why = f"reviewers requested changes {round_no} time(s); max_review_rounds is {limit}"
                    self.actions.give_up(conn, task, author, why, f"task {task_id} failed review: {why}")
        self.say(f"task {task_id}: review {review.state} by {review.worker_id}")

    def _send_back(self, conn: Tx, task: Task, review: Review, round_no: int, limit: int, *, held: bool) -> None:
        text = (
            f"A reviewer ({review.worker_id}) asked for changes to task {task.id} at {review.commit[:10]} (review"
            f" round {round_no} of {limit}).\n\n{findings_text(review.findings)}\n\n"
            + (f"{review.summary}\n\n" if review.summary else "")
            + "Fix each blocking finding in your worktree, commit, and finish again."
        )
        Store.emit(
            conn,
            EventKind.REVIEW_CHANGES_REQUESTED,
            task=task.id,
            worker=task.worker_id,
            attempt=task.attempt_id,
            review=review.id,
            round=round_no,
            findings=len(review.findings),
        )
        # Approved once, its worker gone since (its branch moved): back to the pool with the findings.
        self.actions.send_back(
            conn,
            task,
            MessageKind.REVIEW,
            text,
            held=held,
            reason=f"changes requested (review round {round_no} of {limit}); the findings went to its agent",
            pool_reason="changes requested; back to the pool with the findings",
        )

    def as_approved(self, task_id: str, tips: dict[str, str]) -> bool:
        """With reviews, a task merges only at the commit its reviewer approved: an approved task
        whose branch moved since (``tips``: the branches now) goes back to review (no round
        used); False then."""
        if not self.config.enabled:
            return True
        tip = tips.get(branch_of(task_id))
        with self.store.write() as conn:
            task = Store.task(conn, task_id)
            approved = Store.approved_commit(conn, task_id)
            if task.state is not TaskState.APPROVED or approved == tip:
                return True
            Store.move_task(
                conn,
                task_id,
                TaskState.REVIEWING,
                expect=TaskState.APPROVED,
                reason=f"its branch is at {str(tip)[:10]}, its review approved {(approved or 'no commit')[:10]}:"
                " reviewed again",
            )
        self.say(f"task {task_id} moved since its review: reviewed again")
        return False

    # -- reviews that end with no verdict -----------------------------------------------------

    def sweep(self) -> None:
        """Open reviews whose reviewer is gone (its host ended, its agent exited), that ran out of
        time, or whose task moved on, end as lost; checkouts of ended reviews are removed."""
        now = self.p.clock.time()
        with self.store.read() as conn:
            reviews = Store.reviews_in(conn, (ReviewState.OPEN,))
            seen = [
                (r, Store.worker(conn, r.worker_id), Store.attempt(conn, r.attempt_id), Store.task(conn, r.task_id))
                for r in reviews
            ]
            # Its agent ended before its model said a word (no tokens, no finding), where no agent of
            # its kind started under this supervisor: its program or settings are likely broken.
            cannot_start = {
                r.id: last_said(conn, a.id) or ""
                for r, w, a, _t in seen
                if a.agent_exited_at is not None
                and a.acked_at is None
                and a.input_tokens + a.output_tokens == 0
                and not r.findings
                and not Store.reached_a_model(conn, w.agent, self.earlier)
            }
            given = {r.id: Store.last_event_of(conn, r.attempt_id, EventKind.REVIEW_STARTED) for r, *_ in seen}
            restarted = {
                r.id
                for r, *_ in seen
                if (e := given[r.id]) is not None and Store.host_started_since(conn, r.worker_id, e.id)
            }
        for review, worker, attempt, task in seen:
            reason = None
            if task.state is not TaskState.REVIEWING:
                reason = f"task {task.id} is {task.state} now"
            elif worker.state in ENDED:
                reason = f"the worker host of {worker.id} ended"
            elif review.id in restarted:
                # Its host died, and the next one started before a sweep saw it gone: that one holds
                # no review (a reviewer carries none over), and the reviewer would wait for ever.
                reason = f"the worker host of {worker.id} started again without it"
            elif attempt.agent_exited_at is not None:
                reason = "the reviewer's agent exited with no verdict"
            elif now - review.started_at > self.config.timeout:
                reason = f"no verdict within {self.config.timeout:g} s"
            if reason is None:
                continue
            said = cannot_start.get(review.id) if worker.state not in ENDED else None
            if said is None:
                self.false_starts.pop(worker.id, None)
                self._lost(review, reason)
                continue
            # Every review given to it would be lost (and each task failed after ``LOST_LIMIT``):
            # after ``FALSE_STARTS`` in a row (one may be a fluke), it takes no more.
            self.false_starts[worker.id] = self.false_starts.get(worker.id, 0) + 1
            aside = self.false_starts[worker.id] >= FALSE_STARTS
            self._lost(review, NOT_STARTED, cannot_start=said if aside else None)
        self._tidy()
        self._no_reviewer_left()  # after this sweep's losses: a reviewer may have been set aside

    def _no_reviewer_left(self) -> None:
        """Every reviewer's host was given up on (it kept dying) while work waits for review: a
        person hears, once (`czar up` starts them again). Where every reviewer's agent cannot
        start, the run cannot go on, and says so at once."""
        with self.store.read() as conn:
            reviewers = [w for w in Store.all_workers(conn) if w.role is WorkerRole.REVIEWER]
            waiting = [t.id for t in Store.tasks_in(conn, (TaskState.REVIEWING,))]
        gone = bool(reviewers) and all(w.state is WorkerState.CRASHED for w in reviewers)
        if gone and {w.id for w in reviewers} <= self.sidelined and not self._alerted:
            self._alerted = True
            stall.none_can_start(self.store, "reviewer", "review", {w.id: w.agent for w in reviewers})
        elif gone and waiting and not self._alerted:
            self._alerted = True
            with self.store.write() as conn:
                Store.alert(
                    conn,
                    "critical",
                    f"no reviewer left (each one's host kept dying): {', '.join(waiting)} wait for review;"
                    " see `czar logs r1`, then `czar up` starts them again",
                )
        elif not gone:
            self._alerted = False

    def _lost(self, review: Review, reason: str, cannot_start: str | None = None) -> None:
        """The review ends with no verdict; ``cannot_start``: its agent cannot start (what it said
        last): its reviewer takes no more reviews, and a person hears."""
        with self.store.write() as conn:
            if Store.review(conn, review.id).state is not ReviewState.OPEN:
                return  # its verdict came meanwhile
            Store.set_review(conn, review.id, state=ReviewState.LOST, reason=reason)
            Store.emit(
                conn,
                EventKind.REVIEW_LOST,
                task=review.task_id,
                worker=review.worker_id,
                attempt=review.attempt_id,
                review=review.id,
                reason=reason,
            )
            Store.drop_queued(conn, review.worker_id)  # a start its host has not read yet must not run later
            # Whatever its agents still say is refused, a start its host died before recording too:
            # the reviewer's next review is numbered past it.
            Store.supersede(conn, review.attempt_id, unrecorded=True)
            worker = Store.worker(conn, review.worker_id)
            if worker.state not in ENDED and cannot_start is not None:
                words = f" (it said: {cannot_start})" if cannot_start else ""
                Store.set_worker(conn, worker.id, state=WorkerState.CRASHED, detail=f"its agent cannot start{words}")
                Store.post(conn, worker.id, StopAgent(review.attempt_id))
                Store.emit(conn, EventKind.HEALTH_SIDELINE, task=review.task_id, worker=worker.id, review=review.id)
                Store.alert(
                    conn,
                    "critical",
                    f"the {worker.agent} agent of reviewer {worker.id} cannot start: its reviews ended before its "
                    f"model said a word, {FALSE_STARTS} times in a row{words}; {worker.id} takes no more reviews. "
                    f"Fix [agents.{worker.agent}] (`czar doctor`), then `czar down` and `czar up`",
                    task=review.task_id,
                    worker=worker.id,
                )
                self.sidelined.add(worker.id)
            elif worker.state not in ENDED:
                Store.set_worker(conn, review.worker_id, state=WorkerState.IDLE, detail=None)
                Store.post(conn, review.worker_id, StopAgent(review.attempt_id))
        self.say(f"review of {review.task_id} by {review.worker_id} lost: {reason}")

    def _tidy(self) -> None:
        """Remove the checkouts of reviews that are over (what a reviewer's agent wrote there is
        nobody's work)."""
        folder = self.p.paths.root / "reviews"
        if not folder.is_dir():
            return
        with self._checkouts:
            with self.store.read() as conn:
                open_ones = {r.attempt_id for r in Store.reviews_in(conn, (ReviewState.OPEN,))}
                keep = {Store.attempt(conn, a).worktree for a in open_ones}
            for path in folder.iterdir():
                if str(path) in keep or path.name.startswith("."):
                    continue
                try:
                    untrusted.remove(path)
                except OSError as exc:  # a file the agent made unremovable: said, tried again next time
                    raise CzarError(f"cannot remove the review checkout {path}: {exc}") from exc


def _last_verdict(reviews: list[Review]) -> Review | None:
    """The task's last review with a verdict not acted on yet."""
    done = (ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED)
    pending = [r for r in reviews if r.state in done and not r.applied]
    return pending[-1] if pending else None
