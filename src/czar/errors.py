"""The one error tree of czar.

    CzarError                  anything czar reports to a person as one line
    ├── PlanError              the plan file is unreadable or invalid (exit 2)
    ├── StoreError             the store cannot be opened or migrated
    ├── GitError               a git command failed; carries the command and its output
    ├── RuntimeHostError       tmux or a child process misbehaved
    └── SupervisorError        the supervisor is in a state that forbids the request

Foreign errors (sqlite, git, tmux) are translated where they enter czar and raised ``from`` the
original, so the CLI can print ``czar: <message>`` and exit with ``exit_code``.
"""

from __future__ import annotations


class CzarError(Exception):
    """Root of czar's errors: a message fit for one line and an exit code."""

    exit_code = 1


class PlanError(CzarError):
    """The plan is invalid; the message names the place and the problem."""

    exit_code = 2


class StoreError(CzarError):
    """The store could not be opened, migrated or written."""


class GitError(CzarError):
    """A git command failed."""

    def __init__(self, message: str, *, output: str = "") -> None:
        super().__init__(message)
        self.output = output


class RuntimeHostError(CzarError):
    """tmux or a child process did not behave."""


class SupervisorError(CzarError):
    """The request does not fit the supervisor's state (not running, already running, ...)."""
