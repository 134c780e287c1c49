"""The read model: one picture of a run that every view shows (``czar status``, ``czar dash``,
``czar web``, ``czar report``).

It is read from the store (and, for branches, from git) and never decides anything: views show
it and act through ``czar.supervisor.people``, the same path as the CLI's commands.

``inbox`` is what needs a person: a permission an agent asks for, a question it waits on, a
failed task, an omnibus that waits to be landed by hand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar

from czar.core import waits
from czar.core.asked import Asked
from czar.core.events import EventKind
from czar.core.omnibus import OMNIBUS
from czar.core.states import TaskState, WorkerState
from czar.errors import CzarError
from czar.runtime.ancestry import process
from czar.store.records import Costs, Task, Worker
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
    state_since: float | None  # in this state since when (``as_dict`` adds for how long)
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
    kind: str  # permission | question | failed | closed (its pull request, by a person on the forge) | omnibus
    text: str
    since: float
    task: str | None = None
    worker: str | None = None
    actions: tuple[str, ...] = ()  # allow, deny, answer, retry, cancel
    pull: int | None = None  # the pull request it is about
    asked_at: float | None = None  # a permission: when it was asked (to answer that one, not a later one)


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
    # What changed since the picture before (``Feed``): "task:<id>", "worker:<id>", "pulls",
    # "alerts", "radar", "branches"; None: everything may have (a whole read).
    changed: frozenset[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able: what ``czar status --json`` prints."""
        out = asdict(self)
        del out["changed"]
        for w in out["workers"]:
            w["for_seconds"] = round(self.at - w["state_since"], 1) if w["state_since"] else None
        return out

    def task(self, task_id: str) -> TaskRow | None:
        return next((t for t in self.tasks if t.id == task_id), None)


def overview(project: Project, *, fetch: bool = False, git: bool = True) -> Overview:
    """The run as it is now, read whole. ``fetch``: ask the remote first (``czar status`` does; the
    live views do not, they show the remote as of the last fetch). ``git``: read the branches."""
    return Feed(project, git=git).look(fetch=fetch)


class Feed:
    """The read model, kept up to date for a view that looks again and again (the dashboard, the
    web page): a look reads the events since the last one and re-reads only the tasks and workers
    they name, the pull requests that changed, and the branches when work was committed, so a look
    at a hundred busy workers costs what changed, not the whole run. A whole read at least every
    ``WHOLE_SECONDS`` brings in what no event names (a worker's last sign of life, say).

    Each picture says what changed since the one before (``Overview.changed``)."""

    def __init__(
        self,
        project: Project,
        *,
        git: bool = True,
        whole_seconds: float | None = None,
        workers_seconds: float | None = None,
        every_branch: bool = True,
        branches_apart: bool = False,
    ) -> None:
        """``whole_seconds``: how often a look reads the whole run (default ``WHOLE_SECONDS``).
        ``workers_seconds``: how often, between those, it reads every worker again (their last
        sign of life, written with no event; default: only with the whole run).
        ``every_branch``: the positions of every czar branch, counted now (else only of the
        integration branch and of the tasks at work, which the live views show, a branch that did
        not move counted again at most every ``COUNTS_LAG_SECONDS``). ``branches_apart``: a look
        never runs git; it sets ``branches_due`` when a branch may have moved, another thread
        then calls ``read_branches``, and the next look shows what moved."""
        self.p = project
        self.git = git
        self.whole_seconds = WHOLE_SECONDS if whole_seconds is None else whole_seconds
        self.workers_seconds = self.whole_seconds if workers_seconds is None else workers_seconds
        self._workers_at = 0.0
        self.every_branch = every_branch
        self.branches_apart = branches_apart
        self.branches_due = threading.Event()
        self._branch_lock = threading.Lock()  # the branches read and what moved, between two threads
        self._moved: set[str] = set()  # branches that moved since the last look said so
        self._held: frozenset[str] | None = None  # the branches of the tasks at work (None: not read yet)
        self._recount_at: float | None = None  # when counts left lagging are due again (monotonic)
        self._last = -1  # the newest event read; -1: nothing read yet
        self._whole_at = 0.0
        self._branches_at = 0.0
        self._entry = 0  # the newest pull request history entry read
        self._pulls_since = 0.0
        self._tasks: dict[str, Task] = {}
        self._workers: dict[str, Worker] = {}
        self._claims: dict[str, tuple[str, ...]] = {}
        self._by_task: dict[str, Costs] = {}
        self._by_worker: dict[str, Costs] = {}
        self._pulls: dict[int, dict[str, Any]] = {}
        self._alerts: list[AlertRow] = []
        self._questions: dict[str, tuple[str, float]] = {}  # task -> its newest question, and when
        self._omnibus: Event | None = None  # written, and not landed since
        self._closed: dict[str, Event] = {}  # task -> a person's closing of its pull request on the forge
        self._radar: list[dict[str, Any]] = []
        self._branches: list[dict[str, Any]] = []
        self._paused = False
        # A look at three hundred tasks makes again only the rows of those that moved.
        self._made_tasks = _Made(_task_row)
        self._made_workers = _Made(_worker_row)

    def look(self, *, fetch: bool = False, whole: bool = False) -> Overview:
        remote = self.p.remote
        fetch_problem = remote.fetch(timeout=FETCH_SECONDS) if remote is not None and fetch else None
        changed: frozenset[str] | None = ALL
        if whole or self._last < 0 or time.monotonic() - self._whole_at >= self.whole_seconds:
            self._read_whole()
        else:
            changed = self._read_new()
            if changed is not None and time.monotonic() - self._workers_at >= self.workers_seconds:
                changed |= self._read_workers()
        return self._picture(fetch_problem, changed)

    # -- reading -----------------------------------------------------------------------------

    def _read_whole(self) -> None:
        started, wall = time.monotonic(), time.time()
        with self.p.store.read() as conn:
            self._last = Store.newest_event_id(conn) or 0
            self._tasks = {t.id: t for t in Store.all_tasks(conn)}
            self._workers = {w.id: w for w in Store.all_workers(conn)}
            self._claims = Store.all_claims(conn)
            self._by_task = Store.costs_by_task(conn)
            self._by_worker = Store.costs_by_worker(conn)
            self._paused = bool(Store.get_meta(conn, PAUSED, False))
            self._radar = _radar(conn)
            self._alerts = _recent_alerts(conn, self._last)
            self._questions = {}
            for t in self._tasks.values():
                if t.blocked_on == waits.PERSON:
                    asked = Store.events_of_task(conn, t.id, (EventKind.AGENT_QUESTION,))
                    if asked:
                        self._questions[t.id] = (str(asked[-1].payload.get("question", "")), asked[-1].ts)
            written = Store.read_events(conn, kinds=(EventKind.OMNIBUS_WRITTEN,), limit=100_000)
            landed = Store.read_events(conn, kinds=(EventKind.OMNIBUS_LANDED,), limit=100_000)
            self._omnibus = written[-1] if written else None
            if self._omnibus is not None and any(e.payload.get("landed") and e.id > written[-1].id for e in landed):
                self._omnibus = None
            touched, self._entry = Store.pull_changes(conn, 0, 0.0)
            self._pulls = _pull_summaries(conn, touched)
            self._closed = {}
            for e in Store.read_events(conn, kinds=(EventKind.FORGE_CLOSED, EventKind.FORGE_REOPENED), limit=100_000):
                self._note_closed(e)
        self._pulls_since = wall
        self._whole_at = self._workers_at = started
        self._note_held()
        self._read_branches(force=True)
        with self._branch_lock:
            self._moved.clear()  # this picture is whole

    def _read_new(self) -> frozenset[str] | None:
        started = time.time()
        with self.p.store.read() as conn:  # one snapshot: the events and the records they name
            events = Store.read_events(conn, after=self._last, limit=MOST_EVENTS)
            if len(events) < MOST_EVENTS:
                kinds = {e.kind for e in events}
                changed = self._read_named(conn, events, kinds)
                touched, self._entry = Store.pull_changes(conn, self._entry, self._pulls_since)
                self._pulls_since = started
                if touched:
                    self._pulls.update(_pull_summaries(conn, touched))
                    changed.add("pulls")
        if len(events) >= MOST_EVENTS:
            self._read_whole()  # so much happened that reading it all is cheaper
            return ALL
        for e in events:
            if e.kind == EventKind.ALERT:
                self._alerts = [*self._alerts, _alert_row(e)][-RECENT_ALERTS:]
                changed.add("alerts")
            elif e.kind == EventKind.AGENT_QUESTION and e.task_id:
                self._questions[e.task_id] = (str(e.payload.get("question", "")), e.ts)
            elif e.kind == EventKind.OMNIBUS_WRITTEN:
                self._omnibus = e
            elif e.kind == EventKind.OMNIBUS_LANDED and e.payload.get("landed"):
                self._omnibus = None
            elif e.kind in (EventKind.FORGE_CLOSED, EventKind.FORGE_REOPENED):
                self._note_closed(e)
        self._note_held()
        if kinds & BRANCH_KINDS:
            self._read_branches()
        self._recount_if_due()
        with self._branch_lock:
            moved, self._moved = self._moved, set()
        if moved:
            changed.add("branches")
            changed |= {f"worker:{w.id}" for w in self._workers.values() if w.task_id and f"czar/{w.task_id}" in moved}
        return frozenset(changed)

    def _read_named(self, conn: Tx, events: list[Event], kinds: set[str]) -> set[str]:
        """The tasks and workers ``events`` name, read again; what changed."""
        tasks_hit = {e.task_id for e in events if e.task_id}
        workers_hit = {e.worker_id for e in events if e.worker_id}
        # The workers that held those tasks, and the tasks those workers held: a task's move frees
        # its worker, and a worker's report moves its task's checkpoint.
        if any(e.kind == EventKind.TASK_STATE and e.payload.get("new") in _ENDED for e in events):
            # A task that ended leaves the waits of others with no event of theirs.
            tasks_hit |= {t.id for t in self._tasks.values() if t.blocked_on}
        workers_hit |= {t.worker_id for t in map(self._tasks.get, tasks_hit) if t is not None and t.worker_id}
        workers_hit |= {w.id for w in self._workers.values() if w.task_id in tasks_hit}
        tasks_hit |= {w.task_id for w in map(self._workers.get, workers_hit) if w is not None and w.task_id}
        changed: set[str] = set()
        if events:
            self._last = events[-1].id
            fresh = Store.tasks_named(conn, tasks_hit)
            self._tasks.update(fresh)
            workers_hit |= {t.worker_id for t in fresh.values() if t.worker_id}
            self._workers.update(Store.workers_named(conn, workers_hit))
            claims = Store.all_claims(conn, only=tasks_hit)
            self._claims.update({t: claims.get(t, ()) for t in tasks_hit})
            if EventKind.AGENT_USAGE in kinds:  # the one write of costs comes with one
                spent = {e.task_id for e in events if e.kind == EventKind.AGENT_USAGE and e.task_id}
                spenders = {e.worker_id for e in events if e.kind == EventKind.AGENT_USAGE and e.worker_id}
                self._by_task.update(Store.costs_by_task(conn, only=spent))
                self._by_worker.update(Store.costs_by_worker(conn, only=spenders))
            if kinds & {EventKind.PERSON_PAUSED, EventKind.PERSON_RESUMED}:
                self._paused = bool(Store.get_meta(conn, PAUSED, False))
            if any(k.startswith("radar.") for k in kinds):
                self._radar = _radar(conn)
                changed.add("radar")
            changed |= {f"task:{t}" for t in tasks_hit} | {f"worker:{w}" for w in workers_hit}
        return changed

    def _read_workers(self) -> frozenset[str]:
        """Every worker again: what changed with no event (its last sign of life)."""
        self._workers_at = time.monotonic()
        with self.p.store.read() as conn:
            workers = {w.id: w for w in Store.all_workers(conn)}
        moved = frozenset(f"worker:{k}" for k, w in workers.items() if self._workers.get(k) != w)
        self._workers = workers
        return moved

    def _note_closed(self, e: Event) -> None:
        if e.task_id is None:
            return
        if e.kind == EventKind.FORGE_CLOSED:
            self._closed[e.task_id] = e
        else:
            self._closed.pop(e.task_id, None)

    def _note_held(self) -> None:
        if not self.every_branch:
            self._held = frozenset(f"czar/{w.task_id}" for w in self._workers.values() if w.task_id)

    def _read_branches(self, force: bool = False) -> None:
        """Read the branches again, at most every ``BRANCH_SECONDS`` unless ``force`` (or, with
        ``branches_apart``, say that they are due)."""
        if not self.git:
            return
        if self.branches_apart:
            self.branches_due.set()
        elif force or time.monotonic() - self._branches_at >= BRANCH_SECONDS:
            self.read_branches()

    def read_branches(self) -> bool:
        """Read the branches' positions now; True if one moved (the next look says which)."""
        spec = self.p.plan.project
        only, lag = (None, 0.0) if self.every_branch else (self._held, COUNTS_LAG_SECONDS)
        found = positions(
            Git(self.p.plan.repo), spec.integration_branch, spec.base_branch, self.p.remote, only=only, lag=lag
        )
        with self._branch_lock:
            before = {str(b["branch"]): b for b in self._branches}
            moved = {str(b["branch"]) for b in found if before.get(str(b["branch"])) != b}
            self._branches = found
            self._branches_at = time.monotonic()
            self._moved |= moved
            self._recount_at = None  # counted now, but for what the merge below may leave lagging
            if lag and spec.integration_branch in moved:
                # The counts of the branches that did not move may lag this merge: counted
                # again when the lag is over, whether or not anything else happens by then.
                self._recount_at = time.monotonic() + lag
        return bool(moved)

    def recount_in(self) -> float | None:
        """Seconds until lagging counts are due to be counted again (None: none lag)."""
        with self._branch_lock:
            return None if self._recount_at is None else max(0.0, self._recount_at - time.monotonic())

    def _recount_if_due(self) -> None:
        wait = self.recount_in()
        if wait is not None and wait <= 0:
            self._read_branches(force=True)

    def has_news(self) -> bool:
        """True if branches read apart moved since the last look."""
        with self._branch_lock:
            return bool(self._moved)

    # -- the picture -------------------------------------------------------------------------

    def _worker_row(self, w: Worker, branches: dict[str, Any]) -> WorkerRow:
        held = self._tasks.get(w.task_id) if w.task_id else None
        branch = branches.get(f"czar/{held.id}") if held else None
        return self._made_workers.row(w.id, w, held, branch, self._by_worker.get(w.id, NO_COSTS))

    def _task_row(self, t: Task, pull: int | None) -> TaskRow:
        return self._made_tasks.row(t.id, t, self._claims.get(t.id, ()), self._by_task.get(t.id, NO_COSTS), pull)

    def _picture(self, fetch_problem: str | None, changed: frozenset[str] | None) -> Overview:
        now = time.time()
        project = self.p
        tasks = sorted(self._tasks.values(), key=lambda t: (t.order, t.id))
        pulls = [self._pulls[n] for n in sorted(self._pulls)]
        pull_of = {p["task"]: p["number"] for p in pulls}
        by_branch = {str(b["branch"]): b for b in self._branches}
        task_rows = [self._task_row(t, pull_of.get(t.id)) for t in tasks]
        worker_rows = [self._worker_row(w, by_branch) for w in sorted(self._workers.values(), key=lambda w: w.id)]
        inbox = _inbox(tasks, list(self._workers.values()), self._questions)
        # (Held only where it would merge: a task sent back to work meanwhile is not waiting on it.)
        inbox += [
            _closed_item(e) for t, e in self._closed.items() if t in self._tasks and self._tasks[t].state in _HELD
        ]
        omnibus_done = any(p["task"] == OMNIBUS and p["state"] in ("merged", "closed") for p in pulls)
        if self._omnibus is not None and not omnibus_done:  # else a person landed or closed it
            inbox.append(_omnibus_item(self._omnibus))
        counts: dict[str, int] = {}
        for t in tasks:
            counts[t.state.value] = counts.get(t.state.value, 0) + 1
        spent = self._by_task.values()
        remote = project.remote
        return Overview(
            project=project.name,
            at=now,
            last_event=self._last,
            supervisor=supervisor_of(project),
            paused=self._paused,
            integration_branch=project.plan.project.integration_branch,
            base_branch=project.plan.project.base_branch,
            remote=None if remote is None else {"name": remote.name, "fetch_problem": fetch_problem},
            forge=forge_of(project),
            branches=list(self._branches),
            workers=worker_rows,
            tasks=task_rows,
            pulls=pulls,
            cost=Spend(
                round(sum(c.cost_usd for c in spent), 6),
                sum(c.input_tokens for c in spent),
                sum(c.output_tokens for c in spent),
            ),
            # What each worker spent, of those that spent anything (a whole read also finds
            # attempts that cost nothing yet, which a look reads only when usage comes).
            worker_costs={k: Spend.of(c) for k, c in sorted(self._by_worker.items()) if c != NO_COSTS},
            counts=dict(sorted(counts.items())),
            radar=list(self._radar),
            alerts=list(self._alerts),
            inbox=sorted(inbox, key=lambda n: n.since),
            changed=changed,
        )


WHOLE_SECONDS = 5.0  # a live view reads the whole run at least this often
BRANCH_SECONDS = 1.0  # and its branches at most this often (a git process or more each time)
# A live view counts a branch that did not move against a moved integration branch at most this
# often: every merge moves the integration branch, and each count is a git process.
COUNTS_LAG_SECONDS = 10.0
MOST_EVENTS = 5_000  # more new events than this at once: the whole run is read instead
NO_COSTS = Costs()
_Row = TypeVar("_Row")
ALL = None  # what changed: everything may have (a whole read)
# Events after which a branch may have moved.
BRANCH_KINDS = frozenset(
    {
        EventKind.AGENT_COMMIT,
        EventKind.AGENT_FINISHED,
        EventKind.TASK_ASSIGNED,
        EventKind.TASK_MERGED,
        EventKind.TASK_RESTACKED,
        EventKind.REMOTE_PUSHED,
    }
)


class _Made(Generic[_Row]):
    """Rows as last made, each with what it was made from: made again only when that changed."""

    def __init__(self, make: Callable[..., _Row]) -> None:
        self._make = make
        self._made: dict[str, tuple[tuple[object, ...], _Row]] = {}

    def row(self, key: str, *made_from: object) -> _Row:
        made = self._made.get(key)
        if made is not None and made[0] == made_from:  # each part compared by identity first
            return made[1]
        row = self._make(*made_from)
        self._made[key] = (made_from, row)
        return row


def _pull_summaries(conn: Tx, numbers: set[int]) -> dict[int, dict[str, Any]]:
    entries = Store.all_pull_entries(conn, only=numbers)
    return {p.id: pull_view.summary(p, entries.get(p.id, [])) for p in Store.pulls_named(conn, numbers)}


def _radar(conn: Tx) -> list[dict[str, Any]]:
    return [
        {"kind": f.kind, "task": f.task_id, "other": f.other, "files": list(f.files), "since": f.since}
        for f in Store.radar_rows(conn)
    ]


def _worker_row(w: Worker, held: Task | None, branch: dict[str, Any] | None, spent: Costs) -> WorkerRow:
    return WorkerRow(
        id=w.id,
        agent=w.agent,
        role=w.role.value,
        state=w.state.value,
        task=w.task_id,
        state_since=w.state_since,
        # For people: a permission request's is kept as JSON (``Asked``), said here as words.
        detail=Asked.read(w.detail).said() or w.detail if w.state is WorkerState.WAITING_PERMISSION else w.detail,
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


def _alert_row(e: Event) -> AlertRow:
    return AlertRow(
        id=e.id,
        time=e.ts,
        level=e.payload.get("level"),
        message=e.payload.get("message"),
        task=e.task_id,
        worker=e.worker_id,
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
    return [_alert_row(e) for e in found[-RECENT_ALERTS:]]


def _inbox(tasks: list[Task], workers: list[Worker], questions: dict[str, tuple[str, float]]) -> list[NeedsYou]:
    out: list[NeedsYou] = []
    for w in workers:
        if w.state is not WorkerState.WAITING_PERMISSION or w.task_id is None:
            continue
        asked = Asked.read(w.detail)
        what = f"{asked.tool} {asked.target}".strip() or (w.detail or "a permission")
        since = asked.asked_at if asked.asked_at is not None else w.state_since
        out.append(
            NeedsYou(
                key=f"permission:{w.id}:{since}",
                kind="permission",
                text=f"{w.id} asks to use {what}",
                since=float(since or 0.0),
                task=w.task_id,
                worker=w.id,
                actions=("allow", "deny"),
                asked_at=asked.asked_at,
            )
        )
    for t in tasks:
        if t.blocked_on == waits.PERSON and t.worker_id is not None and t.state not in _OVER:
            question, since = questions.get(t.id, ("(not recorded)", t.updated_at))
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
    return out


def _closed_item(e: Event) -> NeedsYou:
    return NeedsYou(
        key=f"closed:{e.task_id}:{e.id}",
        kind="closed",
        text=f"task {e.task_id} waits: {e.payload.get('message') or 'its pull request was closed on the forge'}",
        since=e.ts,
        task=e.task_id,
        actions=("cancel",),
        pull=_int(e.payload.get("number")),
    )


def _omnibus_item(w: Event) -> NeedsYou:
    return NeedsYou(
        key=f"omnibus:{w.payload.get('number')}:{w.id}",
        kind="omnibus",
        text=f"the omnibus, pull request #{w.payload.get('number')}, waits to be landed"
        + ("" if w.payload.get("containment") else " (containment NOT proven)"),
        since=w.ts,
        task=OMNIBUS,
        pull=_int(w.payload.get("number")),
    )


_OVER = frozenset({TaskState.MERGED, TaskState.FAILED, TaskState.CANCELLED})
_HELD = frozenset({TaskState.APPROVED, TaskState.MERGING})  # where a pull request closed on the forge holds it
_ENDED = frozenset(s.value for s in _OVER)


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


def supervisor_of(project: Project) -> dict[str, Any]:
    """Whether the run's supervisor runs, its pid, and whether a signal stopped it. A view asks
    again when no event came for a while: a supervisor killed (``kill -9``) writes none."""
    pid = launcher.supervisor_pid(project)
    return {"running": pid is not None, "pid": pid if pid is not None and pid > 0 else None, "stopped": _stopped(pid)}


def _stopped(pid: int | None) -> bool:
    """Whether the supervisor is stopped by a signal (SIGSTOP, Ctrl-Z in its window, a debugger):
    it holds its lock, so it reads as running, but nothing moves until it is continued."""
    info = process(pid) if pid is not None and pid > 0 else None
    return info is not None and info.stopped
