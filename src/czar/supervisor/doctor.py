"""``czar doctor``: is this machine ready for a run? One line per check, with a fix for each failure.

It checks the programs czar drives (tmux; git 2.38 or newer, for ``git merge-tree --write-tree``),
the store's folder, and each agent the plan uses: its program and version, and that its
credentials are present (never their values); with a plan, its remote (it answers) and its forge
(the token, what it may do in the repository, and what guards the base branch there).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from czar.errors import CzarError, ForgeUnanswered, PlanError
from czar.paths import ProjectPaths, czar_home
from czar.plan.load import Plan
from czar.plan.model import AgentConfig
from czar.runtime import proc, sandbox, search_path
from czar.supervisor.project import Project
from czar.vcs.remote import without_secrets

# The agents' usual programs, and where each finds its credentials: variables, or files in home.
PROGRAMS = {"claude": "claude", "codex": "codex", "gemini": "gemini", "aider": "aider"}
CREDENTIALS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "claude": (
        ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"),
        (".claude/.credentials.json",),
    ),
    "codex": (("OPENAI_API_KEY",), (".codex/auth.json",)),
    "gemini": (("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS"), (".gemini/oauth_creds.json",)),
    "aider": (("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "OPENROUTER_API_KEY"), ()),
}
INSTALL = {
    "claude": "npm install -g @anthropic-ai/claude-code",
    "codex": "npm install -g @openai/codex",
    "gemini": "npm install -g @google/gemini-cli",
    "aider": "pip install aider-chat",
}
MIN_GIT = (2, 38)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"ok    {self.name}: {self.detail}" if self.ok else f"FAIL  {self.name}: {self.detail}; fix: {self.fix}"


def _version(argv: list[str]) -> tuple[bool, str]:
    result = proc.run(argv, timeout=30)
    first = (result.output.strip().splitlines() or [""])[0]
    return result.ok, first


def tmux() -> Check:
    if shutil.which("tmux") is None:
        return Check("tmux", False, "not found", "install tmux (apt-get install tmux, brew install tmux)")
    ok, text = _version(["tmux", "-V"])
    return Check("tmux", ok, text or "no version", "reinstall tmux")


def git() -> Check:
    if shutil.which("git") is None:
        return Check("git", False, "not found", "install git 2.38 or newer")
    ok, text = _version(["git", "--version"])
    m = re.search(r"(\d+)\.(\d+)", text)
    version = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    if not ok or version < MIN_GIT:
        return Check("git", False, f"{text or 'no version'} (czar needs 2.38 or newer, for merge-tree)", "upgrade git")
    return Check("git", True, text)


def python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, sys.version.split()[0], "use Python 3.11 or newer")


def store(paths: ProjectPaths | None) -> Check:
    folder = paths.root if paths is not None else czar_home()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return Check(
            "store", False, f"{folder} is not writable ({exc.strerror or exc})", "set CZAR_HOME to a writable folder"
        )
    return Check("store", True, f"{folder} is writable")


def program_of(kind: str, config: AgentConfig | None) -> tuple[str, str | None]:
    """The program an agent of ``kind`` runs (the plan's ``command``, else its usual name) and
    where it was found; None if nowhere (not on PATH, not an executable file)."""
    command = config.command if config and config.command else PROGRAMS[kind]
    # Looked for as a worker host looks: on the agent's PATH (yours, then czar's folder).
    found = shutil.which(command, path=search_path.for_project_code())
    return command, found or (command if Path(command).is_file() and os.access(command, os.X_OK) else None)


def require_programs(plan: Plan) -> None:
    """Refuse a plan whose workers' agent program is nowhere to be found, before anything starts:
    every start of it would fail, and each task it was given with it (one line saying so)."""
    for kind in sorted(set(plan.worker_kinds.values()) & PROGRAMS.keys()):
        config = plan.agents.get(kind)
        command, found = program_of(kind, config)
        if found is None:
            where = f"agents.{kind}.command" if config and config.command else "workers"
            raise PlanError(f"{plan.path}: {where}: the {kind} program {command!r} is not found ({INSTALL[kind]})")


def agent(
    kind: str, config: AgentConfig | None, env: dict[str, str] | None = None, home: Path | None = None
) -> list[Check]:
    """The agent's program and version, and its credentials."""
    env = dict(os.environ) if env is None else env
    home = Path(env.get("HOME", "~")).expanduser() if home is None else home
    command, found = program_of(kind, config)
    checks = []
    if found is None:
        checks.append(Check(f"{kind} program", False, f"{command} not found", INSTALL[kind]))
    else:
        ok, text = _version([found, "--version"])
        checks.append(
            Check(f"{kind} program", ok, f"{found}: {text or 'no version'}", f"reinstall it ({INSTALL[kind]})")
        )
    names, files = CREDENTIALS[kind]
    present = [n for n in names if env.get(n)]
    logins = [f for f in files if (home / f).exists()] if not (config and config.home == "private") else []
    if config and config.base_url:
        checks.append(Check(f"{kind} credentials", True, f"talks to {config.base_url}"))
    elif present or logins:
        where = ", ".join([*(f"${n} is set" for n in present), *(f"~/{f}" for f in logins)])
        checks.append(Check(f"{kind} credentials", True, where))
    else:
        need = " or ".join(f"${n}" for n in names[:2])
        fix = f"set {need}" + (
            f", or log in ({command})" if files and not (config and config.home == "private") else ""
        )
        checks.append(Check(f"{kind} credentials", False, "none found", fix))
    return checks


def confinement(plan: Plan | None) -> Check:
    """Whether agents can run in a sandbox here (bubblewrap), and what the plan says of it."""
    if plan is not None and not plan.sandbox.enabled:
        return Check("sandbox", True, "off in the plan: agents run unconfined, as you")
    why = sandbox.available()
    if why is None:
        if plan is not None and plan.sandbox.network == "host":
            net = "on your machine's network"
        else:
            extra = plan.sandbox.allow_hosts if plan is not None else []
            net = "on a network of its own (czar's tools, its model's API" + "".join(f", {h}" for h in extra) + ")"
        return Check(
            "sandbox", True, f"bubblewrap ({sandbox.bwrap_path()}): each agent runs confined to its task, {net}"
        )
    real = plan is None or any(kind != "sim" for kind in plan.worker_kinds.values())
    fix = "apt-get install bubblewrap (or set [sandbox] enabled = false to run agents unconfined)"
    return Check("sandbox", not real, why + ("" if real else "; simulated agents run unconfined"), fix)


def remote(project: Project) -> list[Check]:
    """The plan's remote answers (``git ls-remote``)."""
    found = project.remote
    if found is None:
        return []
    try:
        ok, said = found.reachable(timeout=30)
        where = without_secrets(found.url())  # a token in the URL is not for the terminal
    except CzarError as exc:
        return [Check(f"remote {found.name}", False, str(exc), f"`git remote -v` in {project.plan.repo}")]
    return [
        Check(
            f"remote {found.name}",
            ok,
            f"{where} answers: {said}" if ok else f"{where} does not answer: {said}",
            f"check the URL (`git remote get-url {found.name}`) and your credentials for it",
        )
    ]


def forge(project: Project) -> list[Check]:
    """The plan's forge: its token, what the token may do in the repository, and what guards the
    base branch there (reported, never changed)."""
    spec = project.plan.forge
    if spec.kind == "local":
        return []
    from czar.forge import github, gitlab

    name = f"forge {spec.kind}"
    try:
        opened = project.forge
    except CzarError as exc:
        return [Check(name, False, str(exc), "see the message: a token, or [forge] repository")]
    assert isinstance(opened, github.GitHubForge | gitlab.GitLabForge)
    env = {**os.environ, **project.forge_tokens}
    found = (
        github.find_token(spec.api_url or github.API_URL, env=env)
        if isinstance(opened, github.GitHubForge)
        else gitlab.find_token(env=env)
    )
    try:
        login = opened.login()
        may = opened.may_write()
    except ForgeUnanswered as exc:  # (no token is at fault in a forge that does not answer)
        fix = (
            "wait for the rate limit to pass (or use another account's token)"
            if "rate limited" in str(exc)
            else "the forge's address (`[forge] api_url`), and that it answers from here"
        )
        return [Check(name, False, str(exc), fix)]
    except CzarError as exc:
        return [Check(name, False, str(exc), "a token that can read the repository (see `czar doctor`'s line)")]
    checks = [
        Check(name, True, f"the token from {found[1] if found else '?'} speaks for {login}"),
        Check(
            f"repository {opened.repo}",
            may,
            "the token may push and open pull requests" if may else "the token may only read it",
            "give the token write access: contents and pull requests (GitHub), Developer (GitLab)",
        ),
    ]
    base = project.plan.project.base_branch
    try:
        guards = opened.protection(base)
    except CzarError as exc:
        guards = f"could not be read ({exc})"
    checks.append(Check(f"base branch {base} on the forge", True, guards))
    return checks


def examine(plan: Plan | None, paths: ProjectPaths | None, project: Project | None = None) -> list[Check]:
    checks = [python(), tmux(), git(), store(paths), confinement(plan)]
    if plan is not None:
        for kind in sorted(set(plan.worker_kinds.values()) - {"sim"}):
            checks += agent(kind, plan.agents.get(kind))
    if project is not None:
        checks += remote(project) + forge(project)
    return checks
