"""What the supervisor (and a person, through the CLI) asks of a worker host: the commands of its
inbox, one frozen record per kind, and their one codec.

A command travels as a row of the store's ``inbox`` table: its kind, and its fields as JSON. The
host carries each out once, in order, and only for the attempt it names (a command for an attempt
the host no longer runs is dropped). A row this version cannot read is ``Unreadable``: the host
records it and goes on, rather than crash on it again at every restart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any, ClassVar


class MessageKind(StrEnum):
    """What a message to an agent is about; its prompt says what each asks of it."""

    TASK = "task"  # the task's full text
    FEEDBACK = "feedback"  # its work did not pass verification: the evidence
    NUDGE = "nudge"  # the health round saw something wrong: what, and what to do
    CORRECTION = "correction"  # it worked on the wrong task: the right one's full text
    CONTINUE = "continue"  # go on (restarted, rate limit over, or stopped before handing in)
    STAND_OFF = "stand-off"  # another task does this work: wait for it to merge
    CONFLICT = "conflict"  # its branch will conflict: merge the integration branch in
    MERGED = "merged"  # a task it waits for (or comes after) merged: bring it in
    GO_ON = "go-on"  # what it waited for is over, or waits for it: go on
    FAILED = "failed"  # a task it waits for failed and will not merge
    SCOPE = "scope"  # it changed files outside its scope
    PERSON = "person"  # a person's words (`czar tell`)
    ANSWER = "answer"  # the answer to its permission request
    REVIEW = "review"  # a reviewer asked for changes: its findings
    RESTACK = "restack"  # the approved work its branch is stacked on changed: bring the new version in


# What an agent started again with its session resumed is told (its host's restart, or the
# supervisor's): a call of czar's tools its last process made as it was stopped may have been cut
# or refused (a replaced process's calls are), and a model that saw it fail would go on past it.
RESUMED = (
    "czar restarted you. Continue your task where you left off. A call of czar's tools that failed just"
    " before (czar's tools unreachable, or your process replaced) was not recorded: make it again."
)


@dataclass(frozen=True)
class StartTask:
    """Start an agent on a task (after ending whatever the host ran before)."""

    KIND: ClassVar[str] = "start"
    attempt: int
    task: str
    worktree: str  # the task's checkout
    prompt: str  # the task's full text, as the agent gets it
    digest: str  # of the prompt: the agent names it back when it acknowledges the task
    earlier_launches: int = 0  # the worker's last agent start: this attempt's are numbered on from it
    again: bool = False  # an agent started on the task before, in an earlier attempt


@dataclass(frozen=True)
class Tell:
    """Give the agent a message (feedback, a stand-off, a person's words...)."""

    KIND: ClassVar[str] = "message"
    attempt: int
    kind: MessageKind
    text: str
    # Branches (name, commit) the agent's checkout is shown before the message, which names them
    # (the checkout is a clone that holds only its own branch).
    show: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", MessageKind(self.kind))  # read back, it is the word
        object.__setattr__(self, "show", tuple((str(name), str(commit)) for name, commit in self.show))


@dataclass(frozen=True)
class Answer:
    """Answer the agent's permission request."""

    KIND: ClassVar[str] = "answer"
    attempt: int
    allow: bool
    reason: str


@dataclass(frozen=True)
class Restart:
    """Stop the agent and start it again: its session resumed, or (``prompt``) a correction that
    starts over from ``reset_to`` with the full, right text."""

    KIND: ClassVar[str] = "restart"
    attempt: int
    reason: str
    reset_to: str | None = None  # undo what the agent changed since this commit
    prompt: str | None = None


@dataclass(frozen=True)
class StopAgent:
    """The task is over for this worker: end its agent."""

    KIND: ClassVar[str] = "stop"
    attempt: int


HostCommand = StartTask | Tell | Answer | Restart | StopAgent
_BY_KIND: dict[str, type[HostCommand]] = {c.KIND: c for c in (StartTask, Tell, Answer, Restart, StopAgent)}


@dataclass(frozen=True)
class Unreadable:
    """An inbox row that is no command this version knows, or lacks what its kind needs."""

    kind: str
    why: str


def encode(command: HostCommand) -> tuple[str, dict[str, Any]]:
    """The row's kind and fields."""
    return command.KIND, asdict(command)


def decode(kind: str, payload: Any) -> HostCommand | Unreadable:
    """A row read back: the command, or why it cannot be one."""
    cls = _BY_KIND.get(kind)
    if cls is None:
        return Unreadable(kind, "no such command")
    if not isinstance(payload, dict):
        return Unreadable(kind, "its fields are not an object")
    known = {f.name for f in fields(cls)}
    given = {k: v for k, v in payload.items() if k in known}
    try:
        command = cls(**given)
    except (TypeError, ValueError) as exc:
        return Unreadable(kind, str(exc))
    return command if isinstance(command.attempt, int) else Unreadable(kind, "its attempt is not a number")


@dataclass(frozen=True)
class Posted:
    """An inbox row: a command one worker host must carry out, once."""

    id: int
    worker_id: str
    command: HostCommand | Unreadable
