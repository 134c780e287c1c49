"""Every agent kind czar drives, and its adapter."""

from __future__ import annotations

from czar.agents.aider import AiderAdapter
from czar.agents.base import AgentAdapter, UnsupportedAgent
from czar.agents.claude import ClaudeAdapter
from czar.agents.codex import CodexAdapter
from czar.agents.oneshot import GeminiAdapter
from czar.agents.sim_adapter import SimAdapter

ADAPTERS: dict[str, type[AgentAdapter]] = {
    "sim": SimAdapter,
    "claude": ClaudeAdapter,
    "codex": CodexAdapter,
    "gemini": GeminiAdapter,
    "aider": AiderAdapter,
}


def adapter_for(kind: str) -> AgentAdapter:
    """The adapter for ``kind``; ``UnsupportedAgent`` for kinds czar does not drive."""
    try:
        return ADAPTERS[kind]()
    except KeyError:
        raise UnsupportedAgent(f"agent kind {kind!r} is not one czar drives ({', '.join(ADAPTERS)})") from None
