"""Each task's pull request, kept in step with the task: opened when the task is verified, updated
to every later attempt's head, recorded merged when it merges, closed when it fails.

``sync`` compares the tasks with their pull requests and does what is missing, so a supervisor that
died between a verification and its pull request catches up when it starts again. It runs on a
thread of its own, off the loop that assigns and delivers.
"""

from __future__ import annotations

from collections.abc import Callable

from czar.core.events import EventKind
from czar.core.forge import CheckRun, Forge, PullDraft, PullRef, PullState, Review, Verdict, changes_since, describe
from czar.core.review import ReviewState
from czar.core.states import TaskState
from czar.errors import CzarError
from czar.forge.mirror import out_of_step
from czar.runtime import untrusted
from czar.store.records import Pull, Task, TaskBrief
from czar.store.store import Store
from czar.supervisor import remote_sync
from czar.supervisor.actions import branch_of, stack_starts, stacked_base
from czar.supervisor.forge_trouble import ForgeTrouble
from czar.supervisor.project import Project

LOG_TAIL = 4000  # characters of the checks' output in a pull request's body

# Where a verified task's pull request is open and follows its branch.
VERIFIED = (TaskState.REVIEWING, TaskState.APPROVED, TaskState.MERGING)


class PullRequests:
    def __init__(self, project: Project, say: Callable[[str], None], forge: Forge | None = None) -> None:
        self.p = project
        self.say = say
        self.forge = forge if forge is not None else project.forge
        self.integration = project.plan.project.integration_branch
        # A remote forge (GitHub) sees only what is pushed, and may have missed an update.
        self.mirrored = project.plan.forge.kind != "local"
        self.trouble = ForgeTrouble(project, say)

    def sync(self) -> None:
        """Open, update, merge and close what the tasks' states call for."""
        with self.p.store.read() as conn:
            # Briefs: a pull request's step reads a task whole only when it opens or merges one;
            # and a pull request is read whole only when its task may need something of it.
            states = Store.pull_states(conn)
            tasks = [t for t in Store.task_briefs(conn) if not _settled(t.state, states.get(t.id))]
            pulls = {p.task_id: p for p in Store.pulls_of_tasks(conn, [t.id for t in tasks])}
        wanted = any(t.state in VERIFIED or (t.state is TaskState.MERGED and t.id not in pulls) for t in tasks)
        tips = self.p.repo.tips() if wanted else {}
        for task in tasks:
            pull = pulls.get(task.id)
            try:
                if self._step(task, pull, tips):
                    # (Only a step that asked the forge: one with nothing to ask, its task moved on
                    # meanwhile, says nothing of it; found by a probe: the same alert every look.)
                    self.trouble.worked(task.id, "its pull request")
            except CzarError as exc:  # one task's pull request must not keep the others back
                self.trouble.failed(task.id, "its pull request", exc)
        self._post_reviews()

    def _post_reviews(self) -> None:
        """Reviewers' verdicts and findings go on their pull requests, once each, at the commit
        reviewed (a pull request not there yet is brought to it first: the history shows what
        each review saw)."""
        with self.p.store.read() as conn:
            waiting = Store.unposted_reviews(conn)
            # (Every pull request is read only when a verdict waits: this runs at each verification's end.)
            pulls = {p.task_id: p for p in Store.all_pulls(conn)} if waiting else {}
        for r in waiting:
            pull = pulls.get(r.task_id)
            verdict = Verdict.APPROVE if r.state is ReviewState.APPROVED else Verdict.REQUEST_CHANGES
            review = Review(verdict, r.commit, f"{r.worker_id} ({r.agent})", r.summary or "", r.findings)
            try:
                if pull is not None and pull.state is not PullState.OPEN and pull.head_commit != r.commit:
                    self.say(f"review of {r.task_id} not posted: pull request #{pull.id} is {pull.state}")
                else:
                    if pull is None or pull.head_commit != r.commit:
                        with self.p.store.read() as conn:
                            task = Store.task(conn, r.task_id)
                        number = self.publish(task, r.commit).number
                    else:
                        number = pull.id
                    self.forge.post_review(number, review)
            except CzarError as exc:  # tried again at the next look
                self.trouble.failed(r.task_id, "posting its review", exc)
                continue
            self.trouble.worked(r.task_id, "posting its review")
            with self.p.store.write() as conn:
                Store.set_review(conn, r.id, posted=1)

    def _step(self, brief: TaskBrief, pull: Pull | None, tips: dict[str, str]) -> bool:
        """What the task's state calls for; whether the forge was asked anything."""
        state, task_id = brief.state, brief.id
        if state in VERIFIED:
            head = tips.get(branch_of(task_id))
            behind = pull is None or pull.head_commit != head or pull.state is not PullState.OPEN
            unsynced = self.mirrored and pull is not None and out_of_step(pull)
            if head and (behind or unsynced) and (task := self._task(brief)):
                self.publish(task, head)
                return True
        elif state is TaskState.MERGED:
            if pull is None:  # verified and merged between two looks: opened now, at what merged
                head = tips.get(branch_of(task_id))
                if head is None:
                    return False  # its branch is gone: nothing to show
                if task := self._task(brief):
                    ref = self.publish(task, head)
                    self.forge.merge(ref.number, head, self._merged_as(task) or head)
                    return True
            elif pull.state is PullState.OPEN and (task := self._task(brief)):
                self.forge.merge(pull.id, pull.head_commit, self._merged_as(task) or pull.head_commit)
                return True
        elif state in (TaskState.FAILED, TaskState.CANCELLED) and pull is not None and pull.state is PullState.OPEN:
            self.forge.close(pull.id, f"task {task_id} {state}")
            return True
        return False

    def _task(self, brief: TaskBrief) -> Task | None:
        """The task whole, if it is still in the state its brief said: one that moved on since
        (its agent sent back to work, a new attempt) is the next look's, as it is then."""
        with self.p.store.read() as conn:
            task = Store.task(conn, brief.id)
        return task if task.state is brief.state else None

    def publish(self, task: Task, head: str) -> PullRef:
        """The task's pull request, opened or updated at ``head``."""
        branch = branch_of(task.id)
        with self.p.store.read() as conn:
            attempt = passed = None
            if task.attempt_id is not None:
                attempt = Store.attempt(conn, task.attempt_id)
                passed = Store.last_event_of(conn, task.attempt_id, EventKind.VERIFY_PASSED)
            cost = Store.costs_by_task(conn, only=(task.id,)).get(task.id)
        # A stacked task's own changes: since it started on its dependencies' work, until it brings
        # the integration branch in (their changes are theirs, on their own pull requests).
        start = None
        if self.p.plan.project.stack:
            with self.p.store.read() as conn:
                start = stacked_base(self.p.repo, self.integration, head, stack_starts(conn, task.id))
        files = changes_since(self.p.repo, start or self.integration, head)
        ran = passed.payload.get("checks", []) if passed is not None else []
        checks = tuple(CheckRun(str(c["command"]), c.get("exit") == 0, timed_out=bool(c.get("timed_out"))) for c in ran)
        log = self._log_tail(task) if checks else ""
        body = describe(
            task=task.id,
            title=task.title,
            text=task.body,
            summary=attempt.summary if attempt else None,
            checks=checks,
            log_tail=log,
            files=files,
            rounds=task.rounds,
            cost_usd=cost.cost_usd if cost else 0.0,
        )
        draft = PullDraft(
            task=task.id,
            head_branch=branch,
            base_branch=self.integration,
            head_commit=head,
            title=f"{task.id}: {task.title}",
            body=body,
            files=files,
            rounds=task.rounds,
            cost_usd=cost.cost_usd if cost else 0.0,
            checks=tuple(CheckRun(c.name, c.passed, log, c.timed_out) for c in checks),
        )
        if self.mirrored:
            self.on_remote(self.integration, self.p.repo.tip(self.integration))
            self.on_remote(branch, head, task=task.id)
        ref = self.forge.open_or_update(draft)
        self.say(f"pull request #{ref.number} of {task.id} at {head[:10]}" + (f": {ref.url}" if ref.url else ""))
        return ref

    def on_remote(self, branch: str, commit: str, task: str | None = None) -> None:
        """``branch`` at ``commit`` on the remote, where the forge looks (pushed if not yet)."""
        remote = self.p.remote
        if remote is None or remote.tips().get(branch) == commit:
            return
        if not remote_sync.push(self.p, branch, commit, replace=branch != self.integration, task=task):
            # Said already (an event, an alert); the pull request is not brought to a commit the
            # forge cannot see, and the next look tries again.
            raise CzarError(f"{branch} is not on {remote.name} at {commit[:10]}: its pull request waits for it")

    def _log_tail(self, task: Task) -> str:
        """The end of the checks' output of the round that verified the task."""
        log = self.p.paths.checks / task.id / f"round-{task.rounds}.log"
        data = untrusted.read_beneath(log.parent, log) if log.parent.is_dir() else None
        return data[-LOG_TAIL:].decode(errors="replace") if data else ""

    def _merged_as(self, task: Task) -> str | None:
        with self.p.store.read() as conn:
            merged = Store.last_event_of(conn, task.attempt_id, EventKind.TASK_MERGED) if task.attempt_id else None
        return str(merged.payload.get("commit")) if merged is not None else None


def _settled(state: TaskState, pull: PullState | None) -> bool:
    """Whether a task in ``state`` whose pull request is in state ``pull`` (None: it has none)
    needs nothing of it (merged with it, failed or cancelled without it open)."""
    if state is TaskState.MERGED:
        return pull is not None and pull is not PullState.OPEN
    return state in (TaskState.FAILED, TaskState.CANCELLED) and pull is not PullState.OPEN
