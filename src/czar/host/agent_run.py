"""What a worker host knows of the attempt it is on and of the agent process working on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from czar.agent_tools.relay import RelayServer
from czar.agents.base import AgentAdapter
from czar.core.host_commands import MessageKind
from czar.core.usage import Meter
from czar.host import user_config
from czar.host.output import Flow, ModelWatch
from czar.host.screen import Screen
from czar.runtime.gateway import Gateway
from czar.runtime.proc import Child


@dataclass
class Submit:
    """A message pasted into an agent's screen, until its hook confirms the prompt."""

    digest: str
    deadline: float
    tries: int = 1
    other: bool = False  # a prompt with other text was submitted meanwhile


@dataclass
class AgentRun:
    """The attempt this worker is on, and its agent process if one runs."""

    attempt: int
    task: str
    worktree: Path
    prompt: str
    adapter: AgentAdapter
    launches: int = 0  # the number of its agent's last start (the worker's starts are numbered in turn)
    first_launch: int = 0  # the number of the task's first agent start, when this attempt made it
    started: bool = False  # this host started its agent (once, or more)
    proc: Child | None = None
    buffer: bytes = b""
    finished: bool = False
    digest: str = ""  # of the first message of the current launch, to confirm delivery
    last_text: str = ""
    repeats: int = 0
    session: str | None = None  # the agent's own session, to resume it
    # Whether that session holds the task's text: its model has answered in it (an agent killed
    # at its start may leave a session without it, and resumed, it would not know its task).
    heard: bool = False
    # Messages its current start was given that its model has not answered since: an agent that
    # cannot resume its session is started again with them too, else a second message that came
    # while it was starting (Gemini takes seconds) replaced the first, never heard.
    unheard: list[tuple[str, MessageKind]] = field(default_factory=list)
    # What a person told it in this attempt: each new start of an agent that cannot resume is a
    # new conversation, and their earlier words would be gone from it (the last ``PERSONS_KEPT``).
    persons: list[tuple[str, MessageKind]] = field(default_factory=list)
    meter: Meter = field(default_factory=Meter)  # its usage, each API message counted once
    flow: Flow = field(default_factory=Flow)  # its activity, coalesced when it floods
    watch: ModelWatch = field(default_factory=ModelWatch)  # whether it reaches its model
    session_lost: bool = False  # the session it was resumed with does not exist
    # Why its host stopped it to start it again itself (its sandbox's network had gone, czar's
    # tools did not connect at its start), and how many times it did so for this attempt: not a
    # crash, nothing charged to the attempt, up to ``HOST_RESTARTS`` times.
    restarting: str | None = None
    host_restarts: int = 0
    mcp_url: str | None = None  # czar's MCP server for the agent's current start (the tools server's)
    relay: RelayServer | None = None  # czar's tools for its `czar` commands, when it runs in a sandbox
    gateway: Gateway | None = None  # the doors of its sandbox's network (czar's tools, its model's API)
    screen: Screen | None = None  # the agent's terminal, when it runs on its own screen
    submit: Submit | None = None  # a pasted message not confirmed yet
    transcript: Path | None = None  # what the agent on a screen writes down (its usage), and how far read
    transcript_at: int = 0
    hooks_since: int = 0  # the last event looked at for its hooks (on a screen)
    first_paste: str | None = None  # a first message too long for its command line, pasted once it started
    sent_back: bool = False  # sent back to work when its turn ended, and no tool used since
    config_before: user_config.Snapshot | None = None  # its configuration in your home, before it ran
