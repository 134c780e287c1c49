"""An agent whose model cannot be reached, with the real agent CLIs (pinned in agent-clis/): a
critical alert with the evidence within seconds (not after the silence that marks a hung agent),
no restart or attempt spent on it, and the task carried on once the model answers again."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from czar.model.server import serve
from czar.paths import ProjectPaths
from czar.store.store import Event, Store
from helpers import czar, git, make_repo, retry_until

BIN = Path(__file__).resolve().parents[2] / "agent-clis" / "node_modules" / ".bin"
SCRIPT = (
    "report adding claude.py\nwrite claude.py <<END\nprint('hello')\nEND\ncommit add claude.py\n"
    "checkpoint 1 claude.py written\ndone claude.py is in place\nend Done."
)


@pytest.fixture(scope="module")
def clis() -> Path:
    for name in ("claude", "codex"):
        if not (BIN / name).exists():
            pytest.fail(f"{BIN / name} is missing: `make test` installs the agent CLIs (npm ci in agent-clis/)")
    return BIN


def free_port() -> int:
    """A port where nothing listens (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def plan_of(tmp_path: Path, name: str, clis: Path, agents: dict[str, tuple[str, str]]) -> Path:
    """One worker and one task per agent kind; ``agents[kind]``: its model's URL and the task's script."""
    make_repo(tmp_path / "repo")
    counts = ", ".join(f"{kind} = 1" for kind in agents)
    text = f'[project]\nname = "{name}"\nrepo = "repo"\n\n[workers]\nagents = {{ {counts} }}\n'
    for kind, (url, script) in agents.items():
        text += (
            f'\n[agents.{kind}]\ncommand = "{clis / kind}"\nbase_url = "{url}"\nhome = "private"\n'
            f'\n[[tasks]]\nid = "{kind}-task"\nagent = "{kind}"\nscope = ["{kind}.py"]\n'
            f"body = '''\nAdd {kind}.py.\n\n```czar-model\n{script}\n```\n'''\n"
        )
    plan = tmp_path / "czar.toml"
    plan.write_text(text)
    return plan


def events_of(name: str) -> list[Event]:
    store = Store(ProjectPaths.for_project(name))
    try:
        return store.events_after(0, limit=100_000)
    finally:
        store.close()


def alerted(name: str, task: str) -> Event | None:
    return next(
        (e for e in events_of(name) if e.kind == "alert" and e.task_id == task and e.payload["level"] == "critical"),
        None,
    )


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")


@pytest.mark.timeout(300)
def test_claude_code_with_nothing_listening_is_an_alert_and_goes_on_when_the_model_is_back(
    tmp_path: Path, czar_home: Path, clis: Path, keys: None
) -> None:
    port = free_port()
    plan = plan_of(tmp_path, "nomodel", clis, {"claude": (f"http://127.0.0.1:{port}", SCRIPT)})
    czar("up", str(plan), check=True)
    # Silence would take 180 s (silent_after): the alert comes from what the agent says.
    alert = retry_until(lambda: alerted("nomodel", "claude-task"), timeout=60, what="an alert for the model")
    assert "cannot reach its model" in alert.payload["message"]
    assert f"127.0.0.1:{port}" in alert.payload["message"] and "cannot connect" in alert.payload["message"]
    events = events_of("nomodel")
    found = [e for e in events if e.kind == "health.detected" and e.task_id == "claude-task"]
    assert [e.payload["problem"] for e in found] == ["model_unreachable"]

    # The model comes back where the agent looks for it: Claude Code's own next retry reaches it,
    # and the task is worked to the end, with no restart, nudge or second attempt spent.
    server = serve(port, tmp_path / "model.log")
    try:
        result = czar("run", str(plan), "--json", timeout=200)
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 1
    assert "claude.py" in git(tmp_path / "repo", "ls-tree", "--name-only", "czar/integration").split()
    events = events_of("nomodel")
    kinds = {e.kind for e in events}
    assert "agent.model_reachable" in kinds
    assert not kinds & {"health.nudge", "health.restart", "health.reassign", "agent.restarted"}
    assert len([e for e in events if e.kind == "task.assigned"]) == 1


@pytest.mark.timeout(300)
def test_refused_keys_and_failing_servers_are_alerts_within_seconds(
    tmp_path: Path, czar_home: Path, clis: Path, keys: None
) -> None:
    # Claude Code meets a model that answers 500 to everything; Codex one that refuses its key.
    failing, refusing = (serve(0, tmp_path / f"{n}.log") for n in ("failing", "refusing"))
    try:
        agents = {
            "claude": (f"http://127.0.0.1:{failing.server_address[1]}", "fail 500 overloaded, try later\nend Done."),
            "codex": (f"http://127.0.0.1:{refusing.server_address[1]}", "fail 401 invalid key\nend Done."),
        }
        plan = plan_of(tmp_path, "refused", clis, agents)
        czar("up", str(plan), check=True)
        claude = retry_until(lambda: alerted("refused", "claude-task"), timeout=60, what="Claude Code's alert")
        codex = retry_until(lambda: alerted("refused", "codex-task"), timeout=60, what="Codex's alert")
        # Codex gives up after its own retries, and exits.
        exits = retry_until(
            lambda: [e for e in events_of("refused") if e.kind == "agent.exited" and e.task_id == "codex-task"],
            timeout=60,
            what="Codex to exit",
        )
    finally:
        for server in (failing, refusing):
            server.shutdown()
            server.server_close()
    assert "500" in claude.payload["message"]
    assert "401" in codex.payload["message"]
    events = events_of("refused")
    # Codex's exit is not a crash of its own: no restart is spent on it.
    assert all(e.payload.get("model_unreachable") for e in exits)
    assert not [e for e in events if e.kind in ("health.restart", "health.nudge", "health.reassign")]
    czar("down", str(plan), check=True)


@pytest.mark.timeout(300)
def test_an_agent_without_a_key_is_an_alert_at_once_and_its_task_is_kept(
    tmp_path: Path, czar_home: Path, clis: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new user's first run, the key forgotten: each CLI says so in its own words (Claude Code
    # "Not logged in", Codex "Missing environment variable", Gemini CLI "Invalid auth method
    # selected" and exit 41). Before, Codex and Gemini were restarted twice and their task given
    # again until it failed, and then the next task: a run's worth of tasks failed in a minute.
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    server = serve(0, tmp_path / "model.log")
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        kinds = ("claude", "codex", "gemini")
        plan = plan_of(tmp_path, "nokey", clis, {kind: (url, SCRIPT) for kind in kinds})
        czar("up", str(plan), check=True)
        found = {
            kind: retry_until(lambda k=kind: alerted("nokey", f"{k}-task"), timeout=90, what=f"{kind}'s alert")
            for kind in kinds
        }
    finally:
        server.shutdown()
        server.server_close()
    for kind, said in (("claude", "Not logged in"), ("codex", "OPENAI_API_KEY"), ("gemini", "auth")):
        message = found[kind].payload["message"]
        assert "cannot reach its model" in message and said in message, message
    events = events_of("nokey")
    assert not [e for e in events if e.kind in ("health.restart", "health.reassign", "agent.restarted")]
    assert len([e for e in events if e.kind == "task.assigned"]) == 3  # one each, none given again
    with Store(ProjectPaths.for_project("nokey")).read() as conn:
        assert {t.state for t in Store.all_tasks(conn)}.isdisjoint({"failed"})
    czar("down", str(plan), check=True)
