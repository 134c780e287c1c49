"""The omnibus: at the end of a run, one pull request from the integration branch into the base
branch, with release notes that say whether czar could prove that nothing was silently left out
(and, if not, what it could not prove).

Containment: every merged task's verified commit (its pull request's head) is in the integration
branch, and every task of the plan is merged, or listed as failed or cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from czar.core import markdown
from czar.core.states import TaskState

OMNIBUS = "(omnibus)"  # the omnibus's place among the tasks' pull requests: no task is named so


@dataclass(frozen=True)
class Shipped:
    """One task as the release notes tell it."""

    task: str
    title: str
    state: TaskState
    head_commit: str | None  # its pull request's head (the commit that was verified), if it has one
    workers: tuple[str, ...] = ()  # who worked on it (worker and agent), first to last
    rounds: int = 0
    cost_usd: float = 0.0
    reviews: tuple[str, ...] = ()  # each review's verdict and its reviewer, in order
    checks: str = ""  # its checks at its head: "2/2 passed", or "" when none ran


@dataclass(frozen=True)
class Containment:
    ok: bool
    lost: tuple[str, ...]  # merged tasks whose verified commit is not in the integration branch
    unaccounted: tuple[str, ...]  # tasks neither merged, failed nor cancelled (the run is not over)
    unproven: tuple[str, ...]  # merged tasks without a pull request to prove it by

    def problems(self) -> list[str]:
        out = [f"task {t}: its verified commit is not in the integration branch" for t in self.lost]
        out += [f"task {t}: neither merged, failed nor cancelled" for t in self.unaccounted]
        out += [f"task {t}: merged without a pull request" for t in self.unproven]
        return out


ENDED = (TaskState.MERGED, TaskState.FAILED, TaskState.CANCELLED)


def containment(tasks: Sequence[Shipped], contains: Callable[[str], bool]) -> Containment:
    """Whether the run left nothing out; ``contains(commit)``: is it in the integration branch."""
    lost = tuple(t.task for t in tasks if t.state is TaskState.MERGED and t.head_commit and not contains(t.head_commit))
    unaccounted = tuple(t.task for t in tasks if t.state not in ENDED)
    unproven = tuple(t.task for t in tasks if t.state is TaskState.MERGED and not t.head_commit)
    return Containment(not (lost or unaccounted or unproven), lost, unaccounted, unproven)


def release_notes(
    *,
    project: str,
    integration: str,
    base: str,
    head: str,
    tasks: Sequence[Shipped],
    proof: Containment,
    checks_passed: bool | None,
    totals: Mapping[str, float],
    conflicts: Sequence[str] | None = (),
) -> str:
    """The omnibus's description (Markdown). ``conflicts``: the files a merge into the base branch
    as it is here would conflict in (it moved on since the run began); None: not known."""
    merged = [t for t in tasks if t.state is TaskState.MERGED]
    left = [t for t in tasks if t.state is not TaskState.MERGED]
    check_line = {True: "pass", False: "FAIL", None: "none configured"}[checks_passed]
    proven = "proven: every merged task's verified commit is in the branch, every task accounted for"
    lines = [
        f"Everything the run of **{project}** merged into `{integration}` (at `{head[:12]}`), for `{base}`.",
        "",
        f"- Tasks: {len(merged)} merged, {len(left)} not.",
        f"- The project's checks on `{integration}`: {check_line}.",
        f"- Containment: {proven if proof.ok else 'NOT proven'}.",
        f"- Into `{base}` as it is here: {into_base(base, integration, conflicts)}.",
        f"- Cost: ${totals.get('cost_usd', 0.0):.4f}.",
        "",
    ]
    if not proof.ok:
        lines += ["## What is not proven", "", *(f"- {p}" for p in proof.problems()), ""]
    lines += ["## Merged", ""]
    for t in merged:
        done_by = ", ".join(t.workers) or "?"
        reviews = f"; reviews: {', '.join(t.reviews)}" if t.reviews else ""
        checks = f"; checks {t.checks}" if t.checks else ""
        title = markdown.code(t.title)
        lines.append(f"- **{t.task}**: {title} (by {done_by}; {t.rounds} round(s); ${t.cost_usd:.4f}{checks}{reviews})")
    if left:
        lines += ["", "## Not merged (a person decides)", ""]
        lines += [f"- **{t.task}**: {markdown.code(t.title)} ({t.state})" for t in left]
    return "\n".join(lines) + "\n"


def into_base(base: str, integration: str, conflicts: Sequence[str] | None) -> str:
    """How the omnibus merges into the base branch as it is here, in a few words."""
    if conflicts is None:
        return "not known (git could not merge them in memory)"
    if not conflicts:
        return "merges cleanly"
    files = ", ".join(markdown.code(f) for f in conflicts[:5]) + (
        f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
    )
    return (
        f"CONFLICTS in {files} ({base} moved on since the run began): merge `{base}` into `{integration}` and "
        "resolve them, then write the omnibus again (`czar omnibus`)"
    )
