"""czar's tools for agents, in one place: each tool's name, what it does, its arguments, and what
the prompt tells an agent about it. The MCP server, the ``czar`` commands agents run, the relay
across the sandbox wall, the allowed-tool lists and the prompt's instructions all read it; a
test holds the MCP server and the commands to it (``tests/unit/test_toolbox.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ArgKind(StrEnum):
    TEXT = "text"  # words (the commands join them), or one string
    NAME = "name"  # one word: a task id
    NUMBER = "number"  # a whole number from 1
    PATHS = "paths"  # paths or globs


@dataclass(frozen=True)
class Arg:
    name: str
    kind: ArgKind
    help: str
    required: bool = True
    option: bool = False  # the commands take it as ``--name VALUE`` (else in place)


@dataclass(frozen=True)
class Hint:
    """One line of the prompt's "Working with czar": as an agent with czar's MCP tools reads it,
    and as one that runs the ``czar`` commands does (``{task}`` is its task's id)."""

    mcp: str
    cli: str


@dataclass(frozen=True)
class AgentTool:
    name: str
    summary: str  # one line: the MCP tool's description and the command's help
    args: tuple[Arg, ...] = ()
    hints: tuple[Hint, ...] = ()
    role: str = "author"  # who is told of it: the authors of tasks, or their reviewers


TOOLS: tuple[AgentTool, ...] = (
    AgentTool(
        "report",
        "Report progress. Your first report must name your task id (`task`) and restate its goal in `text`;"
        " later ones give the checkpoint number reached, if any.",
        (
            Arg("text", ArgKind.TEXT, "What to say (the words are joined)."),
            Arg("task", ArgKind.NAME, "Your task id (first report).", required=False, option=True),
            Arg("checkpoint", ArgKind.NUMBER, "The checkpoint reached.", required=False, option=True),
        ),
        (
            Hint(
                "First, confirm your task: call czar's `report` tool with task {task} and your goal in one line.",
                'First, confirm your task: `czar report --task {task} "<your goal in one line>"`.',
            ),
            Hint(
                "Report each checkpoint as you reach it: `report` with its checkpoint number.",
                'Report each checkpoint as you reach it: `czar report --checkpoint N "note"`.',
            ),
        ),
    ),
    AgentTool(
        "board",
        "Who works on what, how far along, which paths they hold, what they last said.",
        (),
        (Hint("`board` shows what the others do.", "`czar board` shows what the others do."),),
    ),
    AgentTool(
        "claim",
        "Hold paths outside your scope before changing them; a refusal names the holder.",
        (Arg("paths", ArgKind.PATHS, "Paths or globs to hold."),),
        (
            Hint(
                "Before you change a path outside your scope, `claim` it (a refusal names the task that holds it).",
                "Before you change a path outside your scope, claim it: `czar claim PATH...` (a refusal names"
                " the task that holds it).",
            ),
        ),
    ),
    AgentTool(
        "release",
        "Give back paths you claimed.",
        (Arg("paths", ArgKind.PATHS, "Paths or globs you claimed."),),
    ),
    AgentTool(
        "blocked",
        "You cannot go on until another task merges (`on`) or a person helps.",
        (
            Arg("need", ArgKind.TEXT, "What you need (the words are joined)."),
            Arg("on", ArgKind.NAME, "The task you wait for.", required=False, option=True),
        ),
        (
            Hint(
                "If you must wait for another task to merge, call `blocked` naming it; for a person, `ask`.",
                'If you must wait for another task to merge: `czar blocked --on TASK "why"`; for a question to a'
                ' person: `czar ask "question"`.',
            ),
        ),
    ),
    AgentTool(
        "ask",
        "Ask a person a question; the answer comes as a message.",
        (Arg("question", ArgKind.TEXT, "The question (the words are joined)."),),
    ),
    AgentTool(
        "done",
        "Your work is committed and its checks pass: hand the task in for verification.",
        (Arg("summary", ArgKind.TEXT, "What you did (the words are joined)."),),
        (
            Hint(
                "When your work is committed and the checks pass, call `done` with a summary.",
                'When your work is committed and the checks pass: `czar done "summary"`.',
            ),
        ),
    ),
    AgentTool(
        "finding",
        "Record one finding of your review: a line of the reviewed commit, how bad it is, and the failure it"
        " would cause.",
        (
            Arg("failure", ArgKind.TEXT, "What would fail, and when (the words are joined)."),
            Arg("path", ArgKind.NAME, "The file, relative to the repository.", option=True),
            Arg("line", ArgKind.NUMBER, "The line in that file at the reviewed commit.", option=True),
            Arg("severity", ArgKind.NAME, "blocking (must be fixed) or note (advice).", option=True),
        ),
        (
            Hint(
                "For each problem, call `finding` with its path, line, severity (blocking or note) and the failure"
                " it would cause; none is a valid answer.",
                'For each problem: `czar finding --path FILE --line N --severity blocking|note "the failure it'
                ' would cause"`; none is a valid answer.',
            ),
        ),
        role="reviewer",
    ),
    AgentTool(
        "verdict",
        "End your review: approve the commit, or request changes (after at least one blocking finding).",
        (
            Arg("decision", ArgKind.NAME, "approve or request-changes."),
            Arg("commit", ArgKind.NAME, "The commit you reviewed (its full id).", option=True),
            Arg("summary", ArgKind.TEXT, "One line for the author.", required=False, option=True),
        ),
        (
            Hint(
                "Then call `verdict` once, with approve or request-changes and the commit you reviewed ({task}).",
                'Then, once: `czar verdict approve|request-changes --commit {task} --summary "one line"`.',
            ),
        ),
        role="reviewer",
    ),
)

NAMES = tuple(t.name for t in TOOLS)
BY_NAME = {t.name: t for t in TOOLS}


def instructions(tools: str, task: str, role: str = "author") -> list[str]:
    """The prompt's lines on working with czar: ``tools`` is ``mcp`` (czar's MCP tools) or
    ``cli`` (the ``czar`` commands); ``role``, who reads them (a reviewer's ``task`` is the
    commit it reviews)."""
    return [
        f"- {(h.mcp if tools == 'mcp' else h.cli).format(task=task)}" for t in TOOLS if t.role == role for h in t.hints
    ]
