"""czar's branches and the project's remote (``[project] remote``, ``push``), in the supervisor:
fetched before each merge decision, a task's branch pushed once its work is verified, the
integration branch after each merge. What the remote refuses is an event and an alert with its
own words; a remote out of reach is an event, and the run goes on locally."""

from __future__ import annotations

from czar.core.events import EventKind
from czar.store.store import Store
from czar.supervisor.project import Project


def fetch(project: Project) -> str | None:
    """Bring the remote's czar branches in; why not (also an event), or None."""
    remote = project.remote
    if remote is None:
        return None
    problem = remote.fetch()
    if problem is not None:
        with project.store.write() as conn:
            Store.emit(conn, EventKind.REMOTE_FETCH_FAILED, remote=remote.name, message=problem[-2000:])
    return problem


def push(project: Project, branch: str, commit: str, *, replace: bool, task: str | None = None) -> bool:
    """Push ``branch`` at ``commit`` when the plan says so (``replace``: a task's branch, which
    may have been made again; the integration branch only moves forward). Whether it is there."""
    remote = project.remote
    if remote is None or not project.plan.project.push:
        return False
    refused = remote.push(branch, commit, replace=replace)
    with project.store.write() as conn:
        if refused is None:
            Store.emit(conn, EventKind.REMOTE_PUSHED, task=task, remote=remote.name, branch=branch, commit=commit)
            return True
        Store.emit(
            conn,
            EventKind.REMOTE_PUSH_REFUSED,
            task=task,
            remote=remote.name,
            branch=branch,
            commit=commit,
            message=refused[-2000:],
        )
        Store.alert(
            conn, "warning", f"{remote.name} refused the push of {branch} at {commit[:10]}: {refused}", task=task
        )
    return False
