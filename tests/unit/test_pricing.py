"""What tokens cost, for agents that report tokens but no cost."""

from __future__ import annotations

import pytest

from czar.core.pricing import DEFAULT_MODELS, PRICES, cost_usd

M = 1_000_000


@pytest.mark.parametrize("model", sorted(PRICES))
def test_every_price_has_input_cached_input_and_output(model: str) -> None:
    table = PRICES[model]
    assert set(table) == {"input", "cached_input", "output"}
    assert 0 < table["cached_input"] < table["input"] < table["output"]


@pytest.mark.parametrize(("agent", "model"), sorted(DEFAULT_MODELS.items()))
def test_default_models_are_priced(agent: str, model: str) -> None:
    assert model in PRICES
    assert cost_usd(model, M, 0) > 0


@pytest.mark.parametrize(
    ("model", "input_price", "output_price"),
    [
        ("gpt-5", 1.25, 10.0),
        ("gpt-5-mini", 0.25, 2.0),
        ("gpt-5-codex", 1.25, 10.0),
        ("gemini-2.5-pro", 1.25, 10.0),
        ("gemini-2.5-flash", 0.30, 2.5),
        ("claude-sonnet-4-5", 3.0, 15.0),
        ("claude-opus-4-5", 5.0, 25.0),
        ("claude-haiku-4-5", 1.0, 5.0),
    ],
)
def test_a_million_tokens_costs_the_list_price(model: str, input_price: float, output_price: float) -> None:
    assert cost_usd(model, M, 0) == pytest.approx(input_price)
    assert cost_usd(model, 0, M) == pytest.approx(output_price)
    assert cost_usd(model, M, M) == pytest.approx(input_price + output_price)


def test_cached_tokens_are_the_part_of_the_input_read_from_cache() -> None:
    # 600k fresh at 1.25, 400k cached at 0.125.
    assert cost_usd("gpt-5", M, 0, cached_tokens=400_000) == pytest.approx(0.75 + 0.05)


def test_a_codex_turn() -> None:
    # {"type":"turn.completed","usage":{"input_tokens":24763,"cached_input_tokens":24448,"output_tokens":122}}
    expected = (315 * 1.25 + 24448 * 0.125 + 122 * 10.0) / M
    assert cost_usd("gpt-5", 24763, 122, cached_tokens=24448) == pytest.approx(expected)
    assert expected == pytest.approx(0.00466975)


def test_more_cached_than_input_counts_no_fresh_input() -> None:
    assert cost_usd("gpt-5", 100, 0, cached_tokens=M) == pytest.approx(0.125)


def test_no_tokens_cost_nothing() -> None:
    assert cost_usd("gpt-5", 0, 0) == 0.0


@pytest.mark.parametrize("model", [None, "", "llama-3-70b", "GPT-5", "gpt-5 "])
def test_unknown_models_cost_nothing(model: str | None) -> None:
    assert cost_usd(model, 123_456, 7_890, cached_tokens=1_000) == 0.0


def test_plan_prices_price_an_unknown_model() -> None:
    prices = {"input": 2.0, "output": 8.0}
    assert cost_usd("my-local-model", M, M, prices=prices) == pytest.approx(10.0)


def test_without_a_cached_price_cached_tokens_cost_as_input() -> None:
    prices = {"input": 2.0, "output": 8.0}
    assert cost_usd("my-local-model", M, 0, cached_tokens=M, prices=prices) == pytest.approx(2.0)


def test_plan_prices_win_over_the_table_one_by_one() -> None:
    prices = {"output": 20.0}
    assert cost_usd("gpt-5", M, M, prices=prices) == pytest.approx(1.25 + 20.0)
    assert cost_usd("gpt-5", M, 0, cached_tokens=M, prices=prices) == pytest.approx(0.125)


def test_plan_cached_price_wins() -> None:
    prices = {"cached_input": 0.0}
    assert cost_usd("gemini-2.5-pro", M, 0, cached_tokens=M // 2, prices=prices) == pytest.approx(1.25 / 2)


def test_pricing_does_not_change_the_table() -> None:
    before = dict(PRICES["gpt-5"])
    cost_usd("gpt-5", M, M, prices={"input": 99.0, "output": 99.0})
    assert PRICES["gpt-5"] == before
    assert cost_usd("gpt-5", M, 0) == pytest.approx(1.25)


@pytest.mark.parametrize(
    ("dated", "alias"),
    [
        ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("claude-haiku-4-5-20251001", "claude-haiku-4-5"),
        ("gpt-5-2025-08-07", "gpt-5"),
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
    ],
)
def test_dated_model_ids_are_priced_as_their_model(dated: str, alias: str) -> None:
    assert cost_usd(dated, M, M, cached_tokens=M // 2) == pytest.approx(cost_usd(alias, M, M, cached_tokens=M // 2))


def test_anthropic_counts_cache_reads_and_writes_apart_from_the_input() -> None:
    # claude-sonnet-4-5: input 3.0, cached 0.3, output 15.0 USD per million; a write costs 1.25 x input.
    cost = cost_usd(
        "claude-sonnet-4-5-20250929",
        1_000_000,
        1_000_000,
        1_000_000,
        cache_write_tokens=1_000_000,
        input_includes_cache=False,
    )
    assert cost == pytest.approx(3.0 + 15.0 + 0.3 + 3.75)
    # The same counts read the OpenAI way: the cached million is part of the input million.
    assert cost_usd("claude-sonnet-4-5", 1_000_000, 1_000_000, 1_000_000) == pytest.approx(0.3 + 15.0)
