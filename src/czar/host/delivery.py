"""Getting czar's messages to an agent: a line on its input, in its own encoding; or, on its own
screen, a paste whose submission its hook must confirm (Enter is pressed again, a few times, if
no confirmation comes)."""

from __future__ import annotations

import time
from enum import StrEnum

from czar.core.host_commands import MessageKind
from czar.core.prompt import digest
from czar.host.agent_run import AgentRun, Submit

SUBMIT_WAIT = 3.0  # seconds for a pasted message to be confirmed submitted before Enter again
SUBMIT_TRIES = 3


def send(run: AgentRun, text: str, kind: MessageKind) -> None:
    """Deliver a message to the agent now: on its input, or pasted into its screen."""
    if run.screen is None:
        write(run, run.adapter.encode(text, kind))
        return
    run.screen.paste(text)
    run.submit = Submit(digest(text), time.monotonic() + SUBMIT_WAIT)


def write(run: AgentRun, data: str) -> None:
    """A line on the agent's input (if it died, its exit is noticed when its output closes)."""
    if run.proc is not None and run.screen is None:
        run.proc.send(data.encode())


class Pasted(StrEnum):
    """Where a pasted message stands."""

    WAITING = "waiting"  # not confirmed yet, and not overdue
    ENTER_AGAIN = "enter_again"  # overdue: press Enter again
    UNCONFIRMED = "unconfirmed"  # out of tries, but a prompt was submitted meanwhile (not with its text)
    LOST = "lost"  # out of tries, and nothing was submitted


def look(pending: Submit, *, busy: bool, seen_other: bool, now: float) -> Pasted:
    """Where ``pending`` stands at ``now``. ``busy``: the agent was at work on a turn since the last
    look (a message pasted meanwhile is queued: its clock starts again); ``seen_other``: a prompt
    with other text was submitted since (a person typing)."""
    pending.other = pending.other or seen_other
    if busy:
        pending.deadline = now + SUBMIT_WAIT
    if now < pending.deadline:
        return Pasted.WAITING
    if pending.tries < SUBMIT_TRIES:
        pending.tries += 1
        pending.deadline = now + SUBMIT_WAIT
        return Pasted.ENTER_AGAIN
    return Pasted.UNCONFIRMED if pending.other else Pasted.LOST
