"""Who is calling an agent tool: the worker its host named in the environment, proven by a secret.

The worker host gives its agent ``CZAR_HOME``, ``CZAR_PROJECT``, ``CZAR_WORKER`` and
``CZAR_TOKEN``; the token is made anew each time the host starts and kept in the store, so one
worker's agent cannot act for another by naming it.
"""

from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from czar.errors import CzarError
from czar.paths import ProjectPaths

ENV_PROJECT = "CZAR_PROJECT"
ENV_WORKER = "CZAR_WORKER"
ENV_TOKEN = "CZAR_TOKEN"
ENV_LAUNCH = "CZAR_AGENT_LAUNCH"


class CallerError(CzarError):
    """The tool was called from outside a worker, or with credentials that do not fit."""

    exit_code = 2


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


def token_matches(expected: str | None, given: str) -> bool:
    return expected is not None and hmac.compare_digest(expected, given)
