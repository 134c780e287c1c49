"""What the store hands out: frozen records of its rows, each read from a row by ``from_row``.

Nothing outside ``czar.store`` sees a database row. A task's spec (its part of the plan) is
parsed here, once per distinct text, and never again by string key elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from functools import lru_cache
from typing import Any, ClassVar, TypeVar

from czar.core.forge import FileStat, Finding, PullState
from czar.core.review import ReviewState
from czar.core.states import AttemptOutcome, TaskState, WorkerRole, WorkerState
from czar.errors import StoreError
from czar.store.columns import columns


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """A task's part of the plan, as the store keeps it (it never changes once the task started)."""

    depends_on: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    scope: tuple[str, ...] = ()
    accept: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    priority: int = 0
    subtasks: tuple[str, ...] = ()
    agent: str = ""  # the agent kind the task asks for (every spec written names one)
    estimate: float | None = None
    rank: float = 1.0
    budget_usd: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def from_json(text: str) -> TaskSpec:
        return _parse_spec(text)

    @staticmethod
    def of(source: Any) -> TaskSpec:
        """The spec of a task of the plan (any object with these fields as attributes)."""
        return _spec({name: getattr(source, name) for name in _SPEC_FIELDS})


_SPEC_FIELDS = tuple(f.name for f in fields(TaskSpec))


def _spec(values: dict[str, Any]) -> TaskSpec:
    """A spec from its fields by name: lists become tuples; missing or null fields keep their
    defaults (a store written by an older czar lacks some)."""
    kept: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k in _SPEC_FIELDS and v is not None
    }
    return TaskSpec(**kept)


@lru_cache(maxsize=4096)
def _parse_spec(text: str) -> TaskSpec:
    return _spec(json.loads(text) if text else {})


def _known(kind: type[_E], value: str, what: str) -> _E:
    # A dict of the members, not ``kind(value)``: an enum's call is slow, and each step of the
    # supervisor reads the states of every task and worker.
    members = _MEMBERS.get(kind) or _MEMBERS.setdefault(kind, {m.value: m for m in kind})
    try:
        found: _E = members[value]
    except KeyError:
        raise StoreError(f"the store holds a {what} this czar does not know: {value!r} (a newer czar's?)") from None
    return found


_MEMBERS: dict[type, dict[str, Any]] = {}


def task_state(value: str) -> TaskState:
    """A task's state as the store keeps it (one this czar does not know: one line)."""
    return _known(TaskState, value, "task state")


def pull_state(value: str) -> PullState:
    """A pull request's state as the store keeps it (one this czar does not know: one line)."""
    return _known(PullState, value, "pull request state")


_E = TypeVar("_E", TaskState, WorkerState, WorkerRole, AttemptOutcome, PullState, ReviewState)
_R = TypeVar("_R")
_NAMES: dict[type, tuple[str, ...]] = {}


def recalled(make: Callable[[tuple[Any, ...]], _R], size: int) -> Callable[[Sequence[Any]], _R]:
    """``make`` (a record from a row's values), remembering the records it made by their values
    (the ``size`` last). The supervisor reads every task and worker several times a second,
    nearly all as they were: a record known by its values costs a lookup, not a making. Records
    are frozen, so one may be handed out again and again."""
    made = lru_cache(maxsize=size)(make)

    def recall(values: Sequence[Any]) -> _R:
        return made(tuple(values))

    return recall


def from_columns(cls: type[_R], row: Any, **converted: Any) -> _R:
    """A record of ``cls`` from a row whose columns bear the record's field names; ``converted``
    gives the fields read otherwise."""
    names = _NAMES.get(cls) or _NAMES.setdefault(cls, tuple(f.name for f in fields(cls)))  # type: ignore[arg-type]
    values = columns(row)
    return cls(**{n: converted[n] if n in converted else values[n] for n in names})


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    order: int  # position in the plan's topological order
    title: str
    body: str
    spec: TaskSpec
    state: TaskState
    worker_id: str | None
    attempt_id: int | None
    rounds: int  # verifications, broken merges and abandoned attempts used (see ``core.rounds``)
    note: str | None  # evidence of the last failure, carried into the next prompt
    merge_from: str | None  # the integration tip before the merge in progress, to undo it
    checkpoint: int
    last_note: str | None  # the agent's last report, for the board
    blocked_on: str | None  # what it waits for (``core.waits``)
    confusions: int  # times its agent named another task
    fresh: bool  # its branch starts again from scratch
    created_at: float
    updated_at: float
    approved_window: int | None  # the merge window it was approved in (``Store.merge_window``)

    @staticmethod
    def from_row(row: Any) -> Task:
        return from_columns(
            Task,
            row,
            order=row.ord,
            spec=TaskSpec.from_json(row.spec),
            state=task_state(row.state),
            fresh=bool(row.fresh),
        )


@dataclass(frozen=True, slots=True)
class TaskBrief:
    """A task without its text and history: what the supervisor's decisions and health rounds
    read of every task, several times a second (a whole ``Task`` costs four times as much)."""

    id: str
    order: int
    state: TaskState
    spec: TaskSpec
    worker_id: str | None
    blocked_on: str | None
    approved_window: int | None

    COLUMNS: ClassVar[tuple[str, ...]] = ("id", "ord", "state", "spec", "worker_id", "blocked_on", "approved_window")

    @staticmethod
    def from_values(values: Sequence[Any]) -> TaskBrief:
        """From the values of ``COLUMNS``, in that order."""
        id_, order, state, spec, worker_id, blocked_on, approved_window = values
        return TaskBrief(
            id_,
            order,
            task_state(state),
            TaskSpec.from_json(spec),
            worker_id,
            blocked_on,
            approved_window,
        )


@dataclass(frozen=True, slots=True)
class Worker:
    id: str
    agent: str
    state: WorkerState
    task_id: str | None
    pid: int | None  # the worker host's process
    agent_pid: int | None  # the agent's process group, while one runs
    last_seen: float | None
    updated_at: float
    token: str | None  # the digest of the secret its agent's tools prove who they are with
    state_since: float | None
    last_output: float | None
    last_progress: float | None
    wait_until: float | None
    detail: str | None
    repeats: int
    role: WorkerRole

    @staticmethod
    def from_row(row: Any) -> Worker:
        return from_columns(
            Worker,
            row,
            state=_known(WorkerState, row.state, "worker state"),
            role=_known(WorkerRole, row.role, "worker role"),
        )


@dataclass(frozen=True, slots=True)
class WorkerBrief:
    """A worker as the supervisor's decisions read it at every step (see ``TaskBrief``)."""

    id: str
    agent: str
    state: WorkerState
    task_id: str | None
    role: WorkerRole

    COLUMNS: ClassVar[tuple[str, ...]] = ("id", "agent", "state", "task_id", "role")

    @staticmethod
    def from_values(values: Sequence[Any]) -> WorkerBrief:
        """From the values of ``COLUMNS``, in that order."""
        id_, agent, state, task_id, role = values
        return WorkerBrief(
            id_, agent, _known(WorkerState, state, "worker state"), task_id, _known(WorkerRole, role, "worker role")
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """One delivery of a task to a worker. Its prompt, the largest column, is read on its own
    (``Store.prompt``)."""

    id: int
    task_id: str
    worker_id: str
    branch: str
    worktree: str
    base_commit: str
    prompt_sha256: str
    outcome: AttemptOutcome
    started_at: float
    acked_at: float | None
    finished_at: float | None
    agent_exited_at: float | None
    summary: str | None
    session_id: str | None
    launches: int
    nudges: int
    restarts: int
    named_task: str | None
    goal: str | None
    healed_at: float | None
    stale_launch: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float

    @staticmethod
    def from_row(row: Any) -> Attempt:
        return from_columns(Attempt, row, outcome=_known(AttemptOutcome, row.outcome, "attempt outcome"))


@dataclass(frozen=True, slots=True)
class HeldTask:
    """A task held by a worker, as the health round reads it (several times a second, of every
    worker): without its text."""

    id: str
    state: TaskState
    spec: TaskSpec
    checkpoint: int
    confusions: int  # times its agent named another task
    blocked_on: str | None  # what it waits for (``core.waits``)

    COLUMNS: ClassVar[tuple[str, ...]] = ("id", "state", "spec", "checkpoint", "confusions", "blocked_on")

    @staticmethod
    def from_values(values: Sequence[Any]) -> HeldTask:
        """From the values of ``COLUMNS``, in that order."""
        id_, state, spec, checkpoint, confusions, blocked_on = values
        return HeldTask(id_, task_state(state), TaskSpec.from_json(spec), checkpoint, confusions, blocked_on)


@dataclass(frozen=True, slots=True)
class Station:
    """A worker with the task it holds and that task's attempt (either may be missing)."""

    worker: Worker
    task: HeldTask | None
    attempt: Attempt | None


@dataclass(frozen=True, slots=True)
class TaskAtWork:
    """An unmerged task as the conflict radar reads it at every look (a hundred at a time, several
    times a second): what it needs of the task and of its current attempt, without their text and
    history (whole records cost three times as much)."""

    id: str
    order: int
    state: TaskState
    spec: TaskSpec
    fresh: bool  # its branch starts again from scratch
    attempt_id: int | None  # its current attempt; the fields below are that attempt's (None: no attempt)
    worktree: str | None
    named_task: str | None  # the task its agent said it works on
    launches: int
    stale_launch: int  # czar superseded its agent's launches up to this one (a correction)

    TASK_COLUMNS: ClassVar[tuple[str, ...]] = ("id", "ord", "state", "spec", "fresh", "attempt_id")
    ATTEMPT_COLUMNS: ClassVar[tuple[str, ...]] = ("worktree", "named_task", "launches", "stale_launch")

    @staticmethod
    def from_values(values: Sequence[Any]) -> TaskAtWork:
        """From the values of ``TASK_COLUMNS`` then ``ATTEMPT_COLUMNS``, in that order (the
        attempt's None for a task without one: an outer join)."""
        id_, order, state, spec, fresh, attempt_id, worktree, named_task, launches, stale_launch = values
        return TaskAtWork(
            id_,
            order,
            task_state(state),
            TaskSpec.from_json(spec),
            bool(fresh),
            attempt_id,
            worktree,
            named_task,
            launches or 0,
            stale_launch or 0,
        )


@dataclass(frozen=True, slots=True)
class RadarRow:
    """What the conflict radar sees now between a task and another (or the integration branch)."""

    id: int
    kind: str
    task_id: str
    other: str | None
    files: tuple[str, ...]
    since: float


@dataclass(frozen=True, slots=True)
class Costs:
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Pull:
    """A task's pull request in the local forge."""

    id: int  # its number
    task_id: str
    head_branch: str
    base_branch: str
    head_commit: str
    title: str
    body: str
    state: PullState
    files: tuple[FileStat, ...]
    rounds: int
    cost_usd: float
    merged_as: str | None
    created_at: float
    updated_at: float
    remote_number: int | None  # on a remote forge: its number there
    url: str | None  # where a person sees it there
    synced: str | None  # a digest of what czar last sent the remote forge

    @staticmethod
    def from_row(row: Any) -> Pull:
        files = tuple(FileStat(str(p), int(a), int(r)) for p, a, r in json.loads(row.files))
        return from_columns(Pull, row, state=pull_state(row.state), files=files)


@dataclass(frozen=True, slots=True)
class PullEntry:
    """One thing that happened to a pull request: opened, updated, checks, review, merged, closed."""

    id: int
    pull_id: int
    ts: float
    kind: str
    commit: str | None
    detail: dict[str, Any]

    @staticmethod
    def from_row(row: Any) -> PullEntry:
        return from_columns(PullEntry, row, detail=json.loads(row.detail))


@dataclass(frozen=True, slots=True)
class Review:
    """One review of a task's commit (``czar.core.review``)."""

    id: int
    task_id: str
    worker_id: str
    attempt_id: int
    agent: str
    commit: str
    state: ReviewState
    summary: str | None
    findings: tuple[Finding, ...]
    reason: str | None
    posted: bool
    applied: bool
    started_at: float
    finished_at: float | None

    @staticmethod
    def from_row(row: Any) -> Review:
        findings = tuple(Finding(**f) for f in json.loads(row.findings))
        return from_columns(
            Review,
            row,
            state=_known(ReviewState, row.state, "review state"),
            findings=findings,
            posted=bool(row.posted),
            applied=bool(row.applied),
        )


def checks_at(entries: list[PullEntry], commit: str) -> list[dict[str, Any]]:
    """The runs of the last checks recorded in a pull request's history for ``commit``."""
    found = [e for e in entries if e.kind == "checks" and e.commit == commit]
    return list(found[-1].detail["runs"]) if found else []
