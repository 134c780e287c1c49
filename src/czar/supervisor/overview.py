"""The read model: one picture of a run that every view shows (``czar status``, ``czar dash``,
``czar web``, ``czar report``).

It is read from the store (and, for branches, from git) and never decides anything: views show
it and act through ``czar.supervisor.people``, the same path as the CLI's commands.

``inbox`` is what needs a person: a permission an agent asks for, a question it waits on, a
failed task, an omnibus that waits to be landed by hand.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from czar.core import waits
from czar.core.events import EventKind
from czar.core.omnibus import OMNIBUS
from czar.core.states import TaskState, WorkerState
from czar.errors import CzarError
from czar.store.records import Costs, Task
from czar.store.store import Event, Store, Tx
from czar.supervisor import launcher, pull_view
from czar.supervisor.project import Project
from czar.supervisor.snapshot import PAUSED
from czar.vcs.git import Git
from czar.vcs.remote import positions, without_secrets

RECENT_ALERTS = 20
FETCH_SECONDS = 15.0  # a status waits this long for the remote at most


@dataclass(frozen=True)
class Spend:
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0

    @staticmethod
    def of(c: Costs) -> Spend:
        return Spend(round(c.cost_usd, 6), c.input_tokens, c.output_tokens)


@dataclass(frozen=True)
class WorkerRow:
    id: str
    agent: str
    role: str
    state: str
    task: str | None
    for_seconds: float | None  # in this state
    detail: str | None
    last_seen: float | None  # its host's last sign of life
    last_output: float | None  # its agent's last output
    checkpoint: int | None  # of its task
    checkpoints: int | None
    branch: str | None
    ahead: int | None  # its branch against the integration branch
    behind: int | None
    cost_usd: float
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class TaskRow:
    id: str
    title: str
    state: str
    worker: str | None
    rounds: int
    depends_on: list[str]
    checkpoint: int
    checkpoints: int
    blocked_on: str | None
    claims: list[str]
    last_note: str | None
    cost_usd: float
    input_tokens: int
    output_tokens: int
    pull: int | None  # its pull request's number
    updated_at: float


@dataclass(frozen=True)
class AlertRow:
    id: int
    time: float
    level: str | None
    message: str | None
    task: str | None
    worker: str | None


@dataclass(frozen=True)
class NeedsYou:
    """One thing only a person can settle, with the commands that settle it."""

    key: str  # stable while the need lasts: a view can tell a new one from one it showed
    kind: str  # permission | question | failed | omnibus
    text: str
    since: float
    task: str | None = None
    worker: str | None = None
    actions: tuple[str, ...] = ()  # allow, deny, answer, retry, cancel


@dataclass(frozen=True)
class Overview:
    project: str
    at: float
    last_event: int  # the newest event this picture includes
    supervisor: dict[str, Any]
    paused: bool
    integration_branch: str
    base_branch: str
    remote: dict[str, Any] | None
    forge: dict[str, Any]
    branches: list[dict[str, Any]]
    workers: list[WorkerRow]
    tasks: list[TaskRow]
    pulls: list[dict[str, Any]]
    cost: Spend
    worker_costs: dict[str, Spend]
    counts: dict[str, int]
    radar: list[dict[str, Any]]
    alerts: list[AlertRow]
    inbox: list[NeedsYou] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: what ``czar status --json`` prints."""
        return asdict(self)

    def task(self, task_id: str) -> TaskRow | None:
        return next((t for t in self.tasks if t.id == task_id), None)


def overview(project: Project, *, fetch: bool = False, git: bool = True) -> Overview:
    """The run as it is now. ``fetch``: ask the remote first (``czar status`` does; the live views
    do not, they show the remote as of the last fetch). ``git``: read the branches (ahead, behind)."""
    store = project.store
    now = time.time()
    remote = project.remote
    fetch_problem = remote.fetch(timeout=FETCH_SECONDS) if remote is not None and fetch else None
    branches = (
        positions(
            Git(project.plan.repo), project.plan.project.integration_branch, project.plan.project.base_branch, remote
        )
        if git
        else []
    )
    with store.read() as conn:
        last = Store.newest_event_id(conn) or 0
        tasks = Store.all_tasks(conn)
        workers = Store.all_workers(conn)
        claims = Store.all_claims(conn)
        findings = Store.radar_rows(conn)
        by_task = Store.costs_by_task(conn)
        by_worker = Store.costs_by_worker(conn)
        paused = bool(Store.get_meta(conn, PAUSED, False))
        alerts = _recent_alerts(conn, last)
        inbox = _inbox(conn, tasks, workers)
    pulls = pull_view.pull_list(project)
    pull_of = {p["task"]: p["number"] for p in pulls}
    if any(p["task"] == OMNIBUS and p["state"] in ("merged", "closed") for p in pulls):
        inbox = [n for n in inbox if n.kind != "omnibus"]  # a person landed or closed it
    by_branch = {str(b["branch"]): b for b in branches}
    task_of = {t.id: t for t in tasks}
    none = Costs()
    task_rows = [_task_row(t, claims.get(t.id, ()), by_task.get(t.id, none), pull_of.get(t.id)) for t in tasks]
    worker_rows = []
    for w in workers:
        held = task_of.get(w.task_id) if w.task_id else None
        branch = by_branch.get(f"czar/{held.id}") if held else None
        spent = by_worker.get(w.id, none)
        worker_rows.append(
            WorkerRow(
                id=w.id,
                agent=w.agent,
                role=w.role.value,
                state=w.state.value,
                task=w.task_id,
                for_seconds=round(now - w.state_since, 1) if w.state_since else None,
                detail=w.detail,
                last_seen=w.last_seen,
                last_output=w.last_output,
                checkpoint=held.checkpoint if held else None,
                checkpoints=len(held.spec.subtasks) if held else None,
                branch=str(branch["branch"]) if branch else None,
                ahead=_int(branch["ahead"]) if branch else None,
                behind=_int(branch["behind"]) if branch else None,
                cost_usd=round(spent.cost_usd, 6),
                input_tokens=spent.input_tokens,
                output_tokens=spent.output_tokens,
            )
        )
    run = Spend(
        round(sum(c.cost_usd for c in by_task.values()), 6),
        sum(c.input_tokens for c in by_task.values()),
        sum(c.output_tokens for c in by_task.values()),
    )
    pid = launcher.supervisor_pid(project)
    return Overview(
        project=project.name,
        at=now,
        last_event=last,
        supervisor={"running": pid is not None, "pid": pid},
        paused=paused,
        integration_branch=project.plan.project.integration_branch,
        base_branch=project.plan.project.base_branch,
        remote=None if remote is None else {"name": remote.name, "fetch_problem": fetch_problem},
        forge=forge_of(project),
        branches=branches,
        workers=worker_rows,
        tasks=task_rows,
        pulls=pulls,
        cost=run,
        worker_costs={k: Spend.of(c) for k, c in by_worker.items()},
        counts={s: sum(1 for t in tasks if t.state.value == s) for s in sorted({t.state.value for t in tasks})},
        radar=[
            {"kind": f.kind, "task": f.task_id, "other": f.other, "files": list(f.files), "since": f.since}
            for f in findings
        ],
        alerts=alerts,
        inbox=inbox,
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _task_row(t: Task, claims: tuple[str, ...], spent: Costs, pull: int | None) -> TaskRow:
    return TaskRow(
        id=t.id,
        title=t.title,
        state=t.state.value,
        worker=t.worker_id,
        rounds=t.rounds,
        depends_on=list(t.spec.depends_on),
        checkpoint=t.checkpoint,
        checkpoints=len(t.spec.subtasks),
        blocked_on=t.blocked_on,
        claims=list(claims),
        last_note=t.last_note,
        cost_usd=round(spent.cost_usd, 6),
        input_tokens=spent.input_tokens,
        output_tokens=spent.output_tokens,
        pull=pull,
        updated_at=t.updated_at,
    )


def _recent_alerts(conn: Tx, last: int) -> list[AlertRow]:
    # The newest alerts: read back from the end in windows, not the whole log from the start.
    found: list[Event] = []
    window = 5_000
    upper = last
    while upper > 0 and len(found) < RECENT_ALERTS:
        batch = Store.read_events(conn, after=max(0, upper - window), limit=window, kinds=(EventKind.ALERT,))
        found = [e for e in batch if e.id <= upper] + found
        upper -= window
    return [
        AlertRow(
            id=e.id,
            time=e.ts,
            level=e.payload.get("level"),
            message=e.payload.get("message"),
            task=e.task_id,
            worker=e.worker_id,
        )
        for e in found[-RECENT_ALERTS:]
    ]


def _inbox(conn: Tx, tasks: list[Task], workers: list[Any]) -> list[NeedsYou]:
    out: list[NeedsYou] = []
    for w in workers:
        if w.state is not WorkerState.WAITING_PERMISSION or w.task_id is None:
            continue
        asked: dict[str, Any] = {}
        try:
            asked = json.loads(w.detail or "{}")
        except ValueError:
            asked = {}
        what = f"{asked.get('tool', '')} {asked.get('target', '')}".strip() or (w.detail or "a permission")
        out.append(
            NeedsYou(
                key=f"permission:{w.id}:{asked.get('asked_at', w.state_since)}",
                kind="permission",
                text=f"{w.id} asks to use {what}",
                since=float(asked.get("asked_at") or w.state_since or 0.0),
                task=w.task_id,
                worker=w.id,
                actions=("allow", "deny"),
            )
        )
    for t in tasks:
        if t.blocked_on == waits.PERSON and t.worker_id is not None and t.state not in _OVER:
            asked_events = Store.events_of_task(conn, t.id, (EventKind.AGENT_QUESTION,))
            question = str(asked_events[-1].payload.get("question", "")) if asked_events else "(not recorded)"
            since = asked_events[-1].ts if asked_events else t.updated_at
            out.append(
                NeedsYou(
                    key=f"question:{t.id}:{since}",
                    kind="question",
                    text=f"{t.worker_id} asks: {question}",
                    since=since,
                    task=t.id,
                    worker=t.worker_id,
                    actions=("answer",),
                )
            )
        elif t.state is TaskState.FAILED:
            why = (t.note or "").splitlines()[:1]
            out.append(
                NeedsYou(
                    key=f"failed:{t.id}:{t.updated_at}",
                    kind="failed",
                    text=f"task {t.id} failed" + (f": {why[0][:200]}" if why else ""),
                    since=t.updated_at,
                    task=t.id,
                    actions=("retry", "cancel"),
                )
            )
    written = Store.read_events(conn, kinds=(EventKind.OMNIBUS_WRITTEN,), limit=100_000)
    landed = Store.read_events(conn, kinds=(EventKind.OMNIBUS_LANDED,), limit=100_000)
    if written and not any(e.payload.get("landed") for e in landed if e.id > written[-1].id):
        w = written[-1]
        out.append(
            NeedsYou(
                key=f"omnibus:{w.payload.get('number')}:{w.id}",
                kind="omnibus",
                text=f"the omnibus, pull request #{w.payload.get('number')}, waits to be landed"
                + ("" if w.payload.get("containment") else " (containment NOT proven)"),
                since=w.ts,
                task=OMNIBUS,
            )
        )
    return sorted(out, key=lambda n: n.since)


_OVER = frozenset({TaskState.MERGED, TaskState.FAILED, TaskState.CANCELLED})


def forge_of(project: Project) -> dict[str, Any]:
    """Where the pull requests live, as the plan says (the forge is not asked: no token needed)."""
    spec = project.plan.forge
    if spec.kind == "local":
        return {"kind": "local"}
    repository = spec.repository
    if repository is None and project.remote is not None:
        from czar.forge.github import repository_of

        try:
            found = repository_of(without_secrets(project.remote.url()), nested=spec.kind == "gitlab")
        except CzarError:
            found = None
        repository = str(found) if found is not None else None
    return {
        "kind": spec.kind,
        "repository": repository,
        "api_url": spec.api_url,
        "merge_via": spec.merge_via,
        "wait_for_ci": spec.wait_for_ci,
    }
