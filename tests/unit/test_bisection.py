"""Bisection finds the first task that breaks a batch, in at most ⌈log₂ k⌉ runs besides the
batch's own, wherever the breakers are."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from czar.core.bisection import first_breaking


@given(
    st.integers(min_value=1, max_value=200).flatmap(
        lambda k: st.tuples(st.just(k), st.sets(st.integers(0, k - 1), min_size=1))
    )
)
def test_the_first_breaker_is_found_in_at_most_log2_runs(case: tuple[int, set[int]]) -> None:
    count, breakers = case
    asked: list[int] = []

    def passes(n: int) -> bool:
        assert 0 < n < count, n  # never the empty batch, never the whole one (known to fail)
        asked.append(n)
        return not any(b < n for b in breakers)  # the first n pass unless a breaker is among them

    assert first_breaking(count, passes) == min(breakers)
    assert len(asked) <= math.ceil(math.log2(count))


def test_a_batch_of_one_needs_no_run_and_an_empty_one_is_a_mistake() -> None:
    assert first_breaking(1, lambda n: pytest.fail("no run needed")) == 0
    with pytest.raises(ValueError):
        first_breaking(0, lambda n: True)
