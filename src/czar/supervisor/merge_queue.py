"""The merge queue: approved tasks go into the integration branch in dependency order, a batch at
a time, with the project's checks run after the batch; when they fail, the batch is bisected to
find the first task that broke them (``czar.core.bisection``), whose failing run is run once more
before it is blamed. The tasks before it merge, the ones after it wait for the next batch.

Merges are made on a detached HEAD in the integration worktree and checked there; only then does
the integration branch move, by compare and swap, so no task ever starts from a merge that is
later undone. Only the merge thread uses that worktree, so merges take no lock and assignments
never wait for them. Safe to run again after a crash at any point: a task whose tip is already in
the integration branch was merged.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from czar.core import hunks
from czar.core.bisection import first_breaking
from czar.core.events import EventKind
from czar.core.findings import OVERLAPS
from czar.core.hunks import FileChange
from czar.core.landing import Landing, after_landing
from czar.core.lost_lines import LostLine, evidence, lost_lines, meaningful
from czar.core.repository import MergeResult, Repository
from czar.core.states import AGENT_AT_WORK, TERMINAL_TASK_STATES, TaskState
from czar.errors import CzarError, GitError, SupervisorError
from czar.forge.local import ForgeRefused, InMergeQueue
from czar.store.records import Pull, Task
from czar.store.store import Store
from czar.supervisor import integration_guard, remote_sync, your_checkouts
from czar.supervisor.actions import Actions, branch_of
from czar.supervisor.checks import KILLED_RUNS, ChecksKilled, describe_failure, run_checks
from czar.supervisor.project import Project
from czar.supervisor.pull_view import CLOSED_THERE, REOPENED_THERE
from czar.vcs import checkout as task_checkout

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from czar.supervisor.radar import Radar

TAIL = 3000
RESOLVE_AFTER = 2  # times a task's work was made again for conflicts: then both tasks' text comes with it
OPENING_SECONDS = 1.0  # a task whose pull request is not on the forge yet is merged no sooner than this
OPENING_ALERT = 3  # ... and after this many ``[forge] poll_seconds`` without it, a person hears

# The project's checks on a commit: (commit, the log's name, its round) -> why they failed, or None.
CheckRun = Callable[[str, str, int], "str | None"]


class Holds:
    """Whether a task's branch holds the commit a task merged with (see ``MergeQueue._holding``):
    asked of git ahead for the tasks at work then, outside the transaction that records the merge
    (no transaction waits on git); for a task assigned since, in it."""

    def __init__(self, git: Repository, work: dict[str, str]) -> None:
        self.git = git
        self.work = work  # task merged -> the commit of its branch that merged
        self.tips: dict[str, str] | None = None
        self.reread = False  # the tips read again once, for a branch made since the first read
        self.known: dict[tuple[str, str], bool] = {}

    def ahead(self, pairs: Iterable[tuple[str, str]]) -> Holds:
        for merged, task in pairs:
            self(merged, task)
        return self

    def __call__(self, merged: str, task: str) -> bool:
        if (merged, task) not in self.known:
            self.known[(merged, task)] = self._ask(merged, task)
        return self.known[(merged, task)]

    def _ask(self, merged: str, task: str) -> bool:
        work = self.work.get(merged)
        if work is None:
            return False
        if self.tips is None or (branch_of(task) not in self.tips and not self.reread):
            self.reread = self.tips is not None
            self.tips = self.git.tips()
        branch = self.tips.get(branch_of(task))
        return branch is not None and self.git.is_ancestor(work, branch)


STOPS = 3  # merges of a task whose git is killed before it counts as the task's failure


@dataclass
class _Outcome:
    merged: dict[str, str]  # task -> the commit that merged it (the integration tip then)
    problems: dict[str, str]  # task -> why it could not be merged
    # task -> why it must be made again on the integration branch as it is now: the branch moved
    # under it since it was verified (no fault of the work: no round is used)
    sent_back: dict[str, str] = field(default_factory=dict)
    # tasks that merged cleanly after the one that broke the checks: they wait for the next batch
    later: list[str] = field(default_factory=list)
    # tasks the forge would not merge (``merge_via = "pull-request"``), or that came after one it
    # refused: they wait, approved, for a later batch
    refused: dict[str, str] = field(default_factory=dict)


class MergeQueue:
    def __init__(
        self, project: Project, actions: Actions, radar: Radar | None = None, *, check: CheckRun | None = None
    ) -> None:
        self.p = project
        self.radar = radar  # to look again, just before a merge, at what the task overlaps
        self.git = project.repo
        self.check = check or self._run_checks
        self.real_checks = check is None  # the project's own, in a clean checkout of the merge
        self.actions = actions
        self.integration = project.plan.project.integration_branch
        self.worktree = project.paths.integration_worktree
        self._added: dict[str, dict[str, FileChange]] = {}  # a merged task -> what its merge brought in
        self.stops: Counter[str] = Counter()  # task -> merges of it whose git was killed
        self.refused: dict[str, tuple[float, str]] = {}  # task -> until when the forge's refusal holds it, why
        self.queued: set[str] = set()  # tasks in the forge's own merge queue (GitHub's)
        self.behind_at: dict[str, str] = {}  # task -> its head when the forge found it behind
        # (task, its head) -> when it was first found without its pull request there (approved
        # again at another commit after a send-back, it is given the same time again)
        self.unopened: dict[tuple[str, str | None], float] = {}
        # Tasks whose pull request a person closed on the forge, as the events say (a supervisor
        # that starts again neither says it again nor misses that it was reopened meanwhile).
        self.closed: set[str] = set()
        self.blocked: dict[str, str] = {}  # task -> the forge's rules that hold it (``blocked``), as said
        kinds = (EventKind.FORGE_CLOSED, EventKind.FORGE_REOPENED, EventKind.FORGE_ERROR)
        with project.store.read() as conn:
            for e in Store.read_events(conn, kinds=kinds, limit=100_000):
                if e.task_id is None:
                    continue
                if e.kind == EventKind.FORGE_CLOSED:
                    self.closed.add(e.task_id)
                    self.refused[e.task_id] = (0.0, str(e.payload.get("message", "")))  # said already
                elif e.kind == EventKind.FORGE_REOPENED:
                    self.closed.discard(e.task_id)
                elif e.payload.get("doing") == "merge":  # why the forge would not merge it: said already
                    self.refused[e.task_id] = (0.0, str(e.payload.get("message", "")))

    def merge(self, task_ids: Sequence[str]) -> None:
        """Merge these approved tasks, in this order; runs on the merge thread."""
        remote_sync.fetch(self.p)  # what the remote holds now, before deciding (``[project] remote``)
        via_forge = self.p.plan.forge.merge_via == "pull-request"
        with self.p.store.read() as conn:
            rows = {t: Store.task(conn, t) for t in task_ids}
        if via_forge:
            waiting = self._queued_on_forge(task_ids)
        else:
            waiting = self._unpublished(task_ids, rows) if self.p.plan.forge.kind != "local" else {}
        # A task after one that waits (for the forge) waits with it: stacked on it, its merge would
        # land that work too, which the forge would then never merge (nor open, on GitHub).
        for t in task_ids:  # (in merge order: dependencies first)
            first = next((d for d in rows[t].spec.depends_on if d in waiting), None)
            if first is not None and t not in waiting:
                waiting[t] = f"task {first}, which comes before it, waits for the forge; it merges after"
        task_ids = [t for t in task_ids if t not in waiting]
        rows = {t: rows[t] for t in task_ids}
        git = self.git
        held, behind = self._look_again(task_ids)
        # A stacked task whose dependency of this batch does not merge now waits with it (its
        # branch holds that work: merging it would land the dependency's too).
        for t in task_ids:
            waits_for = {d for d in rows[t].spec.depends_on if d in held or d in behind}
            if waits_for and t not in behind:
                held[t] = held.get(t, set()) | waits_for
        task_ids = [t for t in task_ids if t not in held and t not in behind]
        integration_guard.restore(self.p, lambda _said: None)  # a person deleted it or moved it back (an alert)
        git.clean_worktree(self.worktree)
        before = git.tip(self.integration)
        tips = git.tips()
        # Only the commit its reviewer approved merges, or without review the one verified,
        # whatever its branch holds by now (found by a probe: a branch moved after its
        # verification merged what no check had seen, and the omnibus said "proven").
        pinned = self._approved(task_ids) if self.p.plan.review.enabled else self._verified(task_ids)
        self._moved_since(pinned, tips)
        tips = {**tips, **{branch_of(t): c for t, c in pinned.items()}}
        done = self._merge_all(task_ids, rows, before, tips)
        fresh = [t for t in task_ids if t in done.merged and done.merged[t] != before]
        broke: str | None = None  # the task blamed for breaking the checks
        if fresh and self._checks_wanted():
            kept, failure = self._checked(fresh, [done.merged[t] for t in fresh], rows)
            if kept < len(fresh):
                if failure is not None:
                    broke = fresh[kept]
                    done.problems[broke] = self._broke(failure)
                done.later += fresh[kept + 1 :] if failure is not None else fresh[kept:]
                for t in fresh[kept:]:
                    del done.merged[t]
                git.detach(self.worktree, done.merged[fresh[kept - 1]] if kept else before)
        head = git.head(self.worktree)
        if via_forge and head != before:
            # Merged and checked here; merged for good by the forge, under its rules.
            head = self._through_forge(task_ids, done, tips, before)
            git.detach(self.worktree, head)
        elif head != before and self.p.plan.forge.kind != "local" and self._closed_meanwhile(done, fresh, broke):
            git.detach(self.worktree, before)  # nothing of the batch is pushed: it goes again
            head = before
        if head != before and not via_forge and (where := self.checked_out_by_you(fresh=True)) is not None:
            why = f"{self.integration} is checked out in {where}: czar does not move it under your checkout"
            for t in self._withdrawn(done, fresh, broke):
                done.refused[t] = why
            git.detach(self.worktree, before)
            head = before
        if head != before:
            try:
                git.move_branch(self.integration, head, before)
            except GitError as exc:
                # (found by a probe: git's own words, "cannot lock ref ... is at X but expected
                # Y", were the alert a person read while moving the branch themselves)
                now = git.tips().get(self.integration)
                raise SupervisorError(
                    f"{self.integration} was moved while czar merged into it (to {(now or 'nothing')[:10]}, "
                    f"from {before[:10]}: by you?): the batch merges again on it as it is"
                ) from exc
        holding = self._holding([] if via_forge else list(done.merged), tips)
        with self.p.store.write() as conn:
            for t, why in waiting.items():
                Store.move_task(conn, t, TaskState.APPROVED, expect=TaskState.MERGING, reason=why)
            for t, others in held.items():
                state = after_landing(Landing.HELD, rows[t].rounds, self.p.plan.project.max_rounds).state
                Store.move_task(
                    conn,
                    t,
                    state,
                    expect=TaskState.MERGING,
                    reason=f"held: its work overlaps that of {', '.join(sorted(others))}, which comes first",
                )
            for t, files in behind.items():  # no fault of the work: no round is used
                self.actions.merge_failed(conn, rows[t], self._moved_under(files, t), Landing.MOVED_UNDER)
            for t in task_ids:
                if Store.task(conn, t).state is not TaskState.MERGING:
                    continue  # moved by this very write: stacked on a task of the batch that just failed
                if t in done.merged:
                    self.actions.merged(conn, rows[t], done.merged[t], functools.partial(holding, t))
                elif t in done.sent_back:
                    self.actions.merge_failed(conn, rows[t], done.sent_back[t], Landing.MOVED_UNDER)
                elif t in done.refused:
                    Store.move_task(conn, t, TaskState.APPROVED, expect=TaskState.MERGING, reason=done.refused[t])
                elif t in done.later:
                    Store.move_task(
                        conn,
                        t,
                        after_landing(Landing.NEXT_BATCH, rows[t].rounds, self.p.plan.project.max_rounds).state,
                        expect=TaskState.MERGING,
                        reason="a task before it in its batch broke the checks; it merges with the next batch",
                    )
                else:
                    self.actions.merge_failed(
                        conn, rows[t], done.problems.get(t, "merge did not happen"), Landing.BROKE
                    )
        if head != before and not via_forge:
            if self.p.plan.forge.kind != "local" and self.p.remote is not None:
                there = self.p.remote.tips()  # (first: the integration branch's push marks them merged)
                for t in done.merged:
                    if (merged := tips.get(branch_of(t))) is not None:
                        remote_sync.follow_merged(self.p, branch_of(t), merged, t, there)
            remote_sync.push(self.p, self.integration, head, replace=False)
        discard_checkouts(self.p, list(done.merged))

    def _holding(self, merged: Sequence[str], tips: dict[str, str]) -> Holds:
        """Whether a task at work stacked on a task merged holds the very commit that merged
        (``[project] stack``): its agent need not bring it in (its merge brings the rest). Read
        from its branch, not from what it was told: an agent may not have brought a restack in,
        or a new one may carry on a branch made on older work. Asked ahead for the tasks at work
        now, and as the merge is recorded for a task assigned meanwhile, on that work. (Not for
        merges through the forge, which may take only branches up to date with it.)"""
        stacking = self.p.plan.project.stack
        holds = Holds(self.git, {t: c for t in merged if (c := tips.get(branch_of(t)))} if stacking else {})
        if not holds.work:
            return holds
        with self.p.store.read() as conn:
            at_work = Store.tasks_in(conn, AGENT_AT_WORK)
        return holds.ahead((m, t.id) for t in at_work for m in holds.work if m in t.spec.depends_on)

    def _through_forge(self, task_ids: Sequence[str], done: _Outcome, tips: dict[str, str], before: str) -> str:
        """Each task this batch merged (and checked) here, merged by the forge instead, in order,
        pinned to the commit that was verified and reviewed; the integration branch as the forge
        has it after. The first the forge refuses, and those after it, wait for a later batch
        (the forge's words are an alert, said once); ``done`` is brought in line."""
        order = [t for t in task_ids if t in done.merged and done.merged[t] != before]
        with self.p.store.read() as conn:
            pulls = {t: Store.pull_of_task(conn, t) for t in order}
        for i, t in enumerate(order):
            pull = pulls[t]
            head = tips.get(branch_of(t)) or self.git.tip(branch_of(t))
            try:
                if pull is None or pull.remote_number is None:
                    raise ForgeRefused(f"task {t} has no pull request on the forge yet")
                done.merged[t] = self.p.forge.land(pull.id, head)
                self.refused.pop(t, None)
            except CzarError as exc:
                behind = (
                    isinstance(exc, ForgeRefused) and not isinstance(exc, InMergeQueue) and self._behind(t, head, i)
                )
                for later in order[i:]:
                    del done.merged[later]
                    if later == t and behind and self.behind_at.get(t) == head:
                        # Sent back for this before, and its branch did not move since: its agent
                        # did not bring the integration branch in; this time it costs a round.
                        done.problems[t] = (
                            f"Your branch still lacks {self.integration} as the forge has it: `git merge "
                            f"{self.integration}`, commit, and finish again. The forge said: {exc}"
                        )
                        continue
                    if later == t and behind:
                        self.behind_at[t] = head
                        # The forge merges only a branch that holds the integration branch as it
                        # is there (a rule such as "up to date before merging", or fast-forward
                        # merges): its agent brings it in, as when it moved under the work.
                        done.sent_back[t] = (
                            f"{self.integration} moved since your work was verified, and the forge merges only a "
                            f"branch that holds it as it is now: `git merge {self.integration}` (keep one version "
                            f"of each change), then finish again. The forge said: {exc}"
                        )
                        continue
                    done.refused[later] = (
                        (
                            f"{exc}; asked again later"
                            if isinstance(exc, InMergeQueue)
                            else "the forge would not merge it yet; asked again later"
                        )
                        if later == t
                        else f"the forge has not merged {t}, which comes before it; it merges after"
                    )
                if isinstance(exc, InMergeQueue):
                    self.queued.add(t)
                if not behind:
                    self._refused(t, str(exc), quiet=isinstance(exc, InMergeQueue))
                break
        remote_sync.fetch(self.p)
        remote = self.p.remote
        landed = remote.tips().get(self.integration) if remote is not None else None
        return landed or before

    def _behind(self, task: str, head: str, landed_before: int) -> bool:
        """Whether ``head`` lacks the integration branch as the forge has it now (after the
        ``landed_before`` merges this batch made there)."""
        if landed_before:
            remote_sync.fetch(self.p)  # the forge's merges, to compare with
        remote = self.p.remote
        there = remote.tips().get(self.integration) if remote is not None else None
        return there is not None and not self.git.is_ancestor(there, head)

    def _task_and_pull(self, task_id: str) -> tuple[Task | None, Pull | None]:
        with self.p.store.read() as conn:
            return Store.find_task(conn, task_id), Store.pull_of_task(conn, task_id)

    def _queued_on_forge(self, task_ids: Sequence[str]) -> dict[str, str]:
        """The tasks the forge holds, with no merge and no checks here while it does: those its
        rules hold (``blocked``: a person hears why, once), and those in its own merge queue
        (``InMergeQueue`` before), asked how they went. Returns those still held, and why. One
        the queue merged meanwhile is in the integration branch once it is brought to the
        forge's, and merges in this batch as merged already."""
        waiting: dict[str, str] = {}
        landed = False
        for t in [t for t in task_ids if t not in self.queued]:
            # A rule of the forge's holds it (checks, reviews): no merge nor checks here meanwhile.
            if (why := self._held_there(t, rules=True)) is not None:
                waiting[t] = why
        for t in [t for t in task_ids if t in self.queued]:
            with self.p.store.read() as conn:
                pull = Store.pull_of_task(conn, t)
                approved = Store.approved_commit(conn, t)
            head = approved or self.git.tip(branch_of(t))
            try:
                if pull is None:
                    raise ForgeRefused(f"task {t} has no pull request on the forge")
                self.p.forge.land(pull.id, head)
                landed = True
            except InMergeQueue as exc:
                waiting[t] = f"{exc}; asked again later"
                self._refused(t, str(exc), quiet=True)
                continue
            except CzarError:
                pass  # out of the forge's queue: the batch tries it as any other
            self.queued.discard(t)
        remote = self.p.remote
        if landed and remote is not None:
            remote_sync.fetch(self.p)
            there, here = remote.tips().get(self.integration), self.git.tip(self.integration)
            if there is not None and there != here and self.git.is_ancestor(here, there):
                self.git.move_branch(self.integration, there, here)
        return waiting

    def _unpublished(self, task_ids: Sequence[str], rows: dict[str, Task]) -> dict[str, str]:
        """Where czar merges for a forge (``merge_via = "czar"``), a task merges only once its pull
        request is there: the forge marks it merged when the integration branch arrives with its
        head, and refuses to open one whose work that branch holds already (GitHub: "No commits
        between"): merged first, the task would have no pull request there at all. Returns those
        that wait, and why."""
        waiting: dict[str, str] = {}
        for t in task_ids:  # (in merge order: dependencies first)
            if any(d in waiting for d in rows[t].spec.depends_on):
                continue  # it waits with that one (``merge`` says so): nothing to ask the forge
            if (why := self._held_there(t, rules=False)) is not None:
                waiting[t] = why
        return waiting

    def _held_there(self, task: str, *, rules: bool) -> str | None:
        """Why the forge holds ``task`` now, asked before its merge (a person hears each new
        reason): its pull request not there yet, closed there by a person, its ``rules``
        (``blocked``: asked again by ``look_again``, not by merges), or no answer; None if it may
        merge."""
        with self.p.store.read() as conn:
            pull = Store.pull_of_task(conn, task)
        if pull is None or pull.remote_number is None:
            return self._unopened(task)
        self._opened(task)
        try:
            why = self._closed_there(task, pull)
            if why is None and rules and (held := self.p.forge.blocked(pull.id)) is not None:
                why = self.blocked[task] = held
        except CzarError as exc:  # not known to be open there: asked again later
            why = str(exc)
        if why is None:
            return None
        self._refused(task, why)
        return f"{why}; asked again later"

    def _closed_meanwhile(self, done: _Outcome, fresh: Sequence[str], broke: str | None) -> bool:
        """Whether a person closed the pull request of a task the batch merges (``fresh``) on the
        forge while its merge was checked (minutes, at times): asked again before anything is
        pushed. If so, the batch is withdrawn: that task waits for them, the others merge with the
        next batch (checked again without it), and none uses a round, not even one ``broke``
        blamed for breaking the checks on top of it. A forge that does not answer now is no
        reason to withdraw a batch checked already: it was asked just before the merge."""
        closed: dict[str, str] = {}
        for t in [t for t in fresh if t in done.merged]:
            with self.p.store.read() as conn:
                pull = Store.pull_of_task(conn, t)
            if pull is None or pull.remote_number is None:
                continue
            try:
                why = self._closed_there(t, pull)
            except CzarError as exc:  # (an event, no alert: it merges as it was asked just before)
                with self.p.store.write() as conn:
                    Store.emit(conn, EventKind.FORGE_ERROR, task=t, doing="ask again before the push", message=str(exc))
                continue
            if why is not None:
                closed[t] = why
        if not closed:
            return False
        names = ", ".join(sorted(closed))
        for t in self._withdrawn(done, fresh, broke):
            if t in closed:
                done.refused[t] = f"{closed[t]}; asked again later"
                self._refused(t, closed[t])
            else:
                done.refused[t] = f"the pull request of {names}, of its batch, was closed on the forge meanwhile"
        return True

    @staticmethod
    def _withdrawn(done: _Outcome, fresh: Sequence[str], broke: str | None) -> list[str]:
        """The batch's tasks taken back from ``done`` (none uses a round: they merge with a later
        batch, checked again); one merged before the batch is in what stays, and is recorded as
        merged, as it is."""
        withdrawn = [*(t for t in done.merged if t in fresh), *done.later, *([broke] if broke is not None else [])]
        done.later = []
        for t in withdrawn:
            done.merged.pop(t, None)
            done.problems.pop(t, None)
        return withdrawn

    def checked_out_by_you(self, *, fresh: bool = False) -> Path | None:
        """A checkout of yours that has the integration branch (czar's own has it detached), or
        None: nothing merges meanwhile (``czar.supervisor.your_checkouts``)."""
        return your_checkouts.where(self.p, self.integration, "nothing merges", fresh=fresh)

    def _closed_there(self, task: str, pull: Pull) -> str | None:
        """Why a person's closing of its pull request on the forge holds the task, or None. czar
        neither merges nor reopens it (that was a person's call): it waits, in the "needs you"
        inbox, for them to reopen it there, or to cancel the task."""
        why = self.p.forge.closed_there(pull.id)
        if why is None:
            if task in self.closed:
                self.closed.discard(task)
                with self.p.store.write() as conn:
                    Store.emit(conn, EventKind.FORGE_REOPENED, task=task, number=pull.id, url=pull.url or "")
                    Store.add_pull_entry(conn, pull.id, REOPENED_THERE, pull.head_commit)
            return None
        held = f"{why} (or `czar cancel {task}`)"
        branch = branch_of(task)
        if remote_sync.gone_there(self.p, branch) and self.p.remote is not None:
            # Its branch deleted there closed it, and the forge reopens none without its branch
            # (found by a probe: the advice to reopen it could not be followed).
            there = self.p.remote.name
            held = (
                f"{why}; its branch {branch} is gone from {there}, and a pull request is reopened only with its "
                f"branch there: `git push {there} {pull.head_commit}:refs/heads/{branch}` puts it back as it was "
                f"(or `czar cancel {task}`)"
            )
        if task not in self.closed:
            self.closed.add(task)
            with self.p.store.write() as conn:
                Store.emit(conn, EventKind.FORGE_CLOSED, task=task, number=pull.id, url=pull.url or "", message=held)
                Store.add_pull_entry(conn, pull.id, CLOSED_THERE, pull.head_commit, reason=why)
        return held

    def _opened(self, task: str) -> None:
        for key in [k for k in self.unopened if k[0] == task]:
            del self.unopened[key]

    def _unopened(self, task: str) -> str:
        """Its pull request is not on the forge yet (the pull requests' loop opens it in a moment):
        the forge could neither say what holds it nor merge it, and a merge and the checks here
        would be for nothing. Asked again in a moment; a person hears once it has been a while
        (publishing fails where no forge error says so: see ``czar prs`` and the supervisor's log),
        and it is asked as seldom as the forge's other refusals from then on."""
        now = time.monotonic()
        since = self.unopened.setdefault((task, self.git.tip(branch_of(task))), now)
        patience = OPENING_ALERT * self.p.plan.forge.poll_seconds
        if now - since < patience:
            self.refused[task] = (now + OPENING_SECONDS, self.refused.get(task, (0.0, ""))[1])
            return "its pull request is not on the forge yet; asked again in a moment"
        why = f"its pull request is still not on the forge after {patience:g} s (see `czar prs` and `czar logs`)"
        self._refused(task, why)
        return f"{why}; asked again later"

    def _refused(self, task: str, why: str, *, quiet: bool = False) -> None:
        """The forge would not merge ``task``: it is asked again after ``[forge] poll_seconds``
        (what held it, a check or a person, may have changed by then); a person hears each new
        reason."""
        said = self.refused.get(task, (0.0, ""))[1]
        self.refused[task] = (time.monotonic() + self.p.plan.forge.poll_seconds, why)
        # Compared as the event keeps it (a restart reads that); waiting in the forge's own merge
        # queue (``quiet``) is no trouble.
        if why[-2000:] == said[-2000:] or quiet:
            return
        with self.p.store.write() as conn:
            Store.emit(conn, EventKind.FORGE_ERROR, task=task, doing="merge", message=why[-2000:])
            Store.alert(conn, "warning", f"the forge would not merge task {task}: {why}", task=task)

    def held_by_forge(self) -> frozenset[str]:
        """The tasks ``waits_on_forge`` says wait (read from another thread than the merges')."""
        now = time.monotonic()
        held = {t for t, (until, _) in list(self.refused.items()) if now < until}
        return frozenset(held | set(self.closed) | set(self.blocked))

    def waits_on_forge(self, task: str) -> bool:
        """Whether the forge refused to merge ``task`` a moment ago (asked again after a while),
        or a person closed its pull request there, or its rules hold it (until ``look_again`` finds
        otherwise)."""
        until = self.refused.get(task, (0.0, ""))[0]
        return time.monotonic() < until or task in self.closed or task in self.blocked

    def look_again(self) -> None:
        """What the forge holds, asked again (on the pull requests' thread, every
        ``poll_seconds``): a pull request people closed there, reopened, and one its rules held
        (required checks, reviews), let go, let their tasks merge. Asked here, not by a merge, a
        task stays approved meanwhile (not approved, merging and approved again at each look, a
        fetch each time, for as long as a person takes)."""
        for t in sorted(self.closed):
            task, pull = self._task_and_pull(t)
            if task is None or task.state in TERMINAL_TASK_STATES or pull is None or pull.remote_number is None:
                self.closed.discard(t)  # cancelled, or its pull request made anew: nothing to hold
                continue
            with contextlib.suppress(CzarError):  # (the forge out of reach: asked at the next look)
                self._closed_there(t, pull)
        for t in sorted(self.blocked):
            task, pull = self._task_and_pull(t)
            held = (TaskState.APPROVED, TaskState.MERGING)  # (merging: its batch is not over yet)
            if task is None or task.state not in held or pull is None or pull.remote_number is None:
                self.blocked.pop(t, None)  # moved on: asked again when it comes to merge
                continue
            try:
                why = self.p.forge.blocked(pull.id)
            except CzarError:
                continue  # (the forge out of reach: asked at the next look)
            if why is None:
                self.blocked.pop(t, None)
            elif why != self.blocked.get(t):
                self.blocked[t] = why
                self._refused(t, why)  # a new reason: a person hears it

    def _look_again(self, task_ids: Sequence[str]) -> tuple[dict[str, set[str]], dict[str, list[str]]]:
        """Looked at again now (the radar's last scan may be older than the last commits): the
        tasks that must not merge yet, as their work overlaps a task in flight that comes first;
        and those to make again, as the integration branch changed their lines, or lines next to
        them, since they left it. git would merge the latter without a word, but each side was
        made without the other in view.

        Of two tasks of the batch that change one file, the later waits for the next batch: its
        lines are then compared with the integration branch that holds the other's, from its own
        base (the two tasks may have started from different commits, where line numbers differ)."""
        held: dict[str, set[str]] = {}
        behind: dict[str, list[str]] = {}
        if self.radar is None:
            return held, behind
        taken: dict[str, str] = {}  # file -> the task of this batch that changes it
        looked = self.radar.before_merge(task_ids)
        for t in task_ids:
            found, read = looked[t]
            overlaps = [f for f in found if f.kind in OVERLAPS]
            others = {f.other for f in overlaps if f.other is not None}
            files = read[1] if read is not None else []
            if others:
                held[t] = others
            elif overlaps:
                behind[t] = sorted({p for f in overlaps for p in f.files})
            elif first := {taken[f] for f in files if f in taken}:
                held[t] = first
            else:
                taken.update(dict.fromkeys(files, t))
        return held, behind

    def _moved_under(self, files: Sequence[str], task: str) -> str:
        """What a task's agent is told when the integration branch moved under its work: bring it
        in and resolve (the second tier). From the ``RESOLVE_AFTER``th time on (the third tier),
        with the full text of each task whose merge changed those files since it started: one
        resolution that does what both ask."""
        told = (
            f"Since your work was verified, {self.integration} changed {', '.join(files[:10])} where your branch "
            f"does, or next to it: make your change again on {self.integration} as it is now "
            f"(`git merge {self.integration}`, keep one version of each change), and finish again."
        )
        with self.p.store.read() as conn:
            before = sum(
                1 for e in Store.events_of_task(conn, task, (EventKind.MERGE_FAILED,)) if not e.payload.get("charged")
            )
        if before < RESOLVE_AFTER:
            return told
        others = {o for o, change in self._merged_since(task).items() if change.keys() & set(files)}
        if not others:
            return told
        with self.p.store.write() as conn:
            Store.emit(conn, EventKind.RESOLUTION_ASKED, task=task, others=sorted(others), files=list(files[:50]))
            texts = [Store.task(conn, o) for o in sorted(others)]
        parts = "\n\n".join(f"### Task {o.id}: {o.title}\n\n{o.body.rstrip()}" for o in texts)
        return (
            f"{told}\n\nThis is the {before + 1}th time: resolve it as one change that does what both tasks ask. "
            f"The work of {', '.join(sorted(others))} is merged: keep what it does, and make yours work with it. "
            f"What it was asked to do, in full:\n\n{parts}"
        )

    def _merged_since(self, task: str, batch: dict[str, str] | None = None) -> dict[str, dict[str, FileChange]]:
        """The tasks merged since ``task`` started (``batch``: those this batch merged before
        it, and their merges), each with what its merge brought into the integration branch: its
        work, nobody else's (read once: a merge does not change)."""
        with self.p.store.read() as conn:
            started = Store.first_base(conn, task)
            events = Store.read_events(conn, limit=100_000, kinds=(EventKind.TASK_MERGED,))
        merged = {e.task_id: str(e.payload.get("commit")) for e in events if e.task_id}
        merged.update(batch or {})
        out: dict[str, dict[str, FileChange]] = {}
        for other, commit in merged.items():
            if other == task or (started is not None and self.git.is_ancestor(commit, started)):
                continue  # merged before this task started: what it changes of it, it changes on purpose
            if other not in self._added:
                parent = self.git.first_parent(commit)
                self._added[other] = hunks.parse(self.git.diff_zero(parent, commit)) if parent else {}
            out[other] = self._added[other]
        return out

    def _merge_all(self, task_ids: Sequence[str], rows: dict[str, Any], onto: str, tips: dict[str, str]) -> _Outcome:
        git = self.git
        git.detach(self.worktree, onto)
        head = onto  # the worktree's, followed here: each `git rev-parse` is a process (four a task)
        out = _Outcome({}, {})
        for t in task_ids:
            if any(d in task_ids and d not in out.merged for d in rows[t].spec.depends_on):
                out.later.append(t)  # its dependency in this batch did not merge: it waits with it
                continue
            branch = branch_of(t)
            tip = tips.get(branch) or git.tip(branch)
            if git.is_ancestor(tip, onto):
                out.merged[t] = onto  # merged before an interruption
                continue
            conflicted = git.merge_tree(head, tip)
            if conflicted:
                # Checked when it was verified: the integration branch moved under it since.
                out.sent_back[t] = self._moved_under(conflicted, t)
                continue
            title = rows[t].title
            before = head
            result = git.merge(self.worktree, tip, f"czar: merge task {t}: {title}")
            if not result.ok:
                now = git.head(self.worktree)
                if now != before and git.is_ancestor(tip, now):
                    # Made, then its git ended badly (killed in the gc it runs after, say): the
                    # merge is there, and must count (it reaches the branch with the others).
                    result = MergeResult(True, result.output)
                elif result.stopped and self.stops[t] < STOPS:  # czar's own git was killed: not the work's fault
                    self.stops[t] += 1
                    # Only the merge thread works in this worktree: a lock there is the killed git's.
                    git.unlock_worktree(self.worktree)
                    git.detach(self.worktree, before)
                    out.refused[t] = "czar's git was stopped while it merged; it merges with the next batch"
                    continue
                else:
                    git.unlock_worktree(self.worktree)  # (a killed git's)
                    if now != before:
                        git.detach(self.worktree, before)  # nothing of a failed merge reaches the branch
            if result.ok:
                head = git.head(self.worktree)
                lost = self._lost(t, before, head, tip, out.merged)
                if lost:
                    git.detach(self.worktree, before)  # undone: nothing of it reaches the branch
                    head = before
                    out.problems[t] = evidence(lost, self.integration)
                    with self.p.store.write() as conn:
                        Store.emit(
                            conn,
                            EventKind.CHANGE_LOST,
                            task=t,
                            lines=[{"path": x.path, "text": x.text[:200], "owner": x.owner} for x in lost[:50]],
                            owners=sorted({x.owner for x in lost}),
                        )
                    continue
                out.merged[t] = head
            else:
                said = f"\n```\n{result.output[-TAIL:]}\n```\n"
                out.problems[t] = (
                    f"Merging {branch} into {self.integration}: git was killed {STOPS} times.{said}"
                    if result.stopped
                    else f"Merging {branch} into {self.integration} conflicted:{said}"
                    f"Merge {self.integration} into your branch, resolve the conflicts, and commit."
                )
        return out

    def as_verified(self, task_id: str, tips: dict[str, str]) -> bool:
        """Without review, a task merges at the commit its verification passed: an approved task
        whose branch moved since (a person's commit; ``tips``: the branches now) is verified again,
        no round used (found by a review: through the forge, its pull request showed the moved
        commit, which the forge was then asked to merge as the one verified, for ever); False then.
        Its verification brings back the commit its agent handed in (what moved it is kept)."""
        if self.p.plan.review.enabled:
            return True  # its reviewer's approval pins it (``Reviewing.as_approved``)
        verified = self._verified([task_id]).get(task_id)
        tip = tips.get(branch_of(task_id))
        if verified is None or tip is None or tip == verified:
            return True
        with self.p.store.write() as conn:
            if Store.task(conn, task_id).state is not TaskState.APPROVED:
                return True
            Store.move_task(
                conn,
                task_id,
                TaskState.SUBMITTED,
                expect=TaskState.APPROVED,
                reason=f"its branch is at {tip[:10]}, its verification passed {verified[:10]}: verified again"
                " (no round used)",
            )
        return False

    def _verified(self, task_ids: Sequence[str]) -> dict[str, str]:
        """Each task's commit its last verification passed (a store of an older czar's: none)."""
        with self.p.store.read() as conn:
            passed = {t: Store.events_of_task(conn, t, (EventKind.VERIFY_PASSED,)) for t in task_ids}
        found = {t: e[-1].payload.get("commit") for t, e in passed.items() if e}
        return {t: str(c) for t, c in found.items() if isinstance(c, str) and c}

    def _moved_since(self, pinned: dict[str, str], tips: dict[str, str]) -> None:
        """A person hears of a task branch moved since its commit was verified (or approved): what
        moved it is not merged."""
        moved = {t: tips[branch_of(t)] for t, c in pinned.items() if tips.get(branch_of(t)) not in (None, c)}
        if not moved:
            return
        with self.p.store.write() as conn:
            for t, tip in moved.items():
                said = (
                    f"{branch_of(t)} moved to {tip[:10]} after {pinned[t][:10]} was checked: czar merges "
                    f"{pinned[t][:10]}, and what moved it is not merged"
                )
                if not any(e.payload.get("message") == said for e in Store.events_of_task(conn, t, (EventKind.ALERT,))):
                    Store.alert(conn, "warning", said, task=t)  # once, however often it is in a batch

    def _approved(self, task_ids: Sequence[str]) -> dict[str, str]:
        """Each task's commit its reviewer approved."""
        with self.p.store.read() as conn:
            found = {t: Store.approved_commit(conn, t) for t in task_ids}
        return {t: c for t, c in found.items() if c is not None}

    def _lost(self, task: str, before: str, after: str, tip: str, batch: dict[str, str]) -> list[LostLine]:
        """What merging ``task`` (``before`` to ``after``, its branch at ``tip``) takes out of the
        integration branch that a task merged since it started put there, in no commit of its own
        (``czar.core.lost_lines``); ``batch``: the tasks this batch merged before it, and their
        merges."""
        merge = hunks.parse(self.git.diff_zero(before, after))
        if not any(meaningful(line) for change in merge.values() for line in change.removed_lines):
            return []  # it takes nothing out: nothing can be lost
        added_by = self._merged_since(task, batch)
        if not added_by:
            return []
        return lost_lines(merge, added_by, hunks.parse(self.git.own_changes(before, tip)))

    def _checked(self, fresh: Sequence[str], heads: Sequence[str], rows: dict[str, Any]) -> tuple[int, str | None]:
        """The project's checks on a batch merged in order (``heads[i]``: the merge of
        ``fresh[i]``, holding the ones before it too): how many of ``fresh`` keep their merge, and
        why the next one (which goes back to its agent) broke them, or None when none broke them.

        All of them pass, or the first that breaks them is found by bisection (at most
        ⌈log₂ k⌉ more runs, ``czar.core.bisection``); its failing run is then run once more before
        it is blamed: a flaky test that passes then costs the task nothing, and it keeps its merge."""
        count = len(fresh)
        rounds = rows[fresh[0]].rounds

        def name(n: int) -> str:
            return "+".join(fresh[:n])

        failure = self.check(heads[-1], name(count), rounds)
        if failure is None:
            self._passed(heads[-1])
            return count, None
        culprit = first_breaking(count, lambda n: self.check(heads[n - 1], name(n), rounds) is None)
        again = self.check(heads[culprit], name(culprit + 1), rows[fresh[culprit]].rounds)
        if again is None:
            with self.p.store.write() as conn:
                Store.emit(conn, EventKind.CHECKS_FLAKY, task=fresh[culprit], failure=failure[-TAIL:])
            return culprit + 1, None
        return culprit, again

    def _checks_wanted(self) -> bool:
        project = self.p.plan.project
        return bool(project.check_after_merge and project.accept)

    def _check(self, name: str, rounds: int) -> str | None:
        """The project's checks on the merge made: why they failed, or None."""
        return self.check(self.git.head(self.worktree), name, rounds)

    def _run_checks(self, head: str, name: str, rounds: int) -> str | None:
        project = self.p.plan.project
        log = self.p.paths.checks / name.split("+")[0] / f"merge-{rounds}{'-batch' if '+' in name else ''}.log"
        # In a clone of its own, never in czar's integration worktree: the merged code is the
        # agents', and czar runs git in that worktree after.
        for _ in range(KILLED_RUNS):  # a run killed by a signal czar did not send says nothing: run again
            with task_checkout.throwaway(self.p.git, self.p.paths.checks / ".integration-run", head) as folder:
                confine = self.p.confinement(folder, self.p.paths.checks / "integration-home")
                try:
                    failure = describe_failure(run_checks(project.accept, folder, project.accept_timeout, log, confine))
                except ChecksKilled as killed:
                    failure = f"a check was killed by a signal, {KILLED_RUNS} times: {killed}"
                    continue
            return failure or None
        return failure

    def _passed(self, head: str) -> None:
        """The project's checks passed on the batch's merge at once (not on a second run, which a
        flaky test may pass): kept, so that the run's last look at the integration branch need not
        run them again on the same files (``outcome.integration_check``)."""
        if not self.real_checks:
            return
        project = self.p.plan.project
        tree = self.p.git.tree(head)
        with self.p.store.write() as conn:
            Store.note_checks_passed(conn, tree, project.accept, project.accept_timeout, self.p.checks_setting)

    def _broke(self, failure: str) -> str:
        return f"After merging into {self.integration}, the project's checks failed:\n{failure}"


def discard_checkouts(project: Project, tasks: Sequence[str]) -> None:
    """The checkouts of ``tasks``, merged, go: after their merge is recorded, so that the tasks
    waiting for it start meanwhile (deleting a clone's files takes tens of milliseconds under a
    hundred agents). A clone of its own touches nothing of the repository, so removing it takes
    no lock that an assignment waits on; a worktree of an older czar is removed through git,
    under the exclusive lock (its metadata is the repository's). One left behind by a stop in
    between goes when the supervisor starts again (``discard_leftovers``)."""
    unread = _keep_unmerged(project, tasks)
    places = [project.paths.worktree(t) for t in tasks if t not in unread]
    worktrees = [p for p in places if p.exists() and not project.repo.has_checkout(p)]
    for place in places:
        if place not in worktrees:
            project.repo.discard_checkout(place)
    if worktrees:
        with project.git_lock.held():
            for place in worktrees:
                project.repo.discard_checkout(place)


def _keep_unmerged(project: Project, tasks: Sequence[str]) -> set[str]:
    """What a merged task's agent committed after its hand-in (told something while its work was
    under review, say) merged with nothing: kept, and said, before its checkout goes. The tasks
    whose checkout holds such a commit that could not be brought in: their checkouts stay (until
    the supervisor starts again), and a person hears where."""
    said: list[tuple[str, str, str | None]] = []
    for task in tasks:
        try:
            kept = project.repo.keep_unmerged(project.paths.worktree(task), branch_of(task))
            said += [(task, commit, ref) for commit, ref in kept]
        except CzarError as exc:
            log.warning("could not look for task %s's commits after its hand-in: %s", task, exc)
    if said:
        with project.store.write() as conn:
            for task, commit, ref in said:
                where = (
                    f"kept as {ref} (`git log {ref}`; a task of its own can take it)"
                    if ref is not None
                    else f"czar could not bring it in: its checkout {project.paths.worktree(task)} is left as it is "
                    "until the supervisor starts again"
                )
                Store.alert(
                    conn,
                    "warning",
                    f"task {task} merged without commit {commit[:10]}, which its agent made after it handed its work "
                    f"in: {where}",
                    task=task,
                )
    return {task for task, _, ref in said if ref is None}


def discard_leftovers(project: Project) -> None:
    """The checkouts of merged tasks that a stop left behind (between a merge's record and the
    removal of its checkouts), gone."""
    try:
        present = {c.name for c in project.paths.worktrees.iterdir()}
    except OSError:
        return  # no checkout made yet
    with project.store.read() as conn:
        merged = {t.id for t in Store.tasks_in(conn, (TaskState.MERGED,))}
    discard_checkouts(project, sorted(merged & present))
