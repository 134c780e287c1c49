"""What tokens cost, for agents that report tokens but no cost (Codex, Gemini).

USD per million tokens, list prices as published by the vendors; the plan's ``prices`` win. An
unknown model is priced at zero, and its tokens are still counted.
"""

from __future__ import annotations

from collections.abc import Mapping

PRICES: dict[str, dict[str, float]] = {
    "claude-sonnet-4-5": {"input": 3.0, "cached_input": 0.3, "output": 15.0},
    "claude-sonnet-4": {"input": 3.0, "cached_input": 0.3, "output": 15.0},
    "claude-opus-4-5": {"input": 5.0, "cached_input": 0.5, "output": 25.0},
    "claude-haiku-4-5": {"input": 1.0, "cached_input": 0.1, "output": 5.0},
    "gpt-5": {"input": 1.25, "cached_input": 0.125, "output": 10.0},
    "gpt-5-mini": {"input": 0.25, "cached_input": 0.025, "output": 2.0},
    "gpt-5-codex": {"input": 1.25, "cached_input": 0.125, "output": 10.0},
    "gemini-2.5-pro": {"input": 1.25, "cached_input": 0.31, "output": 10.0},
    "gemini-2.5-flash": {"input": 0.30, "cached_input": 0.075, "output": 2.5},
}


# The model an agent uses when the plan names none (what czar prices its tokens as).
DEFAULT_MODELS = {"codex": "gpt-5", "gemini": "gemini-2.5-pro"}


def cost_usd(
    model: str | None,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    prices: Mapping[str, float] | None = None,
) -> float:
    """The cost of one exchange; cached input tokens are the part of the input read from cache."""
    table = dict(PRICES.get(model or "", {}))
    table.update(prices or {})
    fresh = max(0, input_tokens - cached_tokens)
    cached_price = table.get("cached_input", table.get("input", 0.0))
    return (
        fresh * table.get("input", 0.0) + cached_tokens * cached_price + output_tokens * table.get("output", 0.0)
    ) / 1e6
