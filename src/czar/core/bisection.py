"""Finding the task that broke a batch's checks, in as few check runs as it takes. Pure.

A batch of ``count`` tasks merged in order broke the project's checks. ``first_breaking`` finds
the first task whose merge makes them fail, by halving: the tasks before it keep their merge, it
goes back to its agent, the ones after it wait for the next batch (where another breaker among
them is found the same way). With the batch's own run, that is at most ⌈log₂ count⌉ + 1 runs.
"""

from __future__ import annotations

from collections.abc import Callable


def first_breaking(count: int, passes: Callable[[int], bool]) -> int:
    """The position (from 0) of the first task that breaks the checks, given that all ``count``
    together break them; ``passes(n)``: do the checks pass with the first ``n`` merged (asked
    only for 0 < n < count, at most ⌈log₂ count⌉ times)."""
    if count < 1:
        raise ValueError("an empty batch broke nothing")
    good, bad = 0, count  # the first `good` pass (none: nothing merged), the first `bad` fail
    while bad - good > 1:
        middle = (good + bad) // 2
        if passes(middle):
            good = middle
        else:
            bad = middle
    return bad - 1
