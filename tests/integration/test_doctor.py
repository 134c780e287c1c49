"""czar doctor on this machine, with agents found or missing, logged in or not."""

from __future__ import annotations

from pathlib import Path

from czar.plan.model import AgentConfig
from czar.supervisor.doctor import agent, examine, git, tmux
from helpers import czar


def _program(folder: Path, name: str, version: str) -> Path:
    path = folder / name
    path.write_text(f"#!/bin/sh\necho '{version}'\n")
    path.chmod(0o755)
    return path


def test_the_tools_czar_drives_are_here() -> None:
    assert tmux().ok and git().ok
    assert all(c.ok for c in examine(None, None))


def test_an_agent_found_and_logged_in(tmp_path: Path) -> None:
    program = _program(tmp_path, "claude", "2.1.197 (Claude Code)")
    (tmp_path / "home" / ".claude").mkdir(parents=True)
    (tmp_path / "home" / ".claude" / ".credentials.json").write_text("{}")
    found, creds = agent("claude", AgentConfig(command=str(program)), env={}, home=tmp_path / "home")
    assert found.ok and "2.1.197 (Claude Code)" in found.detail
    assert creds.ok and creds.detail == "~/.claude/.credentials.json"
    _, by_key = agent(
        "claude", AgentConfig(command=str(program)), env={"ANTHROPIC_API_KEY": "secret-value"}, home=tmp_path
    )
    assert by_key.ok and by_key.detail == "$ANTHROPIC_API_KEY is set" and "secret-value" not in by_key.line()


def test_an_agent_missing_or_not_logged_in_says_how_to_fix_it(tmp_path: Path) -> None:
    missing, creds = agent("codex", AgentConfig(command=str(tmp_path / "nowhere" / "codex")), env={}, home=tmp_path)
    assert not missing.ok and "npm install -g @openai/codex" in missing.line()
    assert not creds.ok and "set $OPENAI_API_KEY" in creds.line()
    _, rehearsed = agent("codex", AgentConfig(command="codex", base_url="http://127.0.0.1:9"), env={}, home=tmp_path)
    assert rehearsed.ok and "talks to http://127.0.0.1:9" in rehearsed.detail


def test_czar_doctor_prints_one_line_per_check_and_fails_on_a_missing_agent(tmp_path: Path, czar_home: Path) -> None:
    plan = tmp_path / "czar.toml"
    plan.write_text(
        '[project]\nname = "doc"\n\n[workers]\nagent = "gemini"\n\n[agents.gemini]\n'
        f'command = "{tmp_path / "no-gemini"}"\n\n[[tasks]]\nid = "a"\nbody = "x"\n'
    )
    result = czar("doctor", str(plan))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[:4]] == ["ok", "ok", "ok", "ok"]
    assert any(
        line.startswith("FAIL  gemini program:") and "fix: npm install -g @google/gemini-cli" in line for line in lines
    )
