"""What `czar prs` and `czar pr show N` show of the local forge's pull requests (read only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from czar.core.forge import PullState
from czar.errors import CzarError
from czar.store.records import Pull, checks_at
from czar.store.store import Store
from czar.supervisor.project import Project


def pull_list(project: Project) -> list[dict[str, Any]]:
    """Every pull request, oldest first, with its last checks and reviews counted."""
    with project.store.read() as conn:
        pulls = Store.all_pulls(conn)
        entries = Store.all_pull_entries(conn)
        return [summary(p, entries.get(p.id, [])) for p in pulls]


def pull_detail(project: Project, number: int) -> dict[str, Any]:
    """One pull request whole: its text, files, checks, reviews and history."""
    with project.store.read() as conn:
        try:
            pull = Store.pull(conn, number)
        except CzarError:
            raise CzarError(f"no pull request #{number} in project {project.name} (`czar prs` lists them)") from None
        entries = Store.pull_entries(conn, number)
    data = summary(pull, entries)
    data.update(
        runs=checks_at(entries, pull.head_commit),  # each check of its head commit, with its output
        title=pull.title,
        body=pull.body,
        files=[asdict(f) for f in pull.files],
        history=[{"time": e.ts, "what": e.kind, "commit": e.commit, **e.detail} for e in entries],
    )
    return data


# A pull request's history entries when a person closed it on the remote forge (czar's record has
# it open: its task waits for them) and when it was found open there again.
CLOSED_THERE = "closed there"
REOPENED_THERE = "reopened there"


def summary(pull: Pull, entries: list[Any]) -> dict[str, Any]:
    runs = checks_at(entries, pull.head_commit)
    reviews = [e.detail for e in entries if e.kind == "review"]
    there = [e.kind for e in entries if e.kind in (CLOSED_THERE, REOPENED_THERE)]
    return {
        "number": pull.id,
        "task": pull.task_id,
        "state": pull.state.value,
        # a person closed it on the forge (its task waits for them to reopen it there)
        "closed_there": pull.state is PullState.OPEN and bool(there) and there[-1] == CLOSED_THERE,
        "head": pull.head_branch,
        "base": pull.base_branch,
        "head_commit": pull.head_commit,
        "merged_as": pull.merged_as,
        "remote_number": pull.remote_number,  # its number on the remote forge
        "url": pull.url,  # on a remote forge: where a person sees it (none: the local forge)
        "checks_passed": sum(1 for r in runs if r["passed"]),
        "checks": len(runs),
        "reviews": len(reviews),
        "verdict": reviews[-1]["verdict"] if reviews else None,
        "updates": sum(1 for e in entries if e.kind == "updated"),
        "rounds": pull.rounds,
        "cost_usd": pull.cost_usd,
        "files": len(pull.files),
        "added": sum(max(f.added, 0) for f in pull.files),
        "removed": sum(max(f.removed, 0) for f in pull.files),
        "updated_at": pull.updated_at,
    }
