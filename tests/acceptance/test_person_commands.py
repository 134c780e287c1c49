"""Commands that act for a person (allow, deny, tell, down, up, run) refuse a caller inside an agent:
one whose environment is an agent's, and one an agent started even with those variables unset."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import insert

from czar.paths import ProjectPaths
from czar.store.schema import workers
from czar.store.store import Event, Store
from helpers import czar, make_repo, retry_until, write_plan

AGENT_MARKS = ("CZAR_WORKER", "CZAR_TOKEN", "CZAR_TASK")


def _task(tid: str, script: str) -> str:
    body = f"Do {tid}.\n\n```czar-sim\n{script}\n```\n"
    return f"[[tasks]]\nid = \"{tid}\"\ntitle = \"{tid}\"\nscope = [\"{tid}.txt\"]\nbody = '''\n{body}'''\n"


def _work(tid: str) -> str:
    return f"write {tid}.txt <<END\n{tid}\nEND\ncommit add {tid}\nfinish {tid} done"


def _events(name: str) -> list[Event]:
    store = Store(ProjectPaths.for_project(name))
    try:
        return list(store.events_after(0))
    finally:
        store.close()


def _czar_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in AGENT_MARKS}
    env.update(extra)
    return env


def _run_czar(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "czar", *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def _refused(result: subprocess.CompletedProcess[str], command: str) -> bool:
    lines = result.stderr.strip().splitlines()
    return (
        result.returncode == 2
        and len(lines) == 1
        and lines[0].startswith(f"czar: `czar {command}` acts for a person; it refuses to run inside an agent")
    )


@pytest.mark.parametrize("command", ["up", "run", "down", "allow", "deny", "tell"])
def test_each_persons_command_refuses_an_agents_environment(tmp_path: Path, czar_home: Path, command: str) -> None:
    make_repo(tmp_path / "repo")
    plan = write_plan(tmp_path, "marks", [_task("a", _work("a"))], workers=1)
    args = {"up": [str(plan)], "run": [str(plan)], "down": [str(plan)]}.get(
        command, ["w1", *(["hello"] if command == "tell" else []), "--plan", str(plan)]
    )
    env = _czar_env(CZAR_WORKER="w1", CZAR_TOKEN="0" * 32, CZAR_TASK="a")
    result = _run_czar([command, *args], env)
    assert _refused(result, command), result.stderr
    assert "CZAR_WORKER, CZAR_TOKEN, CZAR_TASK set" in result.stderr
    # Nothing was started or recorded.
    status = json.loads(czar("status", str(plan), "--json", check=True).stdout)
    assert all(w["state"] == "stopped" for w in status["workers"])
    assert not [e for e in _events("marks") if e.actor == "person"]


def test_an_agent_cannot_answer_a_permission_even_without_its_variables(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    plan = write_plan(
        tmp_path,
        "asking",
        [_task("deploy", f"ask Bash terraform apply\n{_work('deploy')}")],
        workers=1,
        project_extra="[health]\npermission_timeout = 600\n",
    )
    czar("up", str(plan), check=True)

    def waiting() -> bool:
        status = json.loads(czar("status", str(plan), "--json", check=True).stdout)
        return any(w["state"] == "waiting_permission" for w in status["workers"])

    retry_until(waiting, timeout=60, what="the permission request")
    allow = ["allow", "w1", "--plan", str(plan)]

    # 1. The environment its host gives an agent.
    agent_env = _czar_env(CZAR_WORKER="w1", CZAR_TOKEN="0" * 32, CZAR_TASK="deploy", CZAR_PROJECT="asking")
    assert _refused(_run_czar(allow, agent_env), "allow")

    # 2. A process an agent started, its variables unset: a child of a process registered as an
    # agent (it waits on its input so that it is registered before its child runs).
    relay = "import subprocess, sys; sys.stdin.readline(); sys.exit(subprocess.call(sys.argv[1:]))"
    parent = subprocess.Popen(
        [sys.executable, "-c", relay, sys.executable, "-m", "czar", *allow],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_czar_env(),
        start_new_session=True,  # as the worker host starts an agent: it leads its group and session
    )
    store = Store(ProjectPaths.for_project("asking"))
    with store.write() as conn:
        conn.execute(insert(workers).values(id="w-agent", agent="sim", state="working", updated_at=time.time()))
        Store.set_worker(conn, "w-agent", agent_pid=parent.pid)
    store.close()
    _, err = parent.communicate("go\n", timeout=60)
    assert parent.returncode == 2, err
    assert err.strip().startswith("czar: `czar allow` acts for a person") and "started by an agent" in err

    # Still waiting; no decision was recorded as a person's.
    assert waiting()
    assert not [e for e in _events("asking") if e.actor == "person"]

    # A person can (the plan first, as `czar status` takes it, or after the worker, or -p).
    assert "allowed" in czar("allow", str(plan), "w1", check=True).stdout
    decided = [e for e in _events("asking") if e.kind == "permission.decided" and e.actor == "person"]
    assert len(decided) == 1
    # What was allowed, as a policy's decision says it (`czar run` showed "its request").
    assert (decided[0].payload["tool"], decided[0].payload["target"]) == ("Bash", "terraform apply")
    czar("down", str(plan), check=True)
