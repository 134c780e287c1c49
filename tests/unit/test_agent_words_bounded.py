"""What an agent says through czar's tools is kept within bounds: it is stored, put in other
agents' prompts and shown to people (found by a probe: megabytes a call, a checkpoint of 1e308,
a board line of 300,000 characters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.agent_tools.identity import CallerError, token_digest
from czar.agent_tools.relay import serve
from czar.agent_tools.service import AgentTools
from czar.agents.base import HookCall
from czar.core.board import BoardRow
from czar.core.states import WorkerState
from czar.store.store import Store
from helpers import on_fakes


def test_a_board_line_names_a_few_of_a_tasks_claims() -> None:
    row = BoardRow("w1", "working", "a", "task a", 0, 0, tuple(f"lib/f{i}.py" for i in range(40)), None, None)
    line = row.line()
    assert "lib/f11.py and 28 more" in line and "lib/f12.py" not in line


def test_an_agents_report_is_kept_within_bounds(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"], workers=1)
    f.assign({"a": "w1"})
    with f.project.store.write() as conn:
        Store.set_worker(conn, "w1", token=token_digest("t"), state=WorkerState.WORKING)
    tools = AgentTools(f.project.store, "w1")
    for bad in (1e308, 0, -3, True, "2"):
        with pytest.raises(CallerError, match="a checkpoint is a whole number from 1"):  # (a host goes on)
            serve(tools, "report", {"text": "x", "checkpoint": bad, "task": "a"})
    serve(tools, "report", {"text": "x", "checkpoint": 2, "task": "a"})
    serve(tools, "report", {"text": "again", "task": "Z" * 3_000_000})
    acks = [e.payload for e in f.project.store.events_after(0) if e.kind == "agent.ack"]
    assert acks and all(len(str(p.get("named") or "")) <= 100 for p in acks)
    assert all(len(str(p.get("goal") or "")) <= 500 for p in acks)


def test_a_hook_calls_words_are_kept_within_bounds() -> None:
    from czar.agent_tools.relay import _hook_call

    said = {f"k{i}": "v" * 10_000 for i in range(50)}
    call = _hook_call({"name": "n" * 10_000, "kind": "other", "said": said})
    assert isinstance(call, HookCall) and len(call.name) == 200
    assert len(call.said) == 20 and all(len(v) <= 2000 for v in call.said.values())


def test_a_claim_call_is_of_a_few_paths(tmp_path: Path, czar_home: Path) -> None:
    """Found by a review: 100,000 patterns in one call (refused ones too) held the store's write 19 s."""
    f = on_fakes(tmp_path, ["a"], workers=1)
    f.assign({"a": "w1"})
    tools = AgentTools(f.project.store, "w1")
    with pytest.raises(CallerError, match="65 paths in one call: a task holds at most 64"):
        tools.claim([f"lib/f{i}.py" for i in range(65)])
    assert [r.granted for r in tools.claim(["lib/x.py"] * 1000)] == [True]  # each once
