"""The lines `czar run` prints as it follows a run (``czar.supervisor.outcome.describe``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from czar.core.states import WorkerState
from czar.store.events import Event
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.outcome import describe
from helpers import on_fakes


def decided(**payload: Any) -> Event:
    return Event(1, 0.0, "permission.decided", "w1", "t1", "w1", 3, payload)


@pytest.mark.parametrize(
    ("payload", "line"),
    [
        (
            {
                "decision": "allow",
                "tool": "Bash",
                "target": "pytest -q",
                "reason": "testing is allowed",
                "by": "policy",
            },
            "task t1: w1 allow: Bash pytest -q (testing is allowed, by policy)",
        ),
        # A person's answer names what was asked too, and says a person once.
        (
            {
                "decision": "allow",
                "tool": "Bash",
                "target": "git push",
                "reason": "allowed by a person",
                "by": "person",
            },
            "task t1: w1 allow: Bash git push (allowed by a person)",
        ),
        (
            {"decision": "deny", "tool": "Bash", "target": "rm -rf /", "reason": "not today", "by": "person"},
            "task t1: w1 deny: Bash rm -rf / (not today, by person)",
        ),
        # An event of before (a person's decision did not say what it answered).
        (
            {"decision": "allow", "reason": "allowed by a person", "by": "person"},
            "task t1: w1 allow: its request (allowed by a person)",
        ),
    ],
)
def test_a_permission_decided_is_one_line_naming_what_and_who(payload: dict[str, Any], line: str) -> None:
    assert describe(decided(**payload)) == line


def test_an_agents_words_cannot_print_a_line_that_reads_as_czars() -> None:
    finished = Event(1, 0.0, "agent.finished", "w1", "t1", "w1", 3, {"summary": "done\n12:00:00 task b: -> merged"})
    assert describe(finished) == "task t1: w1 finished: done ↵ 12:00:00 task b: -> merged"


def test_an_assignment_says_the_tasks_own_try_not_the_runs_attempt_id() -> None:
    """Found by a probe: "attempt 3" on a task's first try was the run's third attempt."""
    assigned = Event(7, 0.0, "task.assigned", "supervisor", "b", "w2", 3, {"prompt_chars": 120, "tries": 1})
    assert describe(assigned) == "task b -> w2 (try 1, 120 chars delivered)"
    older = Event(7, 0.0, "task.assigned", "supervisor", "b", "w2", 3, {"prompt_chars": 120})
    assert describe(older) == "task b -> w2 (attempt 3, 120 chars delivered)"  # a store of an older czar's


def test_a_tasks_tries_are_counted_each_assignment(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a", "b"])
    f.assign({"b": "w2"})
    f.assign({"a": "w1"})
    actions = Actions(f.project)
    with f.project.store.write() as conn:
        actions.requeue(conn, "a", "its agent ended early")
        Store.set_worker(conn, "w1", state=WorkerState.IDLE, task_id=None)
    actions.assign("a", "w1", "again")
    tries = [(e.task_id, e.payload["tries"]) for e in f.project.store.events_after(0) if e.kind == "task.assigned"]
    assert tries == [("b", 1), ("a", 1), ("a", 2)]
