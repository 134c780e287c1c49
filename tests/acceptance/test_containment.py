"""A whole run with an agent that tries to reach beyond its task: the sandbox holds, the run ends
merged, and the user's repository, the store and the other task's work are as they were."""

from __future__ import annotations

import json
import shlex
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from czar.paths import ProjectPaths
from czar.runtime import sandbox
from czar.store.store import Event, Store
from helpers import czar, czar_started, git, make_repo, retry_until, sim_task, write_plan

pytestmark = pytest.mark.skipif(sandbox.available() is not None, reason=f"no sandbox here: {sandbox.available()}")


def _attacks(repo: Path, store: Path, other: Path) -> list[str]:
    shell = [
        f"echo pwned > {repo}/README.md",
        f"git --git-dir={repo}/.git branch -f main HEAD",
        f"git --git-dir={repo}/.git stash",
        f"git fetch --update-head-ok {repo} HEAD:main",
        f"env git push --force {repo} HEAD:main",
        f"rm -rf {repo}/.git/objects",
        f"echo pwned > {store}",
        f"echo pwned > {other}/good.txt",
        # czar's own processes, were they visible: tmux, the worker hosts, the supervisor
        "pkill -9 -x tmux; pkill -9 -f 'czar.host --plan'; pkill -9 -f 'czar supervise'",
    ]
    return [f"run sh -c {shlex.quote(cmd)}" for cmd in shell]


def test_a_hostile_agent_is_contained_and_the_run_still_merges(tmp_path: Path, czar_home: Path) -> None:
    name = "contain"
    repo = make_repo(tmp_path / "repo")
    data = czar_home / "projects" / name
    attacks = _attacks(repo, data / "czar.db", data / "worktrees" / "good")
    good = sim_task("good", extra="sleep 1")
    evil = sim_task("evil", extra="\n".join(attacks))
    plan = write_plan(tmp_path, name, [good, evil], workers=2)
    main_before = git(repo, "rev-parse", "main")

    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 2, summary

    assert (repo / "README.md").read_text() == "# sample\n"
    assert git(repo, "rev-parse", "main") == main_before
    assert git(repo, "stash", "list") == ""
    assert git(repo, "status", "--porcelain") == ""
    git(repo, "fsck", "--connectivity-only")
    assert git(repo, "show", "czar/integration:good.txt") == "good"
    assert git(repo, "show", "czar/integration:evil.txt") == "evil"


def test_checks_after_a_merge_cannot_plant_hooks_that_czar_would_run(tmp_path: Path, czar_home: Path) -> None:
    """The checks after a merge run the agents' code: it writes hooks and configuration into the
    git folder of wherever it runs. That is a throwaway clone, never czar's integration worktree,
    where czar runs git after: nothing planted there ever runs outside the sandbox."""
    marker = tmp_path / "outside" / "hook-ran"
    marker.parent.mkdir()
    plant = (
        "import pathlib, subprocess\n"
        "if pathlib.Path('.git').is_file():  # a worktree's pointer: make it a repository of its own\n"
        "    pathlib.Path('.git').unlink()\n"
        "    subprocess.run(['git', 'init', '-q'])\n"
        f"hook = '#!/bin/sh\\ntouch {marker}\\n'\n"
        "for name in ('post-checkout', 'post-merge', 'pre-merge-commit', 'reference-transaction'):\n"
        "    p = pathlib.Path('.git/hooks') / name\n"
        "    p.parent.mkdir(parents=True, exist_ok=True)\n"
        "    p.write_text(hook)\n"
        "    p.chmod(0o755)\n"
        "subprocess.run(['git', 'config', 'core.hooksPath', '.git/hooks'])\n"
    )
    repo = make_repo(tmp_path / "repo")
    first = sim_task("first", files={"check.py": plant})
    later = sim_task("later", deps=("first",))
    last = sim_task("last", deps=("later",))
    plan = write_plan(tmp_path, "hooks", [first, later, last], workers=1, project_extra='accept = ["python3 check.py"]')
    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 3
    assert not marker.exists(), "a hook the agents' code planted ran outside the sandbox"
    assert "hookspath" not in git(repo, "config", "--list", "--local").lower()


# The agent's view of the network, written into its work: one line per door it tried.
NET_PROBE = """
import socket, sys, urllib.request
lines = []
for name, port in (("forwarded", {forwarded}), ("private", {private})):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        lines.append(name + " open")
    except OSError:
        lines.append(name + " closed")
for name, url in (("pypi", "https://pypi.org/simple/"), ("metadata", "http://169.254.169.254/latest/")):
    try:
        urllib.request.urlopen(url, timeout=10)
        lines.append(name + " open")
    except Exception as exc:
        lines.append(name + " closed")
open("net.txt", "w").write("\\n".join(lines) + "\\n")
"""


def test_an_agent_reaches_only_the_doors_its_sandbox_opens(tmp_path: Path, czar_home: Path) -> None:
    """Services on this machine stay out of reach but for the ports the plan names, and a host
    elsewhere that is not allowed is refused by czar's proxy, which raises an alert naming it."""
    name = "doors"
    repo = make_repo(tmp_path / "repo")
    with socket.create_server(("127.0.0.1", 0)) as forwarded, socket.create_server(("127.0.0.1", 0)) as private:
        ports = {"forwarded": forwarded.getsockname()[1], "private": private.getsockname()[1]}
        probe = NET_PROBE.format(**ports)
        task = sim_task("net", files={"net.txt": "untried\n", "probe.py": probe}, extra="run python3 probe.py")
        sandbox_table = f"[sandbox]\nports = [{ports['forwarded']}]\n"
        plan = write_plan(tmp_path, name, [sandbox_table, task], workers=1)
        result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 1
    assert git(repo, "show", "czar/integration:net.txt").split("\n") == [
        "forwarded open",
        "private closed",
        "pypi closed",
        "metadata closed",
    ]
    store = Store(ProjectPaths.for_project(name))
    try:
        alerts = [e.payload["message"] for e in store.events_after(0, limit=100_000) if e.kind == "alert"]
    finally:
        store.close()
    assert any("could not reach pypi.org" in text and "allow_hosts" in text for text in alerts), alerts


def _events(name: str) -> list[Event]:
    store = Store(ProjectPaths.for_project(name))
    try:
        return list(store.events_after(0, limit=100_000))
    finally:
        store.close()


def test_an_agents_escape_sequences_never_reach_your_terminal(tmp_path: Path, czar_home: Path) -> None:
    """What an agent says is shown by `czar run`, `czar logs` and `czar status`: an escape
    sequence in it (a terminal title, OSC 52 writing your clipboard, a screen cleared) acted on
    the terminal that showed it. Each is written out (``^[``) instead."""
    make_repo(tmp_path / "repo")
    esc = "\\u001b]52;c;ZXZpbA==\\u0007 \\u001b]0;PWNED\\u0007 \\u001b[2J \\u009b31m"
    task = (
        '[[tasks]]\nid = "a"\ntitle = "a"\nscope = ["a.txt"]\nbody = """\nDo a.\n\n```czar-sim\n'
        f'note {esc}\nwrite a.txt <<END\na\nEND\ncommit add a\nask Bash {esc}\nfinish {esc}\n```\n"""\n'
    )
    plan = write_plan(tmp_path, "escapes", [task], workers=1)
    # It ends waiting for the ask: stopped once the ask is there (not at a time a busy machine
    # may not have reached it by).
    started = czar_started("run", str(plan), "--timeout", "120")
    try:
        retry_until(lambda: any(e.kind == "permission.asked" for e in _events("escapes")), 90, "the ask")
    finally:
        started.send_signal(signal.SIGTERM)
        out, err = started.communicate(timeout=120)
    run = subprocess.CompletedProcess(started.args, started.returncode, out, err)
    status = czar("status", str(plan), check=True)
    logs = [czar("logs", str(plan), who, check=True).stdout for who in ("w1", "supervisor")]
    czar("down", str(plan))
    shown = [run.stdout, run.stderr, status.stdout, *logs]
    assert "^[]52;c;ZXZpbA==^G" in logs[0]  # said, written out
    for text in shown:
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, text
