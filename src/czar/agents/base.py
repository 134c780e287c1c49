"""The agent port: how a worker host starts an agent, talks to it, and reads what it does."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class Signal:
    """Something the agent told us, in czar's words.

    kind: ``ack`` (names its task, restates the goal in ``text``; ``digest`` of the text
    received), ``progress``, ``commit``, ``finished``, ``idle``, ``permission`` (``data["tool"]``,
    the target in ``text``), ``rate_limited`` (``data["reset_in"]`` seconds), ``activity``
    (anything else worth showing), ``error``.
    """

    kind: str
    text: str = ""
    task: str | None = None
    digest: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


class AgentAdapter(Protocol):
    kind: str

    def argv(self, worktree: Path) -> list[str]:
        """The command that starts the agent, cwd = the task's worktree."""
        ...

    def encode(self, text: str, kind: str = "task") -> str:
        """One line for the agent's stdin carrying a user message; ``kind`` says why czar sends it
        (task, feedback, nudge, correction, stand-off, conflict, merged, answer, continue)."""
        ...

    def parse(self, line: str) -> Signal | None:
        """Turn one line of the agent's output into a signal; None to ignore it."""
        ...


class UnsupportedAgent(LookupError):
    """The plan names an agent kind this czar cannot drive yet."""


def json_line(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
