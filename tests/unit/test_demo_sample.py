"""The demo's sample project: a valid plan, and scripts the real sim agent turns into a passing suite."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tomllib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import pytest

from czar.agents import sim_script
from czar.core.graph import depth, topological_order
from czar.core.scope import matches
from czar.demo.sample import write_sample
from czar.errors import CzarError
from czar.plan.load import load_plan

FEEDBACK_TASK = "readability"


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        env.pop(var, None)
    env.update(
        CZAR_FIRST_START="1",
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",  # the sample needs no plugins; loading them costs half a second
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    return env


def _run_sim(repo: Path, task_id: str, body: str, feedback: bool) -> list[dict[str, Any]]:
    lines = [json.dumps({"type": "user", "text": f"Task id: {task_id}\n\n{body}"})]
    if feedback:
        lines.append(json.dumps({"type": "user", "text": "verification failed"}))
    proc = subprocess.run(
        [sys.executable, "-m", "czar.agents.sim"],
        cwd=repo,
        env=_env(),
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=_env()
    ).stdout


def test_sample_plan_is_valid_and_its_scripts_build_a_passing_package(tmp_path: Path) -> None:
    plan_path = write_sample(tmp_path, workers=3)
    assert plan_path == tmp_path / "czar.toml"
    plan = load_plan(plan_path)
    repo = plan.repo
    assert repo == (tmp_path / "repo").resolve()
    assert plan.project.name == "czar-demo"
    assert plan.workers.count == 3
    assert plan.workers.agent == "sim"
    assert len(plan.tasks) >= 10
    edges = {t.id: set(t.depends_on) for t in plan.tasks}
    assert depth(edges) >= 4

    # The starting point: one commit on main, a clean tree.
    assert _git(repo, "branch", "--show-current").strip() == "main"
    assert _git(repo, "rev-list", "--count", "HEAD").strip() == "1"
    assert _git(repo, "status", "--porcelain") == ""

    # Scopes are exact, disjoint, and leave the package's __init__ alone.
    owners: dict[str, str] = {}
    for task in plan.tasks:
        assert len(task.subtasks) == 2
        for path in task.scope:
            assert path not in owners, f"{path} is in the scope of {owners[path]} and {task.id}"
            owners[path] = task.id
    assert "src/textstats/__init__.py" not in owners

    first_test_runs: dict[str, list[int]] = {}
    for task_id in topological_order(edges):
        task = plan.task(task_id)
        before = _git(repo, "rev-parse", "HEAD").strip()
        events = _run_sim(repo, task_id, task.body, feedback=task_id == FEEDBACK_TASK)
        kinds = [e["type"] for e in events]
        assert events[0]["type"] == "ack" and events[0]["task"] == task_id, events[:1]
        assert "error" not in kinds, events
        assert "finished" in kinds, events
        assert "commit" in kinds, events
        # Everything it wrote is in its scope, committed.
        changed = _git(repo, "diff", "--name-only", before, "HEAD").split()
        assert changed
        assert all(any(matches(g, path) for g in task.scope) for path in changed), (task_id, changed)
        assert _git(repo, "status", "--porcelain") == "", task_id
        cut = next((i for i, e in enumerate(events) if e.get("action") == "message"), len(events))
        first_test_runs[task_id] = [e["exit"] for e in events[:cut] if e.get("action") == "run"]
        if task_id == FEEDBACK_TASK:
            assert cut < len(events), "the feedback section did not run"
            after = [e for e in events[cut:] if e.get("action") == "run"]
            assert after and after[-1]["exit"] == 0, after
            assert any(e["type"] == "finished" for e in events[cut:])

    assert first_test_runs[FEEDBACK_TASK] and first_test_runs[FEEDBACK_TASK][0] != 0
    for task_id, exits in first_test_runs.items():
        if task_id != FEEDBACK_TASK:
            assert exits == [0], task_id

    suite = subprocess.run(
        ["python", "-m", "pytest", "-q"],
        cwd=repo,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert suite.returncode == 0, suite.stdout + suite.stderr
    assert " passed" in suite.stdout and "failed" not in suite.stdout
    assert _git(repo, "status", "--porcelain") == "", "caches must be ignored by the sample's .gitignore"


def test_write_sample_refuses_a_used_folder(tmp_path: Path) -> None:
    write_sample(tmp_path)
    with pytest.raises(CzarError, match="already exists"):
        write_sample(tmp_path)


def _data_files(folder: Traversable, prefix: str = "") -> dict[str, str]:
    """The text of every file under ``folder``, by its path below it."""
    found: dict[str, str] = {}
    for entry in folder.iterdir():
        if entry.is_dir():
            found |= _data_files(entry, f"{prefix}{entry.name}/")
        else:
            found[prefix + entry.name] = entry.read_text(encoding="utf-8")
    return found


def test_every_file_of_the_sample_comes_from_its_package_data(tmp_path: Path) -> None:
    stored = _data_files(resources.files("czar.demo") / "data")
    assert "plan.toml" in stored
    used = {"plan.toml", "agents.toml"}
    plan = load_plan(write_sample(tmp_path))

    for path in _git(plan.repo, "ls-files").splitlines():
        assert (plan.repo / path).read_text(encoding="utf-8") == stored[f"repo/{path}.txt"], path
        used.add(f"repo/{path}.txt")
    # What an agent writes is what its script says, as the sim reads it.
    for task in plan.tasks:
        source = sim_script.extract(task.body)
        assert source is not None, task.id
        script = sim_script.parse(source)
        writes = [("tasks", step) for step in script.main if step.verb == "write"]
        writes += [("fixes", step) for section in script.feedback for step in section if step.verb == "write"]
        writes += [
            ("reviewed", step)
            for section in script.sections.get("review", [])
            for step in section
            if step.verb == "write"
        ]
        assert writes, task.id
        for folder, step in writes:
            data = f"{folder}/{task.id}/{step.args[0]}.txt"
            assert step.text == stored[data], data
            used.add(data)

    assert used == set(stored), "stored files the sample does not use"
    # Its reviewer's finding is on the line of the bug it names, in the file its agent wrote first.
    top = plan.task("top_words")
    review = sim_script.parse(str(sim_script.extract(top.body, review=True)))
    finding = review.main[0]
    assert finding.verb == "finding"
    path, line = finding.args[0], int(finding.args[1])
    assert "n == 0" in stored[f"tasks/top_words/{path}.txt"].splitlines()[line - 1]


def test_a_wheel_ships_every_file_of_the_sample() -> None:
    # setuptools' build_py expands each package-data pattern with glob.glob(recursive=True), whose *
    # passes dot files by; a file no pattern matches is missing from an installed czar.
    root = Path(__file__).resolve().parents[2]
    package = root / "src" / "czar"
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["czar"]
    shipped = {path for pattern in patterns for path in glob.glob(pattern, root_dir=package, recursive=True)}
    data = {str(p.relative_to(package)) for p in (package / "demo" / "data").rglob("*") if p.is_file()}
    assert data
    assert data <= shipped, sorted(data - shipped)
