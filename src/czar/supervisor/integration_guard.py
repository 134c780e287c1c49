"""The integration branch holds every merge czar recorded: a person who deletes it, or moves it
back (`git branch -D`, `git branch -f czar/integration main`), in the middle of a run, does not
make czar build on less, nor charge the agents for it.

Found by a probe: deleted, every verification "could not run" and used a round (three tasks
failed in a second), and the next run made it again from the base branch, the merged work gone
from it; moved back, the next merges were made on top without a word, a dependent was built
without its dependency, and the end said containment was not proven. Now the branch is made again,
or moved back, at the last merge czar recorded, and a person hears it.
"""

from __future__ import annotations

from collections.abc import Callable

from czar.core.events import EventKind
from czar.core.repository import Repository
from czar.errors import GitError
from czar.store.store import Store
from czar.supervisor import your_checkouts
from czar.supervisor.project import Project


def last_merge(project: Project) -> str | None:
    """The commit of the newest merge czar recorded into the integration branch."""
    with project.store.read() as conn:
        newest = Store.newest_event_id(conn, kinds=(EventKind.TASK_MERGED,))
        found = Store.read_events(conn, after=newest - 1, limit=1, kinds=(EventKind.TASK_MERGED,)) if newest else []
    commit = found[0].payload.get("commit") if found else None
    return commit if isinstance(commit, str) and commit else None


def restore(project: Project, say: Callable[[str], None], *, back: bool = True) -> bool:
    """Make the integration branch hold the last merge again: made again if it is gone, moved
    back to it if it does not hold it (``back``: where czar alone moves the branch, the merge
    queue's thread or a start). True if it did either."""
    last = last_merge(project)
    if last is None:
        return False  # nothing merged yet: made from the base branch, as at a start
    git, branch = project.repo, project.plan.project.integration_branch
    tip = _tip(git, branch)  # (that branch alone: at every verification, among hundreds of branches)
    if tip is not None and (tip == last or not back or git.is_ancestor(last, tip)):
        return False
    if tip is not None and your_checkouts.where(project, branch, "it is not put back", fresh=True) is not None:
        return False  # never moved under your checkout (said once, in an alert)
    try:
        git.move_branch(branch, last, tip or "")  # (compare and swap: nothing else moved it meanwhile)
    except GitError as exc:
        now = _tip(git, branch)
        if now is not None and (now == last or git.is_ancestor(last, now)):
            return False  # put back meanwhile (another verification's thread, found by a review)
        said = f"{branch} {'is gone' if tip is None else f'was moved to {tip[:10]}'}, without czar's last merge "
        with project.store.write() as conn:
            Store.alert(conn, "critical", f"{said}{last[:10]}, and czar could not put it back: {exc}")
        return False
    what = "was deleted" if tip is None else f"was moved to {tip[:10]}, which lacks czar's merges"
    message = f"{branch} {what}: czar put it back at its last merge, {last[:10]}"
    say(message)
    with project.store.write() as conn:
        Store.alert(conn, "warning", message)
    return True


def _tip(git: Repository, branch: str) -> str | None:
    try:
        return git.tip(f"refs/heads/{branch}")
    except GitError:
        return None  # gone
