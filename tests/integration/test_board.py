"""The board in a worker's prompt: the first few workers at work, read alone, as the whole board
shows them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from czar.agent_tools import board
from czar.core.states import TaskState, WorkerState
from czar.paths import ProjectPaths
from czar.store.records import TaskSpec
from czar.store.store import Store


def test_a_prompts_board_is_the_first_workers_at_work_as_the_whole_board_shows_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each assignment makes one: the tasks of the few shown are read, not every worker's."""
    store = Store(ProjectPaths(name="b", root=tmp_path / "proj"))
    with store.write() as conn:
        for n in range(1, 17):  # w01..w16; w16 idle, w03 holds nothing
            tid, wid = f"t{n:02}", f"w{n:02}"
            spec = TaskSpec(scope=(f"{tid}/*",), subtasks=("one", "two"), agent="sim")
            Store.add_task(conn, tid, order=n, title=f"task {tid}", body="do it", spec=spec)
            Store.add_worker(conn, wid, "sim")
            if n in (3, 16):
                continue
            Store.move_task(conn, tid, TaskState.READY, reason="test")
            Store.move_task(conn, tid, TaskState.ASSIGNED, reason="test", worker_id=wid)
            Store.claim_scope(conn, tid, wid, spec.scope)
            Store.set_worker(conn, wid, state=WorkerState.WORKING.value, task_id=tid)
        Store.record_report(conn, "t05", note="halfway", checkpoint=1)
    with store.read() as conn:
        whole = [r.line() for r in board.board(conn) if r.worker != "w02" and r.task is not None]
        lines = board.excerpt(conn, "w02")
    assert len(whole) == 13 and lines == [*whole[:12], "... and 1 more workers: `czar board` shows them all"]
    assert lines[0] == "w01 (working) works on task t01: task t01; checkpoint 0/2; holds t01/*"
    assert "w05 (working) works on task t05: task t05; checkpoint 1/2; holds t05/*; last note: halfway" in lines
    with store.read() as conn:
        everyone = [r.line() for r in board.board(conn) if r.task is not None]
        idle = board.excerpt(conn, "w16")
    assert len(everyone) == 14 and idle == [*everyone[:12], "... and 2 more workers: `czar board` shows them all"]
    asked: list[str] = []
    named = Store.tasks_named

    def naming(conn: Any, task_ids: Any) -> Any:
        asked.extend(task_ids)
        return named(conn, task_ids)

    monkeypatch.setattr(Store, "tasks_named", staticmethod(naming))
    with store.read() as conn:
        assert board.excerpt(conn, "w16") == idle
    assert len(asked) == 12
