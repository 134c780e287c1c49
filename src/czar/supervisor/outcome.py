"""Following a run as it happens, and the numbers that sum it up."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from czar.core import hunks
from czar.core.events import EventKind
from czar.core.omnibus import OMNIBUS
from czar.core.review import ReviewState
from czar.core.shown import on_one_line
from czar.core.states import TaskState
from czar.errors import SupervisorError, SupervisorGone
from czar.store.store import Event, Store, Tx
from czar.supervisor.actions import stack_starts, stacked_base
from czar.supervisor.checks import ChecksKilled, run_checks
from czar.supervisor.launcher import supervisor_pid
from czar.supervisor.project import Project
from czar.vcs import checkout as task_checkout


@dataclass
class RunOutcome:
    tasks_total: int
    tasks_merged: int
    tasks_failed: int
    integration_tests_passed: bool | None
    interventions: int
    wall_seconds: float
    integration_branch: str
    failed_tasks: list[str]
    duplication: float  # share of the added lines that were work done twice (see czar.core.hunks)
    cost_usd: float  # what the agents' models cost, all attempts of all tasks
    prs_opened: int  # the tasks' pull requests
    omnibus: int | None  # the omnibus pull request's number, once written
    containment_ok: bool | None  # the omnibus's proof that nothing was left out (None: not written)
    reviews: int = 0  # reviews that gave a verdict
    changes_requested: int = 0  # ... of which requested changes

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def last_event_id(project: Project) -> int:
    return project.store.last_event_id()


def _finished(store: Store) -> bool:
    with store.read() as conn:
        return Store.all_finished(conn)


FOLLOW_SECONDS = 0.2  # the least time between two looks of a follower


class RunStalled(SupervisorError):
    """The run made no progress for a while (see ``czar.supervisor.stall``): following it longer
    would only hang. It says who waits for whom; the run itself goes on."""

    def __init__(self, seconds: int, diagnosis: list[str], why: str | None = None) -> None:
        self.diagnosis = diagnosis
        if why is not None:  # it cannot make any (``stall.cannot_go_on``): said first
            lines = "".join(f"\n  {line}" for line in diagnosis if line != why)
            super().__init__(f"the run cannot go on: {why}{lines}")
            return
        lines = "".join(f"\n  {line}" for line in diagnosis)
        super().__init__(f"the run has made no progress for {seconds} s:{lines}")


def follow(project: Project, after: int, on_event: Callable[[Event], None], timeout: float | None = None) -> int:
    """Report every new event until all tasks are merged, failed or cancelled.

    Raises ``SupervisorGone`` if the supervisor stops or dies while work remains, ``RunStalled``
    when the supervisor finds the run makes no progress.
    """
    store = project.store
    listener = store.listen(f"follow-{id(on_event)}-{time.monotonic_ns()}")
    deadline = None if timeout is None else time.monotonic() + timeout
    last_look = 0.0
    stopped = False  # the last supervisor's stop read (a person's `czar down`): no death then
    error: str | None = None  # what ended it, if an error did
    try:
        while True:
            moved = False
            for event in store.all_events_after(after):  # all: a thousand at a time lagged a second each
                on_event(event)
                after = event.id
                moved = moved or event.kind == EventKind.TASK_STATE
                if event.kind in (EventKind.SUPERVISOR_STARTED, EventKind.SUPERVISOR_STOPPED):
                    stopped = event.kind == EventKind.SUPERVISOR_STOPPED
                    error = str(event.payload["error"]) if stopped and event.payload.get("error") else None
                if event.kind == EventKind.RUN_STALLED:
                    p = event.payload
                    raise RunStalled(int(p.get("seconds", 0)), list(p.get("diagnosis", [])), p.get("why"))
            # Whether the run is over changes only with a task's state (the poll is the safety net).
            if moved or time.monotonic() - last_look > 5:
                last_look = time.monotonic()
                if _finished(store):
                    return after
            if supervisor_pid(project) is None:
                # Its last events (written before its lock went) tell a stop from a death.
                last = store.events_after(after, kinds=(EventKind.SUPERVISOR_STOPPED,))
                if last:
                    stopped, error = True, str(last[-1].payload["error"]) if last[-1].payload.get("error") else None
                if _finished(store):
                    return after
                raise SupervisorGone(project.plan.path, stopped=stopped, error=error)
            if deadline is not None and time.monotonic() > deadline:
                raise SupervisorError(f"the run did not finish within {timeout:g} s")
            listener.wait(1.0)
            # A follower is a view: it may lag a little, and must not cost the machine a wake-up
            # for every one of a hundred agents' events.
            time.sleep(FOLLOW_SECONDS)
    finally:
        listener.close()


def integration_check(project: Project) -> bool | None:
    """The plan's default acceptance commands on the integration branch as it is now: run, unless
    they passed on the very same files already (its last merge's check, in a clean checkout too:
    a project whose tests take minutes would wait for them twice)."""
    commands = project.plan.project.accept
    if not commands:
        return None
    timeout = project.plan.project.accept_timeout
    log = project.paths.checks / "integration-final.log"
    head = project.git.tip(project.plan.project.integration_branch)
    tree = project.git.tree(head)
    setting = project.checks_setting
    with project.store.read() as conn:
        known = Store.checks_passed(conn, tree, commands, timeout, setting)
    if known:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(
            f"{head}: these checks passed on the same files, the same way, after a merge of this run "
            "(the merges' logs are in the tasks' folders here); not run again\n",
            encoding="utf-8",
        )
        return True
    # In a clone of its own (see MergeQueue._check): the code is the agents'.
    results = []
    for _ in range(2):  # a run killed by a signal czar did not send says nothing: once more
        with task_checkout.throwaway(project.git, project.paths.checks / ".integration-final", head) as folder:
            confine = project.confinement(folder, project.paths.checks / "integration-home")
            try:
                results = run_checks(commands, folder, timeout, log, confine)
                break
            except ChecksKilled:
                results = []
    passed = bool(results) and all(r.ok for r in results)
    if passed:
        with project.store.write() as conn:
            Store.note_checks_passed(conn, tree, commands, timeout, setting)
    return passed


def contributions(project: Project) -> dict[str, dict[str, hunks.FileChange]]:
    """What each task added: a merged task's merge commit, an unmerged task's branch."""
    git, integration = project.git, project.plan.project.integration_branch
    merges: dict[str, str] = {}
    log = git.out("log", "--first-parent", "--merges", "--format=%H %s", "--end-of-options", integration)
    for line in log.splitlines():
        sha, _, subject = line.partition(" ")
        if subject.startswith("czar: merge task "):
            merges.setdefault(subject.removeprefix("czar: merge task ").split(":", 1)[0], sha)
    tips = git.tips()
    out: dict[str, dict[str, hunks.FileChange]] = {}
    for t in project.store.tasks():
        if t.id in merges:
            out[t.id] = hunks.parse(git.diff_zero(f"{merges[t.id]}^1", merges[t.id]))
        elif f"czar/{t.id}" in tips:
            tip = tips[f"czar/{t.id}"]
            base = git.merge_base(integration, tip)
            if base and base != tip:
                out[t.id] = hunks.parse(git.diff_zero(base, tip))
    return out


def work_pairs(project: Project) -> list[tuple[dict[str, hunks.FileChange], dict[str, hunks.FileChange]]]:
    """For each task with work: what its branch changed since it last left the integration branch,
    and what the integration branch gained since then (for ``hunks.duplication``). A merged task
    is read from its merge commit (its two parents), an unmerged one from its branch."""
    git, integration = project.git, project.plan.project.integration_branch
    log = git.out("log", "--first-parent", "--merges", "--format=%H %P%x09%s", "--end-of-options", integration)
    ends: list[tuple[str, str, str]] = []  # (the task, the integration branch then, its tip)
    merged: set[str] = set()
    for line in log.splitlines():
        shas, _, subject = line.partition("\t")
        _, *parents = shas.split()
        task = subject.removeprefix("czar: merge task ").split(":", 1)[0]
        if subject.startswith("czar: merge task ") and len(parents) == 2 and task not in merged:
            merged.add(task)
            ends.append((task, parents[0], parents[1]))
    tips = git.tips()
    now = tips.get(integration)
    for t in project.store.tasks():
        tip = tips.get(f"czar/{t.id}")
        if t.id not in merged and tip is not None and now is not None:
            ends.append((t.id, now, tip))
    with project.store.read() as conn:
        starts = {task: stack_starts(conn, task) for task, _, _ in ends} if project.plan.project.stack else {}
    out = []
    for task, ours, theirs in ends:
        # A stacked task started on its dependencies' approved work: that is not its own either.
        base = stacked_base(git, ours, theirs, starts.get(task, ())) or git.merge_base(ours, theirs)
        if base is None or base == theirs:
            continue
        meanwhile = hunks.parse(git.diff_zero(base, ours)) if base != ours else {}
        out.append((hunks.parse(git.diff_zero(base, theirs)), meanwhile))
    return out


def run_wall_seconds(conn: Tx) -> float:
    """From the run's first supervisor start to the last change of a task's state: the same for
    whoever asks, whenever (a follower that joined late included)."""
    span = Store.run_span(conn)
    return max(0.0, span[1] - span[0]) if span is not None else 0.0


def outcome(project: Project, integration_ok: bool | None) -> RunOutcome:
    """The numbers of the whole run, however much of it the caller followed."""
    tasks = project.store.tasks()
    share, _, _ = hunks.duplication(work_pairs(project))
    with project.store.read() as conn:
        cost = round(Store.spent(conn), 6)
        interventions = Store.count_events_by(conn, "person")
        wall_seconds = run_wall_seconds(conn)
        pulls = Store.all_pulls(conn)
        written = Store.read_events(conn, kinds=(EventKind.OMNIBUS_WRITTEN,))
        reviews = Store.review_counts(conn)
    return RunOutcome(
        tasks_total=len(tasks),
        tasks_merged=sum(1 for t in tasks if t.state is TaskState.MERGED),
        tasks_failed=sum(1 for t in tasks if t.state is TaskState.FAILED),
        integration_tests_passed=integration_ok,
        interventions=interventions,
        wall_seconds=round(wall_seconds, 2),
        integration_branch=project.plan.project.integration_branch,
        failed_tasks=[t.id for t in tasks if t.state is TaskState.FAILED],
        duplication=round(share, 4),
        cost_usd=cost,
        prs_opened=sum(1 for p in pulls if p.task_id != OMNIBUS),
        omnibus=written[-1].payload["number"] if written else None,
        containment_ok=bool(written[-1].payload["containment"]) if written else None,
        reviews=reviews.get(ReviewState.APPROVED, 0) + reviews.get(ReviewState.CHANGES_REQUESTED, 0),
        changes_requested=reviews.get(ReviewState.CHANGES_REQUESTED, 0),
    )


def describe(event: Event) -> str | None:
    """One line for a person following the run, or None for events too fine to show. One line
    whatever the agents' words in it hold: a line break in a summary would print a line of its own
    that reads as czar's ("12:00:00 task b: merging -> merged")."""
    line = _describe(event)
    return None if line is None else on_one_line(line)


def _describe(event: Event) -> str | None:
    p, task, worker = event.payload, event.task_id, event.worker_id
    k = event.kind
    if k == EventKind.TASK_STATE:
        new = p["new"]
        if new in ("ready", "merged", "failed", "approved"):
            return f"task {task}: {p['old']} -> {new} ({p['reason']})"
        return None
    if k == EventKind.TASK_ASSIGNED:
        # Its try of the task (found by a probe: "attempt 3" of a task's first try was the run's third).
        tried = f"try {p['tries']}" if "tries" in p else f"attempt {event.attempt_id}"
        return f"task {task} -> {worker} ({tried}, {p['prompt_chars']} chars delivered)"
    if k == EventKind.REVIEW_STARTED:
        commit = str(p.get("commit"))[:10]
        return f"task {task}: reviewer {worker} ({p.get('agent')}) reads {commit} (round {p.get('round')})"
    if k == EventKind.REVIEW_FINDING:
        return f"task {task}: {worker} finds {p.get('path')}:{p.get('line')} [{p.get('severity')}] {p.get('failure')}"
    if k == EventKind.REVIEW_VERDICT:
        said = {"approve": "approves", "request_changes": "requests changes"}.get(str(p.get("verdict")), "answers")
        return f"task {task}: {worker} {said}: {p.get('summary')}"
    if k in (EventKind.REVIEW_REFUSED, EventKind.REVIEW_LOST):
        what = "refused" if k == EventKind.REVIEW_REFUSED else "lost"
        return f"task {task}: review by {worker} {what}: {p.get('problem') or p.get('reason')}"
    if k == EventKind.AGENT_ACK and p.get("reviewing"):
        return None  # its review's start said it
    if k == EventKind.AGENT_ACK:
        if not p.get("confirmed"):
            return f"task {task}: {worker} named task {p.get('named')} instead!"
        return f"task {task}: {worker} acknowledged" + (
            " (the text differs from what was sent!)" if p.get("digest_ok") is False else ""
        )
    if k == EventKind.HEALTH_DETECTED:
        return f"task {task}: {worker} is unwell: {p.get('problem')} ({p.get('evidence')})"
    if k.startswith("health."):
        return f"task {task}: {worker}: {k.split('.', 1)[1]} ({p.get('problem')})"
    if k == EventKind.PERMISSION_DECIDED:
        what = f"{p.get('tool', '')} {p.get('target', '')}".strip() or "its request"
        reason, by = str(p.get("reason")), str(p.get("by"))
        said = reason if by == "person" and reason.endswith("by a person") else f"{reason}, by {by}"
        return f"task {task}: {worker} {p.get('decision')}: {what} ({said})"
    if k == EventKind.PERMISSION_ASKED:
        return f"task {task}: {worker} asks to use {p.get('tool')} {p.get('target')}: waiting for a person"
    if k == EventKind.WORKER_TOLD and p.get("about") not in ("feedback",):
        return f"task {task}: {worker} told ({p.get('about')}): {str(p.get('text', '')).splitlines()[0][:100]}"
    if k == EventKind.AGENT_PROGRESS:
        return f"task {task}: {worker} checkpoint {p.get('checkpoint')}: {p.get('text')}"
    if k == EventKind.AGENT_FINISHED:
        if isinstance(p.get("refused"), str):  # not handed in: the agent is told why, and goes on
            return f"task {task}: {worker} finished, not taken: {str(p['refused']).split(':')[0]}"
        return f"task {task}: {worker} finished: {p.get('summary')}"
    if k == EventKind.VERIFY_FAILED:
        first = str(p.get("evidence", "")).splitlines()[:1]
        return f"task {task}: verification failed (round {p.get('round')}): {first[0] if first else ''}"
    if k == EventKind.MERGE_FAILED:
        return f"task {task}: merge failed"
    if k == EventKind.ALERT:
        return f"ALERT [{p.get('level')}] {p.get('message')}"
    if k in (
        EventKind.SUPERVISOR_STARTED,
        EventKind.SUPERVISOR_STOPPED,
        EventKind.WORKER_SPAWNED,
        EventKind.AGENT_EXITED,
    ):
        return f"{k.replace('.', ' ')}" + (f" {worker}" if worker else "") + (f" (task {task})" if task else "")
    return None
