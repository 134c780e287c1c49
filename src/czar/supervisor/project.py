"""A project opened from its plan: the plan checked against the repository, its data folder,
its store, git and tmux. Every command that loads a plan goes through ``open_project``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from czar.agent_tools.identity import ENV_PROJECT, ENV_WORKER
from czar.agents.base import AgentSettings
from czar.agents.host_settings import HostSettings, SandboxSettings, settings_file
from czar.core.clock import Clock
from czar.core.events import EventKind
from czar.core.forge import Forge
from czar.core.repository import Repository
from czar.core.scope import probe
from czar.core.states import TERMINAL_TASK_STATES, TaskState, WorkerRole
from czar.core.terminal import Terminal
from czar.errors import CzarError, ForgeError, PlanError, StoreError
from czar.forge.local import LocalForge
from czar.paths import ProjectPaths, czar_home
from czar.plan.load import Plan, load_plan
from czar.plan.load import Task as PlanTask
from czar.runtime import clock as machine_clock
from czar.runtime import sandbox, search_path
from czar.runtime.withheld import withhold
from czar.store.peek import peek
from czar.store.records import Task, TaskSpec
from czar.store.store import Store
from czar.vcs import submodules
from czar.vcs.git import Git, GitLock
from czar.vcs.remote import Remote
from czar.vcs.repository import GitRepository


def check_repository(plan: Plan) -> None:
    """The repository exists, is a git repository, and has the base branch."""
    repo = plan.repo
    where = f"{plan.path}: project.repo"
    if not repo.is_dir():
        raise PlanError(f"{where}: {repo} is not a folder")
    git = Git(repo)
    # A repository of another user: git refuses it, and czar's clones of it (which read its git
    # folder, a second place for git to refuse), until you say you trust both.
    refused = [p for p in (repo, repo / ".git") if Git(p).refuses()]
    if refused:
        trust = " and ".join(f"`git config --global --add safe.directory {p}`" for p in refused)
        raise PlanError(f"{where}: git refuses {repo}, which belongs to another user ({trust} let czar use it)")
    if not git.is_repo():
        raise PlanError(f"{where}: {repo} is not a git repository")
    top = git.top()
    if top is not None and top.resolve() != repo.resolve():
        # git works from a folder inside a repository, but clones of it do not: every task's
        # start failed, over and over, while `czar validate` said the plan was fine.
        inside = os.path.relpath(top, plan.path.parent.resolve())  # top is git's: links resolved
        raise PlanError(f'{where}: {repo} is a folder inside the repository {top}: name that (repo = "{inside}")')
    if not git.has_branch(plan.project.base_branch):
        raise PlanError(f"{plan.path}: project.base_branch: no branch {plan.project.base_branch!r} in {repo}")
    remote = plan.project.remote
    if remote is not None and not Remote(git, remote, plan.project.integration_branch).exists():
        raise PlanError(f"{plan.path}: project.remote: {repo} has no remote {remote!r} (`git remote add {remote} URL`)")
    # czar keeps the branch checked out nowhere of its own but its data folder (an older czar's
    # integration worktree, detached at the start of a run): any other checkout of it is yours.
    integration = plan.project.integration_branch
    checked_out = git.checked_out()
    ours = ProjectPaths.for_project(plan.project.name).root.resolve()
    if integration in checked_out and not checked_out[integration].resolve().is_relative_to(ours):
        raise PlanError(
            f"{plan.path}: project.integration_branch: {integration!r} is checked out in {checked_out[integration]};"
            " czar would move it under you (choose another branch, or switch that checkout away from it)"
        )
    # git keeps a branch as a file of its name: beside a branch `czar`, no `czar/<task>` can be
    # made, nor a branch `work` beside `work/old`.
    branches = set(git.tips(""))
    wanted = [("project.integration_branch", integration, " or choose another integration branch")]
    wanted += [("its tasks' branches", f"czar/{t.id}", "") for t in plan.tasks]
    for key, name, also in wanted:
        clash = next((b for b in sorted(branches) if name.startswith(f"{b}/") or b.startswith(f"{name}/")), None)
        if clash is not None:
            raise PlanError(
                f"{plan.path}: {key}: the branch {clash!r} of {repo} leaves no room for {name!r} (git keeps a "
                f"branch as a file of its name); rename it (`git branch -m {clash} NEW`){also}"
            )


# What the agents need from the user's environment to reach their models (values never logged).
AGENT_CREDENTIALS = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CODEX_HOME",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


@dataclass
class Project:
    plan: Plan
    paths: ProjectPaths
    # The ports, when given (fakes from czar.testing); else git on the plan's repository and tmux.
    repository: Repository | None = field(default=None, repr=False)
    terminal: Terminal | None = field(default=None, repr=False)
    forge_port: Forge | None = field(default=None, repr=False)
    clock: Clock = field(default=machine_clock.SYSTEM, repr=False)

    @cached_property
    def store(self) -> Store:
        return Store(self.paths)

    @cached_property
    def git(self) -> GitRepository:
        """git itself, for setting the run up and for the final checks."""
        return GitRepository(self.plan.repo)

    @cached_property
    def repo(self) -> Repository:
        """The repository as the radar, the merge queue and the assignments see it (a port)."""
        return self.repository if self.repository is not None else self.git

    @cached_property
    def remote(self) -> Remote | None:
        """The remote czar's branches are fetched from and pushed to (``[project] remote``)."""
        name = self.plan.project.remote
        return None if name is None else Remote(Git(self.plan.repo), name, self.plan.project.integration_branch)

    @cached_property
    def forge_tokens(self) -> dict[str, str]:
        """The forge's tokens, taken out of this process's environment the first time they are
        asked for (so nothing it starts inherits them), kept here for the forge and the supervisor."""
        return withhold() if self.plan.forge.kind != "local" else {}

    @cached_property
    def forge(self) -> Forge:
        """Where the tasks' pull requests live (``[forge]``): the local forge, or GitHub (opened
        here: its token found and its repository named, or one line saying what is missing)."""
        spec = self.plan.forge
        if self.forge_port is not None:
            return self.forge_port
        if spec.kind == "local":
            return LocalForge(self.store)
        if spec.kind == "gitlab":
            return self._gitlab()
        from czar.forge import github

        api = spec.api_url or github.API_URL
        slug = None
        if spec.repository is not None:
            owner, _, name = spec.repository.partition("/")
            slug = github.Repository(owner, name)
        elif self.remote is not None:
            slug = github.repository_of(self.remote.url())
        if slug is None:
            raise ForgeError(self._unnamed("GitHub"))
        found = github.find_token(api, env={**os.environ, **self.forge_tokens})
        if found is None:
            raise ForgeError(
                "GitHub needs a token: set GITHUB_TOKEN (pull requests: write, contents: read on "
                f"{slug}), or sign in with `gh auth login`"
            )
        return github.GitHubForge(self.store, github.client(found[0], api), slug)

    def _gitlab(self) -> Forge:
        from czar.forge import github, gitlab

        spec = self.plan.forge
        path = spec.repository
        if path is None and self.remote is not None:
            slug = github.repository_of(self.remote.url(), nested=True)
            path = str(slug) if slug is not None else None
        if path is None:
            raise ForgeError(self._unnamed("GitLab"))
        found = gitlab.find_token(env={**os.environ, **self.forge_tokens})
        if found is None:
            raise ForgeError(f"GitLab needs a token: set GITLAB_TOKEN (api scope, Developer on {path})")
        return gitlab.GitLabForge(self.store, gitlab.client(found[0], spec.api_url or gitlab.API_URL), path)

    def _unnamed(self, forge: str) -> str:
        return (
            f"{self.plan.path}: forge: cannot tell the {forge} repository from remote "
            f'{self.plan.project.remote}\'s URL: give it, as [forge] repository = "owner/name"'
        )

    @cached_property
    def git_lock(self) -> GitLock:
        return GitLock(self.paths.git_lock)

    @cached_property
    def tmux(self) -> Terminal:
        """The windows czar's processes run in (a port)."""
        if self.terminal is not None:
            return self.terminal
        from czar.runtime.tmux import TmuxHost  # libtmux: 50 ms at the start of commands that never use it

        return TmuxHost(self.paths.tmux_socket, self.paths.tmux_session)

    @property
    def name(self) -> str:
        return self.plan.project.name

    @cached_property
    def sandboxed(self) -> bool:
        """Agents and the checks that run their code are confined (see ``czar.runtime.sandbox``)."""
        return self.plan.sandbox.enabled and sandbox.available() is None

    def check_sandbox(self) -> None:
        """Real agents start only in a sandbox, unless the plan opts out (``[sandbox] enabled =
        false``); the simulated agent, czar's own, may run unconfined."""
        if not self.plan.sandbox.enabled or all(kind == "sim" for kind in self.plan.worker_kinds.values()):
            return
        why = sandbox.available()
        if why is not None:
            raise PlanError(
                f"{self.plan.path}: no sandbox for the agents ({why}); install bubblewrap, or set "
                "[sandbox] enabled = false to run them unconfined, as you"
            )

    @cached_property
    def objects(self) -> Path:
        """The repository's objects folder, which every task's clone borrows (asked of git once)."""
        return self.git.common_dir() / "objects"

    @cached_property
    def shared(self) -> tuple[str, ...]:
        """The folders of your checkout shown read-only in each clone (``[sandbox] shared``, by
        default ``node_modules`` and ``.venv``): those that are folders there and that git ignores (one it
        tracks would hide the task's own work). Read once: a run's clones see the same."""
        wanted = self.plan.sandbox.shared if self.plan.sandbox.shared is not None else ["node_modules", ".venv"]
        # Through a link (`.venv` pointing into your home, say) it is no folder of the repository's.
        repo = self.plan.repo.resolve()
        present = [name for name in wanted if (repo / name).is_dir() and (repo / name).resolve() == repo / name]
        if not present:
            return ()
        ignored = self.git.ignored(present)
        return tuple(name for name in present if name in ignored)

    def confinement(self, folder: Path, home: Path) -> sandbox.Confinement | None:
        """The sandbox for code run in ``folder`` (a clone: a task's checkout, or a throwaway one
        for checks after a merge), with ``home`` as its home; None when the plan runs agents
        unconfined or this machine cannot confine them."""
        if not self.sandboxed:
            return None
        config = self.plan.sandbox
        network = sandbox.HOST_NETWORK
        if config.network == "filtered":
            # The plan's hosts and ports, through a gateway of the checks' own; with none, no
            # network at all (and no gateway to start: checks run on every hand-in).
            network = sandbox.NO_NETWORK
            if config.allow_hosts or config.ports:
                network = sandbox.Network(
                    gate=home.with_name(home.name + ".net"),
                    ports=tuple(sorted(set(config.ports))),
                    hosts=tuple(config.allow_hosts),
                )
        return sandbox.for_task(
            folder,
            home=home,
            data=czar_home(),
            repo=self.plan.repo,
            objects=self.objects,
            extra=tuple(Path(p) for p in config.writable),
            network=network,
            readable=tuple(submodules.object_stores(self.objects.parent)),
            shared=self.shared,
        )

    def host_settings(self, worker: str) -> HostSettings:
        """What ``worker``'s host is told (``czar.agents.host_settings``), from the plan."""
        kind = self.plan.worker_kinds[worker]
        config, box = self.plan.agents.get(kind), self.plan.sandbox
        agent = AgentSettings()
        if config is not None:
            agent = AgentSettings(
                command=config.command,
                base_url=config.base_url,
                model=config.model,
                home=config.home,
                args=tuple(config.args),
                env=dict(config.env),
                prices={str(k): v for k, v in config.prices.items()},
                interactive=config.interactive,
            )
        sandboxed = SandboxSettings(
            enabled=box.enabled,
            writable=tuple(box.writable),
            network=box.network,
            allow_hosts=tuple(box.allow_hosts),
            ports=tuple(box.ports),
            shared=self.shared,
        )
        reviewer = worker in self.plan.reviewers
        return HostSettings(self.name, worker, kind, agent, self.plan.repo, sandboxed, reviewer=reviewer)

    def write_host_settings(self, worker: str) -> Path:
        """``worker``'s settings, where its host reads them; their file."""
        path = settings_file(self.paths.root, worker)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Whole or not at all: a host starting again may be reading the last one.
        fresh = path.with_name(f".{path.name}.{os.getpid()}")
        fresh.write_text(self.host_settings(worker).dumps(), encoding="utf-8")  # the folder is its owner's alone
        os.replace(fresh, path)
        return path

    def marks(self) -> dict[str, str]:
        """What every process of this project's run carries in its environment (czar's own, the
        checks and the agents, and whatever they start): how `czar down` finds them all."""
        return marks_of(self.paths)

    def agent_marks(self, worker: str) -> dict[str, str]:
        """What the agents of ``worker`` (an author's or a reviewer's) carry in their environment,
        and whatever they start: how a dead host's agent is found when the host died before
        recording it."""
        return {**self.marks(), ENV_WORKER: worker}

    def supervisor_env(self) -> dict[str, str]:
        """The supervisor's environment: its children's, and the forge's token (none of the
        others gets that: an agent has no business on the forge)."""
        return {**self.child_env(), **self.forge_tokens}

    def child_env(self) -> dict[str, str]:
        """Environment for czar's own processes in tmux: the same czar, the same data folder."""
        env = {**self.marks(), **search_path.czar_env()}
        for var in ("PYTHONPATH", "HOME", "LANG", "XDG_RUNTIME_DIR", *AGENT_CREDENTIALS):
            if var in os.environ:
                env[var] = os.environ[var]
        return env

    @property
    def checks_setting(self) -> str:
        """How the project's checks run, beside their commands: the sandbox, and the folders of
        your checkout shown in it (a pass is known again only where all of it is the same)."""
        return json.dumps([self.plan.sandbox.model_dump(mode="json"), list(self.shared)], sort_keys=True)

    def sync_plan(self) -> None:
        """Bring the store's tasks and workers in line with the plan, keeping all progress.

        New tasks are added; a task not started yet takes the plan's current text; a task that
        has started keeps the text it was given. Tasks removed from the plan are left alone.
        The settings agent tools need (they run without the plan) go to the store's meta table.
        """
        plan = self.plan
        roots = self.repo.roots(plan.project.base_branch)  # which repository this is (``check_owner``)
        with self.store.write() as conn:
            Store.forget_checks_passed(conn)
            Store.set_meta(conn, "repo_roots", roots)
            Store.set_meta(conn, "plan_path", str(plan.path))
            Store.set_meta(conn, "plan_digest", plan_digest(plan))
            Store.set_meta(conn, "base_branch", plan.project.base_branch)
            Store.set_meta(conn, "integration_branch", plan.project.integration_branch)
            Store.set_meta(conn, "repo", str(plan.repo))
            Store.set_meta(conn, "permissions_allow", [r.model_dump() for r in plan.permissions.allow])
            Store.set_meta(conn, "permissions_deny", [r.model_dump() for r in plan.permissions.deny])
            Store.set_meta(conn, "permissions_defaults", plan.permissions.defaults)
            existing = {t.id: t for t in Store.all_tasks(conn)}
            for t in self.plan.tasks:
                spec = TaskSpec.of(t)
                row = existing.get(t.id)
                if row is None:
                    Store.add_task(conn, t.id, order=t.order, title=t.title, body=t.body, spec=spec)
                    Store.emit(conn, EventKind.TASK_ADDED, task=t.id, title=t.title)
                elif row.state in (TaskState.PENDING, TaskState.READY) and row.attempt_id is None:
                    Store.set_task_text(conn, t.id, order=t.order, title=t.title, body=t.body, spec=spec)
            known = {w.id for w in Store.all_workers(conn)}
            reviewers = self.plan.reviewers
            for wid, kind in self.plan.worker_kinds.items():
                role = WorkerRole.REVIEWER if wid in reviewers else WorkerRole.AUTHOR
                if wid not in known:
                    Store.add_worker(conn, wid, kind, role)
                else:
                    Store.set_worker(conn, wid, agent=kind, role=role)


def ignored_scopes(project: Project) -> list[str]:
    """A line for each scope pattern of a task where git ignores the new files its agent would
    make (your checkout's .gitignore files, its .git/info/exclude, your global excludes file: a
    task's clone ignores them too): its `git add -A` would leave them out, and czar would find
    no commits. A warning, not a refusal: the task may only change files git tracks there. Asked
    of your checkout: a .gitignore it has untracked, or one only the base branch has, can make a
    clone differ. Tasks merged already are not looked at."""
    merged: set[str] = set()
    if project.paths.db.exists():  # (`czar validate` before any run makes no store)
        with contextlib.suppress(StoreError):
            merged = {t.id for t in project.store.tasks() if t.state is TaskState.MERGED}
    probes = {(t.id, pattern): probe(pattern) for t in project.plan.tasks if t.id not in merged for pattern in t.scope}
    rules = project.git.ignored(sorted(set(probes.values())))
    return [
        f"git ignores the scope {pattern} of task {task} here ({rules[path]}): new files its agent makes there "
        "would not be committed; change that rule or the task's scope"
        for (task, pattern), path in probes.items()
        if path in rules
    ]


def plan_digest(plan: Plan) -> str:
    """The plan's settings (all but its tasks), as the supervisor took them in (``sync_plan``):
    what a comment or a task's text edited does not change."""
    settings = {k: v for k, v in vars(plan).items() if k not in ("tasks", "path")}
    return hashlib.sha256(repr(sorted(settings.items())).encode()).hexdigest()


def _changed(row: Task, planned: PlanTask) -> bool:
    """Whether the plan's task differs from the run's record of it. (Its rank is the plan's to
    compute again from the whole graph: a task added re-ranks others.)"""
    recorded = (row.title, row.body, replace(row.spec, rank=0.0))
    return recorded != (planned.title, planned.body, replace(TaskSpec.of(planned), rank=0.0))


def plan_drift(project: Project) -> str | None:
    """What of the plan a running supervisor has not taken in (it reads the plan when it starts):
    tasks added, tasks not started yet whose text changed, or its other settings; None if nothing.
    A person who edits the plan and runs `czar up` again would otherwise wait for tasks that never
    come."""
    plan = project.plan
    with project.store.read() as conn:
        rows = {t.id: t for t in Store.all_tasks(conn)}
        taken = Store.get_meta(conn, "plan_digest")
    added = [t.id for t in plan.tasks if t.id not in rows]
    changed = [
        t.id
        for t in plan.tasks
        if (row := rows.get(t.id)) is not None
        and row.state in (TaskState.PENDING, TaskState.READY)
        and row.attempt_id is None
        and _changed(row, t)
    ]
    parts = [f"task(s) added: {_few(added)}"] if added else []
    parts += [f"changed: {_few(changed)}"] if changed else []
    if taken is not None and taken != plan_digest(plan):
        parts.append("its settings")
    if not parts:
        return None
    return (
        f"the running supervisor took {plan.path.name} in when it started, and it has changed since "
        f"({'; '.join(parts)}): `czar down`, then `czar up`, takes it in (nothing done is lost)"
    )


def dropped_tasks(project: Project) -> list[str]:
    """A warning for the tasks of the run that the plan no longer has, not ended yet: a run keeps
    them (a task renamed, or deleted by mistake, must not lose its work), and a person who deleted
    one would otherwise see it run and merge without a word."""
    if not project.paths.db.exists():
        return []
    names = {t.id for t in project.plan.tasks}
    with project.store.read() as conn:
        left = [t.id for t in Store.all_tasks(conn) if t.id not in names and t.state not in TERMINAL_TASK_STATES]
    if not left:
        return []
    return [
        f"task(s) {_few(left)} of the run are no longer in {project.plan.path.name}: they go on "
        f"(`czar cancel {left[0]}` drops one)"
    ]


def changed_started(project: Project) -> list[str]:
    """A warning for the tasks started already, not ended, whose text or settings the plan changed
    since: a run keeps what it gave their agents (found by a probe: a dependency given to a task at
    work was dropped without a word)."""
    if not project.paths.db.exists():
        return []
    with project.store.read() as conn:
        rows = {t.id: t for t in Store.all_tasks(conn)}
    changed = [
        t.id
        for t in project.plan.tasks
        if (row := rows.get(t.id)) is not None
        and row.state not in TERMINAL_TASK_STATES
        and (row.attempt_id is not None or row.state not in (TaskState.PENDING, TaskState.READY))
        and _changed(row, t)
    ]
    if not changed:
        return []
    return [
        f"task(s) {_few(changed)} changed in {project.plan.path.name} after they started: the run goes on with them "
        f"as they were given (`czar cancel {changed[0]}`, and a task of a new id, takes the change)"
    ]


def unfound_checks(project: Project) -> list[str]:
    """Checks whose program is on no folder of the PATH they run with (the plan's `pytestt` for
    `pytest`): every verification they are part of would fail, a round each, until the tasks fail.
    Warnings, not errors: a task may install it (into the project's virtualenv, say). A program
    named by a path (`./test.sh`) is not looked for: a task may write it."""
    repo = project.plan.repo
    # As the checks' PATH is made (``run_checks``): the shared virtualenv's only in a sandbox.
    first = sandbox.venv_bins([repo / name for name in project.shared]) if project.sandboxed else []
    path = search_path.for_project_code(*first)
    users: dict[str, list[str]] = {}
    for command in project.plan.project.lint:
        users.setdefault(command, []).append("lint")
    for command in project.plan.project.accept:  # also the integration branch's, after each merge
        users.setdefault(command, []).append("integration")
    for t in project.plan.tasks:
        for command in t.accept:
            users.setdefault(command, []).append(t.id)
    out = []
    for command, who in users.items():
        program = _program(shlex.split(command))  # (the plan's loader refused one that cannot be split)
        if program is None or "/" in program or shutil.which(program, path=path):
            continue
        out.append(
            f"the check `{command}` ({_few(who)}) runs {program!r}, which is on no folder of the PATH checks "
            "run with: each verification it is part of would fail"
        )
    return out


def _program(words: list[str]) -> str | None:
    """The program a command runs: past `env`, its options and its settings (`env -u X FOO=1 pytest`)."""
    if words and words[0] == "env":
        words = words[1:]
        while words and (words[0].startswith("-") or "=" in words[0]):
            words = words[2:] if words[0] in ENV_OPTIONS_WITH_VALUE else words[1:]
    return words[0] if words else None


ENV_OPTIONS_WITH_VALUE = frozenset({"-u", "--unset", "-C", "--chdir", "-S", "--split-string"})


def _few(names: list[str], most: int = 3) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def check_neighbours(project: Project) -> None:
    """The project shares no branch with another project of yours in the same repository: its
    tasks would start from the other's branches of the same names (``czar/<task>``), and both
    would merge into one integration branch, each run's work mixed into the other's. Looked at
    before each start (``czar validate``, ``up``, ``run``): the other may have started since."""
    plan = project.plan
    git = Git(plan.repo)
    if not git.is_repo():
        return
    ours = git.common_dir().resolve()
    branches = set(git.tips())
    if plan.project.integration_branch not in branches and not any(f"czar/{t.id}" in branches for t in plan.tasks):
        return  # nothing of the plan's names is there yet
    integration = plan.project.integration_branch
    for db in sorted(project.paths.root.parent.glob("*/czar.db")):
        if db.parent.name == project.name:
            continue
        other = peek(db)
        theirs = Git(Path(other.repo)) if other is not None and other.repo else None
        if other is None or theirs is None or not theirs.is_repo() or theirs.common_dir().resolve() != ours:
            continue  # another repository's, or one that cannot be read (its own commands say so)
        ids = sorted(t.id for t in plan.tasks if t.id in other.task_ids and f"czar/{t.id}" in branches)
        shares_integration = other.integration_branch == integration and integration in branches
        if not ids and not shares_integration:
            continue
        named = ([integration] if shares_integration else []) + [f"czar/{t}" for t in ids]
        fix = " and ".join((["an integration_branch"] if shares_integration else []) + (["task ids"] if ids else []))
        raise PlanError(
            f"{plan.path}: project {db.parent.name!r} (plan {other.plan or '?'}, data {db.parent}) has branches of "
            f"the same names in this repository ({', '.join(named)}); give this plan {fix} of its own, or remove "
            "that project's branches and data first"
        )
    _no_foreign_work(project, git, branches)


def _no_foreign_work(project: Project, git: Git, branches: set[str]) -> None:
    """Before the project's first start, no branch of its names holds work its base branch has
    not: czar would build on it, and its omnibus would carry it into the base branch, "proven"
    (found by a probe: a branch of yours named czar/integration, or a finished run's branches kept
    from another CZAR_HOME, whose tasks then found nothing to do and failed)."""
    if _has_run(project):
        return  # its own branches, then
    plan = project.plan
    base = plan.project.base_branch
    names = [plan.project.integration_branch, *(f"czar/{t.id}" for t in plan.tasks)]
    try:
        foreign = [b for b in names if b in branches and git.commits_ahead(base, b) > 0]
    except CzarError:
        return  # no base branch: `check_repository` says so
    if foreign:
        raise PlanError(
            f"{plan.path}: {_few(foreign)} {'is' if len(foreign) == 1 else 'are'} in this repository already, with "
            f"commits {base} has not, made by no run of this project (yours, or one with another CZAR_HOME): "
            f"remove {'it' if len(foreign) == 1 else 'them'} (`git branch -D {foreign[0]}`), or give this plan "
            "an integration_branch and task ids of its own"
        )


def _has_run(project: Project) -> bool:
    """Whether any task of the project's run has started (its branches are then its own), now or
    ever: a task given another go (`czar retry`) is pending again, with no attempt, and its
    branch, with the work of its earlier attempts, was refused as no run's (found by a probe)."""
    if not project.paths.db.exists():
        return False
    try:
        with project.store.read() as conn:
            if Store.last_attempt_id(conn) > 0:
                return True
        return any(t.attempt_id is not None or t.state not in _UNSTARTED for t in project.store.tasks())
    except StoreError:
        return True  # a broken store: the command that needs it says so


_UNSTARTED = (TaskState.PENDING, TaskState.READY)


def marks_of(paths: ProjectPaths) -> dict[str, str]:
    return {"CZAR_HOME": str(paths.root.parent.parent), ENV_PROJECT: paths.name}


@dataclass
class RunAt:
    """A project's run known by its folder alone, for `czar down` when its plan cannot be read
    (found by a probe: a syntax error typed into the plan mid-run, and nothing could stop the run)."""

    paths: ProjectPaths

    @cached_property
    def store(self) -> Store:
        return Store(self.paths)

    @property
    def tmux(self) -> Terminal:
        from czar.runtime.tmux import TmuxHost

        return TmuxHost(self.paths.tmux_socket, self.paths.tmux_session)

    def marks(self) -> dict[str, str]:
        return marks_of(self.paths)


def open_project(plan_path: Path, *, check_repo: bool = True, owned: bool = True) -> Project:
    """The plan's project; ``owned``: refused if its data is another repository's (`czar down`
    skips this: it must always be able to stop a run, a repository moved under it included)."""
    plan = load_plan(plan_path)
    if check_repo:
        check_repository(plan)
    project = Project(plan=plan, paths=ProjectPaths.for_project(plan.project.name))
    if owned:
        check_owner(project)
    return project


def check_owner(project: Project) -> None:
    """The project's data (named by ``[project] name``) is this repository's: a plan of another
    repository with the same name (two starter plans left with one name) would read, follow and
    stop the first one's run as its own, and never do its own work. The same goes for a repository
    made again where an earlier one was (its data's tasks merged into branches that are gone)."""
    if not project.paths.db.exists():
        return
    try:
        with project.store.read() as conn:
            owner = Store.get_meta(conn, "repo")
            roots = Store.get_meta(conn, "repo_roots")
    except StoreError:
        return  # a broken store: the command that needs it says so
    plan = project.plan
    if owner and Path(owner).resolve() != plan.repo.resolve():
        raise PlanError(
            f"{plan.path}: project.name: {project.name!r} is the project of {owner} (its data: "
            f"{project.paths.root}); give this plan a name of its own, or, if that repository moved here, "
            "remove its old data first"
        )
    if roots and project.git.is_repo() and not any(project.repo.has_commit(str(r)) for r in roots):
        raise PlanError(
            f"{plan.path}: project.name: {project.name!r} is the project of an earlier repository at "
            f"{plan.repo} (its first commit {str(roots[0])[:12]} is not in this one; its data: "
            f"{project.paths.root}); give this plan a name of its own, or remove that data first"
        )
