"""What tokens cost, for agents that report tokens but no cost (Codex, Gemini).

USD per million tokens, list prices as published by the vendors; the plan's ``prices`` win. An
unknown model is priced at zero, and its tokens are still counted.
"""

from __future__ import annotations

import re
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
    *,
    cache_write_tokens: int = 0,
    input_includes_cache: bool = True,
) -> float:
    """The cost of one exchange. OpenAI and Google count the cached tokens as part of the input
    (``input_includes_cache``); Anthropic counts input read from cache and written to it apart
    from the input, and charges a quarter more for a write."""
    table = dict(PRICES.get(model or "") or PRICES.get(_undated(model or ""), {}))
    table.update(prices or {})
    fresh = max(0, input_tokens - cached_tokens) if input_includes_cache else input_tokens
    price_in = table.get("input", 0.0)
    cached_price = table.get("cached_input", price_in)
    return (
        fresh * price_in
        + cached_tokens * cached_price
        + cache_write_tokens * price_in * 1.25
        + output_tokens * table.get("output", 0.0)
    ) / 1e6


def _undated(model: str) -> str:
    """``claude-sonnet-4-5-20250929`` -> ``claude-sonnet-4-5``; ``gpt-5-2025-08-07`` -> ``gpt-5``:
    the APIs report dated model ids, the price table lists their aliases."""
    model = model.rsplit("/", 1)[-1]  # "openai/gpt-5", "openrouter/openai/gpt-5": a provider's prefix
    return re.sub(r"-(\d{8}|\d{4}-\d{2}-\d{2})$", "", model)
