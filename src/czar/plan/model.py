"""The plan file's schema: project, workers and tasks, with a docstring under every field."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from czar.core.scope import glob_problem

AGENT_KINDS = ("sim", "claude", "codex", "gemini", "aider")
AgentKind = Literal["sim", "claude", "codex", "gemini", "aider"]

# Task ids become branch, folder and tmux window names: keep them to a safe alphabet.
TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
PROJECT_NAME = TASK_ID


def _glob(pattern: str) -> str:
    problem = glob_problem(pattern)
    if problem:
        raise ValueError(f"glob {pattern!r} {problem}")
    return pattern


# Checked one by one, so that every bad glob of a scope gets its own line.
Glob = Annotated[str, AfterValidator(_glob)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectConfig(_Strict):
    name: str
    """Project name; names the data folder, the tmux session and the store."""
    repo: str = "."
    """The git repository, relative to the plan file (or absolute)."""
    base_branch: str = "main"
    """The branch the integration branch starts from."""
    integration_branch: str = "czar/integration"
    """Where verified work is merged; created from the base branch if missing."""
    accept: list[str] = Field(default_factory=list)
    """Acceptance commands for every task without its own, and for the integration branch."""
    accept_timeout: float = Field(default=600.0, gt=0)
    """Seconds each acceptance command may run before it counts as failed."""
    max_attempts: int = Field(default=3, ge=1)
    """Verification rounds a task gets before it is marked failed."""
    check_after_merge: bool = True
    """Run ``accept`` on the integration branch after each merge; undo the merge if it fails."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not PROJECT_NAME.match(v):
            raise ValueError("must be letters, digits, '-' or '_' (at most 64), starting with a letter or digit")
        return v


class WorkersConfig(_Strict):
    count: int = Field(default=2, ge=1, le=256)
    """How many workers run at once."""
    agent: AgentKind = "sim"
    """The agent every worker runs unless a task says otherwise."""


class TaskConfig(_Strict):
    id: str
    """Unique id: letters, digits, '-' and '_'. Names the branch ``czar/<id>``."""
    title: str = ""
    """One line for tables and the board."""
    body: str | None = None
    """The full text the agent receives."""
    body_file: str | None = None
    """A Markdown file (relative to the plan) whose text is the body; czar reads and delivers it."""
    depends_on: list[str] = Field(default_factory=list)
    """Hard dependencies: this task starts only after these are merged."""
    after: list[str] = Field(default_factory=list)
    """Soft dependencies: may start earlier; is told when they merge."""
    scope: list[Glob] = Field(default_factory=list)
    """Globs of the paths this task may change; two tasks with overlapping scopes never run at once."""
    accept: list[str] | None = None
    """Acceptance commands; defaults to the project's."""
    skills: list[str] = Field(default_factory=list)
    """Skills a worker should have for this task."""
    priority: int = 0
    """Higher runs first among ready tasks."""
    subtasks: list[str] = Field(default_factory=list)
    """Checkpoints the agent reports as it goes."""
    agent: AgentKind | None = None
    """Agent kind for this task, overriding the workers' default."""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not TASK_ID.match(v):
            raise ValueError("must be letters, digits, '-' or '_' (at most 64), starting with a letter or digit")
        return v


class PlanFile(_Strict):
    project: ProjectConfig
    workers: WorkersConfig = WorkersConfig()
    tasks: list[TaskConfig] = Field(min_length=1)
