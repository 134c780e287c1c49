"""The sample project of ``czar demo``: a small Python package, ``textstats``, and a plan to build it.

``write_sample(root)`` creates ``root/repo`` (a git repository on ``main`` with one commit: the
package skeleton and a pytest suite) and ``root/czar.toml`` (ten tasks, at most four of them ready
at once, six deep). Every task body is real prose a person or an AI could follow, followed by a
``czar-sim`` script with which the simulated agent does exactly that. Each task owns its own
module and test file, so merges never conflict. One task, ``readability``, first commits a subtle
bug: its verification fails, czar sends the failure back, and the script's ``on feedback``
section fixes it, which shows the retry loop. Another, ``top_words``, passes its tests with a bug
they miss (a negative ``n``): the plan's reviewer (a sim) finds it, the findings go back to the
author's agent, which fixes and tests it, and the next review approves.

The sample is package data, in ``data/`` beside this module:

- ``plan.toml``: the plan, a ``string.Template``: ``$workers`` is the number of workers and
  ``${<task id>}`` the task's script, which ``script()`` writes (``${<task id>_review}`` its
  reviewer's, ``review_script()``).
- ``agents.toml``: what the simulated agent of each task commits and reports, and its fix.
- ``repo/``: the files of the repository's first commit.
- ``tasks/<id>/``: the files the agent of task ``<id>`` writes; ``fixes/<id>/``: the files it
  writes again after czar's feedback; ``reviewed/<id>/``: after its reviewer's findings.

A file of the sample repository is stored at its path plus ``.txt`` (``tests/conftest.py.txt``), so
that no tool takes it for czar's own: ruff, mypy, pytest and compileall pass it by, and git does not
read a stored ``.gitignore``.
"""

from __future__ import annotations

import json
import shlex
import string
import sys
import tomllib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from czar.errors import CzarError
from czar.vcs.git import Git

# Commits of the sample carry their own identity, so the demo works without any git config.
DEMO_IDENTITY = ("-c", "user.name=czar-demo", "-c", "user.email=demo@czar.localhost", "-c", "commit.gpgsign=false")
SLEEP = "0.2"  # seconds each simulated agent pauses, so the demo is watchable
DATA = resources.files("czar.demo") / "data"
STORED = ".txt"  # what a stored file of the sample repository adds to its path
FIRST_COMMIT = "textstats: package skeleton and test setup"


def stored_files(folder: Traversable, prefix: str = "") -> dict[str, str]:
    """The text of every sample file stored under ``folder``, by its path in the sample repository."""
    found: dict[str, str] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            found |= stored_files(entry, f"{prefix}{entry.name}/")
        else:
            found[prefix + entry.name.removesuffix(STORED)] = entry.read_text(encoding="utf-8")
    return found


def skeleton() -> dict[str, str]:
    """The files of the sample repository's first commit, by path."""
    return stored_files(DATA / "repo")


# -- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoTask:
    """One task of the sample plan, as its simulated agent does it."""

    id: str
    scope: tuple[str, ...]  # the files its agent writes, in this order
    accept: str  # the test command its agent runs
    commit: str  # the message of its commit
    finish: str  # what it reports when it is done
    fix: str = ""  # if set, its first attempt is wrong and feedback makes it write fixes/<id>/
    review: str = ""  # if set, its reviewer's blocking finding: the agent then writes reviewed/<id>/
    review_line: int = 1  # ... on this line of its first file
    review_fix: str = ""  # what the agent says it changed for the reviewer

    def files(self) -> list[tuple[str, str]]:
        """(path, text) of each file its agent writes first, in order."""
        stored = stored_files(DATA / "tasks" / self.id)
        return [(path, stored[path]) for path in self.scope]

    def fixed(self) -> list[tuple[str, str]]:
        """(path, text) of each file its agent writes after feedback."""
        return list(stored_files(DATA / "fixes" / self.id).items()) if self.fix else []

    def reviewed(self) -> list[tuple[str, str]]:
        """(path, text) of each file its agent writes after its reviewer's findings."""
        return list(stored_files(DATA / "reviewed" / self.id).items()) if self.review else []


def _plan_template() -> string.Template:
    return string.Template((DATA / "plan.toml").read_text(encoding="utf-8"))


def tasks() -> tuple[DemoTask, ...]:
    """The tasks of the sample plan, in its order."""
    # With any number of workers the template is TOML: the scripts' places are text in the bodies.
    plan = tomllib.loads(_plan_template().safe_substitute(workers=1))
    agents = tomllib.loads((DATA / "agents.toml").read_text(encoding="utf-8"))
    return tuple(
        DemoTask(id=task["id"], scope=tuple(task["scope"]), accept=task["accept"][0], **agents[task["id"]])
        for task in plan["tasks"]
    )


def _marker(text: str) -> str:
    """A heredoc end marker that no line of ``text`` could be mistaken for."""
    lines = {line.strip() for line in text.splitlines()}
    marker, n = "EOF", 0
    while marker in lines:
        n += 1
        marker = f"EOF{n}"
    return marker


def _write(path: str, text: str) -> list[str]:
    end = _marker(text)
    return [f"write {path} <<{end}", *text.rstrip("\n").split("\n"), end]


def script(task: DemoTask) -> str:
    """The czar-sim script with which the simulated agent does ``task``."""
    lines = [f"progress 1 writing {task.scope[0]}"]
    for path, text in task.files():
        lines += _write(path, text)
    lines += [
        f"sleep {SLEEP}",
        "progress 2 running the tests",
        f"run {task.accept}",
        f"commit {task.commit}",
        f"finish {task.finish}",
    ]
    if task.fix:
        lines += ["on feedback", f"note {task.fix}"]
        for path, text in task.fixed():
            lines += _write(path, text)
        lines += [
            f"run {task.accept}",
            f"commit {task.id}: {task.fix}",
            f"finish fixed: {task.fix}; the tests pass",
        ]
    if task.review:
        lines += ["on review", f"note {task.review_fix}"]
        for path, text in task.reviewed():
            lines += _write(path, text)
        lines += [f"run {task.accept}", f"commit {task.id}: {task.review_fix}", f"finish {task.review_fix}"]
    return "\n".join(lines) + "\n"


def review_script(task: DemoTask) -> str:
    """The czar-review script of ``task``'s reviewer: a blocking finding on its first file, then
    (the next round) an approval."""
    return (
        "\n".join(
            [
                f"finding {task.scope[0]} {task.review_line} blocking {task.review}",
                "request-changes one blocking finding",
                "on review",
                "approve the finding is fixed and tested",
            ]
        )
        + "\n"
    )


def plan_text(workers: int = 4) -> str:
    """The sample plan file, as TOML."""
    # Each script lands in a TOML literal string ('''...'''), which holds any text as it is but three
    # single quotes; test_demo_sample reads every body back.
    scripts = {task.id: script(task) for task in tasks()}
    reviews = {f"{task.id}_review": review_script(task) for task in tasks() if task.review}
    text = _plan_template().substitute(workers=workers, **scripts, **reviews)
    # The checks run with your PATH, where `python` may lack pytest: the sample's run with the
    # interpreter czar runs on (its own tests' pytest is there), named whole.
    python = json.dumps(shlex.quote(sys.executable))[1:-1]  # quoted for the shell's words, then for TOML
    return text.replace('"python -m pytest', f'"{python} -m pytest')


# -- writing it -------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> None:
    Git(repo).run(*DEMO_IDENTITY, *args, timeout=60)  # czar's git: none of your settings that would stop it


def write_sample(root: Path, workers: int = 4) -> Path:
    """Create a sample git repository at root/'repo' (branch main, one initial commit) and a plan
    file root/'czar.toml' for it; return the plan's path."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    repo, plan = root / "repo", root / "czar.toml"
    if plan.exists():
        raise CzarError(f"{plan} already exists; build the demo in an empty folder")
    if repo.exists() and (not repo.is_dir() or any(repo.iterdir())):
        raise CzarError(f"{repo} already exists; build the demo in an empty folder")
    init_repo(repo, skeleton(), FIRST_COMMIT)
    plan.write_text(plan_text(workers), encoding="utf-8")
    return plan


def init_repo(repo: Path, files: dict[str, str], message: str) -> None:
    """A new git repository at ``repo`` on branch main, with ``files`` in its first commit."""
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
