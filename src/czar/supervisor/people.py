"""What a person can do to a run: answer a worker's permission request, tell it something
(an answer to its question, a hint), retry or cancel a task, pause and resume the run.

The CLI, the dashboard and the web page all act through these functions. Each is a human
intervention: its events carry ``actor="person"``, which the run's outcome and report count.
"""

from __future__ import annotations

import os

from czar.agent_tools.identity import AgentCaller, agent_trace
from czar.agent_tools.service import PERSON
from czar.core.asked import Asked
from czar.core.events import EventKind
from czar.core.host_commands import Answer, MessageKind, Tell
from czar.core.states import TERMINAL_TASK_STATES, AttemptOutcome, TaskState, WorkerState
from czar.errors import StoreError, SupervisorError
from czar.paths import czar_home
from czar.runtime.ancestry import ancestry
from czar.store.records import Task
from czar.store.store import Store, Tx
from czar.supervisor.actions import Actions
from czar.supervisor.lock import holder_pid
from czar.supervisor.project import Project, RunAt
from czar.supervisor.snapshot import PAUSED


def require_person(project: Project | RunAt, command: str) -> None:
    """Refuse ``command`` (allow, deny, tell, down, up, run) when an agent runs it: it acts for a
    person, and an agent must not approve its own or another worker's request, or stop the run."""
    hosts: set[int] = set()
    agents: set[int] = set()
    try:
        # (No store yet: none is made here, for a command that may yet be refused; found by a
        # probe, a refused `czar up` left a project `czar projects` then listed.)
        known = project.store.workers() if project.paths.db.exists() else []
    except StoreError:
        known = []  # a broken store must not stop `czar down`; the environment and ancestry still tell
    for w in known:
        hosts |= {w.pid} if w.pid else set()
        agents |= {w.agent_pid} if w.agent_pid else set()
    why = agent_trace(os.environ, ancestry(), agents=agents, hosts=hosts, data=czar_home())
    if why is not None:
        raise AgentCaller(f"`czar {command}` acts for a person; it refuses to run inside an agent ({why})")


def _busy_worker(conn: Tx, project: Project, worker_id: str) -> tuple[str, int]:
    try:
        row = Store.worker(conn, worker_id)
    except StoreError:
        raise SupervisorError(f"no worker {worker_id!r} in project {project.name}") from None
    if row.task_id is None:
        raise SupervisorError(f"worker {worker_id} has no task now")
    task = Store.task(conn, row.task_id)
    if task.attempt_id is None:
        raise SupervisorError(f"task {task.id} of worker {worker_id} is {task.state}; nobody works on it")
    return task.id, task.attempt_id


def answer_permission(
    project: Project, worker_id: str, allow: bool, reason: str = "", asked_at: float | None = None
) -> str:
    """``asked_at``: the request the person saw (``NeedsYou.asked_at``); if the worker asks for
    something else by now, nothing is answered (a page shown a while ago must not approve it)."""
    with project.store.write() as conn:
        task, attempt = _busy_worker(conn, project, worker_id)
        worker = Store.worker(conn, worker_id)
        if worker.state != WorkerState.WAITING_PERMISSION.value:
            raise SupervisorError(f"worker {worker_id} is not waiting for a permission")
        asked = Asked.read(worker.detail)
        if asked_at is not None and asked.asked_at != asked_at:
            raise SupervisorError(f"worker {worker_id} asks for something else now; look at it again")
        why = reason or ("allowed by a person" if allow else "denied by a person")
        Store.post(conn, worker_id, Answer(attempt, allow, why))
        # Back to work, or to waiting if the agent waits for a task or a person besides.
        Store.after_answer(conn, worker_id, Store.task(conn, task).blocked_on)
        Store.emit(
            conn,
            EventKind.PERMISSION_DECIDED,
            actor="person",
            task=task,
            worker=worker_id,
            attempt=attempt,
            decision="allow" if allow else "deny",
            reason=why,
            by="person",
            **asked.answered(),  # what was asked, as the policy's decisions say it
        )
    return f"{'allowed' if allow else 'denied'}; worker {worker_id} goes on with task {task}"


def tell(project: Project, worker_id: str, text: str, for_task: str | None = None) -> str:
    """``for_task``: the task the person wrote for (a question it asked, the row they pointed at);
    if the worker holds another by now, nothing is sent (an answer typed while the page stood
    still must not reach the next task's agent)."""
    with project.store.write() as conn:
        task, attempt = _busy_worker(conn, project, worker_id)
        if for_task is not None and task != for_task:
            raise SupervisorError(
                f"worker {worker_id} works on task {task} now, not {for_task}: your words were not sent"
            )
        Store.post(conn, worker_id, Tell(attempt, MessageKind.PERSON, text))
        if Store.task(conn, task).blocked_on == PERSON:
            # The person answered what the agent waited for (a permission request it made since
            # waits on for its own answer).
            Store.set_waits(conn, task, None)
            if Store.worker(conn, worker_id).state != WorkerState.WAITING_PERMISSION.value:
                Store.set_worker(conn, worker_id, state=WorkerState.WORKING, detail=None)
        Store.emit(conn, EventKind.PERSON_TOLD, actor="person", task=task, worker=worker_id, attempt=attempt, text=text)
    return f"sent to worker {worker_id} (task {task})"


def _task(conn: Tx, project: Project, task_id: str) -> Task:
    try:
        return Store.task(conn, task_id)
    except StoreError:
        raise SupervisorError(f"no task {task_id!r} in project {project.name}") from None


def retry(project: Project, task_id: str) -> str:
    """A failed task goes again, with its rounds counted from zero; tasks that failed only because
    it did wait for it again."""
    with project.store.write() as conn:
        task = _task(conn, project, task_id)
        if task.state is not TaskState.FAILED:
            raise SupervisorError(f"task {task_id} is {task.state}; only a failed task can be retried")
        # One that failed with a dependency would fail again at once, the dependency failed still.
        ended = {d: Store.task(conn, d).state for d in task.spec.depends_on}
        failed = [d for d, s in ended.items() if s is TaskState.FAILED]
        if failed:
            raise SupervisorError(
                f"task {task_id} waits for {', '.join(failed)}, which failed: `czar retry {failed[0]}` "
                f"(task {task_id} goes again with it)"
            )
        cancelled = [d for d, s in ended.items() if s is TaskState.CANCELLED]
        if cancelled:
            raise SupervisorError(
                f"task {task_id} waits for {', '.join(cancelled)}, which was cancelled: it cannot run; take that "
                "dependency out of the plan first"
            )
        again = [task_id, *_blocked_by(conn, task_id)]
        for t in again:
            row = Store.task(conn, t)
            deps = [Store.task(conn, d).state for d in row.spec.depends_on]
            ready = all(d is TaskState.MERGED for d in deps)
            Store.move_task(
                conn,
                t,
                TaskState.READY if ready else TaskState.PENDING,
                actor="person",
                expect=TaskState.FAILED,
                reason="retried by a person" if t == task_id else f"dependency {task_id} retried by a person",
                rounds=0,
                attempt_id=None,  # its failed attempt stays failed: the next assignment makes a new one
            )
        Store.emit(conn, EventKind.PERSON_RETRIED, actor="person", task=task_id, tasks=again)
    more = f" (and {', '.join(again[1:])}, which waited for it)" if len(again) > 1 else ""
    return f"task {task_id} goes again{more}"


def _blocked_by(conn: Tx, failed: str) -> list[str]:
    """The tasks that failed because ``failed`` did (directly or down the line), never started."""
    found: list[str] = []
    frontier = [failed]
    while frontier:
        dep = frontier.pop()
        for t in Store.all_tasks(conn):
            if t.state is TaskState.FAILED and dep in t.spec.depends_on and t.id not in found and t.attempt_id is None:
                found.append(t.id)
                frontier.append(t.id)
    return found


def cancel(project: Project, task_id: str, reason: str = "", was: TaskState | None = None) -> str:
    """Withdraw a task: its agent or reviewer is stopped, its claims released; tasks that depend on
    it fail (the supervisor blocks them), tasks that waited for it are told. ``was``: the state
    the person saw (a failed task they give up on); in another by now (someone retried it),
    nothing is cancelled."""
    why = reason or "cancelled by a person"
    with project.store.write() as conn:
        task = _task(conn, project, task_id)
        if was is not None and task.state is not was:
            raise SupervisorError(
                f"task {task_id} is {task.state} now, not {was}: it was not cancelled; look at it again"
            )
        if task.state is TaskState.MERGING:
            if holder_pid(project.paths.supervisor_lock) is None:  # (its merge may have moved the branch already)
                raise SupervisorError(
                    f"task {task_id} was merging when the supervisor stopped: `czar up` ends that merge "
                    "first; cancel it then, if it did not merge"
                )
            raise SupervisorError(f"task {task_id} is merging now; cancel it when the merge is over")
        if task.state in (TaskState.MERGED, TaskState.CANCELLED):
            raise SupervisorError(f"task {task_id} is {task.state} already")
        actions = Actions(project)
        if task.attempt_id is not None and task.state not in TERMINAL_TASK_STATES:
            Store.set_attempt(conn, task.attempt_id, outcome=AttemptOutcome.CANCELLED)
        actions.stop_work_on(conn, task, why)
        Store.move_task(conn, task_id, TaskState.CANCELLED, actor="person", reason=why, worker_id=None, merge_from=None)
        actions.will_not_merge(conn, task_id, "was cancelled")
        Store.emit(conn, EventKind.PERSON_CANCELLED, actor="person", task=task_id, was=task.state.value, reason=why)
    return f"task {task_id} cancelled (it was {task.state})"


def pause(project: Project) -> str:
    """No task or review starts until ``resume``; work under way goes on, and merges too."""
    with project.store.write() as conn:
        if Store.get_meta(conn, PAUSED, False):
            return "the run is paused already; `czar resume` lets it go on"
        Store.set_meta(conn, PAUSED, True)
        Store.emit(conn, EventKind.PERSON_PAUSED, actor="person")
    return "paused: no task or review starts until `czar resume` (work under way goes on)"


def paused(project: Project) -> bool:
    with project.store.read() as conn:
        return bool(Store.get_meta(conn, PAUSED, False))


def resume(project: Project) -> str:
    with project.store.write() as conn:
        if not Store.get_meta(conn, PAUSED, False):
            return "the run is not paused"
        Store.set_meta(conn, PAUSED, False)
        Store.emit(conn, EventKind.PERSON_RESUMED, actor="person")
    return "resumed: tasks and reviews start again"
