"""What a plan's simulated agents will find in it, checked before a run (``czar validate``, ``up``,
``run``): a script that does not parse, or a task with none, otherwise shows up only as every start
of the task failing, a restart, another worker, and the task failed."""

from __future__ import annotations

from collections.abc import Collection

from czar.agents.sim_script import ScriptError, extract, parse
from czar.core.decide import ANY_AGENT
from czar.plan.load import Plan


def problems(plan: Plan, settled: Collection[str] = ()) -> tuple[list[str], list[str]]:
    """What in the plan would stop its simulated agents: errors (a script that does not parse,
    where a simulated agent may read it; no script in a task only simulated agents may take) and
    warnings (no script in a task a simulated agent may be given among others). ``settled``: the
    tasks a run has merged, failed or cancelled already, which no agent is given again unless a
    person says so (carrying a run on is not refused for them)."""
    kinds = set(plan.workers.kinds())
    reviewed_by_sim = "sim" in plan.reviewers.values()
    errors: list[str] = []
    warnings: list[str] = []
    for t in (t for t in plan.tasks if t.id not in settled):
        takers = kinds if t.agent == ANY_AGENT else {t.agent}
        script = extract(t.body)
        scripts = [("czar-sim", script)] if "sim" in takers else []
        scripts += [("czar-review", extract(t.body, review=True))] if reviewed_by_sim else []
        for fence, source in scripts:
            try:
                parse(source) if source is not None else None
            except ScriptError as exc:
                errors.append(f"task {t.id!r}: its {fence} script: {exc}")
        if "sim" in takers and script is None:
            said = f"task {t.id!r} has no czar-sim block: a simulated agent does only what its script says"
            (errors if takers == {"sim"} else warnings).append(f"{said} (docs/sim.md)")
    return errors, warnings
