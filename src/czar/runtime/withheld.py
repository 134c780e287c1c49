"""Credentials czar keeps from everything it starts: a forge's token is the supervisor's alone.

The token is read from czar's environment once and taken out of it, so that neither the checks
(which run the agents' code), nor the worker hosts, nor the agents inherit it; every tmux window
starts without it too (``czar.runtime.tmux``), whatever the tmux server's own environment holds.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping

GITHUB_TOKENS = ("GITHUB_TOKEN", "GH_TOKEN")  # where GitHub's is looked for, in order
GITLAB_TOKENS = ("GITLAB_TOKEN",)
FORGE_TOKENS = GITHUB_TOKENS + GITLAB_TOKENS


def first_token(env: Mapping[str, str], names: tuple[str, ...]) -> tuple[str, str] | None:
    """The first of ``names`` set (not blank) in ``env``: its value, and its name."""
    for name in names:
        value = env.get(name, "").strip()
        if value:
            return value, name
    return None


def withhold(env: MutableMapping[str, str] = os.environ) -> dict[str, str]:
    """The forge tokens ``env`` holds, taken out of it."""
    return {name: env.pop(name) for name in FORGE_TOKENS if name in env}


def without(env: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``env`` with no forge token."""
    return {k: v for k, v in env.items() if k not in FORGE_TOKENS}
