"""``czar status``: the read model (``czar.supervisor.overview``) with the remote fetched first."""

from __future__ import annotations

from typing import Any

from czar.store.store import Store, Tx
from czar.supervisor.overview import overview
from czar.supervisor.project import Project


def status(project: Project) -> dict[str, Any]:
    """One JSON-able object; ``czar status --json`` prints it as it is."""
    return overview(project, fetch=True).as_dict()


def costs(conn: Tx) -> dict[str, Any]:
    """Tokens and cost per task, per worker and for the run (each API message counted once)."""
    by_task = Store.costs_by_task(conn)
    return {
        "run": {
            "cost_usd": round(sum(c.cost_usd for c in by_task.values()), 6),
            "input_tokens": sum(c.input_tokens for c in by_task.values()),
            "output_tokens": sum(c.output_tokens for c in by_task.values()),
        }
    }
