"""The conflict radar and the duplicate detector: what the branches in flight are about to do to
each other, and to the integration branch, computed again only for branches whose tip moved.

- a *duplicate*: two tasks change the same lines (or create the same file): one of them is doing
  the other's work. The later one is told to stand off and wait for the other to merge (for
  every task it overlaps: it goes on once all of them merged). It keeps its branch meanwhile:
  what it changed still holds later tasks back in turn.
- a *conflict*: ``git merge-tree`` says two branches (or a branch and the integration branch)
  would not merge cleanly, or they change lines next to each other (``hunks.NEAR``): git would
  merge those without a word, but each side was made blind to the other. A task whose lines the
  integration branch changed (or lines next to them) since it left it is told to merge it in now,
  and makes its change again before it merges; of two tasks that conflict with each other, the
  later one is held until the other merges.

"Later" is later in the order the plan hands tasks out (priority, critical path, plan order):
whatever the timing of the threads that start tasks, and whatever requeues happen, the same task
of two always waits for the other.
Tasks are watched until they are merged: one in the merge queue still holds the others back.
- *scope*: a branch changes files outside its task's scope and claims; its agent hears at once.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from czar.core import hunks
from czar.core.events import EventKind
from czar.core.findings import OVERLAPS, FindingKind
from czar.core.host_commands import MessageKind
from czar.core.scope import in_scope
from czar.core.states import AGENT_AT_WORK, HANDED_IN, UNMERGED
from czar.core.verification import Blocker
from czar.store.records import TaskAtWork
from czar.store.store import Store, Tx
from czar.supervisor.actions import Actions, branch_of, scope_message, stack_starts, stacked_base
from czar.supervisor.project import Project


@dataclass(frozen=True)
class RadarFinding:
    kind: FindingKind
    task: str  # the task that must act (the later one)
    other: str | None  # the other task; None for the integration branch (or for scope)
    files: tuple[str, ...]


@dataclass
class _Branch:
    task: str
    tip: str
    integration: str
    base: str
    changes: dict[str, hunks.FileChange]
    since_base: dict[str, hunks.FileChange]  # what the integration branch changed since ``base``
    over: tuple[tuple[str, ...], bool] | None = None  # stacked: where it started, and whether a dependency is unmerged
    read: bool = True  # False: git could not tell where it left the integration branch (nothing concluded)


class Radar:
    def __init__(self, project: Project, actions: Actions) -> None:
        self.p = project
        self.git = project.repo
        self.store = project.store
        self.actions = actions
        self.integration = project.plan.project.integration_branch
        self._lock = threading.Lock()
        self._branches: dict[str, _Branch] = {}
        # The last work seen on each task's branch while it is not merged: work that went (its
        # agent reset its branch to make it again) is expected back, and keeps its place. Kept
        # with its commit: the later tasks it overlaps may start from a newer integration branch,
        # where the same lines have other numbers, and only a merge of the two commits tells.
        self._footprints: dict[str, _Branch] = {}
        self._pairs: dict[tuple[str, str], list[str] | None] = {}  # (tip, tip) -> conflicted files
        self._last: frozenset[tuple[str, str]] = frozenset()  # (task, tip) last scanned, and integration
        self._integration_seen: str | None = None  # the integration tip the cache has caught up with
        # task -> its tip when last read, and where its branch started (``stack_starts``: a restack
        # counts once its agent brings it in, which moves the tip)
        self._starts: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._handed_in_seen: dict[str, tuple[int | None, str | None]] = {}  # task -> (attempt, tip) brought in

    # -- looking -----------------------------------------------------------------------------

    def _branch(
        self, task: str, tip: str, integration: str, over: tuple[tuple[str, ...], bool] | None = None
    ) -> _Branch:
        """``over``: a stacked task's starts (off the integration branch, newest first: see
        ``stack_starts``) and whether a dependency of it is still unmerged."""
        with self._lock:
            known = self._branches.get(task)
        if known is not None and known.tip == tip and known.integration == integration and known.over == over:
            return known
        # git runs outside the lock: the radar thread and verifications look at once.
        start = stacked_base(self.git, integration, tip, over[0]) if over is not None else None
        if start is not None and over is not None:
            # Stacked on dependencies' approved work: its own changes are those since it started;
            # the integration branch is compared once they are in it.
            base = start
            changes = hunks.parse(self.git.diff_zero(base, tip)) if base != tip else {}
            since = {} if over[1] else hunks.parse(self.git.diff_zero(base, integration))
        else:
            found = self.git.merge_base(integration, tip)
            if found is None:
                # Git could not tell now (seen once in a chaos run: the tip's objects on their way
                # in, or a repack): compared with the integration branch's tip, the files merged
                # since it left would count as its own changes (out of its scope, say). Nothing is
                # concluded from this look, and nothing kept; a verification reads it itself.
                return _Branch(task, tip, integration, tip, {}, {}, over, read=False)
            base = found
            changes = hunks.parse(self.git.diff_zero(base, tip)) if base != tip else {}
            since = hunks.parse(self.git.diff_zero(base, integration)) if base != integration else {}
        branch = _Branch(task, tip, integration, base, changes, since, over)
        with self._lock:
            self._branches[task] = branch
            if changes:
                self._footprints[task] = branch
        return branch

    def _catch_up(self, integration: str) -> None:
        """The integration branch moved on (merges on top of it): only branches that change a
        file the merges changed can have new findings against it; the others just take note,
        without git.

        Called by the radar's scans and by every look of a verification or a merge: a merge's
        look after the merge before it would otherwise run git again for every branch in flight
        (three commands each, three hundred at a hundred workers). Only merges on top of the tip
        the cache knows are caught up with: a look that read the tips before a merge another look
        has caught up with changes nothing, and after a reset (a person's) each branch is read
        again."""
        with self._lock:
            seen = self._integration_seen
        if seen == integration:
            return
        if seen is not None and self.git.is_ancestor(integration, seen):
            return  # an older tip: a look that read the tips before a merge (or a reset: read again)
        onto = seen is not None and self.git.is_ancestor(seen, integration)
        moved = set(self.git.files_between(seen, integration)) if onto and seen is not None else None
        with self._lock:
            if self._integration_seen != seen:
                return  # another look caught up meanwhile (its branches are read again if need be)
            self._integration_seen = integration
            if moved is None:
                return  # not merges on top of what the cache holds: each branch is read again
            for task, b in list(self._branches.items()):
                if b.integration == seen and b.over is None and not moved & b.changes.keys():
                    self._branches[task] = replace(b, integration=integration)

    def _conflicts(self, a: str, b: str) -> list[str] | None:
        key = (a, b) if a < b else (b, a)
        with self._lock:
            if key in self._pairs:
                return self._pairs[key]
        files = self.git.merge_tree(*key)
        with self._lock:
            self._pairs[key] = files
        return files

    def _look(
        self, *, harvest: bool = True
    ) -> tuple[dict[str, TaskAtWork], dict[str, tuple[str, ...]], dict[str, str], str | None]:
        """The tasks whose branches count now, their claims, every czar branch's tip, and the
        integration branch's tip. ``harvest``: with what agents committed since the last look
        brought in first (else the branches as the repository has them)."""
        with self.store.read() as conn:
            rows = Store.tasks_at_work(conn, UNMERGED)
            claims = Store.all_claims(conn)
        tips = self._harvest(rows) if harvest else self.git.tips()
        live = {r.id: r for r in rows if branch_of(r.id) in tips and not _being_corrected(r)}
        with self._lock:  # work that was not the task's own is not expected back
            self._footprints = {t: f for t, f in self._footprints.items() if t in live and not live[t].fresh}
        return live, claims, tips, tips.get(self.integration)

    def _harvest(self, rows: Sequence[TaskAtWork]) -> dict[str, str]:
        tips = self.git.tips()
        for r in rows:
            if not r.worktree:
                continue
            # What agents committed in their checkouts since the last look, brought in (see
            # czar.vcs.checkout); of a task handed in, the commit it handed in.
            branch = branch_of(r.id)
            if r.state in AGENT_AT_WORK:
                tip = self.git.harvest(Path(r.worktree), branch, tips.get(branch))
                if tip is not None:
                    tips[branch] = tip
            elif r.state in HANDED_IN and self._handed_in_seen.get(r.id) != (r.attempt_id, tips.get(branch)):
                # Handed in, its verification not started yet: what it handed in holds the tasks
                # after it back already (else one could merge first in the meantime). Once per
                # hand-in: the store is not asked again while it waits for its verification.
                if self.actions.bring_in_handed_in(r.id, tips):
                    tips[branch] = self.git.tip(branch)
                self._handed_in_seen[r.id] = (r.attempt_id, tips.get(branch))
        self._say_replaced()
        return tips

    def _say_replaced(self) -> None:
        """A person hears of a commit of theirs on a task branch that its agent's work replaced
        there (it is kept under a ref of its own: found by a probe, it was lost without a word)."""
        found = self.git.replaced()
        if not found:
            return
        with self.store.write() as conn:
            for branch, commit, ref in found:
                Store.alert(
                    conn,
                    "warning",
                    f"{branch} held {commit[:10]}, which its agent's work does not include (made outside its "
                    f"checkout: yours?): the agent's work replaced it there; it is kept as {ref}",
                    task=branch.removeprefix("czar/"),
                )

    def _stacked(self, live: dict[str, TaskAtWork], tips: dict[str, str]) -> dict[str, tuple[tuple[str, ...], bool]]:
        """Each task that started off the integration branch (``[project] stack``: on its
        dependencies' approved work): where it started, and whether a dependency is unmerged."""
        if not self.p.plan.project.stack:
            return {}
        stale = [
            t
            for t, row in live.items()
            if row.attempt_id is not None
            and row.spec.depends_on
            and self._starts.get(t, ("",))[0] != tips.get(branch_of(t))
        ]
        if stale:
            with self.store.read() as conn:
                for t in stale:
                    self._starts[t] = (tips.get(branch_of(t), ""), stack_starts(conn, t))
        out: dict[str, tuple[tuple[str, ...], bool]] = {}
        for t, row in live.items():
            if not row.spec.depends_on:
                continue
            # Prepared ahead, with no attempt yet: its branch holds nothing of its own.
            prepared = (tips[branch_of(t)],) if row.attempt_id is None and branch_of(t) in tips else ()
            starts = self._starts[t][1] if row.attempt_id is not None else prepared
            if starts:
                out[t] = (starts, any(d in live for d in row.spec.depends_on))
        return out

    def scan(self) -> list[RadarFinding] | None:
        """Every finding about the branches in flight now; None if no tip moved since last time."""
        live, claims, tips, integration = self._look()
        if integration is None:
            return None
        state = frozenset({(t, tips[branch_of(t)]) for t in live} | {(self.integration, integration)})
        if state == self._last:
            return None
        self._last = state
        self._catch_up(integration)
        over = self._stacked(live, tips)
        branches = {t: self._branch(t, tips[branch_of(t)], integration, over.get(t)) for t in live}
        with self._lock:
            for gone in set(self._branches) - set(live):
                del self._branches[gone]
        return self._findings(live, branches, claims)

    def findings_for(self, task: str) -> tuple[list[RadarFinding], tuple[bool, list[str]] | None]:
        """The findings that concern one task now, for its verification, which must not wait a
        round (the merge queue's look is ``before_merge``), and what was read of its branch:
        whether it has commits of its own, and the files it changed (None if it has no branch)."""
        # Only a look before a merge brings in the others' new commits: a verification must not
        # wait for fetches from every checkout (the radar's next round has them in a moment).
        live, claims, tips, integration = self._look(harvest=False)
        if integration is None or task not in live:
            return [], None
        self._catch_up(integration)
        over = self._stacked(live, tips)
        mine = self._branch(task, tips[branch_of(task)], integration, over.get(task))
        # The others as the radar last saw them: analysing every branch for each verification
        # would cost a hundred git commands at scale; the radar's next round catches the rest.
        with self._lock:
            others = {t: b for t, b in self._branches.items() if t in live and t != task}
        return self._for(task, live, {**others, task: mine}, claims)

    def before_merge(self, tasks: Sequence[str]) -> dict[str, tuple[list[RadarFinding], tuple[bool, list[str]] | None]]:
        """``findings_for`` each of ``tasks`` just before they merge: every branch as it is now,
        with what agents committed brought in (git only for branches whose tip moved). One look
        for the whole batch: each look reads the store and every agent's checkout."""
        live, claims, tips, integration = self._look(harvest=True)
        if integration is None:
            return {t: ([], None) for t in tasks}
        self._catch_up(integration)
        over = self._stacked(live, tips)
        branches = {t: self._branch(t, tips[branch_of(t)], integration, over.get(t)) for t in live}
        return {t: self._for(t, live, branches, claims) if t in live else ([], None) for t in tasks}

    def _for(
        self, task: str, live: dict[str, TaskAtWork], branches: dict[str, _Branch], claims: dict[str, tuple[str, ...]]
    ) -> tuple[list[RadarFinding], tuple[bool, list[str]] | None]:
        mine = branches[task]
        found = [f for f in self._findings(live, branches, claims, only=task) if f.task == task]
        return found, (mine.tip != mine.base, sorted(mine.changes)) if mine.read else None

    def _findings(
        self,
        live: dict[str, TaskAtWork],
        branches: dict[str, _Branch],
        claims: dict[str, tuple[str, ...]],
        only: str | None = None,
    ) -> list[RadarFinding]:
        """What the branches do to each other and to the integration branch (``only``: to and
        with that one task)."""
        out: list[RadarFinding] = []
        order = {t: seniority(r) for t, r in live.items()}
        busy = {t: b for t, b in branches.items() if b.changes}
        for t, b in busy.items():
            if only is not None and t != only:
                continue
            scope = live[t].spec.scope
            if scope:
                allowed = tuple(dict.fromkeys(scope + claims.get(t, ())))
                outside = tuple(p for p in b.changes if not in_scope(allowed, p))
                if outside:
                    out.append(RadarFinding(FindingKind.SCOPE, t, None, outside))
            # A textual conflict needs a file changed on both sides: without one, no merge-tree.
            both = b.changes.keys() & b.since_base.keys()
            conflicted = self._conflicts(b.integration, b.tip) if both else None
            if conflicted:
                out.append(RadarFinding(FindingKind.CONFLICT, t, None, tuple(conflicted)))
            elif near := hunks.overlap(b.changes, b.since_base, near=hunks.NEAR):
                out.append(RadarFinding(FindingKind.DUPLICATE, t, None, tuple(near)))
        # A task whose branch holds no work now but did (its agent makes it again) still comes
        # first for the later tasks whose work overlaps what it had.
        with self._lock:
            expected = {t: self._footprints[t] for t in live if t not in busy and t in self._footprints}
        seen = {**expected, **busy}
        names = sorted(seen, key=lambda t: order[t])
        for i, first in enumerate(names):
            for later in names[i + 1 :]:
                if only is not None and only not in (first, later):
                    continue
                if later not in busy:
                    continue
                a, b = seen[first], busy[later]
                stacked = first in live[later].spec.depends_on or later in live[first].spec.depends_on
                if not a.changes.keys() & b.changes.keys() or stacked:
                    continue  # (a dependency's work is what a stacked task builds on, not a rival)
                same = hunks.overlap(a.changes, b.changes)
                if same:
                    out.append(RadarFinding(FindingKind.DUPLICATE, later, first, tuple(same)))
                    continue
                conflicted = self._conflicts(a.tip, b.tip) or hunks.overlap(a.changes, b.changes, near=hunks.NEAR)
                if conflicted:
                    out.append(RadarFinding(FindingKind.CONFLICT, later, first, tuple(conflicted)))
        return out

    # -- acting ------------------------------------------------------------------------------

    def act(self, found: list[RadarFinding]) -> list[RadarFinding]:
        """Record what changed since the last scan and tell the agents concerned; returns the new findings."""
        now = self.p.clock.time()
        fresh: list[RadarFinding] = []
        with self.store.write() as conn:
            known = {(r.kind, r.task_id, r.other): r for r in Store.radar_rows(conn)}
            current = {(f.kind, f.task, f.other): f for f in found}
            for key, row in known.items():
                if key not in current:
                    Store.drop_radar_row(conn, row.id)
                    Store.emit(conn, EventKind.RADAR_CLEARED, task=row.task_id, finding=row.kind, other=row.other)
            for key, f in current.items():
                old = known.get(key)
                if old is not None and old.files == tuple(f.files):
                    continue
                if old is not None:
                    Store.drop_radar_row(conn, old.id)
                Store.add_radar_row(conn, f.kind.value, f.task, f.other, tuple(f.files), now)
                Store.emit(conn, f.kind.event, task=f.task, other=f.other, files=list(f.files))
                fresh.append(f)
                self._tell(conn, f)
        return fresh

    def _tell(self, conn: Tx, f: RadarFinding) -> None:
        task = Store.task(conn, f.task)
        if task.state not in AGENT_AT_WORK:
            return  # its agent has handed in; verification and the merge queue take it from here
        files = ", ".join(f.files[:10])
        if f.kind is FindingKind.SCOPE:
            self.actions.tell(
                conn, task, MessageKind.SCOPE, scope_message(task.spec.scope, list(f.files), self.integration)
            )
        elif f.kind is FindingKind.DUPLICATE and f.other is not None:
            other = Store.task(conn, f.other)
            if other.state not in UNMERGED:
                return  # merged (or failed) since the look: the next look sees it in the integration branch
            who = f"task {f.other}" + (f" (worker {other.worker_id})" if other.worker_id else "")
            text = (
                f"Stand off: your changes to {files} overlap those of {who}, which comes first. Stop working on "
                f"those lines and leave them to task {f.other}; keep your branch as it is (it shows czar which "
                "lines you need, so that tasks after yours wait for you in turn). You are told once it (and any "
                f"other task you stand off for) has merged: then bring its work in (`git merge {self.integration}`), "
                "keep its version of those lines, and build on it."
            )
            self.actions.wait_for(conn, task, {f.other})
            self.actions.tell(conn, task, MessageKind.STAND_OFF, text)
        elif f.other is None:
            text = (
                f"{self.integration} changed {files} since your branch started, in or next to the lines you change. "
                f"Merge it into your branch now (`git merge {self.integration}`), keep one version of each change, "
                "and commit."
            )
            self.actions.tell(conn, task, MessageKind.CONFLICT, text)
        else:
            text = (
                f"Your branch will conflict with task {f.other}'s in {files} (the same lines, or lines next to "
                f"each other). Task {f.other} merges first; you are told when it does, then bring it in "
                f"(`git merge {self.integration}`), resolve the conflict, and check that your change still fits."
            )
            self.actions.tell(conn, task, MessageKind.CONFLICT, text)


def _being_corrected(r: TaskAtWork) -> bool:
    """Its agent works on the wrong task, or is being restarted on the right one: what its branch
    holds now is about to be undone, and must not set the radar off against anyone."""
    if r.attempt_id is None:
        return False
    if r.named_task is not None:
        return r.named_task != r.id
    # czar superseded its agent (a correction resets the branch) and has not started the next yet.
    return 0 < r.launches <= r.stale_launch and r.state in AGENT_AT_WORK


def seniority(task: TaskAtWork) -> tuple[int, float, int, str]:
    """Who comes first of two tasks whose work overlaps: the one the plan hands out first (by
    priority, then the longest chain of work after it, then the plan's order; as ``decide``
    does). Not the one whose agent happened to start first: tasks assigned in one step start in
    whatever order their threads run, and a requeued task starts again later; the plan's order
    is the same whatever happens."""
    return (-task.spec.priority, -task.spec.rank, task.order, task.id)


def gate(found: list[RadarFinding]) -> Blocker | None:
    """What stops a handed-in task from verification: the message, the evidence, and the tasks
    it must wait for (every task it overlaps, or none)."""
    overlaps = [f for f in found if f.kind is FindingKind.DUPLICATE and f.other is not None]
    if overlaps:
        others = tuple(sorted({f.other for f in overlaps if f.other is not None}))
        files = ", ".join(sorted({p for f in overlaps for p in f.files})[:10])
        names = ", ".join(others)
        return Blocker(
            MessageKind.STAND_OFF,
            f"Your changes to {files} overlap those of task(s) {names}, which come first. Stand off: stop "
            "working on those lines and keep your branch as it is; you are told when all of them have merged, "
            "then bring their work in, keep their version of those lines, and build on it.",
            others,
        )
    for f in found:
        files = ", ".join(f.files[:10])
        if f.kind in OVERLAPS and f.other is None:
            return Blocker(
                MessageKind.CONFLICT,
                f"Your branch conflicts with the integration branch in {files}. Merge it into your branch, keep "
                "one version of each change, commit, and finish again.",
            )
    return None
