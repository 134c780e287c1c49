"""Who is calling an agent tool: the worker its host named in the environment, proven by a secret.

The worker host gives its agent ``CZAR_HOME``, ``CZAR_PROJECT``, ``CZAR_WORKER`` and
``CZAR_TOKEN``; the token is made anew each time the host starts, so one worker's agent cannot act
for another by naming it. The store keeps only its SHA-256 digest: whoever reads the store learns
nothing that authenticates.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from czar.errors import CzarError
from czar.paths import ProjectPaths
from czar.runtime.ancestry import ProcessInfo

ENV_PROJECT = "CZAR_PROJECT"
ENV_WORKER = "CZAR_WORKER"
ENV_TOKEN = "CZAR_TOKEN"
ENV_LAUNCH = "CZAR_AGENT_LAUNCH"
ENV_TASK = "CZAR_TASK"


class CallerError(CzarError):
    """The tool was called from outside a worker, or with credentials that do not fit."""

    exit_code = 2


class AgentCaller(CallerError):
    """A command that acts for a person was run by an agent, or by a process an agent started."""


@dataclass(frozen=True)
class Caller:
    paths: ProjectPaths
    worker: str
    token: str
    launch: int | None = None  # which start of the agent is calling, to ignore a replaced one


def new_token() -> str:
    return secrets.token_hex(16)


def caller_from_env(env: Mapping[str, str] | None = None) -> Caller:
    """The calling worker, from the environment its host set; ``CallerError`` if it is not there."""
    env = os.environ if env is None else env
    missing = [v for v in (ENV_PROJECT, ENV_WORKER, ENV_TOKEN) if not env.get(v)]
    if missing:
        raise CallerError(
            f"this command is for agents inside a czar worker ({', '.join(missing)} not set); "
            "people use `czar status` instead"
        )
    launch = env.get(ENV_LAUNCH, "")
    return Caller(
        ProjectPaths.for_project(env[ENV_PROJECT]),
        env[ENV_WORKER],
        env[ENV_TOKEN],
        int(launch) if launch.isdigit() else None,
    )


def token_digest(token: str) -> str:
    """What the store keeps of a worker's token (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(digest: str | None, given: str) -> bool:
    """True if ``given`` is the token whose digest the store keeps."""
    return digest is not None and hmac.compare_digest(digest, token_digest(given))


def agent_trace(
    env: Mapping[str, str],
    lineage: Iterable[ProcessInfo],
    *,
    agents: Collection[int],
    hosts: Collection[int],
    data: Path,
) -> str | None:
    """Why the caller is (or runs under) an agent, or None for a person.

    The environment an agent's host gives it is the first sign; since an agent can unset
    variables, its processes are the second: any ancestor that is a worker host (``hosts``) or an
    agent, or that shares an agent's process group or session (``agents``: an agent leads both), or
    a bubblewrap sandbox of czar's (one whose command line names czar's data folder ``data``; a
    flatpak's bubblewrap, say, does not).
    """
    marks = [v for v in (ENV_WORKER, ENV_TOKEN, ENV_TASK) if env.get(v)]
    if marks:
        return f"its environment is an agent's ({', '.join(marks)} set)"
    for p in lineage:
        if p.pid in hosts:
            return f"it runs under worker host {p.pid}"
        if p.pid in agents or p.pgid in agents or p.sid in agents:
            return f"it was started by an agent (process {p.pid})"
        if p.name == "bwrap" and any(str(data) in arg for arg in p.cmdline):
            return f"it runs in an agent's sandbox (process {p.pid})"
    return None
