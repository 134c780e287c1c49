"""Read a plan file and reject a bad one with one precise line per problem."""

from __future__ import annotations

import shlex
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from pydantic import ValidationError

from czar.core.branches import TASK_PREFIX, clash, task_branch
from czar.core.decide import ANY_AGENT
from czar.core.graph import chain_rank, find_cycle, topological_order
from czar.errors import PlanError
from czar.plan.model import (
    AgentConfig,
    AgentKind,
    AlertsConfig,
    ForgeConfig,
    HealthConfig,
    PermissionsConfig,
    PlanFile,
    ProjectConfig,
    ReviewConfig,
    SandboxConfig,
    TaskConfig,
    WorkersConfig,
)


@dataclass(frozen=True)
class Task:
    """A task as czar runs it: the plan's fields with the body read and defaults applied."""

    id: str
    title: str
    body: str
    depends_on: tuple[str, ...]
    after: tuple[str, ...]
    scope: tuple[str, ...]
    accept: tuple[str, ...]
    skills: tuple[str, ...]
    priority: int
    subtasks: tuple[str, ...]
    agent: str
    order: int
    estimate: float | None = None  # minutes
    rank: float = 1.0  # the estimated work on the longest chain from this task on
    budget_usd: float | None = None


@dataclass(frozen=True)
class Plan:
    path: Path
    project: ProjectConfig
    workers: WorkersConfig
    tasks: tuple[Task, ...]
    health: HealthConfig = field(default_factory=HealthConfig)
    permissions: PermissionsConfig = field(default_factory=PermissionsConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)
    agents: dict[str, AgentConfig] = field(default_factory=dict)
    review: ReviewConfig = field(default_factory=ReviewConfig)
    forge: ForgeConfig = field(default_factory=ForgeConfig)

    @property
    def worker_kinds(self) -> dict[str, str]:
        """Each worker's id (w1, w2, ... then the reviewers r1, r2, ...) and the agent kind it runs."""
        authors = {f"w{i}": kind for i, kind in enumerate(self.workers.kinds(), start=1)}
        return authors | self.reviewers

    @property
    def reviewers(self) -> dict[str, str]:
        """The reviewer workers (r1, r2, ...) and their agent kinds (``[review]``)."""
        return {f"r{i}": kind for i, kind in enumerate(self.review.kinds(), start=1)}

    @property
    def repo(self) -> Path:
        return (self.path.parent / self.project.repo).resolve()

    def task(self, task_id: str) -> Task:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)


def _where(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """Turn a pydantic error location into words a plan author recognises."""
    if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
        tasks = raw.get("tasks") or []
        entry = tasks[loc[1]] if loc[1] < len(tasks) and isinstance(tasks[loc[1]], dict) else {}
        name = f"task {entry['id']!r}" if isinstance(entry.get("id"), str) else f"task #{loc[1] + 1}"
        # An item's index adds nothing: the message quotes the item (``scope: glob '/x' ...``).
        rest = ".".join(str(p) for p in loc[2:] if not isinstance(p, int))
        return f"{name}: {rest}" if rest else name
    return ".".join(str(p) for p in loc) or "plan"


def _schema_errors(exc: ValidationError, raw: dict[str, Any]) -> list[str]:
    lines = []
    for err in exc.errors():
        where = _where(tuple(err["loc"]), raw)
        if err["type"] == "extra_forbidden":
            key = err["loc"][-1]
            line = f"{_where(tuple(err['loc'][:-1]), raw)}: unknown key {key!r}"
            if tuple(err["loc"][:-1]) == ("workers",) and key in get_args(AgentKind):  # [workers] codex = 1
                line += f" (workers of several kinds: agents = {{ {key} = {err['input']!r}, ... }})"
            lines.append(line)
        elif err["type"] == "missing":
            lines.append(f"{where}: required but missing")
        elif err["type"] == "literal_error":
            lines.append(f"{where}: {err['input']!r} is not one of: {err['ctx']['expected']}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"{where}: {msg}")
    return lines


def _check_commands(owner: str, commands: list[str], kind: str = "accept") -> list[str]:
    problems = []
    for cmd in commands:
        try:
            if not shlex.split(cmd):
                problems.append(f"{owner}: {kind} command is empty")
        except ValueError as exc:
            problems.append(f"{owner}: {kind} command {cmd!r} cannot be split into words: {exc}")
    return problems


def _branch_problems(project: ProjectConfig, task_ids: list[str]) -> list[str]:
    """The integration branch must be czar's alone: not the base branch (czar would merge into
    your branch), nor a task's branch, nor a name git cannot hold beside them."""
    problems = []
    base, integration = project.base_branch, project.integration_branch
    nested = "git cannot hold a branch and another under it"
    if integration == base:
        problems.append(
            f"project.integration_branch: {integration!r} is the base branch; czar merges into the"
            " integration branch, so it must be one of czar's own (the default is 'czar/integration')"
        )
    elif clash(integration, base):
        problems.append(
            f"project.integration_branch: {integration!r} cannot exist beside the base branch {base!r} ({nested})"
        )
    for field_name, branch in (("integration_branch", integration), ("base_branch", base)):
        if branch == TASK_PREFIX.rstrip("/"):
            problems.append(
                f"project.{field_name}: {branch!r} cannot exist beside the task branches 'czar/<task>' ({nested})"
            )
            continue
        for tid in task_ids:
            mine = task_branch(tid)
            if branch == mine:
                problems.append(f"project.{field_name}: {branch!r} is the branch of task {tid!r}")
            elif clash(branch, mine):
                problems.append(
                    f"project.{field_name}: {branch!r} cannot exist beside the branch of task {tid!r},"
                    f" {mine!r} ({nested})"
                )
    return problems


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "named pipe"), (stat.S_ISSOCK, "socket"))
    return next((name for test, name in kinds if test(mode)), "device")


def load_plan(path: Path) -> Plan:
    """Parse and validate the plan at ``path``; raise ``PlanError`` listing every problem."""
    try:
        # Only a file: a pipe would wait for a writer, a device (/dev/zero) be read without end.
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise PlanError(f"{path}: not a plan file (a {_kind(mode)})")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{path}: no such plan file (create one with `czar init`)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read: {exc}") from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(f"{path}: TOML syntax: {exc}") from exc
    try:
        parsed = PlanFile.model_validate(raw)
    except ValidationError as exc:
        raise PlanError("\n".join(f"{path}: {line}" for line in _schema_errors(exc, raw))) from None
    return _build(path, parsed)


def _body(path: Path, t: TaskConfig, problems: list[str], *, anywhere: bool) -> str:
    if t.body is not None and t.body_file is not None:
        problems.append(f"task {t.id!r}: give body or body_file, not both")
        return ""
    if t.body_file is not None:
        folder = path.resolve().parent
        # Resolved, symbolic links included: a link inside the folder may lead anywhere.
        file = (folder / t.body_file).resolve()
        if not anywhere and not file.is_relative_to(folder):
            problems.append(
                f"task {t.id!r}: body_file {t.body_file!r} is outside the plan's folder {folder}"
                " (set project.body_files_outside_plan = true to allow it)"
            )
            return ""
        if file.exists() and not file.is_file():
            # A fifo or a device would hang the load or never end.
            problems.append(f"task {t.id!r}: body_file {t.body_file!r} is not a regular file")
            return ""
        try:
            body = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"task {t.id!r}: body_file {t.body_file!r} cannot be read: {exc.__class__.__name__}")
            return ""
    else:
        body = t.body or ""
    if not body.strip():
        problems.append(f"task {t.id!r}: body is empty; the agent would get no instructions")
    return body


def _build(path: Path, parsed: PlanFile) -> Plan:
    problems: list[str] = []
    seen: set[str] = set()
    for t in parsed.tasks:
        if t.id in seen:
            problems.append(f"task {t.id!r}: duplicate id")
        seen.add(t.id)
    for t in parsed.tasks:
        for dep in t.depends_on:
            if dep not in seen:
                problems.append(f"task {t.id!r}: depends_on names unknown task {dep!r}")
            elif dep == t.id:
                problems.append(f"task {t.id!r}: depends on itself")
        for dep in t.after:
            if dep not in seen:
                problems.append(f"task {t.id!r}: after names unknown task {dep!r}")
        problems += _check_commands(f"task {t.id!r}", t.accept or [])
    problems += _check_commands("project", parsed.project.accept)
    problems += _check_commands("project", parsed.project.lint, "lint")
    kinds = set(parsed.workers.kinds())
    for t in parsed.tasks:
        if t.agent is not None and t.agent not in kinds:
            problems.append(
                f"task {t.id!r}: agent {t.agent!r}, but no worker runs it (workers: {', '.join(sorted(kinds))})"
            )
    anywhere = parsed.project.body_files_outside_plan
    bodies = {t.id: _body(path, t, problems, anywhere=anywhere) for t in parsed.tasks}
    problems += _branch_problems(parsed.project, [t.id for t in parsed.tasks])
    edges = {t.id: set(t.depends_on) for t in parsed.tasks}
    cycle = find_cycle(edges)
    if cycle:
        problems.append("dependency cycle: " + " -> ".join(cycle))
    if problems:
        raise PlanError("\n".join(f"{path}: {p}" for p in problems))
    order = {tid: i for i, tid in enumerate(topological_order(edges))}
    # Tasks without an estimate weigh as much as the average estimated one.
    estimates = [t.estimate for t in parsed.tasks if t.estimate]
    typical = sum(estimates) / len(estimates) if estimates else 1.0
    rank = chain_rank(edges, {t.id: t.estimate or typical for t in parsed.tasks})
    tasks = tuple(
        Task(
            id=t.id,
            title=t.title or t.id,
            body=bodies[t.id],
            depends_on=tuple(t.depends_on),
            after=tuple(t.after),
            scope=tuple(t.scope),
            accept=tuple(t.accept if t.accept is not None else parsed.project.accept),
            skills=tuple(t.skills),
            priority=t.priority,
            subtasks=tuple(t.subtasks),
            # With workers of several kinds, a task that names none may go to any of them.
            agent=t.agent or (ANY_AGENT if parsed.workers.agents else parsed.workers.agent),
            order=order[t.id],
            estimate=t.estimate,
            rank=rank[t.id],
            budget_usd=t.budget_usd,
        )
        for t in parsed.tasks
    )
    return Plan(
        path=path.resolve(),
        project=parsed.project,
        workers=parsed.workers,
        tasks=tasks,
        health=parsed.health,
        permissions=parsed.permissions,
        alerts=parsed.alerts,
        sandbox=parsed.sandbox,
        agents={str(k): v for k, v in parsed.agents.items()},
        review=parsed.review,
        forge=parsed.forge,
    )
