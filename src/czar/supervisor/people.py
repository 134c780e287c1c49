"""What a person can do to a running worker: answer its permission request, or tell it something.

Each is a human intervention: its events carry ``actor="person"``, which the run's outcome counts.
"""

from __future__ import annotations

import os

from czar.agent_tools.identity import AgentCaller, agent_trace
from czar.agent_tools.service import PERSON
from czar.core.events import EventKind
from czar.core.host_commands import Answer, MessageKind, Tell
from czar.core.states import WorkerState
from czar.errors import StoreError, SupervisorError
from czar.paths import czar_home
from czar.runtime.ancestry import ancestry
from czar.store.store import Store, Tx
from czar.supervisor.project import Project


def require_person(project: Project, command: str) -> None:
    """Refuse ``command`` (allow, deny, tell, down, up, run) when an agent runs it: it acts for a
    person, and an agent must not approve its own or another worker's request, or stop the run."""
    hosts: set[int] = set()
    agents: set[int] = set()
    try:
        known = project.store.workers()
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


def answer_permission(project: Project, worker_id: str, allow: bool, reason: str = "") -> str:
    with project.store.write() as conn:
        task, attempt = _busy_worker(conn, project, worker_id)
        if Store.worker(conn, worker_id).state != WorkerState.WAITING_PERMISSION.value:
            raise SupervisorError(f"worker {worker_id} is not waiting for a permission")
        why = reason or ("allowed by a person" if allow else "denied by a person")
        Store.post(conn, worker_id, Answer(attempt, allow, why))
        Store.set_worker(conn, worker_id, state=WorkerState.WORKING, detail=None)
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
        )
    return f"{'allowed' if allow else 'denied'}; worker {worker_id} goes on with task {task}"


def tell(project: Project, worker_id: str, text: str) -> str:
    with project.store.write() as conn:
        task, attempt = _busy_worker(conn, project, worker_id)
        Store.post(conn, worker_id, Tell(attempt, MessageKind.PERSON, text))
        if Store.task(conn, task).blocked_on == PERSON:
            # The person answered what the agent waited for.
            Store.set_waits(conn, task, None)
            Store.set_worker(conn, worker_id, state=WorkerState.WORKING, detail=None)
        Store.emit(conn, EventKind.PERSON_TOLD, actor="person", task=task, worker=worker_id, attempt=attempt, text=text)
    return f"sent to worker {worker_id} (task {task})"
