"""The prompt a worker's agent receives: the full task text and everything it needs around it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class PromptInput:
    project: str
    worker: str
    task_id: str
    title: str
    body: str
    branch: str
    integration_branch: str
    scope: tuple[str, ...]
    accept: tuple[str, ...]
    subtasks: tuple[str, ...]
    board: Sequence[str]  # one line per other worker: who does what now
    previous_failure: str | None = None
    tools: str = "cli"  # how the agent talks to czar: "cli" (the czar commands) or "mcp" (czar's MCP tools)


def render(p: PromptInput) -> str:
    """Render the prompt. The body is included whole: never a path to it instead."""
    out = [
        f"You are worker {p.worker} in project {p.project}, one of several agents working in parallel.",
        "",
        f"Task id: {p.task_id}",
        f"Title: {p.title}",
        f"Branch: {p.branch} (your current folder is its own git worktree; commit your work there)",
        "",
        "## The task",
        "",
        p.body.rstrip(),
        "",
    ]
    if p.subtasks:
        out += ["## Checkpoints", ""] + [f"{i}. {s}" for i, s in enumerate(p.subtasks, 1)] + [""]
    out += ["## Scope", ""]
    if p.scope:
        out += ["Change only paths matching:"] + [f"- {g}" for g in p.scope]
    else:
        out += ["No scope was declared; keep your changes to what the task needs."]
    out += ["", "## Done means", ""]
    out += ["- your work is committed on your branch (at least one commit);"]
    if p.accept:
        out += ["- these commands pass in your worktree:"] + [f"  - `{c}`" for c in p.accept]
    out += [f"- czar then merges your branch into {p.integration_branch}; do not merge or push yourself.", ""]
    out += ["## The others right now", ""]
    out += [f"- {line}" for line in p.board] if p.board else ["- nobody else is working"]
    out += ["", "## Working with czar", "", *_how_to_report(p)]
    if p.previous_failure:
        out += ["", "## An earlier attempt at this task failed", "", p.previous_failure.rstrip()]
    return "\n".join(out) + "\n"


def _how_to_report(p: PromptInput) -> list[str]:
    if p.tools == "mcp":
        return [
            f"- First, confirm your task: call czar's `report` tool with task {p.task_id} and your goal in one line.",
            "- Report each checkpoint as you reach it: `report` with its checkpoint number.",
            "- `board` shows what the others do; before you change a path outside your scope, `claim` it"
            " (a refusal names the task that holds it).",
            "- If you must wait for another task to merge, call `blocked` naming it; for a person, `ask`.",
            "- When your work is committed and the checks pass, call `done` with a summary.",
        ]
    return [
        f'- First, confirm your task: `czar report --task {p.task_id} "<your goal in one line>"`.',
        '- Report each checkpoint as you reach it: `czar report --checkpoint N "note"`.',
        "- `czar board` shows what the others do; before you change a path outside your scope, claim it:"
        " `czar claim PATH...` (a refusal names the task that holds it).",
        '- If you must wait for another task to merge: `czar blocked --on TASK "why"`;'
        ' for a question to a person: `czar ask "question"`.',
        '- When your work is committed and the checks pass: `czar done "summary"`.',
    ]
