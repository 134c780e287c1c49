"""One task whole, as the web page shows it: its text, where it is, its history, its diff, its
reviews and its agent's transcript (read only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from czar.errors import CzarError
from czar.store.store import Event, Store
from czar.supervisor.outcome import describe
from czar.supervisor.project import Project
from czar.vcs.git import WHOLE, Git

DIFF_LIMIT = 200_000  # characters of a diff shown; a person reads the rest with git
TRANSCRIPT_LINES = 400


@dataclass(frozen=True)
class TaskDetail:
    id: str
    title: str
    body: str
    state: str
    worker: str | None
    rounds: int
    depends_on: list[str]
    scope: list[str]
    accept: list[str]
    note: str | None  # the evidence of its last failure
    pull: int | None
    history: list[tuple[float, str]]  # (time, what happened), oldest first
    diff: str  # what its branch changed, from where it started
    diff_cut: bool
    reviews: list[dict[str, Any]]
    transcript: list[str]  # the end of its last worker's transcript of it


def task_detail(project: Project, task_id: str) -> TaskDetail:
    with project.store.read() as conn:
        try:
            task = Store.task(conn, task_id)
        except CzarError:
            raise CzarError(f"no task {task_id!r} in project {project.name}") from None
        base = Store.first_base(conn, task_id)
        pull = Store.pull_of_task(conn, task_id)
        reviews = Store.reviews_of(conn, task_id)
        workers = Store.workers_by_task(conn).get(task_id, [])
    events = _events_of(project, task_id)
    git = Git(project.plan.repo)
    tip = pull.head_commit if pull is not None else git.tips().get(f"czar/{task_id}")
    diff = ""
    if base is not None and tip is not None:
        try:
            diff = git.out(*WHOLE, "diff", "--no-color", base, tip)
        except CzarError:
            diff = ""  # a commit gone (a branch deleted by hand, say): the rest of the page still says a lot
    last_worker = task.worker_id or (workers[-1] if workers else None)
    return TaskDetail(
        id=task.id,
        title=task.title,
        body=task.body,
        state=task.state.value,
        worker=task.worker_id,
        rounds=task.rounds,
        depends_on=list(task.spec.depends_on),
        scope=list(task.spec.scope),
        accept=list(task.spec.accept),
        note=task.note,
        pull=pull.id if pull is not None else None,
        history=[(e.ts, line) for e in events if (line := describe(e)) is not None],
        diff=diff[:DIFF_LIMIT],
        diff_cut=len(diff) > DIFF_LIMIT,
        reviews=[
            {
                "worker": r.worker_id,
                "agent": r.agent,
                "commit": r.commit,
                "state": r.state.value,
                "summary": r.summary,
                "findings": [
                    {"path": f.path, "line": f.line, "severity": f.severity, "failure": f.failure} for f in r.findings
                ],
            }
            for r in reviews
        ],
        transcript=_transcript(project, last_worker, task.id),
    )


def _events_of(project: Project, task_id: str) -> list[Event]:
    with project.store.read() as conn:
        return Store.all_events_of_task(conn, task_id)


def _transcript(project: Project, worker: str | None, task_id: str) -> list[str]:
    """What the worker's window said while at this task: its log holds every task the worker
    took, each begun by the host's ``== task ID (attempt id N)`` line and ended by its ``== task
    ended``; the others' are not this task's (found by a probe: a task's page showed the next
    task's start and the permission it asked)."""
    if worker is None:
        return []
    path = project.paths.logs / f"{worker}.log"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    ours, begun = [], False
    for line in text.splitlines():
        said = line.partition(" ")[2]  # (after the time: the host's own lines begin so)
        if said.startswith(("== task ", "== review ")):
            begun = said.startswith(f"== task {task_id} (attempt id ")
        if begun:
            ours.append(line)
    return ours[-TRANSCRIPT_LINES:]
