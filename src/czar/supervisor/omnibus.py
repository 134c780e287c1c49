"""Writing the omnibus (``czar.core.omnibus``): gathered from the store, the forge and git, proven,
and opened (or brought up to date) as one pull request from the integration branch into the base
branch. czar moves the base branch only when the plan says ``land = "merge"`` (``land``).

`czar run` writes it when the run ends, after its check of the integration branch; `czar omnibus`
writes it on demand. Writing it again with nothing new changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from czar.core.events import EventKind
from czar.core.forge import Forge, PullDraft, PullRef, changes_since
from czar.core.omnibus import OMNIBUS, Containment, Shipped, containment, release_notes
from czar.core.states import TaskState
from czar.errors import CzarError
from czar.store.records import checks_at
from czar.store.store import Store
from czar.supervisor import remote_sync
from czar.supervisor.project import Project


@dataclass(frozen=True)
class Omnibus:
    pull: PullRef | None  # None: nothing merged, nothing to propose
    proof: Containment
    # with the base branch as it is here (it moved on since the run began); None: not known
    conflicts: tuple[str, ...] | None = ()


def write(project: Project, checks_passed: bool | None, forge: Forge | None = None) -> Omnibus:
    """The run's omnibus, proven and opened or updated; an event says so."""
    forge = forge if forge is not None else project.forge
    repo, spec = project.repo, project.plan.project
    integration, base = spec.integration_branch, spec.base_branch
    shipped = _shipped(project)
    head = _as_the_forge_has_it(project, integration, repo.tip(integration))
    proof = containment(shipped, lambda commit: repo.is_ancestor(commit, head))
    if not any(t.state is TaskState.MERGED for t in shipped):
        return Omnibus(None, proof)
    with project.store.read() as conn:
        spent = Store.spent(conn)
    # The base branch may have moved on since the run began (your own commits, another run's
    # landing): the omnibus says whether it still merges, before a person or `land` finds out.
    conflicts: tuple[str, ...] | None
    try:
        conflicts = tuple(repo.merge_tree(base, head) or ())
    except CzarError:  # histories git will not merge: the line says it is not known, the rest stands
        conflicts = None
    notes = release_notes(
        project=project.name,
        integration=integration,
        base=base,
        head=head,
        tasks=shipped,
        proof=proof,
        checks_passed=checks_passed,
        totals={"cost_usd": spent},
        conflicts=conflicts,
    )
    merged = sum(1 for t in shipped if t.state is TaskState.MERGED)
    draft = PullDraft(
        task=OMNIBUS,
        head_branch=integration,
        base_branch=base,
        head_commit=head,
        title=f"{project.name}: {merged} task(s) from {integration}",
        body=notes,
        files=changes_since(repo, base, head),
        cost_usd=spent,
    )
    ref = forge.open_or_update(draft)
    with project.store.write() as conn:
        before = Store.read_events(conn, kinds=(EventKind.OMNIBUS_WRITTEN,), limit=100_000)
        if project.plan.project.land != "merge" and not any(
            e.payload.get("number") == ref.number and e.payload.get("head") == head for e in before
        ):
            # A person lands it: they hear so once for each new head, wherever they are.
            proven = "containment proven" if proof.ok else "containment NOT proven"
            clash = f"; it conflicts with {base} in {len(conflicts)} file(s)" if conflicts else ""
            Store.alert(
                conn,
                "warning",
                f"the omnibus, pull request #{ref.number} into {base} ({proven}{clash}), waits for a person to land it",
            )
        Store.emit(
            conn,
            EventKind.OMNIBUS_WRITTEN,
            number=ref.number,
            head=head,
            containment=proof.ok,
            problems=proof.problems(),
            checks=checks_passed,
            conflicts=None if conflicts is None else list(conflicts),
        )
    return Omnibus(ref, proof, conflicts)


def _as_the_forge_has_it(project: Project, integration: str, head: str) -> str:
    """The integration branch's commit the omnibus's pull request holds: on the remote, for a
    forge there (czar pushes the branch after each merge). Just behind czar's (a push that failed
    on the way): brought up to date, as after a merge. Changed there (a task's pull request merged
    by hand, a forced push), which makes czar's pushes fail: the omnibus is proven against what
    the forge has, not what czar has here (found by a probe: it said "containment proven" of a
    pull request that lacked a task), and that is said."""
    remote = project.remote
    if project.plan.forge.kind == "local" or remote is None or not project.plan.project.push:
        return head
    if remote_sync.fetch(project) is not None:
        return head  # out of reach: nothing known of it (the fetch's event says so)
    there = remote_sync.tip_there(project, integration)
    if there is None or there == head:
        return head  # (not there at all: opening the pull request says so)
    # Where the forge merges (under its rules), czar never pushes the integration branch itself.
    behind = project.plan.forge.merge_via == "czar" and project.git.is_ancestor(there, head)
    if behind and remote_sync.push(project, integration, head, replace=False):
        return head
    with project.store.write() as conn:
        Store.alert(
            conn,
            "error",
            f"{remote.name}'s {integration} is at {there[:10]}, not at czar's {head[:10]}, and czar cannot push "
            f"its own there (changed there: a pull request merged by hand, a forced push?); the omnibus is what "
            f"{remote.name} has",
        )
    return there


def land(project: Project, written: Omnibus, checks_passed: bool | None, forge: Forge | None = None) -> str:
    """With ``land = "merge"``: the omnibus merged into the base branch, when containment is proven
    and the checks pass, and the base branch is checked out nowhere (a checkout of yours is never
    touched). One line saying what was done, or why not ("" when the plan does not ask)."""
    spec = project.plan.project
    if spec.land != "merge" or written.pull is None:
        return ""
    base, integration, number = spec.base_branch, spec.integration_branch, written.pull.number
    git = project.git
    why = None
    if not written.proof.ok:
        why = "containment is not proven"
    elif checks_passed is False:
        why = f"the project's checks fail on {integration}"
    forge = forge if forge is not None else project.forge
    via_forge = project.plan.forge.merge_via == "pull-request"
    if why is None and via_forge:
        # Merged by the forge, under its rules for the base branch; no checkout here is touched.
        head = git.tip(integration)
        try:
            landed = forge.land(number, head)
        except CzarError as exc:
            why = f"the forge would not merge pull request #{number}: {exc}"
            landed = None
        with project.store.write() as conn:
            Store.emit(conn, EventKind.OMNIBUS_LANDED, number=number, landed=why is None, at=landed, why=why)
        if why is not None or landed is None:
            return f"not landed: {why}"
        forge.merge(number, head, landed)
        return f"landed: {base} on the forge is at {landed[:10]}, with {integration}"
    if why is None and (holder := git.checked_out().get(base)) is not None:
        why = f"{base} is checked out in {holder}, which czar does not touch: merge pull request #{number} yourself"
    landed = None
    if why is None:
        with project.git_lock.held():
            old, head = git.tip(base), git.tip(integration)
            landed = head if git.is_ancestor(old, head) else git.merge_commit(old, head, f"czar: land {integration}")
            if landed is None:
                why = f"{integration} conflicts with {base}"
            elif not git.is_ancestor(head, old):
                git.move_branch(base, landed, old)  # only if it is still where it was
    with project.store.write() as conn:
        Store.emit(conn, EventKind.OMNIBUS_LANDED, number=number, landed=why is None, at=landed, why=why)
    if why is not None:
        return f"not landed: {why}"
    assert landed is not None
    forge.merge(number, git.tip(integration), landed)
    return f"landed: {base} is at {landed[:10]}, with {integration}"


def _shipped(project: Project) -> list[Shipped]:
    tasks = project.store.tasks()
    with project.store.read() as conn:
        pulls = {p.task_id: p for p in Store.all_pulls(conn)}
        entries = {p.id: Store.pull_entries(conn, p.id) for p in pulls.values()}
        costs = Store.costs_by_task(conn)
        workers = Store.workers_by_task(conn)
    kinds = project.plan.worker_kinds
    out = []
    for t in tasks:
        pull = pulls.get(t.id)
        history = entries.get(pull.id, []) if pull else []
        runs = checks_at(history, pull.head_commit) if pull else []
        checks = f"{sum(1 for r in runs if r['passed'])}/{len(runs)} passed" if runs else ""
        out.append(
            Shipped(
                task=t.id,
                title=t.title,
                state=t.state,
                head_commit=pull.head_commit if pull else None,
                workers=tuple(f"{w} ({kinds.get(w, '?')})" for w in workers.get(t.id, [])),
                rounds=t.rounds,
                cost_usd=costs[t.id].cost_usd if t.id in costs else 0.0,
                reviews=tuple(
                    f"{e.detail.get('verdict')} by {e.detail.get('reviewer')}" for e in history if e.kind == "review"
                ),
                checks=checks,
            )
        )
    return out
