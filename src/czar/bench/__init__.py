"""Benchmarks: real runs with simulated agents, measured against targets (`czar bench`)."""

from __future__ import annotations

from collections.abc import Callable

from czar.bench.load import dag, scale
from czar.bench.scenario import Scenario
from czar.bench.seed import seed

SCENARIOS: dict[str, Callable[..., Scenario]] = {"seed": seed, "scale": scale, "dag": dag}
