"""The worker host counts an agent's usage into its attempt on a real store: Claude Code's
stream-json over two turns (headless), and its transcript (on its own screen)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from czar.agents.claude import ClaudeAdapter
from czar.agents.host_settings import HostSettings
from czar.host.agent_run import AgentRun
from czar.host.worker_host import WorkerHost
from czar.store.store import Store
from czar.supervisor.project import Project
from helpers import assigned

MODEL = "claude-sonnet-4-5"


@pytest.fixture
def project(tmp_path: Path, czar_home: Path) -> Project:
    return assigned(tmp_path, "usage", token="secret")


def current(project: Project) -> AgentRun:
    with project.store.read() as conn:
        attempt = Store.task(conn, "a").attempt_id
    return AgentRun(attempt=attempt, task="a", worktree=project.paths.root, prompt="", adapter=ClaudeAdapter())


def counted(project: Project, cur: AgentRun) -> tuple[int, int, int, int, float]:
    with project.store.read() as conn:
        row = Store.attempt(conn, cur.attempt)
    return row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens, row.cost_usd


def message(mid: str, inp: int, out: int, read: int, write: int) -> dict[str, Any]:
    usage = {
        "input_tokens": inp,
        "output_tokens": out,
        "cache_read_input_tokens": read,
        "cache_creation_input_tokens": write,
    }
    body = {"id": mid, "type": "message", "role": "assistant", "model": MODEL, "usage": usage}
    return {"type": "assistant", "message": {**body, "content": [{"type": "text", "text": "ok"}]}, "session_id": "s"}


def result(turn: tuple[int, int, int, int], total: tuple[int, int, int, int], cost: float) -> dict[str, Any]:
    """Claude Code 2.1.197's ``result``: ``usage`` for the turn, ``modelUsage`` and cost for the process."""
    inp, out, read, write = turn
    usage = {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": read}
    per_model = {
        "inputTokens": total[0],
        "outputTokens": total[1],
        "cacheReadInputTokens": total[2],
        "cacheCreationInputTokens": total[3],
        "costUSD": cost,
    }
    return {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "usage": {**usage, "cache_creation_input_tokens": write},
        "total_cost_usd": cost,
        "modelUsage": {MODEL: per_model},
        "session_id": "s",
    }


def test_two_turns_of_stream_json_count_each_turn_once(project: Project) -> None:
    host = WorkerHost.on_store(project.store, HostSettings(project.name, "w1", "claude"))
    cur = current(project)
    lines = [
        message("msg_1", 3, 1, 0, 9000),  # usage as the message started: one output token so far
        result((3, 40, 0, 9000), (3, 40, 0, 9000), 0.0411),
        message("msg_2", 5, 1, 9000, 300),
        message("msg_3", 4, 1, 9300, 120),
        result((9, 85, 18300, 420), (12, 125, 18300, 9420), 0.0562),
    ]
    after: list[tuple[int, int, int, int, float]] = []
    for line in lines:
        for sig in cur.adapter.parse(json.dumps(line)):
            if sig.kind == "usage":
                host.count(cur, sig.data)
        if line["type"] == "result":
            after.append(counted(project, cur))
    # Each turn as Claude Code totalled it; the second turn's usage is not taken for the total.
    assert after == [(3, 40, 0, 9000, pytest.approx(0.0411)), (12, 125, 18300, 9420, pytest.approx(0.0562))]


def test_the_transcript_of_an_agent_on_its_own_screen_counts_each_message_once(
    project: Project, tmp_path: Path
) -> None:
    host = WorkerHost.on_store(project.store, HostSettings(project.name, "w1", "claude"))
    cur = current(project)
    cur.transcript = host.home / ".claude" / "projects" / "p" / "session.jsonl"  # where Claude Code writes it
    cur.transcript.parent.mkdir(parents=True)
    first = [message("msg_1", 3, 40, 0, 9000), message("msg_1", 3, 40, 0, 9000)]  # two content blocks
    cur.transcript.write_text("".join(json.dumps(m) + "\n" for m in first))
    host.read_transcript(cur, usage_only=True)
    with cur.transcript.open("a") as fh:  # the next turn, and a line not finished yet
        fh.write(json.dumps(message("msg_2", 5, 60, 9000, 300)) + "\n" + json.dumps(message("msg_3", 4, 25, 9300, 120)))
    host.read_transcript(cur, usage_only=True)
    tokens = counted(project, cur)[:4]
    assert tokens == (8, 100, 9000, 9300)
    with cur.transcript.open("a") as fh:
        fh.write("\n")
    host.read_transcript(cur, usage_only=True)
    input_tokens, output_tokens, read, write, cost = counted(project, cur)
    assert (input_tokens, output_tokens, read, write) == (12, 125, 18300, 9420)
    assert cost > 0  # priced by czar: a transcript has no cost of its own
