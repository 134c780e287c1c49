"""The lines `czar run` prints as it follows a run (``czar.supervisor.outcome.describe``)."""

from __future__ import annotations

from typing import Any

import pytest

from czar.store.events import Event
from czar.supervisor.outcome import describe


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
