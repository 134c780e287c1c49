"""Acceptance checks: run a task's commands in a folder, keep their output, summarise failures."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from czar.runtime import gateway, proc, sandbox, search_path
from czar.runtime.withheld import without

TAIL_CHARS = 3000  # how much failing output goes back to the agent


CHECK = "check"  # the label of check processes: the supervisor stops them first when it stops


class ChecksStopped(Exception):
    """A check was killed because czar is stopping (a person's `czar down`): its outcome says
    nothing about the work, so it must not be charged to a task. Not a ``CzarError`` on purpose:
    code that turns those into a failed round lets this one through, and records nothing."""


class ChecksKilled(Exception):
    """A check's process was killed (SIGKILL, SIGTERM) by something else than czar (its sandbox
    killed, say): its outcome says nothing about the work; the task is verified again
    (``Actions.verify``). Its message names the command, its exit and the end of its output. A
    crash of the check's own (a segmentation fault, an abort) is the work's, not this."""


KILLS = (-signal.SIGKILL, -signal.SIGTERM)  # what something else sends; a crash is SIGSEGV, SIGABRT
KILLED_RUNS = 3  # runs killed so before the checks' outcome is the work's


@dataclass(frozen=True)
class CheckResult:
    command: str
    returncode: int
    timed_out: bool
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def check_env(first: Sequence[Path] = ()) -> dict[str, str]:
    env = without(os.environ)  # the checks run the agents' code: no forge token for it
    # Your PATH first (a virtualenv you activated holds your project's dependencies: with czar's
    # interpreter first, `python -m pytest` ran without them, and every task of a project with
    # dependencies failed its checks); czar's folder last, for a machine with no `python` at all.
    # ``first``: the project's own virtualenv, shared with the clone, when you activated none.
    env["PATH"] = search_path.for_project_code(*first)
    env.pop(search_path.PERSONS_PATH, None)  # czar's own, for its own processes
    env.pop("PYTHONPATH", None)  # czar's own import path must not leak into the project's tests
    return env


def drop_bytecode(folder: Path) -> None:
    """Remove the Python bytecode caches (``__pycache__``) in a checkout before its checks: Python
    takes a cache for current when its source has the same size and the same second as when it
    was compiled, and an agent that changes ``==`` to ``<=`` in the second its tests ran had its
    fix verified against the code before it (seen: the demo's task failing twice on a fixed line).
    Links are not followed, nor ``.git`` entered."""
    for root, dirs, _files in os.walk(folder):
        if ".git" in dirs:
            dirs.remove(".git")
        if "__pycache__" in dirs:
            dirs.remove("__pycache__")
            cache = Path(root) / "__pycache__"
            if not cache.is_symlink():
                shutil.rmtree(cache, ignore_errors=True)


def run_checks(
    commands: Sequence[str], cwd: Path, timeout: float, log: Path, confine: sandbox.Confinement | None = None
) -> list[CheckResult]:
    """Run each command (split into words, never through a shell); stop at the first failure.
    ``confine``: run them in that sandbox (they run the agents' code)."""
    results = []
    first = sandbox.project_bins(confine)
    drop_bytecode(cwd)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as fh, gateway.serving(confine.network if confine else None) as gate:
        for command in commands:
            argv = shlex.split(command)
            if confine is not None:
                argv = sandbox.wrap(argv, confine)
            seen = len(gate.denied) if gate else 0
            r = proc.run(argv, cwd=cwd, env=check_env(first), timeout=timeout, label=CHECK)
            if r.interrupted:
                raise ChecksStopped(command)
            # What the sandbox refused, said where the agent reads why its checks failed.
            refused = "".join(
                f"czar: the sandbox refused {host}: {why}\n" for host, why in (gate.denied[seen:] if gate else [])
            )
            if not r.ok and confine is not None and not confine.network.shared and gate is None and _offline(r.output):
                refused = "czar: checks run without a network ([sandbox] allow_hosts and ports open one)\n"
            output = r.output + ("\n" if refused and not r.output.endswith("\n") else "") + refused
            results.append(CheckResult(command, r.returncode, r.timed_out, output))
            fh.write(f"$ {command}\n{output}\n[exit {r.returncode}]\n\n")
            if r.returncode in KILLS and not r.timed_out:  # (a timeout is the work's: czar killed it for that)
                raise ChecksKilled(f"`{command}` exited {r.returncode}:\n{output[-TAIL_CHARS:]}")
            if not r.ok:
                break
    return results


# What tools print when they find no network: a failure with one of these, in a sandbox without
# one, gets a line saying why (the same failure elsewhere says nothing of the sandbox).
OFFLINE = (
    "Name or service not known",
    "Temporary failure in name resolution",
    "Could not resolve host",
    "getaddrinfo",
    "EAI_AGAIN",
    "ENOTFOUND",
    "Network is unreachable",
    "No address associated with hostname",
)


def _offline(output: str) -> bool:
    return any(sign in output for sign in OFFLINE)


def describe_failure(results: Sequence[CheckResult]) -> str:
    failed = next((r for r in results if not r.ok), None)
    if failed is None:
        return ""
    how = "timed out" if failed.timed_out else f"exited {failed.returncode}"
    tail = failed.output[-TAIL_CHARS:]
    return f"`{failed.command}` {how}:\n```\n{tail.rstrip()}\n```"
