"""The agent port: how a worker host starts an agent, talks to it, and reads what it does.

An adapter turns a launch context (the worktree, the messages to deliver, the session to resume)
into a command line, and each line the agent prints into signals in czar's words. It declares
what the agent can do, and the supervisor adapts: an agent without MCP is told to use the
``czar`` commands; an agent that answers one message per process is started again, its session
resumed, for the next one.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from czar.core.host_commands import MessageKind
from czar.runtime import search_path
from czar.runtime.withheld import without
from czar.vcs.git import REPOSITORY_VARIABLES, UNSIGNED, overriding


class SignalKind(StrEnum):
    """What an agent's signal is about (its adapter reads it from the agent's own output)."""

    ACK = "ack"  # names its task, restates the goal
    PROGRESS = "progress"  # a checkpoint reached, or a report
    COMMIT = "commit"
    FINISHED = "finished"  # hands its work in
    IDLE = "idle"  # waits for input without having finished
    PERMISSION = "permission"  # asks to run a tool
    RATE_LIMITED = "rate_limited"
    ACTIVITY = "activity"  # anything else worth showing
    ERROR = "error"
    SESSION = "session"  # its session id, to resume it
    USAGE = "usage"  # tokens and cost
    TURN_DONE = "turn_done"  # answered, and waits for the next message
    SESSION_LOST = "session_lost"  # the session to resume is gone
    MODEL_ERROR = "model_error"  # a request to its model failed
    TOOLS_LOST = "tools_lost"  # czar's MCP server did not connect at its start
    # Proposed by an agent that cannot run czar's commands itself (Aider):
    CLAIM = "claim"
    RELEASE = "release"
    BLOCKED = "blocked"
    ASK = "ask"
    # A reviewer's answer, from an agent that speaks through its output (the sim):
    FINDING = "finding"  # data: path, line, severity; the failure in ``text``
    VERDICT = "verdict"  # data: decision, commit; the summary in ``text``


@dataclass(frozen=True)
class Signal:
    """Something the agent told us, in czar's words.

    kind: ``ack`` (names its task, restates the goal in ``text``; ``digest`` of the text
    received), ``progress``, ``commit``, ``finished``, ``idle``, ``permission`` (``data["tool"]``,
    the target in ``text``), ``rate_limited`` (``data["reset_in"]`` seconds), ``activity``
    (anything else worth showing), ``error``, ``session`` (the agent's session id in ``text``),
    ``usage`` (tokens and cost, in ``data``, shaped as ``czar.core.usage`` reads them),
    ``turn_done`` (the agent answered and waits for the next message), ``session_lost`` (the
    session to resume is gone), ``model_error`` (a request to its model failed: what the agent
    said in ``text``; ``data["kind"]`` from ``api_failure``, ``data["retry"]`` whether the agent
    tries again by itself);
    and, for an agent that cannot call czar itself, the czar commands it proposed: ``claim`` and
    ``release`` (``data["paths"]``), ``blocked`` (on task ``task``, the need in ``text``), ``ask``.
    """

    kind: SignalKind
    text: str = ""
    task: str | None = None
    digest: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Capabilities:
    mcp: bool = False  # talks to czar through czar's MCP server (else: the czar commands)
    mcp_http: bool = False  # reaches it over HTTP, served by the worker host (else it starts one over stdio)
    long_lived: bool = True  # one process for the whole attempt, messages on stdin
    resumes: bool = False  # a new process can take up the agent's own session
    permission_tool: bool = False  # asks czar for permissions through its MCP tool, not its output
    reports_cost: bool = False  # its usage signals carry a cost (else czar prices its tokens)
    commits: bool = True  # can commit in its worktree (else czar commits its work when it hands in)
    # What its program writes into the checkout that is never the work (Aider's caches): ignored
    # there, by czar's git too (a `done` refused for changes not committed in them, found by a review).
    own_files: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()  # what its program reaches through the sandbox's proxy: its model's API, its login
    # Its hosts are its models' alone: with the plan's base_url they stay closed (a key it finds
    # in a file of its own would else take it past base_url).
    hosts_only_models: bool = False
    # What its program reaches for on its own at every start, for nothing the work needs (its update
    # check): refused as any host is, said in its window, not raised as an alert (one per worker per
    # run would only teach people to ignore alerts).
    chatter: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentSettings:
    """How to run one kind of agent, from the plan's ``[agents.<kind>]``."""

    command: str = ""  # the program; empty: the agent's usual command name
    base_url: str | None = None  # the model API to talk to (a scripted model server in tests)
    model: str | None = None
    home: str = "user"  # "user": the user's own home (logins, settings); "private": czar's own
    args: tuple[str, ...] = ()  # more arguments, appended
    env: Mapping[str, str] = field(default_factory=dict)
    prices: Mapping[str, float] = field(default_factory=dict)  # USD per million tokens: input, output
    interactive: bool = False  # the agent's own screen in the pane (Claude Code), not headless


@dataclass(frozen=True)
class LaunchContext:
    worktree: Path
    worker: str
    task: str
    env: Mapping[str, str]  # czar's environment for the agent (CZAR_*, PATH, git identity)
    messages: Sequence[tuple[str, MessageKind]]  # (text, kind) to deliver: the task first, on a first start
    session: str | None = None  # the agent's own session, to resume; None on a first start
    home: Path = Path()  # a folder czar keeps for this worker's agent (configuration, a private home)
    czar: Sequence[str] = ("czar",)  # how to run czar itself (for its MCP server and hooks)
    git_dir: Path | None = None  # the repository's git folder (outside the worktree)
    settings: AgentSettings = field(default_factory=AgentSettings)
    mcp_url: str | None = None  # czar's MCP server for this start, over HTTP, when the host serves one
    confined: bool = False  # czar's sandbox holds it (an agent's own sandbox cannot nest inside)


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]  # the whole environment
    stdin: list[str] = field(default_factory=list)  # written at once
    keep_stdin: bool = True  # later messages go to stdin (else it is closed after ``stdin``)
    session: str | None = None  # the session id, when czar chose it
    terminal: bool = False  # runs on a terminal of its own (its screen in the pane); messages are pasted
    transcript: Path | None = None  # a file it writes its events to, in lines ``parse`` reads (on a terminal)


class HookKind(StrEnum):
    """What an agent's hook (a command it runs at moments of its own) is about, in czar's words."""

    TOOL_USE = "tool_use"  # a tool is about to be used: czar's policy decides
    TOOL_USED = "tool_used"  # a tool was used: it is at work on a turn
    TURN_END = "turn_end"  # its turn ended: it would stop and wait for a message
    PROMPT = "prompt"  # a prompt was submitted to it
    SESSION_START = "session_start"  # it started, or resumed, a session
    OTHER = "other"  # anything else (a notification, a compaction of its context)


@dataclass(frozen=True)
class HookCall:
    """One call of an agent's hook, read by its adapter from the agent's own payload."""

    name: str  # the agent's own name for the moment (recorded as is)
    kind: HookKind
    again: bool = False  # a turn end right after czar sent it back to work
    tool: str = ""  # the tool, for a tool use
    tool_input: Any = None
    free: bool = False  # a tool use czar lets through undecided (reading, czar's own tools)
    transcript: str | None = None  # where it writes its events down
    prompt: str | None = None  # the prompt submitted
    said: dict[str, str] = field(default_factory=dict)  # what else it said worth keeping (a notification)


@dataclass(frozen=True)
class HookAnswer:
    """What a hook command prints and exits with, in the agent's own protocol."""

    stdout: str = ""
    stderr: str = ""
    exit_code: int = 0


class HookProtocol(Protocol):
    """How an agent calls its hooks and reads their answers."""

    def read(self, payload: Mapping[str, Any]) -> HookCall: ...

    def allow_or_deny(self, call: HookCall, decision: str, why: str) -> HookAnswer:
        """The answer to a tool use: ``decision`` is ``allow``, ``deny`` or ``ask``."""
        ...

    def go_on(self, reason: str) -> HookAnswer:
        """The answer to a turn end that sends the agent back to work with ``reason``."""
        ...


class AgentAdapter(Protocol):
    kind: str
    capabilities: Capabilities
    hooks: HookProtocol | None  # None: it runs no hook of czar's

    def launch(self, ctx: LaunchContext) -> Launch:
        """The process to start, with its environment and first input."""
        ...

    def encode(self, text: str, kind: MessageKind = MessageKind.TASK) -> str:
        """One line for the agent's stdin carrying a message; ``kind`` says why czar sends it
        (task, feedback, nudge, correction, stand-off, conflict, merged, restack, answer, continue)."""
        ...

    def parse(self, line: str) -> list[Signal]:
        """The signals in one line of the agent's output (often none)."""
        ...


# How an API error reads when the agent cannot reach its model, in the words of each agent and
# of the libraries underneath (Node, reqwest, the vendors' own messages); first match wins.
_FAILURES = (
    (
        "auth",
        re.compile(
            r"\b40[13]\b|unauthori[sz]ed|forbidden|authenticat|invalid (x-)?api[ -]key|api key not valid"
            # No key at all: Claude Code says so without asking its model; Codex names the variable.
            r"|not logged in|missing environment variable: `?\w*(api_key|token)\b"
        ),
    ),
    ("offline", re.compile(r"waiting for network")),
    (
        "connection",
        re.compile(
            r"econnrefused|connection ?refused|enotfound|getaddrinfo|name or service not known|name resolution"
            r"|failed to lookup|dns error|unable to connect|error sending request|connection (failed|error)"
            r"|fetch failed"  # Node's, for a request that never reached a server (Gemini CLI, Claude Code)
            r"|could not connect|network is unreachable|econnreset|etimedout|connect timeout"
        ),
    ),
    (
        "server",
        re.compile(
            r"\b5\d\d\b|internal server error|bad gateway|service unavailable|gateway timeout|overloaded"
            r"|server[ _]error|high demand"
        ),
    ),
)


def api_failure(text: str, status: int | None = None) -> str | None:
    """What kind of failure to reach its model an agent's API error tells: ``auth`` (the key is
    refused), ``offline`` (the agent waits for the network), ``connection`` (refused, no such
    host), ``server`` (5xx), ``other`` (no such endpoint or model); None when it tells none (a rate
    limit, a request the model refused)."""
    if status is not None:
        if status in (401, 403):
            return "auth"
        if status >= 500:
            return "server"
        return "other" if status == 404 else None
    lowered = text.lower()
    return next((kind for kind, pattern in _FAILURES if pattern.search(lowered)), None)


class UnsupportedAgent(LookupError):
    """The plan names an agent kind this czar cannot drive yet."""


def json_line(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def base_env(ctx: LaunchContext) -> dict[str, str]:
    """The agent's environment: the host's, czar's variables, then the plan's additions."""
    env = without(os.environ)  # a forge token is the supervisor's alone
    env.pop(search_path.PERSONS_PATH, None)  # czar's own, for its own processes
    for var in REPOSITORY_VARIABLES:  # your GIT_DIR (where czar was started) would be your checkout
        env.pop(var, None)
    env.update(ctx.env)
    env.update(ctx.settings.env)
    # Its commits unsigned, whatever the plan's `env` numbered among git's settings (see
    # ``git.UNSIGNED``): after them, so that they cannot undo it.
    return overriding(env, UNSIGNED)


def mcp_config(ctx: LaunchContext) -> dict[str, Any]:
    """czar's MCP server for this worker, as agents' ``mcpServers`` configuration: the worker
    host's, over HTTP, when it serves one; else a ``czar mcp`` process over stdio."""
    if ctx.mcp_url:
        # The token stays in the environment: Claude Code expands ${VAR} in its MCP configuration.
        return {"type": "http", "url": ctx.mcp_url, "headers": {"Authorization": "Bearer ${CZAR_TOKEN}"}}
    keys = ("CZAR_HOME", "CZAR_PROJECT", "CZAR_WORKER", "CZAR_TOKEN", "CZAR_AGENT_LAUNCH", "PATH", "HOME")
    env = {k: ctx.env[k] for k in keys if k in ctx.env}
    return {"type": "stdio", "command": ctx.czar[0], "args": [*ctx.czar[1:], "mcp", "--worker", ctx.worker], "env": env}
