"""Replay a real repository's history as a plan (``czar bench replay REPO A..B``).

Each commit of ``A..B`` (first parent: a merge on that line is one task, its change against its
first parent) becomes a task whose simulated agent makes that commit's change on whatever base
it gets (the sim's ``pick``: a three-way merge, its own side winning where it conflicts, as an
agent writes its version of the lines). With dependencies, a task depends on the earlier commits
that touched one of its files; with ``--no-deps`` every task may start at once, and only czar's
coordination (stand-offs, holds, the merge queue's re-check) can make them converge.

The run passes when every task merges and the integration branch ends with B's tree.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from czar.bench.harness import run_to_end
from czar.bench.scenario import toml_task
from czar.core import hunks
from czar.core.events import EventKind
from czar.core.shown import visible
from czar.errors import CzarError, GitError
from czar.supervisor import outcome
from czar.supervisor.project import open_project
from czar.vcs.git import Git

TARGET_REF = "refs/replay/target"  # keeps B's objects (the commits the agents pick) in the copy
BASE = "main"
INTEGRATION = "czar/integration"


def redo() -> str:
    """Sim actions: undo what the branch holds and start again from the integration branch as it
    is now (czar shows it to the task's checkout before every message)."""
    return f"run git reset -q --hard {INTEGRATION}\n"


@dataclass(frozen=True)
class Commit:
    sha: str
    subject: str
    files: tuple[str, ...]  # every path it changed (a rename: both)


def commits(git: Git, start: str, end: str) -> list[Commit]:
    """The first-parent commits of ``start..end``, oldest first, without those that change nothing."""
    out = []
    for sha in git.out("rev-list", "--first-parent", "--reverse", f"{start}..{end}").split():
        files = git.out("diff", "--name-only", "--no-renames", f"{sha}^1", sha).splitlines()
        if files:
            out.append(Commit(sha, git.out("log", "-1", "--format=%s", sha), tuple(files)))
    return out


def task_id(i: int, c: Commit) -> str:
    return f"c{i:03d}-{c.sha[:8]}"


def dependencies(history: list[Commit]) -> dict[str, tuple[str, ...]]:
    """Each task depends on the latest earlier commit that touched each of its files (the earlier
    ones are reached through that one)."""
    last: dict[str, str] = {}
    out: dict[str, tuple[str, ...]] = {}
    for i, c in enumerate(history):
        tid = task_id(i, c)
        out[tid] = tuple(sorted({last[f] for f in c.files if f in last}))
        for f in c.files:
            last[f] = tid
    return out


def script(c: Commit) -> str:
    """The sim's script: the commit's change on the integration branch as it is; told to stand
    off, wait with the branch as it is; told to go on (whatever it waited for merged, the
    integration branch moved under it, or its work came back), make it again on the integration
    branch as it is then."""
    subject = c.subject[:200].strip() or c.sha[:8]  # prose: the sim takes it as it is
    work = f"{redo()}pick {c.sha}\ncommit {subject}\nfinish {subject}\n"
    out = work + "on every stand-off\nnote waiting, my branch as it is\n"
    for kind in ("merged", "go-on", "conflict", "feedback"):
        out += f"on every {kind}\n{work}"
    return out


def plan_text(name: str, history: list[Commit], workers: int, deps: bool) -> str:
    edges = dependencies(history) if deps else {}
    head = (
        f'[project]\nname = "{name}"\nrepo = "repo"\nbase_branch = "{BASE}"\ncheck_after_merge = false\n\n'
        f'[workers]\ncount = {workers}\nagent = "sim"\n\n'
    )
    entries = []
    for i, c in enumerate(history):
        tid = task_id(i, c)
        title = visible(c.subject[:120]).replace("\t", " ") or c.sha[:8]  # (a title: no control character)
        prose = f"Make the change of commit {c.sha[:12]} ({title}) on your branch: files {', '.join(c.files[:20])}."
        entries.append(toml_task(tid, title, prose, script(c), deps=edges.get(tid, ()), accept=()))
    return head + "\n".join(entries)


def copy_repository(source: Path, start: str, end: str, dest: Path) -> tuple[str, str]:
    """``dest``: a copy of ``source`` with branch main at ``start`` and ``end`` kept under a ref of
    its own and no remote (nothing the run does can reach the original). Returns both commits."""
    git = Git(source)
    try:
        a, b = git.tip(start), git.tip(end)
    except GitError:
        raise CzarError(f"{start}..{end}: not two commits of {source}") from None
    if not git.is_ancestor(a, b):
        raise CzarError(f"{start} is not an ancestor of {end} in {source}")
    if a not in git.out("rev-list", "--first-parent", b).split():
        # (Found by a probe: a commit of a branch merged into B, whose merge then had nothing to
        # hand in and failed; the run failed by construction.)
        raise CzarError(
            f"{start} is not on {end}'s first-parent line in {source} (a commit of a branch merged into it): "
            f"start from one of `git log --first-parent {end}`"
        )
    Git(dest.parent).run("clone", "-q", "--no-checkout", "--", str(source), str(dest), cwd=dest.parent)
    copy = Git(dest)
    copy.run("remote", "remove", "origin", cwd=dest)
    _large_files(git.common_dir() / "lfs" / "objects", copy.common_dir() / "lfs" / "objects")
    copy.run("update-ref", TARGET_REF, b, cwd=dest)
    copy.run("checkout", "-q", "-B", BASE, a, cwd=dest)
    return a, b


def _large_files(source: Path, dest: Path) -> None:
    """The source's Git LFS files, for the copy (a clone brings their pointers only: each
    checkout of one then failed, found by a probe); linked, not copied, where they can be (a file
    there is named by its content and never changes)."""
    if source.is_dir() and not dest.exists():

        def link(src: str, dst: str) -> None:
            try:
                os.link(src, dst)
            except OSError:
                shutil.copy2(src, dst)

        shutil.copytree(source, dest, copy_function=link, symlinks=False)


def run(
    source: Path,
    span: str,
    *,
    deps: bool = True,
    workers: int = 4,
    folder: Path | None = None,
    timeout: float = 1800,
    progress: bool = False,
) -> dict[str, Any]:
    """Replay ``span`` (``A..B``) of the repository at ``source``; the figures, and ``passed``."""
    start, sep, end = span.partition("..")
    if not sep or not start or not end or end.startswith("."):
        raise CzarError(f"{span!r}: give a range A..B")
    if not Git(source).is_repo():
        raise CzarError(f"{source} is not a git repository")
    if Git(source).out("rev-parse", "--is-shallow-repository").strip() == "true":
        # (Found by a probe: every task failed, its commit's parent not in the replay's clone.)
        raise CzarError(f"{source} is a shallow clone: a replay needs its history whole (`git fetch --unshallow`)")
    if any((Git(source).common_dir() / "objects" / "pack").glob("*.promisor")):  # what git fetches later
        # (Found by a probe: the run's first checkout failed, in git's words, "Could not reset index file".)
        raise CzarError(
            f"{source} is a partial clone (made with --filter): a replay needs every file of its history "
            "(clone it again without --filter)"
        )
    root = (folder or Path(tempfile.mkdtemp(prefix="czar-bench-replay-"))).resolve()
    root.mkdir(parents=True, exist_ok=True)
    a, b = copy_repository(source.resolve(), start, end, root / "repo")
    history = commits(Git(root / "repo"), a, b)
    if not history:
        raise CzarError(f"{span}: no commit that changes anything")
    os.environ["CZAR_HOME"] = str(root / "home")  # everything the run keeps stays in its folder
    plan = root / "czar.toml"
    plan.write_text(plan_text("replay", history, workers, deps), encoding="utf-8")
    project = open_project(plan)
    started = time.monotonic()
    problem = run_to_end(project, timeout, progress)
    wall = time.monotonic() - started
    result = measure(project, b)
    result.update(
        source=str(source),
        range=f"{start}..{end}",
        commits=len(history),
        deps=deps,
        workers=workers,
        wall_seconds=round(wall, 1),
        problem=problem,
        folder=str(root),
    )
    result["passed"] = problem is None and result["tasks_merged"] == result["tasks_total"] and result["tree_matches"]
    return result


def measure(project: Any, target: str) -> dict[str, Any]:
    """The run's figures, from its store and the integration branch."""
    events = project.store.events_after(0, limit=10**9)
    rows = project.store.tasks()
    told = [e.payload.get("about") for e in events if e.kind == EventKind.WORKER_TOLD]
    share, duplicated, added = hunks.duplication(outcome.work_pairs(project))
    git = project.git
    final = git.out("rev-parse", f"{INTEGRATION}^{{tree}}")
    return {
        "tasks_total": len(rows),
        "tasks_merged": sum(1 for t in rows if t.state == "merged"),
        "tasks_failed": sum(1 for t in rows if t.state == "failed"),
        "failed_tasks": [t.id for t in rows if t.state == "failed"],
        "stand_offs": told.count("stand-off"),
        "rounds": sum(int(t.rounds) for t in rows),
        "failed_verifications": sum(1 for e in events if e.kind == EventKind.VERIFY_FAILED),
        "failed_merges": sum(1 for e in events if e.kind == EventKind.MERGE_FAILED and e.payload.get("charged", True)),
        # Verified work the integration branch moved under before it merged: made again, no round used.
        "sent_back": sum(1 for e in events if e.kind == EventKind.MERGE_FAILED and not e.payload.get("charged", True)),
        "requeues": sum(
            1
            for e in events
            if e.kind == EventKind.TASK_STATE and e.payload.get("new") == "ready" and e.payload.get("old") != "pending"
        ),
        "duplication": round(share, 4),
        "duplicated_lines": duplicated,
        "added_lines": added,
        "tree_matches": final == git.out("rev-parse", f"{target}^{{tree}}"),
        "stalls": sum(1 for e in events if e.kind == EventKind.RUN_STALLED),
    }
