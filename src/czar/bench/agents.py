"""The real agent CLIs under czar, against the scripted model (``czar bench agents``).

Measured, as medians over several tasks:

- start: from czar deciding to start a task (its ``task.assigned`` event) to the agent's first
  model request for it, next to the CLI's own start-up (the bare CLI, started by hand, to its
  first request). The difference is what czar adds: its worker host, its MCP server, its hooks.
- finish: from the model's answer that hands the task in (the call of czar's ``done`` tool) to
  czar knowing the task is finished (its ``agent.finished`` event).
- supervisor CPU per task, over the whole run (verification and merges included).
- czar's CPU per task: every long-lived process of czar's (the supervisor, the worker hosts, the
  tools server, the front end that follows the run), from its start to the end of the run. Not the short ``czar``
  commands an agent runs (its hooks, ``czar report``): the agent starts those, as it starts its
  tools.
- memory per worker host: its resident set at the end of the run (the largest host's); beside it
  the project's tools server's (czar's MCP server), one for all the agents.
- a cold start: from typing ``czar run`` (nothing of czar running) to the agent's first model
  request.
- four at once: four workers started together, each one's start next to one worker's, and next
  to four bare CLIs started together (two cores share four start-ups: the bare CLIs show what
  the machine allows, and czar must not add to it).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from czar.agent_tools.tools_server import tools_pid
from czar.agents import claude, codex
from czar.bench.harness import cpu_seconds, resident_mb
from czar.core.events import EventKind
from czar.demo.sample import init_repo
from czar.model.answers import czar_tool
from czar.model.server import serve
from czar.runtime import proc
from czar.store.store import Event
from czar.supervisor import launcher, outcome
from czar.supervisor.project import open_project

KINDS = ("claude", "codex", "gemini")
# Keys the bench gives the agents: they only ever reach the local scripted model.
KEYS = {
    "ANTHROPIC_API_KEY": "sk-ant-bench-0123456789abcdefghijklmnop",
    "OPENAI_API_KEY": "sk-bench-0123456789",
    "GEMINI_API_KEY": "gemini-bench-key",
}
TARGETS = {
    "start_overhead_seconds": 0.5,  # czar's start over the CLI's own start-up
    "finish_ms": 100.0,
    "supervisor_cpu_seconds_per_task": 0.1,
    "four_at_once_overhead_seconds": 0.5,  # czar's start of four over four bare CLIs together
    "czar_cpu_seconds_per_task": 0.3,  # all of czar's processes together
    "host_memory_mb": 40.0,
    "cold_start_seconds": 1.0,
}


def find_cli(kind: str) -> str | None:
    """The agent CLI: the pinned one in the source tree's ``agent-clis/``, else the one on PATH."""
    pinned = Path(__file__).resolve().parents[3] / "agent-clis" / "node_modules" / ".bin" / kind
    return str(pinned) if pinned.exists() else shutil.which(kind)


def script(tid: str) -> str:
    """The model's side of one task: report, write a file, commit, hand it in."""
    return (
        f"report writing {tid}.txt\nwrite {tid}.txt <<END\n{tid}\nEND\n"
        f"commit add {tid}\ndone {tid}.txt is written\nend Done."
    )


def plan_text(
    name: str, kind: str, command: str, url: str, workers: int, tasks: Sequence[str], after: str | None = None
) -> str:
    """The plan: ``tasks`` for ``workers`` agents of ``kind``; with ``after``, a first task that
    the others depend on, so that they start together once the workers are up and waiting."""
    head = (
        f'[project]\nname = "{name}"\nrepo = "repo"\n\n[workers]\nagent = "{kind}"\ncount = {workers}\n\n'
        f'[agents.{kind}]\ncommand = "{command}"\nbase_url = "{url}"\nhome = "private"\n\n'
    )
    body = ""
    for tid in [after, *tasks] if after else tasks:
        deps = json.dumps([after] if after and tid != after else [])
        body += (
            f'[[tasks]]\nid = "{tid}"\ntitle = "Write {tid}.txt"\nscope = ["{tid}.txt"]\ndepends_on = {deps}\n'
            f"body = '''\nWrite {tid}.txt with the task id in it, commit it and hand the task in.\n\n"
            f"```czar-model\n{script(tid)}\n```\n'''\n\n"
        )
    return head + body


def bare_start(kind: str, command: str, url: str, folder: Path, log: Path, tid: str) -> float:
    """Seconds from starting the bare CLI to its first model request (no czar anywhere)."""
    folder.mkdir(parents=True, exist_ok=True)
    prompt = f"Task id: {tid}\n\n```czar-model\nend Done.\n```\n"
    env = {**os.environ, **KEYS}
    if kind == "claude":
        env.update(
            claude.QUIET,
            ANTHROPIC_BASE_URL=url,
            HOME=str(claude.private_home(folder, folder, KEYS["ANTHROPIC_API_KEY"])),
        )
        argv = [command, "-p", prompt, "--output-format", "stream-json", "--verbose"]
    elif kind == "gemini":
        settings = folder / ".gemini" / "settings.json"
        settings.parent.mkdir(parents=True, exist_ok=True)
        settings.write_text(json.dumps({"security": {"auth": {"selectedType": "gemini-api-key"}}}))
        env.update(GEMINI_CLI_HOME=str(folder), GEMINI_CLI_TRUST_WORKSPACE="true", GOOGLE_GEMINI_BASE_URL=url)
        argv = [command, "-p", prompt, "--output-format", "stream-json", "-m", "gemini-2.5-pro"]
    else:
        env["CODEX_HOME"] = str(codex.private_home(folder, url, None))
        argv = [command, "exec", "--json", "--skip-git-repo-check", "-C", str(folder), "-s", "workspace-write", prompt]
    started = time.time()
    # No input: with its input open, the CLI waits for it.
    proc.run(argv, cwd=folder, env=env, timeout=120)
    first = _requests(_entries(log), tid)
    if not first:
        raise RuntimeError(f"the bare {kind} CLI made no model request (its command: {command})")
    return first[0] - started


def _entries(log: Path) -> list[dict[str, Any]]:
    """The model's log (a line being written as it is read is left out)."""
    out = []
    for line in log.read_text().splitlines() if log.exists() else []:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _requests(entries: list[dict[str, Any]], tid: str) -> list[float]:
    return [e["time"] for e in entries if e.get("task") == tid]


def _done_answers(entries: list[dict[str, Any]], tid: str) -> list[float]:
    return [
        e["time"]
        for e in entries
        if e.get("task") == tid and czar_tool([str(e.get("answer", {}).get("tool", ""))], "done")
    ]


def czar_run(
    kind: str,
    command: str,
    url: str,
    log: Path,
    folder: Path,
    workers: int,
    tasks: Sequence[str],
    timeout: float,
    after: str | None = None,
) -> dict[str, Any]:
    """One run of czar with ``workers`` agents of ``kind`` on ``tasks`` (and the task ``after``
    they wait for); the start of each of ``tasks``, the finish of each task."""
    os.environ["CZAR_HOME"] = str(folder / "home")
    init_repo(folder / "repo", {"README.md": "# agents\n"}, "initial commit")
    plan = folder / "czar.toml"
    plan.write_text(
        plan_text(f"bench-agents-{folder.name}", kind, command, url, workers, tasks, after), encoding="utf-8"
    )
    project = open_project(plan)
    try:
        pid, _ = launcher.up(project)
        cpu_before, front_before = cpu_seconds(pid), time.thread_time()
        outcome.follow(project, 0, lambda _e: None, timeout=timeout)
        supervisor = cpu_seconds(pid)
        cpu = supervisor - cpu_before
        front = time.thread_time() - front_before  # this thread followed the run, as `czar run` does
        hosts = [(cpu_seconds(w.pid), resident_mb(w.pid)) for w in project.store.workers() if w.pid]
        server = tools_pid(project.store)  # the project's tools server, one for all the agents
        tools = (cpu_seconds(server), resident_mb(server)) if server else (0.0, None)
    finally:
        launcher.down(project, reason="benchmark finished")
    events = project.store.events_after(0, limit=10**9)
    merged = sum(1 for t in project.store.tasks() if t.state == "merged")
    entries = _entries(log)  # the model's log, read once
    starts, finishes = [], []
    for tid in [*tasks, after] if after else tasks:
        assigned = _first(events, EventKind.TASK_ASSIGNED, tid)
        requests = [t for t in _requests(entries, tid) if assigned is not None and t >= assigned]
        if assigned is not None and requests and tid != after:
            starts.append(requests[0] - assigned)
        finished = _first(events, EventKind.AGENT_FINISHED, tid)
        answers = _done_answers(entries, tid)
        if finished is not None and answers:
            finishes.append(finished - answers[0])
    return {
        "tasks": len(tasks) + bool(after),
        "merged": merged,
        "starts": starts,
        "finishes": finishes,
        "cpu_seconds": cpu,
        "czar_cpu_seconds": supervisor + front + tools[0] + sum(c for c, _ in hosts),
        # Where it went, for whoever makes it smaller.
        "czar_cpu_parts": {
            "supervisor": round(supervisor, 3),
            "front_end": round(front, 3),
            "tools_server": round(tools[0], 3),
            "worker_hosts": round(sum(c for c, _ in hosts), 3),
        },
        "host_mb": [m for _, m in hosts],
        "tools_server_mb": tools[1],
    }


def cold_start(kind: str, command: str, url: str, log: Path, folder: Path, timeout: float) -> float | None:
    """Seconds from ``czar run`` started with nothing of czar running to the agent's first model
    request for the plan's one task; None if it made none."""
    home = folder / "home"
    init_repo(folder / "repo", {"README.md": "# agents\n"}, "initial commit")
    plan = folder / "czar.toml"
    plan.write_text(plan_text(f"bench-cold-{folder.name}", kind, command, url, 1, ["cold"]), encoding="utf-8")
    env = {**os.environ, "CZAR_HOME": str(home)}
    started = time.time()
    try:
        proc.run([sys.executable, "-m", "czar", "run", str(plan), "--json"], env=env, timeout=timeout)
    finally:
        proc.run([sys.executable, "-m", "czar", "down", str(plan)], env=env, timeout=120)
    first = _requests(_entries(log), "cold")
    return first[0] - started if first else None


def _first(events: Sequence[Event], kind: str, tid: str) -> float | None:
    return next((e.ts for e in events if e.kind == kind and e.task_id == tid), None)


def run(
    kind: str = "claude",
    *,
    tasks: int = 5,
    command: str | None = None,
    folder: Path | None = None,
    timeout: float = 600,
    progress: bool = False,
) -> dict[str, Any]:
    """Measure ``kind`` under czar; the numbers, each target with whether it was met, and ``passed``."""
    if kind not in KINDS:
        raise ValueError(f"no agent benchmark for {kind!r}; choose one of: {', '.join(KINDS)}")
    cli = command or find_cli(kind)
    if cli is None:
        raise FileNotFoundError(f"the {kind} CLI is not installed: run `make test` once (npm ci in agent-clis/)")
    root = folder or Path(tempfile.mkdtemp(prefix="czar-bench-agents-"))
    root.mkdir(parents=True, exist_ok=True)
    saved = {k: os.environ.get(k) for k in (*KEYS, "CZAR_HOME")}
    os.environ.update(KEYS)
    log = root / "model.log"
    server = serve(0, log)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    started = time.monotonic()

    def say(text: str) -> None:
        if progress:
            print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)

    try:
        say(f"the bare {kind} CLI, {tasks} times")
        bare = [bare_start(kind, cli, url, root / "bare" / f"b{i}", log, f"bare-{i}") for i in range(tasks)]
        say("four bare CLIs started together")
        with ThreadPoolExecutor(4) as pool:
            bare4 = list(
                pool.map(lambda i: bare_start(kind, cli, url, root / "bare4" / f"b{i}", log, f"bare4-{i}"), range(4))
            )
        say(f"czar, one {kind} worker, {tasks} tasks")
        one = czar_run(kind, cli, url, log, root / "one", 1, [f"one{i}" for i in range(tasks)], timeout)
        say(f"czar, four {kind} workers, four tasks started together")
        four = czar_run(kind, cli, url, log, root / "four", 4, [f"four{i}" for i in range(4)], timeout, "first")
        say("a cold `czar run` of one task")
        cold = cold_start(kind, cli, url, log, root / "cold", timeout)
    finally:
        server.shutdown()
        server.server_close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return measure(kind, bare, bare4, one, four, time.monotonic() - started, root, cold)


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 3) if values else None


def measure(
    kind: str,
    bare: Sequence[float],
    bare4: Sequence[float],
    one: dict[str, Any],
    four: dict[str, Any],
    wall: float,
    root: Path,
    cold: float | None = None,
) -> dict[str, Any]:
    """The numbers of a run and its targets (pure: given the measured times)."""
    start_cli, start_czar = _median(bare), _median(one["starts"])
    start_cli4, start_czar4 = _median(bare4), _median(four["starts"])
    finishes = [*one["finishes"], *four["finishes"]]
    finish_ms = None if not finishes else round(statistics.median(finishes) * 1000, 1)
    tasks = one["tasks"] + four["tasks"]
    cpu_per_task = round((one["cpu_seconds"] + four["cpu_seconds"]) / tasks, 4) if tasks else None
    czar_cpu = round((one["czar_cpu_seconds"] + four["czar_cpu_seconds"]) / tasks, 4) if tasks else None
    hosts_mb = [*one["host_mb"], *four["host_mb"]]
    servers_mb = [m for m in (one.get("tools_server_mb"), four.get("tools_server_mb")) if m]
    result: dict[str, Any] = {
        "scenario": "agents",
        "agent": kind,
        "tasks_total": tasks,
        "tasks_merged": one["merged"] + four["merged"],
        "cli_start_seconds": start_cli,
        "czar_start_seconds": start_czar,
        "start_overhead_seconds": _diff(start_czar, start_cli),
        "finish_ms": finish_ms,
        "finish_ms_max": None if not finishes else round(max(finishes) * 1000, 1),
        "supervisor_cpu_seconds_per_task": cpu_per_task,
        "czar_cpu_seconds_per_task": czar_cpu,
        "host_memory_mb": round(max(hosts_mb), 1) if hosts_mb else None,
        "host_memory_mb_median": round(statistics.median(hosts_mb), 1) if hosts_mb else None,
        "tools_server_mb": round(max(servers_mb), 1) if servers_mb else None,
        "czar_cpu_seconds_parts": {
            part: round(one["czar_cpu_parts"][part] + four["czar_cpu_parts"][part], 3) for part in one["czar_cpu_parts"]
        },
        "cold_start_seconds": None if cold is None else round(cold, 3),
        "cli_start_four_seconds": start_cli4,
        "czar_start_four_seconds": start_czar4,
        "four_at_once_overhead_seconds": _diff(start_czar4, start_cli4),
        "four_over_one": None if not (start_czar4 and start_czar) else round(start_czar4 / start_czar, 3),
        "samples": {
            "cli": [round(x, 3) for x in bare],
            "czar": [round(x, 3) for x in one["starts"]],
            "cli_four": [round(x, 3) for x in bare4],
            "czar_four": [round(x, 3) for x in four["starts"]],
            "finish": [round(x * 1000, 1) for x in finishes],
        },
        "wall_seconds": round(wall, 2),
        "folder": str(root),
    }
    targets: dict[str, dict[str, Any]] = {
        "all_merged": {"target": tasks, "value": result["tasks_merged"], "met": result["tasks_merged"] == tasks}
    }
    for name, target in TARGETS.items():
        value = result[name]
        targets[name] = {"target": target, "value": value, "met": value is not None and value <= target}
    result["targets"] = targets
    result["passed"] = all(t["met"] for t in targets.values())
    return result


def _diff(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else round(a - b, 3)
