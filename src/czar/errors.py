"""The one error tree of czar.

    CzarError                  anything czar reports to a person as one line
    ├── PlanError              the plan file is unreadable or invalid (exit 2)
    ├── StoreError             the store cannot be opened or migrated, or holds what czar cannot read
    │   └── TransitionRefused  a task asked to move along a transition the table forbids (store.tasks)
    ├── GitError               a git command failed; carries the command and its output
    │   └── WorktreeStale      a checkout git no longer knows (vcs.git)
    ├── RuntimeHostError       tmux or a child process misbehaved
    ├── SupervisorError        the supervisor is in a state that forbids the request
    │   ├── SupervisorGone     it ended while `czar run` followed a run that was not over
    │   └── RunStalled         the run made no progress and `czar run` gave up on it (supervisor.outcome)
    ├── ForgeError             a remote forge (GitHub, GitLab) refused or did not answer: its words
    │   ├── ForgeDenied        the forge refuses the token itself (401): an error alert, until a person acts
    │   └── ForgeUnanswered    no answer, or the forge's own failure (5xx): nothing concluded, tried again
    ├── CallerError            an agent tool's caller is not who it says, or has nothing to act on
    │   └── AgentCaller        a person's command run by an agent (agent_tools.identity)
    └── RelayError             an agent's call across its sandbox wall failed (exit 2; agent_tools.relay)

Foreign errors (sqlite, git, tmux) are translated where they enter czar and raised ``from`` the
original, so the CLI can print ``czar: <message>`` and exit with ``exit_code``. The pure readers'
errors are ``ValueError``s with the line they stopped at (``core.shell.ShellError``,
``core.line_script.LineError``, ``agents.sim_script.ScriptError``,
``model.script.ModelScriptError``, ``agents.base.UnsupportedAgent``): where they meet a person
they become one line (a ``PlanError``, the sim's or the scripted model's report of the line, a
hook's refusal), never a traceback.
"""

from __future__ import annotations


class CzarError(Exception):
    """Root of czar's errors: a message fit for one line and an exit code."""

    exit_code = 1

    def said(self) -> list[str]:
        """How a command that ends on it says it: each line after ``czar:``."""
        return [f"czar: {line}" for line in str(self).splitlines() or [self.__class__.__name__]]


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


class SupervisorGone(SupervisorError):
    """The supervisor ended before the run finished: stopped by a person, or dead. Either way the
    workers are not `czar run`'s to stop: a new supervisor carries their work on."""

    def __init__(self, plan: object, *, stopped: bool, error: str | None = None) -> None:
        if error is not None:
            why = f"the supervisor ended on an error before the run finished ({error})"
        elif stopped:
            why = "the supervisor was stopped before the run finished"
        else:
            why = "the supervisor died before the run finished; the workers and their agents go on"
        super().__init__(f"{why}; `czar up {plan}` resumes the run (and `czar run {plan}` follows it)")
        self.stopped = stopped


class ForgeError(CzarError):
    """The forge could not be reached, or refused: what it said, in a line."""


class ForgeDenied(ForgeError):
    """The forge refuses the token itself (401: missing, expired, revoked): nothing asked of it
    goes through until a person gives it another; said as an error, not a warning."""


class ForgeUnanswered(ForgeError):
    """No answer (a time-out, no connection) or the forge's own failure (5xx): nothing can be
    concluded from it about what was asked; tried again."""
