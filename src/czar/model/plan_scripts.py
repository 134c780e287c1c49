"""The scripts a plan gives the scripted model (``czar model-server``), checked before a run
(``czar validate``, ``up``, ``run``), as the simulated agents' are (``czar.agents.sim_plans``): one
that does not parse otherwise shows up only as a real agent whose model answers that its script is
wrong, at every start, until the task fails."""

from __future__ import annotations

from collections.abc import Collection

from czar.model.script import FENCE, REVIEW_FENCE, ModelScriptError, parse
from czar.plan.load import Plan


def problems(plan: Plan, settled: Collection[str] = ()) -> list[str]:
    """A line for each ``czar-model`` (or ``czar-model-review``) block that does not parse, in the
    tasks a run may still give an agent (``settled``: merged, failed or cancelled already)."""
    errors: list[str] = []
    for t in (t for t in plan.tasks if t.id not in settled):
        for fence, pattern in (("czar-model", FENCE), ("czar-model-review", REVIEW_FENCE)):
            block = pattern.search(t.body)
            try:
                parse(block.group(1)) if block is not None else None
            except ModelScriptError as exc:
                errors.append(f"task {t.id!r}: its {fence} script (for czar model-server): {exc}")
    return errors
