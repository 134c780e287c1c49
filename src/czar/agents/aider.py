"""Aider: one message per process (``aider --message``), no JSON and no MCP.

Aider edits by what its model writes and commits its edits itself. It runs no shell command
unattended (``--yes-always`` answers those prompts with no), so the ``czar`` commands its model
proposes, as its prompt asks, are read from its output and carried out by czar: only commands it
proposed in a shell block of its reply, and only once it lists them at the end, after its edits
are applied and committed. Cost from its ``Tokens: ... Cost:`` lines.
"""

from __future__ import annotations

import contextlib
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from czar.agents.base import Capabilities, HookProtocol, Launch, LaunchContext, Signal, SignalKind, base_env
from czar.agents.oneshot import message
from czar.core.host_commands import MessageKind
from czar.vcs.git import excludes_file, overriding

# "Tokens: 16k sent, 15k cache hit, 1.2k received. Cost: $0.01 message, $0.03 session." (with both
# a cache hit and a cache write, the cost comes on the next line)
TOKENS = re.compile(
    r"Tokens: ([\d.]+)(k?) sent, (?:[\d.]+k? cache (?:hit|write), )*([\d.]+)(k?) received\."
    r"(?: Cost: \$([\d.]+) message)?"
)
COST = re.compile(r"^Cost: \$([\d.]+) message")
# What it says when it has no key for any model: then it waits minutes for a login in a browser.
NO_KEY = "No LLM model was specified and no API keys were provided"
SHELL_FENCES = ("bash", "sh", "shell", "zsh", "console")
CHOSEN = re.compile(r"^(?:Main model|Model): (\S+) with ")  # its start: the model it took
# Keys by which it picks a model when none is named, whose requests the plan's base_url cannot
# carry: OpenRouter's and DeepSeek's come before OpenAI's, Gemini's and Vertex's after (litellm
# takes no plain base address for those).
PAST_BASE_URL = ("OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "GEMINI_API_KEY", "VERTEXAI_PROJECT")
# Its arguments that name a model: --model and its (deprecated) shortcuts, and a configuration
# file (which may); each shortcut also read from its variable (AIDER_SONNET=1).
SHORTCUTS = "opus sonnet haiku 4 4o 4-turbo mini 3 35turbo 35-turbo deepseek o1-mini o1-preview".split()  # noqa: SIM905
MODEL_ARGS = frozenset({"--model", "-4", "-3", "-c", "--config", *(f"--{name}" for name in SHORTCUTS)})
MODEL_VARIABLES = frozenset(
    {"AIDER_MODEL", "AIDER_CONFIG", *(f"AIDER_{n.upper().replace('-', '_')}" for n in SHORTCUTS)}
)


class AiderAdapter:
    kind = "aider"
    hooks: HookProtocol | None = None  # it runs no hook of czar's
    capabilities = Capabilities(
        mcp=False,
        own_files=(".aider*",),
        long_lived=False,
        resumes=False,
        reports_cost=True,
        # The providers its models are served by most often; others go in [sandbox] allow_hosts.
        hosts_only_models=True,
        hosts=(
            "api.openai.com",
            "api.anthropic.com",
            "generativelanguage.googleapis.com",
            "openrouter.ai",
            "api.deepseek.com",
        ),
        # Its model list, fetched at every start whatever LITELLM_LOCAL_MODEL_COST_MAP says (a failed
        # fetch leaves an empty cache, which it fetches again next time); it goes on with its own copy.
        chatter=("raw.githubusercontent.com",),
    )

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._fence: str | None = None  # the language of the fenced block of its reply it is in
        self._proposed: list[str] = []  # czar commands proposed in shell blocks of its reply
        self._done: set[str] = set()  # those carried out
        self._replied = False  # its reply is over (its token count came): what follows is settled
        self._usage: dict[str, Any] | None = None  # tokens whose cost may come on the next line
        self._keys_kept: tuple[str, ...] = ()  # keys not given to it: they would go past base_url
        self._base_url: str | None = None  # the plan's, when it names no model: where its model must be

    def launch(self, ctx: LaunchContext) -> Launch:
        self._reset()
        s = ctx.settings
        env = base_env(ctx)
        if s.base_url:
            # Whichever provider it picks: with no model named it takes the first one a key is set
            # for, Anthropic's before OpenAI's (with ANTHROPIC_API_KEY in your environment it went to
            # api.anthropic.com, past base_url). Anthropic's base is the host's, /v1/messages added.
            env["OPENAI_API_BASE"] = s.base_url
            env["ANTHROPIC_API_BASE"] = s.base_url.rstrip("/").removesuffix("/v1")
            if not _names_a_model(s.model, s.args, env):
                self._keys_kept = tuple(k for k in PAST_BASE_URL if env.pop(k, None) is not None)
                self._base_url = s.base_url
        env.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # its prices from its own copy, not the web
        # Its files (chat history, repo-map cache) stay out of the worktree's commits.
        folder = ctx.home / "aider"
        folder.mkdir(parents=True, exist_ok=True)
        _exclude(env, folder / "exclude")
        argv = [
            s.command or "aider",
            "--message",
            message(ctx),
            "--yes-always",  # its edits (it still runs no shell command: czar carries out its czar commands)
            "--no-pretty",
            "--no-check-update",
            "--analytics-disable",
            "--no-show-model-warnings",
            "--no-gitignore",  # the worktree's .gitignore is the project's
            "--chat-history-file",
            str(folder / "chat.md"),
            "--input-history-file",
            str(folder / "input.txt"),
            *(["--model", s.model] if s.model else []),
            *s.args,
        ]
        return Launch(argv, env, [], keep_stdin=False)

    def encode(self, text: str, kind: MessageKind = MessageKind.TASK) -> str:
        return text

    def parse(self, line: str) -> list[Signal]:
        out: list[Signal] = []
        if self._usage is not None:  # the cost of the tokens just counted, or none
            usage, self._usage = self._usage, None
            cost = COST.match(line.strip())
            if cost:
                return [Signal(SignalKind.USAGE, data={**usage, "cost_usd": float(cost.group(1))})]
            out.append(Signal(SignalKind.USAGE, data=usage))  # no price known to it: czar prices the tokens
        chosen = CHOSEN.match(line.strip()) if not self._replied and self._base_url else None
        if chosen and not _through_base_url(chosen.group(1)):
            # It found a key of its own (~/.env, .aider.conf.yml, its OpenRouter login) and took a
            # model whose requests go past the plan's base_url: a person names one.
            said = (
                f"aider took the model {chosen.group(1)}, which is not reached through the plan's base_url"
                f" ({self._base_url}): name its model (openai/... or anthropic/...) in [agents.aider]"
            )
            return [*out, Signal(SignalKind.MODEL_ERROR, text=said, data={"kind": "auth", "retry": False})]
        if not self._replied and NO_KEY in line:  # its words before any reply: a person must give it a key
            said = line.strip()[:500]
            if self._keys_kept:
                said += (
                    f" (czar gave it no {', '.join(self._keys_kept)}: with the plan's base_url its model is"
                    " reached with ANTHROPIC_API_KEY or OPENAI_API_KEY, or name its model)"
                )
            return [*out, Signal(SignalKind.MODEL_ERROR, text=said, data={"kind": "auth", "retry": False})]
        m = TOKENS.search(line)
        if m:
            self._replied = True
            sent = float(m.group(1)) * (1000 if m.group(2) else 1)
            received = float(m.group(3)) * (1000 if m.group(4) else 1)
            data: dict[str, Any] = {"cumulative": False, "input_tokens": int(sent), "output_tokens": int(received)}
            if m.group(5) is None:
                self._usage = data
                return out
            return [*out, Signal(SignalKind.USAGE, data={**data, "cost_usd": float(m.group(5))})]
        proposed = self._proposal(line.rstrip("\r\n"))
        if proposed is not None:
            return [*out, *proposed]
        return [*out, Signal(SignalKind.ACTIVITY, text=line.rstrip())] if line.strip() else out

    def _proposal(self, line: str) -> list[Signal] | None:
        """A czar command of a shell block of its reply is noted; listed again once its reply is
        over, it is carried out (once). Anything else is not a command of czar's (None)."""
        stripped = line.strip()
        if not self._replied:
            if stripped.startswith("```"):
                self._fence = None if self._fence is not None else stripped[3:].strip().lower()
            elif self._fence in SHELL_FENCES and stripped.startswith("czar "):
                self._proposed.append(stripped)
            return None
        if line != stripped or line not in self._proposed or line in self._done:
            return None
        self._done.add(line)
        return proposal(line)


def proposal(line: str) -> list[Signal]:
    """The signals of one ``czar`` command line (none when czar cannot carry it out)."""
    try:
        words = shlex.split(line)
    except ValueError:
        return []
    verb, rest = (words[1], words[2:]) if len(words) > 1 else ("", [])
    if verb == "done":
        return [Signal(SignalKind.FINISHED, text=" ".join(rest) or "done")]
    if verb == "report" and len(rest) >= 2 and rest[0] == "--task":
        return [Signal(SignalKind.PROGRESS, text=" ".join(rest[2:]), task=rest[1])]
    if verb == "report" and len(rest) >= 2 and rest[0] == "--checkpoint" and rest[1].isdigit():
        return [Signal(SignalKind.PROGRESS, text=" ".join(rest[2:]), data={"checkpoint": int(rest[1])})]
    if verb == "report" and rest and not rest[0].startswith("--"):
        return [Signal(SignalKind.PROGRESS, text=" ".join(rest))]
    if verb in ("claim", "release") and rest:
        return [Signal(SignalKind(verb), data={"paths": rest})]
    if verb == "blocked" and len(rest) >= 2 and rest[0] == "--on":
        return [Signal(SignalKind.BLOCKED, text=" ".join(rest[2:]) or f"waits for {rest[1]}", task=rest[1])]
    if verb in ("blocked", "ask") and rest:
        return [Signal(SignalKind(verb), text=" ".join(rest))]
    return []


def _exclude(env: dict[str, str], path: Path) -> None:
    """Aider's files out of the agent's git: ``core.excludesFile`` set for its processes (after any
    settings the environment carries already) to a file with its patterns and the user's own."""
    patterns = ".aider*\n"
    with contextlib.suppress(OSError, UnicodeDecodeError):
        patterns += excludes_file(env).read_text()
    path.write_text(patterns)
    env.update(overriding(env, {"core.excludesFile": str(path)}))


def _through_base_url(model: str) -> bool:
    """Whether litellm sends ``model``'s requests to the base addresses czar sets (OpenAI's and
    Anthropic's): their prefixes, or a bare name of theirs."""
    provider, _, name = model.partition("/")
    if name:
        return provider in ("openai", "anthropic")
    return model.startswith(("gpt-", "o1", "o3", "o4", "chatgpt-", "claude-"))


def _names_a_model(model: str | None, args: Sequence[str], env: Mapping[str, str]) -> bool:
    """Whether the plan names aider's model (its setting, its arguments, its environment)."""
    named = any(a.split("=", 1)[0] in MODEL_ARGS for a in args)
    return bool(model) or named or any(env.get(name) for name in MODEL_VARIABLES)
