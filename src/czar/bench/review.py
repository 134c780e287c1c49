"""The reviewer measured (``czar bench review``): a corpus of small tasks (``data/review_corpus.toml``),
half with a seeded defect on a known line, written by simulated authors and reviewed once by a
reviewer of the kind asked for (``max_review_rounds = 0``: its first verdict decides).

A review finds a defect when it requests changes with a blocking finding in the defect's file
within ``NEAR`` lines of it. Precision: of the reviews that requested changes, the share that found
a seeded defect; recall: of the seeded defects, the share found. The simulated reviewer follows
scripts that know the answers, so it checks the plumbing (every finding and verdict reaches czar
and counts); pointed at a real agent (``--agent claude``, with your login and its model), it
measures that agent against the targets for real agents.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from czar.bench.harness import run_to_end
from czar.core.events import EventKind
from czar.errors import CzarError
from czar.store.store import Store
from czar.supervisor.project import open_project
from czar.vcs.git import Git

NEAR = 2  # lines between a finding and the seeded defect it names
TARGETS_REAL = {"precision": 0.8, "recall": 0.9}
TARGETS_SIM = {"precision": 1.0, "recall": 1.0}  # its scripts know the answers: anything less is a leak


@dataclass(frozen=True)
class Case:
    id: str
    file: str
    task: str
    code: str
    defect_line: int | None = None
    defect: str = ""


def corpus() -> list[Case]:
    data = tomllib.loads((resources.files("czar.bench") / "data" / "review_corpus.toml").read_text(encoding="utf-8"))
    return [Case(**{**c, "code": c["code"].lstrip("\n")}) for c in data["case"]]


def _sim_review(case: Case) -> str:
    if case.defect_line is None:
        return "approve it does what the task says"
    return f"finding {case.file} {case.defect_line} blocking {case.defect}\nrequest-changes one blocking finding"


def _task(case: Case, reviewer: str) -> str:
    marker = "EOF_CASE"
    script = f"write {case.file} <<{marker}\n{case.code}{marker}\ncommit add {case.id}\nfinish {case.id} written"
    review = f"\n\n```czar-review\n{_sim_review(case)}\n```" if reviewer == "sim" else ""
    return (
        f'[[tasks]]\nid = "{case.id}"\ntitle = "{case.id}"\nscope = ["{case.file}"]\n'
        f"body = '''\n{case.task}\n\n```czar-sim\n{script}\n```{review}\n'''\n"
    )


def plan_text(cases: list[Case], reviewer: str) -> str:
    agents = "" if reviewer == "sim" else f'\n[agents.{reviewer}]\nhome = "user"\n'
    return (
        '[project]\nname = "bench-review"\nrepo = "repo"\n\n[workers]\nagent = "sim"\ncount = 2\n\n'
        f"[review]\nagents = {{ {reviewer} = 1 }}\nmax_review_rounds = 0\n{agents}\n"
        + "\n".join(_task(c, reviewer) for c in cases)
    )


def run(agent: str = "sim", folder: Path | None = None, timeout: float = 900, progress: bool = False) -> dict[str, Any]:
    """Review the corpus with a reviewer of kind ``agent``; the figures, and ``passed``."""
    if agent not in ("sim", "claude", "codex", "gemini"):
        raise CzarError(f"no reviewer kind {agent!r} for this benchmark; choose sim, claude, codex or gemini")
    cases = corpus()
    root = (folder or Path(tempfile.mkdtemp(prefix="czar-bench-review-"))).resolve()
    repo = root / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    git = Git(repo)
    git.run("init", "-q", "-b", "main")
    (repo / "README.md").write_text("# bench review\n")
    git.run("add", "-A")
    git.run("-c", "user.name=czar", "-c", "user.email=czar@localhost", "commit", "-q", "-m", "start")
    os.environ["CZAR_HOME"] = str(root / "home")  # everything the run keeps stays in its folder
    plan = root / "czar.toml"
    plan.write_text(plan_text(cases, agent), encoding="utf-8")
    project = open_project(plan)
    started = time.monotonic()
    problem = run_to_end(project, timeout, progress)
    with project.store.read() as conn:
        events = Store.read_events(
            conn, limit=100_000, kinds=(EventKind.REVIEW_STARTED, EventKind.REVIEW_FINDING, EventKind.REVIEW_VERDICT)
        )
    result = score(cases, events)
    wanted = TARGETS_SIM if agent == "sim" else TARGETS_REAL
    targets = {k: {"value": result[k], "target": f">= {v}", "met": (result[k] or 0.0) >= v} for k, v in wanted.items()}
    result.update(
        reviewer=agent,
        wall_seconds=round(time.monotonic() - started, 2),
        targets=targets,
        problem=problem,
        passed=problem is None and result["reviewed"] == len(cases) and all(t["met"] for t in targets.values()),
    )
    return result


def score(cases: list[Case], events: list[Any]) -> dict[str, Any]:
    """Precision and recall of each task's first verdict (``events``: a run's review events)."""
    first: dict[str, dict[str, Any]] = {}
    findings: dict[str, list[dict[str, Any]]] = {}
    started: dict[str, float] = {}
    took: list[float] = []
    for e in events:
        task = str(e.task_id)
        if e.kind == EventKind.REVIEW_STARTED:
            started.setdefault(task, e.ts)
        elif e.kind == EventKind.REVIEW_FINDING and task not in first:
            findings.setdefault(task, []).append(e.payload)
        elif e.kind == EventKind.REVIEW_VERDICT and task not in first:
            first[task] = e.payload
            if task in started:
                took.append(e.ts - started[task])
    asked = found = 0
    missed: list[str] = []
    wrongly: list[str] = []
    for case in cases:
        verdict = first.get(case.id, {}).get("verdict")
        if verdict == "request_changes":
            asked += 1
        hit = case.defect_line is not None and any(
            f.get("severity") == "blocking"
            and f.get("path") == case.file
            and abs(int(f.get("line") or 0) - case.defect_line) <= NEAR
            for f in findings.get(case.id, [])
        )
        if verdict == "request_changes" and hit:
            found += 1
        elif verdict == "request_changes":
            wrongly.append(case.id)
        elif case.defect_line is not None:
            missed.append(case.id)
    defects = sum(c.defect_line is not None for c in cases)
    return {
        "cases": len(cases),
        "defects": defects,
        "reviewed": len(first),
        "changes_requested": asked,
        "defects_found": found,
        "precision": round(found / asked, 3) if asked else None,
        "recall": round(found / defects, 3) if defects else None,
        "missed": missed,
        "wrongly_blocked": wrongly,
        "review_seconds_median": round(statistics.median(took), 2) if took else None,
    }
