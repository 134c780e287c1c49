"""czar's branches and the project's remote (``[project] remote``, ``push``), in the supervisor:
fetched before each merge decision, a task's branch pushed once its work is verified, the
integration branch after each merge. What the remote refuses is an event and an alert with its
own words; a remote out of reach is an event, and the run goes on locally."""

from __future__ import annotations

from czar.core.events import EventKind
from czar.errors import GitError
from czar.store.store import Store
from czar.supervisor.project import Project
from czar.vcs.checkout import KEPT_REFS


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


# The last refusal of each branch's push said, in this process: (project, branch) -> (commit, words).
_refused: dict[tuple[str, str], tuple[str, str]] = {}


def push(project: Project, branch: str, commit: str, *, replace: bool, task: str | None = None) -> bool:
    """Push ``branch`` at ``commit`` when the plan says so (``replace``: a task's branch, which
    may have been made again; the integration branch only moves forward). Whether it is there."""
    remote = project.remote
    if remote is None or not project.plan.project.push:
        return False
    kept = _keep_theirs(project, branch, commit, task) if replace and task is not None else None
    refused = remote.push(branch, commit, replace=replace)
    said = (project.name, branch)
    if refused is not None and _refused.get(said) == (commit, refused):
        return False  # said already (found by a probe: the same refusal, and its alert, every second)
    if refused is None:
        _refused.pop(said, None)
    else:
        _refused[said] = (commit, refused)
    with project.store.write() as conn:
        if refused is None:
            Store.emit(conn, EventKind.REMOTE_PUSHED, task=task, remote=remote.name, branch=branch, commit=commit)
            if kept is not None:  # said once it is so: a refused push replaced nothing
                seen, ref = kept
                Store.alert(
                    conn,
                    "warning",
                    f"{remote.name}'s {branch} held commit {seen[:10]}, which czar did not push there (someone's, "
                    f"on the forge); czar's push of task {task}'s work at {commit[:10]} replaced it: kept as {ref}",
                    task=task,
                )
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


def _keep_theirs(project: Project, branch: str, commit: str, task: str) -> tuple[str, str] | None:
    """Before a task's branch on the remote is replaced: a commit there that czar did not push
    (a person's, pushed to the pull request's branch on the forge) is kept here under
    ``refs/czar-kept/``, as one on the branch here is (``czar.vcs.checkout``); (it, the ref), for
    the push to say once it has replaced it. Found by a probe: czar's push of the reviewed commit
    erased it from the forge, without a word."""
    seen = tip_there(project, branch)
    if seen is None or seen == commit or project.git.is_ancestor(seen, commit):
        return None
    with project.store.read() as conn:
        pushed = Store.events_of_task(conn, task, (EventKind.REMOTE_PUSHED,))
    if any(e.payload.get("branch") == branch and e.payload.get("commit") == seen for e in pushed):
        return None  # czar's own, made again since (a task started over, restacked)
    ref = f"{KEPT_REFS}/{branch}/{seen[:12]}"
    if not project.git.run("update-ref", "--end-of-options", ref, seen, check=False).ok:
        return None
    return seen, ref


def tip_there(project: Project, branch: str) -> str | None:
    """Where ``branch`` is on the remote, as of the last fetch (which prunes what it dropped);
    None if it is not there, or there is no remote."""
    remote = project.remote
    if remote is None:
        return None
    try:
        return project.git.tip(remote.tracking(branch))
    except GitError:
        return None


def gone_there(project: Project, branch: str) -> bool:
    """``branch`` is not on the remote czar pushes to, as of the last fetch."""
    return project.remote is not None and project.plan.project.push and tip_there(project, branch) is None


def follow_merged(project: Project, branch: str, commit: str, task: str, there: dict[str, str] | None = None) -> None:
    """A merged task's ``branch`` on the remote put at the ``commit`` that merged, where czar merges
    for the forge (which marks a pull request merged once its head is in the integration branch).
    Found by a probe: a person's push to the pull request after its review left it open there for
    ever, the person's commit left out without a word; it is kept here now, and said, as when
    czar's push replaces it otherwise (``_keep_theirs``). Already there: no git is run (``there``:
    the remote's branches as the caller read them, once for a batch)."""
    remote = project.remote
    if remote is None or not project.plan.project.push:
        return
    seen = (there if there is not None else remote.tips()).get(branch)
    if seen is None:
        return  # not on the remote: nothing there to mark merged
    if seen != commit:
        push(project, branch, commit, replace=True, task=task)
