"""What a worker host does with each signal its agent gives (read from the agent's output or
transcript by its adapter): one case per kind, proven exhaustive by mypy.

The dispatch speaks to czar through the agent tools and to the agent through the host; both are
ports, so that it is tested on fakes in milliseconds (``tests/unit/test_signals.py``).
"""

from __future__ import annotations

import time
from typing import Any, Protocol, assert_never

from czar.agent_tools.identity import CallerError
from czar.agents.base import Signal, SignalKind
from czar.core.claims import ClaimResult
from czar.core.host_commands import MessageKind
from czar.core.policy import Decision, Verdict
from czar.host import output
from czar.host.agent_run import AgentRun
from czar.host.output import Note

# Signals that say its model answered (after it read the task's text).
_HEARD = (SignalKind.ACK, SignalKind.PROGRESS, SignalKind.COMMIT, SignalKind.FINISHED, SignalKind.TURN_DONE)


def _tokens(sig: Signal) -> bool:
    return bool(sig.data.get("input_tokens") or sig.data.get("output_tokens"))


# Signals that do not end a flood of activity held back (they come in the middle of it).
_IN_THE_FLOW = (SignalKind.ACTIVITY, SignalKind.ERROR, SignalKind.USAGE, SignalKind.MODEL_ERROR)


class Tools(Protocol):
    """The agent tools a signal calls (``czar.agent_tools.service.AgentTools``)."""

    def acknowledge(self, named: str | None, goal: str | None = None, digest_ok: bool | None = None) -> str: ...
    def done(self, summary: str, head: str | None = None) -> str: ...
    def report(self, text: str, *, checkpoint: int | None = None, task: str | None = None) -> str: ...
    def commit(self, sha: str, message: str) -> None: ...
    def idle(self) -> None: ...
    def permission(self, tool: str, target: str) -> Verdict: ...
    def claim(self, patterns: list[str]) -> list[ClaimResult]: ...
    def release(self, patterns: list[str]) -> list[ClaimResult]: ...
    def blocked(self, on_task: str | None, need: str) -> str: ...
    def ask(self, question: str) -> str: ...
    def rate_limited(self, reset_in: float, text: str = "") -> None: ...
    def model_reachable(self) -> None: ...
    def model_unreachable(self, evidence: str) -> None: ...
    def turn_ended(self, *, again: bool) -> str | None: ...
    def finding(self, path: str, line: int, severity: str, failure: str) -> str: ...
    def verdict(self, decision: str, commit: str, summary: str = "") -> str: ...


class Host(Protocol):
    """What the dispatch needs of the worker host."""

    def say(self, text: str) -> None: ...
    def send(self, text: str, kind: MessageKind) -> None: ...
    def count(self, run: AgentRun, data: dict[str, Any]) -> None: ...
    def notes(self, notes: list[Note]) -> None: ...
    def keep_session(self, run: AgentRun) -> None: ...
    def unreachable(self, run: AgentRun) -> str: ...
    def network_lost(self, run: AgentRun) -> bool: ...
    def tools_lost(self, run: AgentRun, text: str) -> None: ...


def on_signal(host: Host, tools: Tools, run: AgentRun, sig: Signal) -> None:
    if sig.kind not in _IN_THE_FLOW:
        host.notes(run.flow.flush())  # activity held back comes first: events keep the agent's order
    if sig.kind in _HEARD or (sig.kind is SignalKind.USAGE and _tokens(sig)) or sig.data.get("tool"):
        run.heard = True  # its model answered: its session holds the task
        run.unheard = []  # ... and what its start was told
    match sig.kind:
        case SignalKind.ACK:
            confirmed = sig.digest == run.digest
            differs = "" if confirmed else " (text differs from what was sent!)"
            host.say(f"agent acknowledged task {sig.task}: {sig.text}{differs}")
            host.say("  " + tools.acknowledge(sig.task, sig.text or None, confirmed))
        case SignalKind.FINISHED:
            host.say(f"agent finished: {sig.text}")
            head = sig.data.get("head")
            # Refused (work off its branch, not committed): it has not finished; stopped there, the
            # health round's nudge tells it why.
            try:
                said = tools.done(sig.text, head=str(head) if head else None)
            except CallerError as exc:
                if not str(exc).startswith("not submitted"):
                    raise
                host.say(f"  {exc}")
                return
            run.finished = True
            host.say("  " + said)
        case SignalKind.PROGRESS:
            checkpoint = sig.data.get("checkpoint")
            host.say(f"checkpoint {checkpoint}: {sig.text}")
            tools.report(sig.text, checkpoint=checkpoint if isinstance(checkpoint, int) else None, task=sig.task)
        case SignalKind.COMMIT:
            host.say(f"commit {str(sig.data.get('sha', ''))[:10]}: {sig.text}")
            tools.commit(str(sig.data.get("sha", "")), sig.text)
        case SignalKind.IDLE:
            if not run.finished:
                host.say("agent waits for input without having finished")
                tools.idle()
        case SignalKind.PERMISSION:
            tool = str(sig.data.get("tool", ""))
            verdict = tools.permission(tool, sig.text)
            host.say(f"permission {tool} {sig.text}: {verdict.decision} ({verdict.reason})")
            if verdict.decision is not Decision.ASK:
                host.send(f"{verdict.decision}: {verdict.reason}", MessageKind.ANSWER)
        case SignalKind.CLAIM | SignalKind.RELEASE:  # proposed by an agent that runs no command (Aider)
            paths = [str(p) for p in sig.data.get("paths") or []]
            results = tools.claim(paths) if sig.kind is SignalKind.CLAIM else tools.release(paths)
            host.say("  " + "; ".join(r.line() for r in results))
        case SignalKind.BLOCKED:
            host.say("  " + tools.blocked(sig.task, sig.text))
        case SignalKind.ASK:
            host.say("  " + tools.ask(sig.text))
        case SignalKind.FINDING | SignalKind.VERDICT:
            _review_answer(host, tools, sig)
        case SignalKind.RATE_LIMITED:
            reset_in = float(sig.data.get("reset_in") or 60)
            host.say(f"rate limited for {reset_in:g} s: {sig.text}")
            tools.rate_limited(reset_in, sig.text)
        case SignalKind.SESSION:
            if sig.text and sig.text != run.session:
                run.heard = False  # a session of its own: the task is in it once its model answers
            run.session = sig.text or run.session
            host.keep_session(run)
        case SignalKind.USAGE:
            host.count(run, sig.data)
            # Tokens of a message or a turn: the model answered (a running total proves nothing).
            tokens = sig.data.get("input_tokens") or sig.data.get("output_tokens")
            answered = tokens and not sig.data.get("cumulative")
            if answered and run.watch.answered():
                host.say("  the model answers again")
                tools.model_reachable()
        case SignalKind.MODEL_ERROR:
            host.say(f"  model error: {output.shown(sig.text)}")
            kind, retry = str(sig.data.get("kind") or "other"), bool(sig.data.get("retry", True))
            if run.watch.failed(sig.text, kind, retry=retry) and not host.network_lost(run):
                tools.model_unreachable(host.unreachable(run))
        case SignalKind.TOOLS_LOST:
            host.say(f"  {sig.text}")
            host.tools_lost(run, sig.text)
        case SignalKind.SESSION_LOST:
            host.say(f"  {sig.text}: starting it afresh with the task's text")
            run.session, run.session_lost = None, True
        case SignalKind.TURN_DONE:
            _turn_done(host, tools, run, sig)
        case SignalKind.ACTIVITY | SignalKind.ERROR:
            if sig.data.get("tool"):
                run.sent_back = False  # it works again
            text = (sig.text if sig.kind is SignalKind.ACTIVITY else f"error: {sig.text}")[: output.KEPT]
            run.repeats = run.repeats + 1 if text == run.last_text else 0
            run.last_text = text
            # Written at once, or coalesced with the lines around it when the agent floods.
            host.notes(run.flow.offer(text, run.repeats, time.monotonic()))
        case _:
            assert_never(sig.kind)


def _review_answer(host: Host, tools: Tools, sig: Signal) -> None:
    """A reviewer's finding or verdict; czar's refusal (a wrong commit, no such line) is said."""
    try:
        if sig.kind is SignalKind.FINDING:
            line = sig.data.get("line")
            said = tools.finding(
                str(sig.data.get("path", "")),
                line if isinstance(line, int) else 0,
                str(sig.data.get("severity", "")),
                sig.text,
            )
        else:
            said = tools.verdict(str(sig.data.get("decision", "")), str(sig.data.get("commit", "")), sig.text)
    except CallerError as exc:
        said = f"refused: {exc}"
    host.say(f"  {said}")


def _turn_done(host: Host, tools: Tools, run: AgentRun, sig: Signal) -> None:
    """Its turn ended. Before it handed its task in: back to work, once; unless it answers one
    message per process (the next message starts it), or its model cannot be reached (the health
    round has it try again later)."""
    host.say(f"the agent's turn ended ({sig.text})")
    waits = run.finished or run.watch.down or not run.adapter.capabilities.long_lived
    reason = None if waits else tools.turn_ended(again=run.sent_back)
    if reason:
        run.sent_back = True
        host.say(f">> back to work: {reason}")
        host.send(reason, MessageKind.CONTINUE)
    elif waits and not run.finished:
        # (Finished, it waits for czar: an idle said now would be read as of the round its work may
        # be back in by then, and the feedback starting it again was followed by a nudge.)
        tools.idle()
