"""A row of the board: who works on what, how far along, which paths they hold, what they last
said (read by ``czar.agent_tools.board``)."""

from __future__ import annotations

from dataclasses import dataclass

HELD_SHOWN = 12  # claims a board line names


@dataclass(frozen=True)
class BoardRow:
    worker: str
    state: str
    task: str | None
    title: str
    checkpoint: int
    checkpoints: int
    claims: tuple[str, ...]
    note: str | None
    blocked_on: str | None

    def line(self) -> str:
        """One line for a prompt or a terminal."""
        if self.task is None:
            return f"{self.worker} ({self.state}): no task"
        parts = [f"{self.worker} ({self.state}) works on task {self.task}: {self.title}"]
        if self.checkpoints:
            parts.append(f"checkpoint {self.checkpoint}/{self.checkpoints}")
        if self.claims:
            # A few: the line goes into every other agent's prompt (found by a probe: 300,000
            # characters of one agent's claims in each later prompt).
            more = f" and {len(self.claims) - HELD_SHOWN} more" if len(self.claims) > HELD_SHOWN else ""
            parts.append("holds " + ", ".join(c[:80] for c in self.claims[:HELD_SHOWN]) + more)
        if self.blocked_on:
            parts.append(f"waits for {self.blocked_on}")
        if self.note:
            parts.append(f"last note: {self.note[:120]}")
        return "; ".join(parts)
