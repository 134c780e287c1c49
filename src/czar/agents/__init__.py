"""Agent adapters: one per agent kind."""

from __future__ import annotations

from czar.agents.base import AgentAdapter, UnsupportedAgent
from czar.agents.sim_adapter import SimAdapter


def adapter_for(kind: str) -> AgentAdapter:
    """The adapter for ``kind``; ``UnsupportedAgent`` for kinds not driven yet."""
    if kind == "sim":
        return SimAdapter()
    raise UnsupportedAgent(f"agent kind {kind!r} is not supported by this version of czar yet (use 'sim')")
