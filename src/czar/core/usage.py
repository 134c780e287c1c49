"""What an agent's usage adds to its attempt: tokens and cost, each API message counted once.

Agents report usage in three shapes, which the adapters mark:

- ``provisional``: one API message's usage, as it comes (Claude Code's assistant events, its
  transcript). A message may come as several events, or as lines repeated in a transcript, with
  a usage that grows as it streams: it counts once, at the most it reported.
- ``cumulative``: the agent process's running total (Claude Code's ``modelUsage`` and
  ``total_cost_usd`` at the end of each turn). It settles the account: what it adds is its growth
  since the last total, less what the messages in between counted already.
- ``turn``: the totals of the turn that just ended (Claude Code's ``result.usage``, when no running
  total comes with it): they replace what the turn's messages counted.

Anything else is plain usage, added as it is (Codex, Gemini: one report per turn).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from czar.core import pricing

KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd")
Usage = dict[str, float]


def _zero() -> Usage:
    return dict.fromkeys(KEYS, 0.0)


@dataclass
class Meter:
    counted: Usage = field(default_factory=dict)  # the process's running total, as last reported
    pending: Usage = field(default_factory=dict)  # what messages counted since the last settlement
    seen: dict[str, Usage] = field(default_factory=dict)  # per API message: what it counted (all processes)

    def new_process(self) -> None:
        """Another agent process starts: its running totals start from nothing."""
        self.counted, self.pending = {}, {}

    def settle(self) -> None:
        """The process ended: what its messages counted stands."""
        self.pending = {}

    def add(self, data: dict[str, object], now: Usage) -> Usage:
        """What ``now`` (the usage reported, priced, by key of ``KEYS``) adds to the attempt;
        ``data`` says its shape (see the module's docstring)."""
        if data.get("provisional"):
            message = str(data.get("message_id"))
            before = self.seen.get(message, _zero())
            delta = {k: max(0.0, now[k] - before[k]) for k in KEYS}
            self.seen[message] = {k: max(now[k], before[k]) for k in KEYS}
            self.pending = {k: self.pending.get(k, 0.0) + delta[k] for k in KEYS}
            return delta
        if data.get("cumulative"):
            grown = {k: max(0.0, now[k] - self.counted.get(k, 0.0)) for k in KEYS}
            delta = {k: grown[k] - self.pending.get(k, 0.0) for k in KEYS}
            self.counted, self.pending = dict(now), {}
            return delta
        if data.get("turn"):
            delta = {k: now[k] - self.pending.get(k, 0.0) for k in KEYS}
            self.pending = {}
            return delta
        return dict(now)


def reported(data: Mapping[str, Any], model: str | None, prices: Mapping[str, float]) -> Usage:
    """The usage an agent reported, by key of ``KEYS``; priced by its model (the one it names, else
    ``model``) and the plan's ``prices`` when it reports no cost of its own."""
    now = {k: float(data.get(k) or 0) for k in KEYS}
    if "cost_usd" not in data:
        now["cost_usd"] = pricing.cost_usd(
            data.get("model") or model,
            int(now["input_tokens"]),
            int(now["output_tokens"]),
            int(now["cache_read_tokens"]),
            prices,
            cache_write_tokens=int(now["cache_write_tokens"]) if data.get("input_excludes_cache") else 0,
            input_includes_cache=not data.get("input_excludes_cache"),
        )
    return now
