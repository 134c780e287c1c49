"""What the worker host makes of an agent's output, however much of it comes: lines of bounded
length, activity coalesced into a bounded number of events per second, and the signs that the
agent cannot reach its model. Pure: time is an argument.

An agent that prints without end (a test run gone wild, a file dumped to its output, a loop)
must not turn into hundreds of thousands of events and a store of hundreds of megabytes; what
matters in the flood still counts: every line is read and parsed, only what is written down of
its plain activity is bounded (a commit, a checkpoint or the end of the task is never coalesced).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from czar.runtime import proc

MAX_LINE = 4 << 20  # bytes kept of one line (agents' JSON lines are far smaller); the rest is dropped
READ_BYTES = 1 << 20  # bytes read from the agent before the host looks at its inbox again
WINDOW = 1.0  # seconds over which activity events are counted
BUDGET = 10  # activity events written as they come per window; the rest are coalesced
SHOWN = 300  # characters of a line shown in the pane and the log
KEPT = 1000  # characters of a line of activity looked at (events keep fewer)


def split_lines(buffer: bytes, cap: int = MAX_LINE) -> tuple[list[bytes], bytes]:
    """The complete lines in ``buffer``, each cut to ``cap`` bytes, and the unterminated rest, also
    cut to ``cap``: the tail of a longer line is dropped as it comes, so at most ``cap`` bytes of
    it are ever held."""
    *lines, rest = buffer.split(b"\n")
    return [line[:cap] for line in lines], rest[:cap]


def shown(text: str) -> str:
    """A line as the pane shows it: its first ``SHOWN`` characters."""
    return text if len(text) <= SHOWN else text[:SHOWN] + f"... ({len(text) - SHOWN} more characters)"


@dataclass(frozen=True)
class Note:
    """An activity event to write: its text, how many lines of output it stands for, and how many
    times in a row the agent had said the same thing (for looping)."""

    text: str
    lines: int = 1
    repeats: int = 0
    mixed: bool = False  # stands for different lines (its text says how many), not one line repeated


@dataclass
class Flow:
    """Which activity lines become events. A line that differs from the one before is written at
    once, up to ``budget`` per ``window`` seconds; a line the same as the one before, or one over
    the budget, is held, and what is held is written as one event (with its count of lines) when
    the window ends, when another kind of signal comes (so that order is kept), or when the agent
    exits. At most ``2 * budget + 1`` activity events per window, whatever the output."""

    window: float = WINDOW
    budget: int = BUDGET
    started: float = -math.inf  # the current window's start
    used: int = 0  # lines written at once in it
    last: str | None = None  # the last line offered
    held: int = 0  # lines held back
    held_text: str = ""  # the last of them
    held_same: bool = True  # all of them the same line
    held_repeats: int = 0

    def offer(self, text: str, repeats: int, now: float) -> list[Note]:
        """A line of activity; the events to write now (often none, in a flood)."""
        out = self.due(now)
        same = text == self.last
        self.last = text
        if same or self.used >= self.budget:
            self.held_same = self.held == 0 or (self.held_same and text == self.held_text)
            self.held += 1
            self.held_text, self.held_repeats = text, repeats
            return out
        out += self.flush()
        self.used += 1
        out.append(Note(text, 1, repeats))
        return out

    def due(self, now: float) -> list[Note]:
        """What was held, once its window is over (a new window starts)."""
        if now - self.started < self.window:
            return []
        self.started, self.used = now, 0
        return self.flush()

    def flush(self) -> list[Note]:
        """What was held, now (before a signal of another kind, or at the agent's exit)."""
        if not self.held:
            return []
        n, text = self.held, self.held_text
        self.held, self.held_same, same = 0, True, self.held_same
        if same:
            return [Note(text, n, self.held_repeats)]
        return [Note(f"{n} lines of output, the last: {text}", n, self.held_repeats, mixed=True)]


@dataclass
class ModelWatch:
    """Whether the agent can reach its model, from the API errors it reports. Agents retry a
    failed request by themselves, for minutes; czar calls the model unreachable well before:

    - at once for a refusal of the key (401, 403), a failure the agent gives up on, or an agent
      that says it waits for the network;
    - at the second failed request in a row when it cannot connect (refused, no such host);
    - at the third in a row for a failing server (5xx) or anything else.

    An answer of the model (tokens used) ends the streak."""

    strikes: int = 0  # failed requests since the model last answered
    evidence: str = ""  # what the agent said of the last one
    down: bool = False  # reported unreachable in this streak

    def failed(self, text: str, kind: str, *, retry: bool = True) -> bool:
        """A failed request (``kind``: auth, offline, connection, server or other); True when the
        model is to be called unreachable now (again on every later failure of the streak)."""
        self.strikes += 1
        self.evidence = text
        needed = 1 if kind in ("auth", "offline") or not retry else 2 if kind == "connection" else 3
        self.down = self.down or self.strikes >= needed
        return self.down

    def started(self) -> None:
        """The agent started again: the failed requests of its last start, if they did not make
        its model unreachable, say nothing of this one (killed while it retried, its sandbox's
        network gone with it, say); if they did, the streak goes on until it answers."""
        if not self.down:
            self.strikes, self.evidence = 0, ""

    def answered(self) -> bool:
        """The model answered; True if it had been called unreachable (it is back)."""
        back = self.down
        self.strikes, self.evidence, self.down = 0, "", False
        return back

    def exited(self, code: int) -> bool:
        """The agent exited: True if it ended on failed requests to its model (not a crash of its own).
        Killed by a signal (a negative code, or 128 + the signal's number from its sandbox, which
        says so for it), it did not end on them: something killed it while it tried (its
        sandbox's network gone with it, maybe); started again at once, as after a crash."""
        self.down = self.down or (code != 0 and not proc.by_signal(code) and self.strikes > 0)
        return self.down

    def summary(self) -> str:
        """The evidence, for people: what the agent said, and how many requests failed."""
        count = f"{self.strikes} failed request{'s' if self.strikes != 1 else ''} in a row"
        return f"{self.evidence} ({count})"
