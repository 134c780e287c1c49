"""Shared helpers for czar's tests: real git repositories, small plans, waiting on conditions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

IDENTITY = ["-c", "user.name=test", "-c", "user.email=test@example.com"]


def retry_until(condition: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Wait for ``condition()`` to return something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *IDENTITY, *args], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "README.md").write_text("# sample\n")
    (path / ".gitignore").write_text("__pycache__/\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def sim_task(
    tid: str,
    *,
    deps: tuple[str, ...] = (),
    files: dict[str, str] | None = None,
    extra: str = "",
    accept: list[str] | None = None,
    feedback: str = "",
) -> str:
    """A TOML [[tasks]] entry whose sim script writes ``files``, commits and finishes."""
    files = files if files is not None else {f"{tid}.txt": f"{tid}\n"}
    lines = ["progress 1 starting"]
    for path, content in files.items():
        lines += [f"write {path} <<END", content.rstrip("\n"), "END"]
    lines += [extra] if extra else []
    lines += [f"commit add {tid}", f"finish {tid} done"]
    if feedback:
        lines += ["on feedback", feedback]
    script = "\n".join(lines)
    scope = json.dumps(sorted(files))
    acc = "" if accept is None else f"accept = {json.dumps(accept)}\n"
    return (
        f'[[tasks]]\nid = "{tid}"\ntitle = "task {tid}"\ndepends_on = {json.dumps(list(deps))}\n'
        f"scope = {scope}\n{acc}body = '''\nDo {tid}.\n\n```czar-sim\n{script}\n```\n'''\n"
    )


def write_plan(root: Path, name: str, tasks: list[str], *, workers: int = 2, project_extra: str = "") -> Path:
    plan = root / "czar.toml"
    plan.write_text(
        f'[project]\nname = "{name}"\nrepo = "repo"\n{project_extra}\n[workers]\ncount = {workers}\nagent = "sim"\n\n'
        + "\n".join(tasks)
    )
    return plan


def czar(
    *args: str, cwd: Path | None = None, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run the real ``czar`` command in a subprocess."""
    result = subprocess.run(
        [sys.executable, "-m", "czar", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )
    if check and result.returncode != 0:
        raise AssertionError(f"czar {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result
