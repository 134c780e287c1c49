"""What a worker host is told of its worker: the agent's kind and settings, the repository, and the
sandbox the agent runs in.

The supervisor writes them from the plan, a JSON file per worker (``settings_file``), before it
starts the host; the host reads that file and never loads the plan, whose validation (pydantic)
would cost each of a hundred hosts a tenth of a second and some 10 MB.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from czar.agents.base import AgentSettings
from czar.errors import CzarError


@dataclass(frozen=True)
class SandboxSettings:
    """The plan's ``[sandbox]`` (``czar.plan.model.SandboxConfig`` says what each means)."""

    enabled: bool = True
    writable: tuple[str, ...] = ()
    network: str = "filtered"  # or "host"
    allow_hosts: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()
    shared: tuple[str, ...] = ()  # the folders of the repository shown in its checkout (ignored by git)


@dataclass(frozen=True)
class HostSettings:
    project: str
    worker: str
    kind: str  # the agent's kind: claude, codex, gemini, aider, sim
    agent: AgentSettings = field(default_factory=AgentSettings)
    repo: Path | None = None
    sandbox: SandboxSettings = field(default_factory=lambda: SandboxSettings(enabled=False))
    reviewer: bool = False  # it reviews: its checkout is read-only in its sandbox

    def dumps(self) -> str:
        data = asdict(self)
        data["repo"] = str(self.repo) if self.repo is not None else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> HostSettings:
        try:
            data: dict[str, Any] = json.loads(text)
            agent, sandbox = data["agent"], data["sandbox"]
            return cls(
                project=str(data["project"]),
                worker=str(data["worker"]),
                kind=str(data["kind"]),
                agent=AgentSettings(
                    command=str(agent["command"]),
                    base_url=agent["base_url"],
                    model=agent["model"],
                    home=str(agent["home"]),
                    args=tuple(agent["args"]),
                    env=dict(agent["env"]),
                    prices=dict(agent["prices"]),
                    interactive=bool(agent["interactive"]),
                ),
                repo=Path(data["repo"]) if data["repo"] is not None else None,
                sandbox=SandboxSettings(
                    enabled=bool(sandbox["enabled"]),
                    writable=tuple(sandbox["writable"]),
                    network=str(sandbox["network"]),
                    allow_hosts=tuple(sandbox["allow_hosts"]),
                    ports=tuple(int(p) for p in sandbox["ports"]),
                    shared=tuple(str(f) for f in sandbox.get("shared", ())),
                ),
                reviewer=bool(data.get("reviewer", False)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CzarError(f"the worker host's settings cannot be read: {exc}") from exc


def settings_file(root: Path, worker: str) -> Path:
    """Where the supervisor leaves ``worker``'s settings in the project's folder ``root``."""
    return root / "agents" / f"{worker}.host.json"
