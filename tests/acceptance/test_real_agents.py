"""The real agent CLIs (Claude Code and Codex, pinned in agent-clis/), driven by czar against its
scripted model server: a whole plan to the end, and czar's MCP server checked by a client czar did
not write (the MCP Inspector)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from czar.model.server import serve
from czar.paths import ProjectPaths
from czar.runtime import sandbox
from czar.store.store import Event, Store
from helpers import assigned, czar, czar_started, git, make_repo, retry_until

BIN = Path(__file__).resolve().parents[2] / "agent-clis" / "node_modules" / ".bin"


@pytest.fixture(scope="module")
def clis() -> Path:
    for name in ("claude", "codex", "gemini", "mcp-inspector"):
        if not (BIN / name).exists():
            pytest.fail(f"{BIN / name} is missing: `make test` installs the agent CLIs (npm ci in agent-clis/)")
    return BIN


@pytest.fixture
def model(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    log = tmp_path / "model.log"
    server = serve(0, log)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", log
    finally:
        server.shutdown()
        server.server_close()


def task(tid: str, agent: str | None, script: str, deps: tuple[str, ...] = ()) -> str:
    head = (
        f'[[tasks]]\nid = "{tid}"\ntitle = "Add {tid}"\nscope = ["{tid}.py"]\ndepends_on = {json.dumps(list(deps))}\n'
    )
    head += f'agent = "{agent}"\n' if agent else ""
    return head + f"body = '''\nAdd {tid}.py.\n\n```czar-model\n{script}\n```\n'''\n"


def module(tid: str, before_commit: str = "", extra: str = "") -> str:
    return (
        f"report adding {tid}.py\n"
        f"write {tid}.py <<END\ndef {tid}(name):\n    return '{tid}, ' + name\nEND\n"
        f"run python3 -c \"import {tid}; print({tid}.{tid}('x'))\"\n"
        f"{extra}{before_commit}commit add {tid}\ncheckpoint 1 {tid} written and committed\n"
        f"done {tid}.py is in place\nend Done."
    )


def reviewed_task(tid: str, review: str) -> str:
    """A task a sim author writes (a function that fails on an empty list), with the script its
    reviewer's model plays (``czar-model-review``)."""
    sim = f"write {tid}.py <<END\ndef {tid}(x):\n    return x[0]\nEND\ncommit add {tid}\nfinish {tid} done"
    return (
        f'[[tasks]]\nid = "{tid}"\nscope = ["{tid}.py"]\nbody = \'\'\'\nAdd {tid}.py.\n\n'
        f"```czar-sim\n{sim}\n```\n\n```czar-model-review\n{review}\n```\n'''\n"
    )


def one_worker(
    plan: Path, name: str, clis: Path, url: str, tasks: str, settings: str = "", kind: str = "claude"
) -> Path:
    """A plan for one worker of ``kind`` in a private home, talking to the scripted model."""
    plan.write_text(
        f'[project]\nname = "{name}"\nrepo = "repo"\n\n[workers]\nagent = "{kind}"\ncount = 1\n\n'
        f'[agents.{kind}]\ncommand = "{clis / kind}"\nbase_url = "{url}"\nhome = "private"\n{settings}\n' + tasks
    )
    return plan


def events_of(name: str) -> list[Event]:
    store = Store(ProjectPaths.for_project(name))
    try:
        return store.events_after(0, limit=100_000)
    finally:
        store.close()


@pytest.mark.timeout(600)
def test_claude_code_and_codex_work_a_plan_to_the_end(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, log = model
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    repo = make_repo(tmp_path / "repo")
    plan = tmp_path / "czar.toml"
    plan.write_text(
        f'[project]\nname = "real"\nrepo = "repo"\n\n[workers]\nagents = {{ claude = 2, codex = 1 }}\n\n'
        f'[agents.claude]\ncommand = "{clis / "claude"}"\nbase_url = "{url}"\nhome = "private"\n\n'
        f'[agents.codex]\ncommand = "{clis / "codex"}"\nbase_url = "{url}"\n\n'
        # It stops once before handing in: czar sends it back to work.
        + task("greeting", "claude", module("greeting", extra="end I stop here for now.\n"))
        # The model takes its time before the commit: the test kills the agent meanwhile.
        + task("farewell", "claude", module("farewell", before_commit="wait 6\n"))
        + task("parting", "codex", module("parting"))
        + task(
            "everyone",
            "claude",
            module("everyone", extra="run git push origin main\n"),
            deps=("greeting", "farewell", "parting"),
        )
    )
    czar("up", str(plan), check=True)

    def farewell_agent() -> int | None:
        # Once it ran its check, the model takes its time (`wait 6`) before the commit: kill then.
        events = events_of("real")
        ran = [e for e in events if e.kind == "permission.decided" and e.task_id == "farewell"]
        if not any("import farewell" in e.payload.get("target", "") for e in ran):
            return None
        worker = next(e.worker_id for e in events if e.kind == "task.assigned" and e.task_id == "farewell")
        store = Store(ProjectPaths.for_project("real"))
        try:
            with store.read() as conn:
                pid: int | None = Store.worker(conn, str(worker)).agent_pid
            return pid
        finally:
            store.close()

    pid = retry_until(farewell_agent, timeout=90, what="farewell's agent to acknowledge its task")
    os.kill(pid, signal.SIGKILL)  # Claude Code crashes in the middle of the task

    result = czar("run", str(plan), "--json", timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == summary["tasks_total"] == 4

    events = events_of("real")
    # Files were written by the agents' own tools and the work merged.
    files = git(repo, "ls-tree", "-r", "--name-only", "czar/integration").split()
    assert {"greeting.py", "farewell.py", "parting.py", "everyone.py"} <= set(files)
    # Status came through czar's MCP tools: each agent named its task and reported its checkpoint.
    for tid in ("greeting", "farewell", "parting", "everyone"):
        assert any(e.kind == "agent.ack" and e.task_id == tid and e.payload["confirmed"] for e in events), tid
        assert any(e.kind == "agent.progress" and e.task_id == tid for e in events), tid
    # Stopping before handing in sent it back to work (headless: from its output, no hook).
    assert any(e.kind == "agent.sent_back" and e.task_id == "greeting" for e in events)
    # The crash was noticed and the agent restarted with its session resumed.
    assert any(e.kind == "health.restart" and e.task_id == "farewell" for e in events)
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(e.kind == "agent.restarted" and e.task_id == "farewell" for e in events)
    told = [r for r in requests if r["task"] == "greeting" and "is not handed in yet" in r["last_user_text"]]
    assert told, "the agent that stopped early was not sent back to work"
    resumed = [r for r in requests if r["task"] == "farewell" and r["api"] == "anthropic" and r["answered"] >= 3]
    assert resumed, "the restarted agent did not bring its conversation back"
    # Permissions were decided by the policy: Claude's edits and commands allowed, the push denied.
    decided = [(e.task_id, e.payload["decision"], e.payload["tool"]) for e in events if e.kind == "permission.decided"]
    assert ("greeting", "allow", "Write") in decided and ("greeting", "allow", "Bash") in decided
    denied = [e for e in events if e.kind == "permission.decided" and e.payload["decision"] == "deny"]
    assert denied and "git push origin main" in denied[0].payload["target"]
    # Codex ran in czar's sandbox (its own cannot be made inside), where its `git commit` works;
    # in its own sandbox, where `.git` is read-only, czar commits for it.
    by_czar = any(e.kind == "agent.commit" and e.task_id == "parting" and e.payload.get("by") == "czar" for e in events)
    assert by_czar is (sandbox.available() is not None)
    authors = git(tmp_path / "repo", "log", "--format=%an", "czar/integration", "--", "parting.py").splitlines()
    assert authors and all(a.startswith("czar w") for a in authors), authors
    # Costs were recorded for every attempt: Claude's as it reported them, Codex's priced from tokens.
    store = Store(ProjectPaths.for_project("real"))
    try:
        with store.read() as conn:
            rows = conn.exec_driver_sql("select task_id, input_tokens, output_tokens, cost_usd from attempts").all()
    finally:
        store.close()
    for task_id, tokens_in, tokens_out, cost in rows:
        assert tokens_in > 0 and tokens_out > 0 and cost > 0, (task_id, tokens_in, tokens_out, cost)


def test_the_mcp_inspector_lists_and_calls_czars_tools(tmp_path: Path, czar_home: Path, clis: Path) -> None:
    assigned(tmp_path, "inspected", token="the-token")
    env = [f"CZAR_HOME={czar_home}", "CZAR_PROJECT=inspected", "CZAR_WORKER=w1", "CZAR_TOKEN=the-token"]
    base = [str(clis / "mcp-inspector"), "--cli", *[x for v in env for x in ("-e", v)]]
    server = [sys.executable, "-m", "czar", "mcp", "--worker", "w1"]

    def inspect(*method: str) -> dict[str, object]:
        out = subprocess.run([*base, *server, *method], capture_output=True, text=True, timeout=120, check=True)
        return dict(json.loads(out.stdout))

    tools = inspect("--method", "tools/list")
    names = {t["name"] for t in tools["tools"]}  # type: ignore[attr-defined]
    assert {"report", "board", "claim", "release", "done", "blocked", "ask", "permission"} <= names
    called = inspect("--method", "tools/call", "--tool-name", "report", "--tool-arg", "task=a", "--tool-arg", "text=hi")
    assert "acknowledged" in json.dumps(called)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("interactive", [False, True], ids=["headless", "on-its-screen"])
def test_a_persons_answer_after_claude_codes_own_minute_still_reaches_its_agent(
    tmp_path: Path,
    czar_home: Path,
    clis: Path,
    model: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    interactive: bool,
) -> None:
    """Claude Code gives up on a request to an HTTP MCP server after 60 s unless told otherwise:
    its permission tool, waiting for a person, failed ("The operation timed out") and the person's
    `czar allow` came to nobody. On its own screen, its hook's call to the worker host, and the
    host's to the tools server, timed out at the same minute (and the host went on on the store).
    Each waits now as long as czar does."""
    url, _ = model
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    make_repo(tmp_path / "repo")
    # `cd` to a variable's folder before git: czar cannot tell which repository git works on, so a
    # person decides.
    script = (
        'report asking\nrun cd /tmp && cd "$OLDPWD" && git status --short && echo allowed > late.py\n'
        "commit add late\ndone late.py\nend Done."
    )
    settings = "interactive = true\n" if interactive else ""
    plan = one_worker(tmp_path / "czar.toml", "late", clis, url, task("late", None, script), settings)
    run = czar_started("run", str(plan), "--json")
    try:
        asked = retry_until(
            lambda: next((e for e in events_of("late") if e.kind == "permission.asked"), None), 120, "the ask"
        )
        time.sleep(max(0.0, asked.ts + 65 - time.time()))  # past Claude Code's own 60 s
        czar("allow", "-p", str(plan), "w1", check=True)
        out, err = run.communicate(timeout=120)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    assert json.loads(out)["tasks_merged"] == 1
    assert git(tmp_path / "repo", "show", "czar/integration:late.py") == "allowed"
    events = events_of("late")
    decided = [e.payload for e in events if e.kind == "permission.decided" and e.payload.get("by") == "person"]
    assert [d["decision"] for d in decided] == ["allow"]
    assert not [e for e in events if "timed out" in str(e.payload.get("text", ""))]


@pytest.mark.timeout(300)
def test_a_task_over_its_budget_is_stopped_with_an_alert(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = model
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    make_repo(tmp_path / "repo")
    plan = tmp_path / "czar.toml"
    costly = task("costly", "claude", module("costly")).replace(
        'agent = "claude"\n', 'agent = "claude"\nbudget_usd = 0.01\n'
    )
    one_worker(plan, "budget", clis, url, costly)
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 1
    summary = json.loads(result.stdout)
    assert summary["failed_tasks"] == ["costly"] and summary["cost_usd"] > 0.01
    events = events_of("budget")
    stopped = [e for e in events if e.kind == "health.stop" and e.task_id == "costly"]
    assert stopped and "budget" in stopped[0].payload["evidence"]
    alerts = [e.payload["message"] for e in events if e.kind == "alert"]
    assert any("costly stopped" in m and "budget" in m for m in alerts)


@pytest.mark.timeout(300)
def test_claude_code_on_its_own_screen_is_followed_by_its_hooks(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from czar.supervisor.project import open_project

    url, _ = model
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    repo = make_repo(tmp_path / "repo")
    plan = tmp_path / "czar.toml"
    # The model stops twice (the Stop hook sends it back once) and waits on its screen for a
    # message; a person's message, pasted in, brings the rest of the work.
    script = (
        "report adding greet.py\nend Thinking it over.\nend Waiting for a word from you.\n"
        "write greet.py <<END\nprint('hi')\nEND\nrun python3 greet.py\ncommit add greet\n"
        "done greet.py is in place\nend Done."
    )
    # No nudge while it waits: the person's message must be the one pasted in, however long the
    # test takes to get there on a busy machine.
    settings = "interactive = true\n\n[health]\nidle_after = 600\n"
    one_worker(plan, "screen", clis, url, task("greet", None, script), settings=settings)
    czar("up", str(plan), check=True)

    def waiting() -> bool:
        hooks = [e for e in events_of("screen") if e.kind == "agent.hook" and e.payload["hook"] == "Stop"]
        return any(e.payload["detail"].get("again") for e in hooks)

    retry_until(waiting, timeout=120, what="Claude Code to stop and wait for a message")
    screen = open_project(plan).tmux.capture("w1", lines=200)
    assert "Waiting for a word from you." in screen  # Claude Code's own screen is in the pane
    assert "? for shortcuts" in screen or "\u276f" in screen  # its input box

    told = "Please go on now:\nadd greet.py, check it runs, commit it, and hand the task in."
    czar("tell", "w1", told, "--plan", str(plan), check=True)
    result = czar("run", str(plan), "--json", timeout=200)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "greet.py" in git(repo, "ls-tree", "-r", "--name-only", "czar/integration").split()

    events = events_of("screen")
    # The message of two lines went in as one prompt, confirmed by the agent's hook.
    submitted = [e for e in events if e.kind == "agent.prompt_submitted"]
    assert submitted and submitted[0].payload["confirmed"] is True
    # Each tool use was decided by czar's policy through the PreToolUse hook.
    decided = [(e.payload["tool"], e.payload["decision"]) for e in events if e.kind == "permission.decided"]
    assert ("Write", "allow") in decided and ("Bash", "allow") in decided
    assert any(e.kind == "agent.ack" and e.payload["confirmed"] for e in events)
    # Its usage came from its transcript, each message once, priced from the table.
    usage = [e for e in events if e.kind == "agent.usage"]
    assert usage and sum(e.payload["cost_usd"] for e in usage) > 0
    assert sum(e.payload["input_tokens"] for e in usage) > 0


@pytest.mark.timeout(300)
def test_gemini_cli_works_a_task_with_czars_policy_deciding_in_its_hook(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, log = model
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-test-key")
    repo = make_repo(tmp_path / "repo")
    plan = tmp_path / "czar.toml"
    hello = task("hello", None, module("hello", extra="run git push origin main\n"))
    one_worker(plan, "gem", clis, url, hello, kind="gemini")
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["cost_usd"] > 0  # priced from its token counts
    assert "hello.py" in git(repo, "ls-tree", "-r", "--name-only", "czar/integration").split()
    events = events_of("gem")
    # It reported through czar's MCP tools, and czar's policy decided its tools in its BeforeTool hook.
    assert any(e.kind == "agent.ack" and e.payload["confirmed"] for e in events)
    decided = [
        (e.payload["tool"], e.payload["decision"], e.payload["target"])
        for e in events
        if e.kind == "permission.decided"
    ]
    assert any(tool == "write_file" and verdict == "allow" for tool, verdict, _ in decided)
    assert ("run_shell_command", "deny", "git push origin main") in decided
    requests = [json.loads(line) for line in log.read_text().splitlines()]
    assert {r["api"] for r in requests} == {"gemini"}


@pytest.mark.timeout(300)
def test_two_messages_told_to_gemini_cli_in_a_row_both_reach_it(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Gemini CLI answers one message per process: each message starts it again, a new
    conversation, with the task's text first. Found by a probe: a second message that came while
    the first one's start was under way (seconds, for Gemini) replaced it, and the first never
    reached its model; and one that came after was alone in the new conversation."""
    url, log = model
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-test-key")
    make_repo(tmp_path / "repo")
    script = 'report asking\ntool ask {"question": "What should tg.py hold?"}\nend Waiting for an answer.'
    plan = one_worker(tmp_path / "czar.toml", "tell2", clis, url, task("tg", None, script), kind="gemini")
    czar("up", str(plan), check=True)
    try:
        retry_until(lambda: any(e.kind == "agent.question" for e in events_of("tell2")), 120, "the question")
        czar("tell", "-p", str(plan), "w1", "PART-ONE: it holds TG = 1", check=True)
        czar("tell", "-p", str(plan), "w1", "PART-TWO: and a docstring", check=True)  # (it may be starting)

        def heard(*parts: str) -> bool:
            texts = [json.loads(line)["last_user_text"] for line in log.read_text().splitlines()]
            return any(all(p in t for p in parts) for t in texts)

        retry_until(lambda: heard("PART-ONE", "PART-TWO"), 120, "a request of its model with both messages")
        retry_until(lambda: sum(e.kind == "agent.question" for e in events_of("tell2")) > 1, 120, "it asks again")
        czar("tell", "-p", str(plan), "w1", "PART-THREE: and a test", check=True)  # after both were heard
        retry_until(lambda: heard("PART-ONE", "PART-TWO", "PART-THREE"), 120, "a request with all three")
    finally:
        czar("down", str(plan))


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("named", "api"),
    [("openai/gpt-5", "chat"), (None, "anthropic")],
    ids=["openai", "anthropic-by-its-key"],
)
def test_aider_works_a_task_and_czar_carries_out_the_czar_commands_it_proposes(
    tmp_path: Path,
    czar_home: Path,
    model: tuple[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    named: str | None,
    api: str,
) -> None:
    """With no model named, Aider takes Anthropic's when ANTHROPIC_API_KEY is set (as it is for
    many): it went to api.anthropic.com, past the plan's base_url."""
    aider = BIN.parents[1] / "aider-venv" / "bin"
    if not (aider / "aider").exists():
        pytest.fail(f"{aider / 'aider'} is missing: `make test` installs it (agent-clis/requirements-aider.txt)")
    url, log = model
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    if named is None:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    repo = make_repo(tmp_path / "repo")
    plan = tmp_path / "czar.toml"
    settings = f'model = "{named}"\n' if named else ""
    hello = task("hello", None, module("hello"))
    if named is None:  # a task of no scope: every file it leaves is the work's (found by a review:
        hello = hello.replace('scope = ["hello.py"]\n', "")  # its done was refused for Aider's caches)
    one_worker(plan, "aid", aider, url, hello, settings, kind="aider")
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["cost_usd"] > 0  # priced from the tokens it reports
    files = git(repo, "ls-tree", "-r", "--name-only", "czar/integration").split()
    assert "hello.py" in files  # written by Aider's own edit, and committed by it
    assert not [f for f in files if f.startswith(".aider")]  # its own files stay out of the work
    events = events_of("aid")
    assert any(e.kind == "agent.ack" and e.task_id == "hello" for e in events)  # its proposed `czar report`
    assert any(e.kind == "agent.progress" and e.payload.get("checkpoint") == 1 for e in events)
    assert any(e.kind == "agent.finished" for e in events)  # its proposed `czar done`
    assert not [e for e in events if e.kind == "agent.finished" and e.payload.get("refused")]
    assert {json.loads(line)["api"] for line in log.read_text().splitlines()} == {api}


@pytest.mark.timeout(300)
def test_claude_codes_own_shell_cannot_reach_beyond_its_task_even_when_the_policy_allows_all(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sandbox, not the policy, holds: with every tool use allowed, Claude Code's own Bash
    tool runs commands that would rewrite the user's branch, stash in their checkout, write into
    it and read the store; none reaches, and the task still merges."""
    if sandbox.available() is not None:
        pytest.skip(f"no sandbox here: {sandbox.available()}")
    url, _ = model
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    repo = make_repo(tmp_path / "repo")
    main_before = git(repo, "rev-parse", "main")
    store = czar_home / "projects" / "walls" / "czar.db"
    attacks = [
        f"git --git-dir={repo}/.git update-ref -d refs/heads/main",
        f"git --git-dir={repo}/.git --work-tree={repo} stash",
        f"cd {repo} && echo pwned > README.md",
        f"cp {store} stolen.db",
    ]
    script = "report trying the walls\n" + "".join(f"run {a}\n" for a in attacks) + module("walls").split("\n", 1)[1]
    allow_all = '\n[permissions]\ndefaults = false\nallow = [{ tool = "*", match = "*" }]\n'
    one_worker(tmp_path / "czar.toml", "walls", clis, url, allow_all + task("walls", None, script))
    result = czar("run", str(tmp_path / "czar.toml"), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    events = events_of("walls")
    ran = [e.payload["target"] for e in events if e.kind == "permission.decided" and e.payload["tool"] == "Bash"]
    assert all(any(a in target for target in ran) for a in attacks), ran  # each was really run
    assert git(repo, "rev-parse", "main") == main_before
    assert (repo / "README.md").read_text() == "# sample\n"
    assert git(repo, "stash", "list") == "" and git(repo, "status", "--porcelain") == ""
    files = git(repo, "ls-tree", "-r", "--name-only", "czar/integration").split()
    assert "walls.py" in files and "stolen.db" not in files


@pytest.mark.timeout(300)
def test_claude_code_that_kills_its_sandboxs_network_is_started_again_not_waited_for_as_an_outage(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listener that carries a sandbox's connections out is a process in the sandbox, which
    the agent can kill: its model then seemed unreachable (a critical alert), and the run waited
    for a model that was fine until a person came (four minutes here, and on). The host sees the
    listener gone, stops the agent, and it is started again (its session resumed) at once."""
    if sandbox.available() is not None:
        pytest.skip(f"no sandbox here: {sandbox.available()}")
    url, _ = model
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    make_repo(tmp_path / "repo")
    # Once (a mark in its git folder): resumed, its session holds the command's result anyway.
    cut = "run test -e .git/cut || { touch .git/cut; pkill -f 'netn[s].py'; }\n"
    allow_all = '\n[permissions]\ndefaults = false\nallow = [{ tool = "*", match = "*" }]\n'
    one_worker(tmp_path / "czar.toml", "cut", clis, url, allow_all + task("cut", None, module("cut", extra=cut)))
    started = time.monotonic()
    result = czar("run", str(tmp_path / "czar.toml"), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert time.monotonic() - started < 60
    events = events_of("cut")
    kinds = [e.kind for e in events]
    assert "agent.model_unreachable" not in kinds, kinds
    assert not [e for e in events if e.kind == "alert" and "model" in e.payload["message"]]
    assert "agent.restarted" in kinds
    log = (czar_home / "projects" / "cut" / "logs" / "w1.log").read_text()
    assert "the network of its sandbox is gone" in log


def test_claude_code_with_your_home_keeps_its_state_there_but_leaves_nothing_to_run_later(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``home = "user"``: the real Claude Code, told by its model to plant hooks, commands and an MCP
    server in your home and to read your keys, runs the task; your settings are unchanged, what it
    added is undone (and kept, with an alert), your keys never reach the model."""
    if sandbox.available() is not None:
        pytest.skip(f"no sandbox here: {sandbox.available()}")
    url, log = model
    you = tmp_path / "you"
    (you / ".claude").mkdir(parents=True)
    (you / ".claude" / "settings.json").write_text('{"model": "yours"}\n')
    (you / ".claude.json").write_text('{"numStartups": 1}\n')  # yours, as after a first start
    (you / ".ssh").mkdir()
    (you / ".ssh" / "id_ed25519").write_text("PRIVATE-KEY-OF-YOURS\n")
    monkeypatch.setenv("HOME", str(you))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    make_repo(tmp_path / "repo")
    add_server = (
        "import json, os; p = os.path.expanduser('~/.claude.json'); "
        "d = json.load(open(p)) if os.path.exists(p) else {}; "
        "d['mcpServers'] = {'planted': {'command': 'sh'}}; json.dump(d, open(p, 'w'))"
    )
    attacks = [
        'echo \'{"hooks": {"Stop": []}}\' > ~/.claude/settings.json',
        "mkdir -p ~/.claude/commands && echo run-me > ~/.claude/commands/deploy.md",
        f'python3 -c "{add_server}"',
        "cat ~/.ssh/id_ed25519",
    ]
    script = "report trying your home\n" + "".join(f"run {a}\n" for a in attacks) + module("homely").split("\n", 1)[1]
    allow_all = '\n[permissions]\ndefaults = false\nallow = [{ tool = "*", match = "*" }]\n'
    plan = one_worker(tmp_path / "czar.toml", "homely", clis, url, allow_all + task("homely", None, script))
    plan.write_text(plan.read_text().replace('home = "private"', 'home = "user"'))
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 1
    events = events_of("homely")
    ran = [e.payload["target"] for e in events if e.kind == "permission.decided" and e.payload["tool"] == "Bash"]
    assert all(any(a in target for target in ran) for a in attacks), ran  # each was really run
    assert (you / ".claude" / "settings.json").read_text() == '{"model": "yours"}\n'
    assert list((you / ".claude" / "commands").iterdir()) == []  # made empty by czar, read-only
    assert "planted" not in (you / ".claude.json").read_text()
    assert list((you / ".claude" / "projects").iterdir())  # its sessions, in your home as usual
    undone = list((czar_home / "projects" / "homely" / "logs" / "undone").glob("*/.claude.json"))
    assert undone and all("planted" in p.read_text() for p in undone)
    alerts = [e.payload["message"] for e in events if e.kind == "alert"]
    assert any("~/.claude.json" in a and "Undone" in a for a in alerts), alerts
    assert "PRIVATE-KEY-OF-YOURS" not in log.read_text()


@pytest.mark.timeout(400)
def test_claude_code_reviews_read_only_and_its_verdict_holds_for_the_commit_it_read(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = model
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    repo = make_repo(tmp_path / "repo")

    # The reviewer of a tries to edit what it reads and to run the project's code, then finds a bug.
    hostile = (
        "write notes.py <<END\nprint('a reviewer was here')\nEND\n"
        "run python3 -c 'import a'\n"
        "finding a.py 2 blocking an empty list raises IndexError in every caller\n"
        "request-changes handle the empty list\nend Done."
    )
    plan = tmp_path / "czar.toml"
    plan.write_text(
        '[project]\nname = "reviewed"\nrepo = "repo"\n\n[workers]\nagent = "sim"\ncount = 1\n\n'
        "[review]\nagents = { claude = 1 }\nmax_review_rounds = 0\n\n"
        f'[agents.claude]\ncommand = "{clis / "claude"}"\nbase_url = "{url}"\nhome = "private"\n\n'
        + reviewed_task("a", hostile)
        + reviewed_task("b", "run git log --oneline -3\napprove reads well\nend Done.")
    )
    result = czar("run", str(plan), "--json", timeout=300)
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 1 and summary["failed_tasks"] == ["a"], result.stdout + result.stderr

    events = events_of("reviewed")
    verdicts = {e.task_id: e.payload for e in events if e.kind == "review.verdict"}
    assert verdicts["a"]["verdict"] == "request_changes" and verdicts["a"]["blocking"] == 1
    assert verdicts["b"]["verdict"] == "approve"
    # Each verdict is on the commit the reviewer read: the branch's tip when its review started.
    started = {e.task_id: e.payload["commit"] for e in events if e.kind == "review.started"}
    assert started["a"] == verdicts["a"]["commit"] == git(repo, "rev-parse", "czar/a")
    # Its edit and its run of the project's code were refused by the reviewer's policy.
    denied = [e.payload for e in events if e.kind == "permission.decided" and e.worker_id == "r1"]
    assert {d["tool"] for d in denied if d["decision"] == "deny"} >= {"Write", "Bash"}, denied
    assert "notes.py" not in git(repo, "ls-tree", "-r", "--name-only", "czar/a")  # nothing it wrote reached the work
    # The findings went on the pull request, with the line.
    prs = json.loads(czar("prs", str(plan), "--json", check=True).stdout)
    number = next(p["number"] for p in prs if p["task"] == "a")
    shown = json.loads(czar("pr", "show", str(number), str(plan), "--json", check=True).stdout)
    review = next(h for h in shown["history"] if h["what"] == "review")
    assert review["findings"][0]["line"] == 2 and review["reviewer"] == "r1 (claude)"


@pytest.mark.timeout(400)
@pytest.mark.parametrize("kind", ["codex", "gemini"])
def test_codex_and_gemini_review_through_czars_tools(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    url, _ = model
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    monkeypatch.setenv("GEMINI_API_KEY", "test-gemini-key-0123456789")
    make_repo(tmp_path / "repo")

    name = f"reviewed-{kind}"
    plan = tmp_path / "czar.toml"
    plan.write_text(
        f'[project]\nname = "{name}"\nrepo = "repo"\n\n[workers]\nagent = "sim"\ncount = 1\n\n'
        f"[review]\nagents = {{ {kind} = 1 }}\nmax_review_rounds = 0\n\n"
        f'[agents.{kind}]\ncommand = "{clis / kind}"\nbase_url = "{url}"\nhome = "private"\n\n'
        + reviewed_task(
            "a",
            "finding a.py 2 blocking an empty list raises IndexError in every caller\n"
            "request-changes handle the empty list\nend Done.",
        )
        + reviewed_task("b", "approve reads well\nend Done.")
    )
    result = czar("run", str(plan), "--json", timeout=300)
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 1 and summary["failed_tasks"] == ["a"], result.stdout + result.stderr
    verdicts = {e.task_id: e.payload for e in events_of(name) if e.kind == "review.verdict"}
    assert verdicts["a"]["verdict"] == "request_changes" and verdicts["a"]["blocking"] == 1
    assert verdicts["b"]["verdict"] == "approve"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("kind", ["claude", "codex"])
def test_the_agents_shell_runs_the_projects_python_and_czars_czar(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """With a virtualenv of the project's activated, the agent's own shell tool finds its `python`
    (with the project's packages), a pipe and a `cd` included, and `czar` is czar's (found by
    hand: czar's folder came first, and the agent's test runs had none of the project's packages;
    Codex's commands ran in a login shell, whose profile set PATH again: `python: command not
    found`). Its node finds the packages installed in your checkout's node_modules, from a folder
    below."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = venv.glob("lib/python3*/site-packages")
    (site / "projectdep.py").write_text("VALUE = 42\n")
    monkeypatch.setenv("PATH", f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}")  # activated
    url, _ = model
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789abcdefghijklmnop")
    repo = make_repo(tmp_path / "repo")
    (repo / ".gitignore").write_text("node_modules/\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-q", "-m", "node_modules is installed, not committed")
    (repo / "node_modules" / "projectjs").mkdir(parents=True)
    (repo / "node_modules" / "projectjs" / "index.js").write_text("module.exports = 7;\n")
    shell = (
        'run mkdir -p sub && cd sub && python -c "import projectdep, sys; print(projectdep.VALUE, sys.prefix)"'
        " | tee ../venv.py > /dev/null && command -v czar >> ../venv.py && czar board > /dev/null"
        " && echo board-ok >> ../venv.py && node -e \"console.log(require('projectjs'))\" >> ../venv.py\n"
    )
    script = f"report checking the project's python\n{shell}commit add venv\ndone venv.py written\nend Done."
    allow_all = '\n[permissions]\ndefaults = false\nallow = [{ tool = "*", match = "*" }]\n'
    one_worker(tmp_path / "czar.toml", f"venv-{kind}", clis, url, allow_all + task("venv", None, script), kind=kind)
    result = czar("run", str(tmp_path / "czar.toml"), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    answer, found, board, js = git(repo, "show", "czar/integration:venv.py").splitlines()
    assert answer == f"42 {venv}"
    assert Path(found).name == "czar" and Path(found).parent.name == "w1.bin"
    assert board == "board-ok"
    assert js == "7"
    assert "node_modules" not in git(repo, "ls-tree", "-r", "--name-only", "czar/integration")


@pytest.mark.timeout(300)
def test_claude_code_s_commands_each_start_in_the_checkout(
    tmp_path: Path, czar_home: Path, clis: Path, model: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """czar's policy judges each command from the checkout: Claude Code must run it there, not
    where an earlier command's `cd` left its shell (its default): `cd sub` in one command, `pwd >
    where.txt` in the next, and the file is at the checkout's top, naming it."""
    url, _ = model
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    make_repo(tmp_path / "repo")
    moves = "run mkdir -p sub && touch sub/.keep && cd sub\nrun pwd > where.txt\n"
    spec = task("where", None, module("where", extra=moves))
    spec = spec.replace('["where.py"]', '["where.py", "where.txt", "sub/**"]')
    one_worker(tmp_path / "czar.toml", "where", clis, url, spec)
    result = czar("run", str(tmp_path / "czar.toml"), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    repo = tmp_path / "repo"
    files = git(repo, "ls-tree", "-r", "--name-only", "czar/integration").split()
    assert "where.txt" in files and "sub/where.txt" not in files, files
    where = git(repo, "show", "czar/integration:where.txt").strip()
    assert not where.endswith("/sub"), where
