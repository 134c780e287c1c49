"""The worker host's dispatch of its agent's signals, on fakes of the agent tools and the host."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from czar.agent_tools.identity import CallerError
from czar.agents.base import Signal, SignalKind
from czar.agents.claude import ClaudeAdapter
from czar.agents.codex import CodexAdapter
from czar.core.claims import ClaimResult
from czar.core.host_commands import MessageKind
from czar.core.policy import Decision, Verdict
from czar.host.agent_run import AgentRun
from czar.host.output import Note
from czar.host.signals import on_signal


class FakeTools:
    """Records each call; ``turn_ended`` answers as the real one: a reason once, then none."""

    def __init__(self, decision: Decision = Decision.ALLOW) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.decision = decision
        self.sent_back = False

    def _note(self, name: str, *args: Any) -> None:
        self.calls.append((name, args))

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def acknowledge(self, named: str | None, goal: str | None = None, digest_ok: bool | None = None) -> str:
        self._note("acknowledge", named, goal, digest_ok)
        return "ok"

    def done(self, summary: str, head: str | None = None) -> str:
        self._note("done", summary, head)
        return "submitted"

    def report(self, text: str, *, checkpoint: int | None = None, task: str | None = None) -> str:
        self._note("report", text, checkpoint, task)
        return "recorded"

    def commit(self, sha: str, message: str) -> None:
        self._note("commit", sha, message)

    def idle(self) -> None:
        self._note("idle")

    def permission(self, tool: str, target: str) -> Verdict:
        self._note("permission", tool, target)
        return Verdict(self.decision, "the policy says so")

    def claim(self, patterns: list[str]) -> list[ClaimResult]:
        self._note("claim", patterns)
        return [ClaimResult(p, True, "now held") for p in patterns]

    def release(self, patterns: list[str]) -> list[ClaimResult]:
        self._note("release", patterns)
        return [ClaimResult(p, True, "released") for p in patterns]

    def blocked(self, on_task: str | None, need: str) -> str:
        self._note("blocked", on_task, need)
        return "recorded"

    def ask(self, question: str) -> str:
        self._note("ask", question)
        return "recorded"

    def rate_limited(self, reset_in: float, text: str = "") -> None:
        self._note("rate_limited", reset_in, text)

    def model_reachable(self) -> None:
        self._note("model_reachable")

    def model_unreachable(self, evidence: str) -> None:
        self._note("model_unreachable", evidence)

    def turn_ended(self, *, again: bool) -> str | None:
        self._note("turn_ended", again)
        return None if again else "hand it in"


class FakeHost:
    def __init__(self) -> None:
        self.said: list[str] = []
        self.sent: list[tuple[str, MessageKind]] = []
        self.counted: list[dict[str, Any]] = []
        self.written: list[Note] = []
        self.sessions: list[str | None] = []
        self.sandbox_network_gone = False

    def say(self, text: str) -> None:
        self.said.append(text)

    def send(self, text: str, kind: MessageKind) -> None:
        self.sent.append((text, kind))

    def count(self, run: AgentRun, data: dict[str, Any]) -> None:
        self.counted.append(data)

    def notes(self, notes: list[Note]) -> None:
        self.written.extend(notes)

    def keep_session(self, run: AgentRun) -> None:
        self.sessions.append(run.session)

    def unreachable(self, run: AgentRun) -> str:
        return "its model API: " + run.watch.summary()

    def network_lost(self, run: AgentRun) -> bool:
        return self.sandbox_network_gone

    def tools_lost(self, run: AgentRun, text: str) -> None:
        self.said.append(f"tools lost: {text}")


def agent(adapter: Any = None) -> AgentRun:
    return AgentRun(attempt=1, task="a", worktree=Path("/w"), prompt="", adapter=adapter or ClaudeAdapter())


def signal(of: SignalKind, text: str = "", **data: Any) -> Signal:
    return Signal(of, text=text, data=data)


def test_a_turn_that_ends_before_the_hand_in_is_sent_back_once_then_left_waiting() -> None:
    host, tools, run = FakeHost(), FakeTools(), agent()
    on_signal(host, tools, run, signal(SignalKind.TURN_DONE, "end_turn"))
    assert host.sent == [("hand it in", MessageKind.CONTINUE)] and run.sent_back
    on_signal(host, tools, run, signal(SignalKind.TURN_DONE, "end_turn"))
    assert host.sent == [("hand it in", MessageKind.CONTINUE)]  # not twice in a row
    assert tools.calls[-1] == ("turn_ended", (True,))
    # A tool used in between: it works again, and may be sent back again later.
    on_signal(host, tools, run, signal(SignalKind.ACTIVITY, "Bash ls", tool="Bash"))
    on_signal(host, tools, run, signal(SignalKind.TURN_DONE, "end_turn"))
    assert len(host.sent) == 2


def test_a_turn_end_after_the_hand_in_or_of_a_one_message_agent_is_waiting_not_sending_back() -> None:
    host, tools, run = FakeHost(), FakeTools(), agent()
    on_signal(host, tools, run, signal(SignalKind.FINISHED, "all done", head="abc"))
    on_signal(host, tools, run, signal(SignalKind.TURN_DONE))
    # Not idle either: it waits for czar. (Found by a probe with Gemini CLI: that idle, read just
    # after its work came back with failing checks, was taken as of the new round, and the agent
    # started with the failures was nudged as if it had stopped.)
    assert host.sent == [] and tools.names() == ["done"]
    host, tools, run = FakeHost(), FakeTools(), agent(CodexAdapter())  # one message per process
    on_signal(host, tools, run, signal(SignalKind.TURN_DONE))
    assert host.sent == [] and tools.names() == ["idle"]


def test_a_hand_in_czar_refuses_is_no_finish() -> None:
    class Refusing(FakeTools):
        def done(self, summary: str, head: str | None = None) -> str:
            self._note("done", summary, head)
            raise CallerError("not submitted: changes not committed in a.py: commit them")

    host, tools, run = FakeHost(), Refusing(), agent(CodexAdapter())
    on_signal(host, tools, run, signal(SignalKind.FINISHED, "all done"))
    assert not run.finished and "  not submitted: changes not committed in a.py: commit them" in host.said
    on_signal(host, tools, run, signal(SignalKind.TURN_DONE))
    assert tools.names() == ["done", "idle"]  # it stopped unfinished: the health round nudges it, with why


def test_a_permission_czar_decides_is_answered_and_one_for_a_person_waits() -> None:
    host, tools, run = FakeHost(), FakeTools(Decision.DENY), agent()
    on_signal(host, tools, run, signal(SignalKind.PERMISSION, "rm -rf /", tool="Bash"))
    assert host.sent == [("deny: the policy says so", MessageKind.ANSWER)]
    host, tools = FakeHost(), FakeTools(Decision.ASK)
    on_signal(host, tools, run, signal(SignalKind.PERMISSION, "curl x", tool="Bash"))
    assert host.sent == [] and tools.names() == ["permission"]


def test_activity_held_back_in_a_flood_is_written_before_the_next_other_signal() -> None:
    host, tools, run = FakeHost(), FakeTools(), agent()
    for _ in range(30):  # the same line, over and over: held, counted
        on_signal(host, tools, run, signal(SignalKind.ACTIVITY, "same"))
    written = len(host.written)
    assert run.repeats == 29 and written < 30
    on_signal(host, tools, run, signal(SignalKind.COMMIT, "add a", sha="abc"))
    held = host.written[written:]
    assert held and sum(n.lines for n in host.written) == 30  # every line accounted for, in order
    assert tools.names() == ["commit"]


def test_a_model_that_answers_again_after_failures_is_reported_reachable_once() -> None:
    host, tools, run = FakeHost(), FakeTools(), agent()
    for _ in range(10):
        on_signal(
            host, tools, run, signal(SignalKind.MODEL_ERROR, "connection refused", kind="connection", retry=False)
        )
    assert (
        tools.names().count("model_unreachable") == 10
    )  # each failure of the streak says so (the tools keep one event)
    on_signal(host, tools, run, signal(SignalKind.USAGE, input_tokens=10, output_tokens=5))
    on_signal(host, tools, run, signal(SignalKind.USAGE, input_tokens=10, output_tokens=5))
    assert tools.names().count("model_reachable") == 1
    assert len(host.counted) == 2  # every report of usage is counted


def test_failed_requests_of_an_agent_whose_sandbox_lost_its_network_are_no_outage_of_its_model() -> None:
    host, tools, run = FakeHost(), FakeTools(), agent()
    host.sandbox_network_gone = True  # the host stops the agent, which is started again
    for _ in range(3):
        on_signal(host, tools, run, signal(SignalKind.MODEL_ERROR, "connection refused", kind="connection"))
    assert "model_unreachable" not in tools.names()


def test_a_session_is_kept_and_a_lost_one_forgotten() -> None:
    host, tools, run = FakeHost(), FakeTools(), agent()
    on_signal(host, tools, run, signal(SignalKind.SESSION, "s-1"))
    assert run.session == "s-1" and host.sessions == ["s-1"]
    on_signal(host, tools, run, signal(SignalKind.SESSION_LOST, "no such session"))
    assert run.session is None and run.session_lost


def test_every_other_signal_reaches_its_tool() -> None:
    host, tools, run = FakeHost(), FakeTools(), agent()
    run.digest = "d"
    on_signal(host, tools, run, Signal(SignalKind.ACK, task="a", text="goal", digest="d"))
    on_signal(host, tools, run, Signal(SignalKind.PROGRESS, task="a", text="half", data={"checkpoint": 1}))
    on_signal(host, tools, run, signal(SignalKind.IDLE))
    on_signal(host, tools, run, signal(SignalKind.CLAIM, paths=["x"]))
    on_signal(host, tools, run, signal(SignalKind.RELEASE, paths=["x"]))
    on_signal(host, tools, run, Signal(SignalKind.BLOCKED, task="b", text="needs b"))
    on_signal(host, tools, run, signal(SignalKind.ASK, "which?"))
    on_signal(host, tools, run, signal(SignalKind.RATE_LIMITED, "slow down", reset_in=5))
    assert tools.calls == [
        ("acknowledge", ("a", "goal", True)),
        ("report", ("half", 1, "a")),
        ("idle", ()),
        ("claim", (["x"],)),
        ("release", (["x"],)),
        ("blocked", ("b", "needs b")),
        ("ask", ("which?",)),
        ("rate_limited", (5.0, "slow down")),
    ]


def test_czar_s_tools_not_connected_at_the_start_go_to_the_host() -> None:
    host, run = FakeHost(), agent()
    on_signal(host, FakeTools(), run, signal(SignalKind.TOOLS_LOST, "czar's MCP server is failed"))
    assert host.said[-1] == "tools lost: czar's MCP server is failed"


def test_a_session_holds_the_task_once_its_model_answered_in_it() -> None:
    # An agent killed at its start may leave a session without the task's text: resumed, it would
    # not know its task (seen in a chaos run with Codex: "no czar-model block"). Its host resumes
    # only a session its model answered in (``AgentProcess.relaunch``).
    host, run = FakeHost(), agent()
    on_signal(host, FakeTools(), run, signal(SignalKind.SESSION, "s1"))
    assert not run.heard
    on_signal(host, FakeTools(), run, signal(SignalKind.USAGE, input_tokens=0, output_tokens=0))
    assert not run.heard  # no tokens: nothing read yet
    on_signal(host, FakeTools(), run, signal(SignalKind.USAGE, input_tokens=120, output_tokens=8))
    assert run.heard
    on_signal(host, FakeTools(), run, signal(SignalKind.SESSION, "s1"))  # resumed: the same session
    assert run.heard
    on_signal(host, FakeTools(), run, signal(SignalKind.SESSION, "s2"))  # a new one
    assert not run.heard
    on_signal(host, FakeTools(), run, Signal(SignalKind.ACK, task="a", text="doing a"))
    assert run.heard
