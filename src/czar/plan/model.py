"""The plan file's schema: project, workers and tasks, with a docstring under every field."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from czar.core import egress
from czar.core.branches import branch_name_problem
from czar.core.scope import glob_problem

AgentKind = Literal["sim", "claude", "codex", "gemini", "aider"]

# Task ids become branch, folder and tmux window names: keep them to a safe alphabet.
TASK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")  # \Z: "$" lets a last line break by
PROJECT_NAME = TASK_ID


def _glob(pattern: str) -> str:
    problem = glob_problem(pattern)
    if problem:
        raise ValueError(f"glob {pattern!r} {problem}")
    return pattern


# Checked one by one, so that every bad glob of a scope gets its own line.
Glob = Annotated[str, AfterValidator(_glob)]
NAME_MAX = 255  # bytes in one name of a path, on every file system czar runs on


def _path_text(text: str) -> str:
    """A path the plan names: one the system can take (no NUL, no name longer than it allows)."""
    if "\0" in text:
        raise ValueError("a path cannot hold a NUL character")
    if any(len(part.encode()) > NAME_MAX for part in text.split("/")):
        raise ValueError(f"a name in the path is longer than {NAME_MAX} bytes")
    return text


PathText = Annotated[str, AfterValidator(_path_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ProjectConfig(_Strict):
    name: str
    """Project name; names the data folder, the tmux session and the store."""
    repo: PathText = "."
    """The git repository, relative to the plan file (or absolute)."""
    base_branch: str = "main"
    """The branch the integration branch starts from."""
    integration_branch: str = "czar/integration"
    """Where verified work is merged; created from the base branch if missing."""
    accept: list[str] = Field(default_factory=list)
    """Acceptance commands for every task without its own, and for the integration branch."""
    accept_timeout: float = Field(default=600.0, gt=0)
    """Seconds each acceptance command may run before it counts as failed."""
    max_rounds: int = Field(default=3, ge=1, le=100)  # (more is a task that never ends)
    """Rounds a task gets before it is marked failed: each verification uses one, and so does a
    merge its work broke or an attempt abandoned; waiting for other tasks, or the integration
    branch moving under verified work, uses none. (``max_attempts``, its old name, still reads.)"""
    lint: list[str] = Field(default_factory=list)
    """Commands run on each task's work before its acceptance commands, in its checkout (a linter,
    a formatter's check): cheaper, so they go first; a failure goes back to the agent with their
    output, as a failing acceptance command does."""
    max_diff_lines: int | None = Field(default=None, ge=1)
    """The most lines a task's work may add and remove together (against where it left the
    integration branch); more goes back to the agent, to be made smaller. None: no limit."""
    land: Literal["pull-request", "merge"] = "pull-request"
    """What becomes of the omnibus: a pull request into the base branch for a person to merge
    (``pull-request``), or merged by czar (``merge``) once containment is proven and the checks
    pass on the integration branch; never while the base branch is checked out in a checkout of
    yours (czar does not touch it)."""
    stack: bool = False
    """Stacked dependents: a task whose dependencies not merged yet are all approved starts from
    their approved work instead of waiting for their merges (it merges only after them; when one
    merges, its agent brings the integration branch in; when one's approved work changes while it
    is at work, czar restacks it)."""
    remote: str | None = None
    """A remote of the repository (``origin``): czar's branches are fetched from it before every
    merge and every ``czar status`` (ahead and behind shown for each), and pushed to it with
    ``push``. None: czar stays local."""
    push: bool = False
    """Push each task's branch when its work is verified, and the integration branch after each
    merge, to ``remote``; a push the remote refuses is an event and an alert with its message."""
    check_after_merge: bool = True
    """Run ``accept`` on the integration branch after each merge; undo the merge if it fails."""
    budget_usd: float | None = Field(default=None, gt=0)
    """What the whole run may spend on models; past it, no task starts and a person is alerted."""
    body_files_outside_plan: bool = False
    """Let a task's ``body_file`` be a file outside the plan's folder (an absolute path, ``..``, or
    a symbolic link that leads out); by default such a plan is refused, so a plan cannot hand an
    agent any file of yours."""

    @model_validator(mode="before")
    @classmethod
    def _old_names(cls, data: Any) -> Any:
        if isinstance(data, dict) and "max_attempts" in data:
            if "max_rounds" in data:
                raise ValueError("max_attempts is the old name of max_rounds: give only max_rounds")
            data = {("max_rounds" if k == "max_attempts" else k): v for k, v in data.items()}
        return data

    @model_validator(mode="after")
    def _push_needs_a_remote(self) -> ProjectConfig:
        if self.push and self.remote is None:
            raise ValueError('push = true needs a remote to push to (remote = "origin")')
        return self

    @field_validator("remote")
    @classmethod
    def _remote(cls, v: str | None) -> str | None:
        if v is not None and (not v or v.startswith("-") or any(c.isspace() or c in ":/\\" for c in v)):
            raise ValueError(f'{v!r} is not a remote\'s name (as `git remote` lists them, e.g. "origin")')
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not PROJECT_NAME.match(v):
            raise ValueError("must be letters, digits, '-' or '_' (at most 64), starting with a letter or digit")
        return v

    @field_validator("base_branch", "integration_branch")
    @classmethod
    def _branch(cls, v: str) -> str:
        problem = branch_name_problem(v)
        if problem:
            raise ValueError(f"{v!r} is not a branch name git accepts: it {problem}")
        return v


class WorkersConfig(_Strict):
    count: int = Field(default=2, ge=1, le=256)
    """How many workers run at once."""
    agent: AgentKind = "sim"
    """The agent every worker runs, and every task gets unless it says otherwise."""
    agents: dict[AgentKind, Annotated[int, Field(ge=1, le=256)]] | None = None
    """Workers of several kinds, instead of ``count``: ``{ claude = 2, codex = 1 }``."""

    @model_validator(mode="before")
    @classmethod
    def _count_of_agents(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("agents"), dict):
            total = sum(n for n in data["agents"].values() if isinstance(n, int))
            if "count" in data and data["count"] != total:
                raise ValueError(f"count = {data['count']} but agents add up to {total}; give one of them")
            data = {**data, "count": total}
        return data

    def kinds(self) -> list[str]:
        """The agent kind of each worker, w1 first."""
        if self.agents:
            return [kind for kind, n in self.agents.items() for _ in range(n)]
        return [self.agent] * self.count


class ReviewConfig(_Strict):
    """A reviewer reads each task's verified commit before it may merge (none: no review)."""

    agents: dict[AgentKind, Annotated[int, Field(ge=1, le=64)]] = Field(default_factory=dict)
    """The reviewer workers (r1, r2, ...), of any agent kind: ``{ claude = 1 }``. Empty: no review."""
    prefer_other: bool = True
    """Give a task to a reviewer of another agent kind than its author's when one is free."""
    max_review_rounds: int = Field(default=2, ge=0, le=100)
    """How many times reviewers may send a task's work back for changes; one more request fails it."""
    timeout: float = Field(default=900.0, gt=0)
    """Seconds a review may take; then it counts as lost and another reviewer reads the commit."""

    @field_validator("agents")
    @classmethod
    def _can_answer(cls, v: dict[str, int]) -> dict[str, int]:
        if "aider" in v:
            raise ValueError("aider cannot review: it answers in text, not through czar's tools (finding, verdict)")
        return v

    @property
    def enabled(self) -> bool:
        return bool(self.agents)

    def kinds(self) -> list[str]:
        """The agent kind of each reviewer, r1 first."""
        return [kind for kind, n in self.agents.items() for _ in range(n)]


class ForgeConfig(_Strict):
    """Where the tasks' pull requests live. None given: the local forge, in czar's store."""

    kind: Literal["local", "github", "gitlab"] = "local"
    """``local`` (czar's store: ``czar prs``), ``github`` or ``gitlab`` (pull or merge requests
    there, into the integration branch; needs ``[project] remote`` and ``push = true``). GitHub's
    token comes from ``GITHUB_TOKEN`` (or ``GH_TOKEN``), else from ``gh auth token``; GitLab's
    from ``GITLAB_TOKEN``; in no log, event or file czar keeps."""
    api_url: str | None = None
    """GitHub's API: ``https://api.github.com`` by default; GitHub Enterprise Server:
    ``https://HOST/api/v3``. GitLab: the instance, ``https://gitlab.com`` by default."""
    repository: str | None = None
    """``owner/name`` on GitHub, ``group/subgroup/name`` on GitLab; by default read from the
    remote's URL."""
    merge_via: Literal["czar", "pull-request"] = "czar"
    """``czar``: czar merges into the integration branch and pushes it (the forge marks the pull
    request merged). ``pull-request``: czar asks the forge to merge each pull request, pinned to
    the commit reviewed, so branch protection, rulesets and required checks apply; a refusal is
    an alert in the forge's words, and the task waits (tried again later)."""
    wait_for_ci: bool = False
    """Hold each task's merge until every check the forge reports on its commit has passed (a
    failing one sends the task back to its author with the check's output either way)."""
    poll_seconds: float = Field(default=20.0, ge=1.0)
    """How often czar reads the forge's checks and people's remarks on the open pull requests
    (conditional requests: an unchanged answer costs nothing of the rate limit)."""

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", v):
            raise ValueError(f"{v!r} is not an http(s) URL (e.g. https://github.example.com/api/v3)")
        return v.rstrip("/") if v is not None else None

    @field_validator("repository")
    @classmethod
    def _repository(cls, v: str | None) -> str | None:
        if v is not None and not re.fullmatch(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+", v):
            raise ValueError(f'{v!r} is not "owner/name"')
        return v


class AgentConfig(_Strict):
    """How to run one kind of agent (``[agents.claude]``, ``[agents.codex]``, ...)."""

    command: str = ""
    """The program; by default the agent's usual command (``claude``, ``codex``, ...)."""
    base_url: str | None = None
    """The model API it talks to, for a proxy or czar's scripted model server."""
    model: str | None = None
    """The model it uses."""
    home: Literal["user", "private"] = "user"
    """``user``: the agent runs with your home (your login, your settings); ``private``: with a
    home of czar's own, its start-up questions answered (the API key then comes from the
    environment)."""
    args: list[str] = Field(default_factory=list)
    """More command-line arguments."""
    interactive: bool = False
    """Claude Code only: run it on its own screen in the worker's pane (attach and watch, or
    answer it yourself), not headless; czar follows it through its hooks and pastes messages in."""
    env: dict[str, str] = Field(default_factory=dict)
    """More environment variables (no secrets: those come from your environment)."""
    prices: dict[Literal["input", "output", "cached_input"], float] = Field(default_factory=dict)
    """USD per million tokens, to price agents that report tokens but no cost."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v


class HealthConfig(_Strict):
    """When a worker counts as unhealthy, and how hard czar tries before giving its task away."""

    silent_after: float = Field(default=180.0, gt=0)
    """Seconds a working agent may print nothing at all before it counts as hung."""
    stuck_after: float = Field(default=600.0, gt=0)
    """Seconds without a commit or checkpoint before a working agent counts as stuck (the least;
    a task's estimate and its checkpoint pace can make it longer)."""
    stuck_factor: float = Field(default=3.0, ge=1)
    """Stuck when no commit or checkpoint came for this many times the expected gap between them."""
    idle_after: float = Field(default=2.0, ge=0)
    """Seconds an agent may sit waiting for input, without having finished, before it is nudged."""
    loop_after: int = Field(default=8, ge=2)
    """The same output this many times in a row counts as looping."""
    grace: float = Field(default=60.0, gt=0)
    """Seconds after a repair before the next, harder one."""
    nudges: int = Field(default=1, ge=0)
    """Nudges (a message) per attempt before a restart."""
    restarts: int = Field(default=2, ge=0)
    """Restarts of the agent, session resumed, per attempt before the task goes to another worker."""
    # At most the hour a request waits for a person at all (czar.core.policy.PERSON_WAIT_SECONDS):
    # beyond it the agent was denied while czar still showed the request waiting.
    permission_timeout: float = Field(default=300.0, gt=0, le=3600)
    """Seconds a permission request no rule decides waits for a person before it is denied."""
    stall_after: float = Field(default=900.0, gt=0)
    """Seconds the whole run may go without progress (a task changing state, a commit, a
    checkpoint) before a person is alerted with a diagnosis, and ``czar run`` stops following it."""


class PermissionRule(_Strict):
    tool: str = "*"
    """The tool asked for, as a glob: ``Bash``, ``Edit``, ``Write``, ``mcp__*``, ``*``."""
    match: str = "*"
    """A glob over what it is asked for: the command for ``Bash``, the path for file tools."""
    reason: str = ""
    """Why, shown with the decision."""


class PermissionsConfig(_Strict):
    """Which tool uses an agent may make without asking. Deny rules win over allow rules."""

    allow: list[PermissionRule] = Field(default_factory=list)
    """Allowed on top of the defaults."""
    deny: list[PermissionRule] = Field(default_factory=list)
    """Denied on top of the defaults."""
    defaults: bool = True
    """Start from czar's defaults: edit the worktree, run tests, commit; never push to the base
    branch, touch paths outside the worktree, or run destructive commands."""


class AlertsConfig(_Strict):
    webhook: str | None = None
    """A URL that receives each alert as a JSON POST, for people away from the terminal."""
    ntfy: list[str] = []
    """ntfy-style topic URLs (``https://ntfy.sh/<topic>``, or a server of your own): each alert is
    posted to each as a push notification to a phone, with a link to the item on the web page."""
    web_url: str | None = None
    """Where people reach ``czar web`` (``https://czar.example.com``): alerts link to their item there."""
    level: Literal["warning", "critical"] = "warning"
    """The least level sent to the webhook and the topics."""

    @field_validator("webhook", "web_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^\s/]+", v):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("ntfy")
    @classmethod
    def _topics(cls, v: list[str]) -> list[str]:
        for url in v:
            if not re.match(r"^https?://[^\s/]+/[^\s/]+", url):
                raise ValueError(f"{url!r}: a topic's URL is http(s)://server/topic")
        return v


class SandboxConfig(_Strict):
    """Where agents run: each in a sandbox of its own (bubblewrap), unless the plan opts out."""

    enabled: bool = True
    """Run every agent, and the checks that run its code, in a sandbox where only its task's
    checkout, its own home and a temp folder are writable. Without bubblewrap czar refuses to start
    real agents (simulated ones run unconfined); ``false`` runs them unconfined, as you."""
    writable: list[str] = Field(default_factory=list)
    """More folders an agent may write (absolute paths; a shared build cache, say)."""
    network: Literal["filtered", "host"] = "filtered"
    """``filtered``: a network of its own, where the agent reaches czar's tools, a model server
    on this machine named by its ``base_url``, and through czar's HTTPS proxy its model's API and
    the ``allow_hosts``; nothing else (not your machine's other services, not the cloud's
    metadata). ``host``: your machine's network, as you."""
    allow_hosts: list[str] = Field(default_factory=list)
    """More hosts agents and checks may reach through the proxy: ``pypi.org``, ``*.npmjs.org``
    (any name under it), or ``*`` (any host elsewhere than this machine)."""

    ports: list[Annotated[int, Field(ge=1024, le=65535)]] = Field(default_factory=list)
    """Ports of services on this machine that agents and checks reach at the same port inside
    their network (a database the project's tests use, say); with ``network = "filtered"``.
    1024 and above: a sandbox cannot listen below."""

    shared: list[str] | None = None
    """Folders of your checkout that git ignores (dependencies installed there), shown read-only at
    the same place in each task's clone, where agents and checks run: a clone has only what git
    tracks, and a sandbox cannot download them again. Paths in the repository; by default
    ``["node_modules", ".venv"]``. One git does not ignore is never shown (it would hide the task's
    work). A virtualenv among them stays readable where it is too, and its ``bin`` comes first on
    the PATH of agents and checks unless you activated one."""

    @field_validator("shared")
    @classmethod
    def _in_the_repository(cls, v: list[str] | None) -> list[str] | None:
        for path in v or []:
            parts = path.split("/")
            if path.startswith("/") or any(part in ("", ".", "..", ".git") for part in parts):
                raise ValueError(f"{path!r} must be a path in the repository (no '..', '.git' or leading '/')")
        return v

    @field_validator("allow_hosts")
    @classmethod
    def _host_patterns(cls, v: list[str]) -> list[str]:
        for host in v:
            name = host[2:] if host.startswith("*.") else host
            if host != "*" and not egress.is_host(name):
                raise ValueError(f"{host!r} is not a host name, '*.' and a domain, or '*'")
        return v

    @field_validator("writable")
    @classmethod
    def _absolute(cls, v: list[str]) -> list[str]:
        for path in v:
            if not path.startswith("/"):
                raise ValueError(f"{path!r} must be an absolute path")
        return v


class TaskConfig(_Strict):
    id: str
    """Unique id: letters, digits, '-' and '_'. Names the branch ``czar/<id>``."""
    title: str = ""
    """One line for tables and the board."""
    body: str | None = None
    """The full text the agent receives."""
    body_file: PathText | None = None
    """A Markdown file (relative to the plan, inside its folder unless the project sets
    ``body_files_outside_plan``) whose text is the body; czar reads and delivers it."""
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
    budget_usd: float | None = Field(default=None, gt=0)
    """What this task may spend on models over all its attempts; past it, it fails with an alert."""
    estimate: float | None = Field(default=None, gt=0)
    """Minutes the task should take; scales when a silent worker counts as stuck, and ranks
    tasks on long dependency chains first."""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not TASK_ID.match(v):
            raise ValueError("must be letters, digits, '-' or '_' (at most 64), starting with a letter or digit")
        return v

    @field_validator("title")
    @classmethod
    def _title(cls, v: str) -> str:
        # One line of text: shown in terminals, logs and commit messages, where a control
        # character (an escape sequence) would act instead of being read.
        if any(unicodedata.category(c) == "Cc" for c in v):
            raise ValueError("must be one line of text, with no control characters")
        return v


class PlanFile(_Strict):
    project: ProjectConfig
    workers: WorkersConfig = WorkersConfig()
    agents: dict[AgentKind, AgentConfig] = Field(default_factory=dict)
    health: HealthConfig = HealthConfig()
    permissions: PermissionsConfig = PermissionsConfig()
    alerts: AlertsConfig = AlertsConfig()
    sandbox: SandboxConfig = SandboxConfig()
    review: ReviewConfig = ReviewConfig()
    forge: ForgeConfig = ForgeConfig()
    tasks: list[TaskConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _remote_forge_needs_the_branches_there(self) -> PlanFile:
        if self.forge.kind == "local" and self.forge.merge_via != "czar":
            raise ValueError('forge.merge_via = "pull-request" needs a forge that merges: kind = "github" or "gitlab"')
        if self.forge.kind == "github" and self.forge.repository and self.forge.repository.count("/") != 1:
            raise ValueError(f'forge.repository: {self.forge.repository!r} is not "owner/name"')
        if self.forge.kind != "local" and not (self.project.remote and self.project.push):
            raise ValueError(
                f'forge.kind = "{self.forge.kind}" needs the branches on the remote: '
                '[project] remote = "origin" and push = true'
            )
        return self

    @field_validator("agents")
    @classmethod
    def _interactive_is_claudes(cls, v: dict[str, AgentConfig]) -> dict[str, AgentConfig]:
        for kind, config in v.items():
            if config.interactive and kind != "claude":
                raise ValueError(f"{kind}: interactive is for claude only (the others run headless)")
        return v

    @model_validator(mode="after")
    def _model_reachable_in_the_sandbox(self) -> PlanFile:
        """A model server on this machine is forwarded into the sandbox at its port: one below 1024
        cannot be listened on there."""
        if self.sandbox.enabled and self.sandbox.network == "filtered":
            for kind, config in self.agents.items():
                port = egress.loopback_port(config.base_url or "")
                if port is not None and port < 1024:
                    raise ValueError(
                        f"agents.{kind}.base_url: port {port} on this machine cannot be reached from the "
                        'sandbox (below 1024); use a port of 1024 or above, or [sandbox] network = "host"'
                    )
        return self
