"""``czar status``: the read model (``czar.supervisor.overview``) with the remote fetched first."""

from __future__ import annotations

from typing import Any

from czar.supervisor.overview import overview
from czar.supervisor.project import Project


def status(project: Project) -> dict[str, Any]:
    """One JSON-able object; ``czar status --json`` prints it as it is."""
    return overview(project, fetch=True).as_dict()
