"""Where a worker's agent runs: its sandbox (``czar.runtime.sandbox``) around its checkout, and
that sandbox's own network, whose gateway opens the doors to czar's tools and its model."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from czar.agents.adapters import adapter_for
from czar.agents.base import AgentSettings
from czar.agents.host_settings import SandboxSettings
from czar.core import egress
from czar.errors import CzarError
from czar.host import user_config
from czar.host.agent_run import AgentRun
from czar.paths import czar_home
from czar.runtime import sandbox
from czar.runtime.gateway import Gateway
from czar.vcs import checkout, lfs, submodules
from czar.vcs.git import Git

# What an agent keeps in your home when it runs with it (``home = "user"``): writable in its sandbox.
USER_STATE = {
    "claude": (".claude", ".claude.json"),
    "codex": (".codex",),
    "gemini": (".gemini",),
    "aider": (".aider",),
}


class AgentSandbox:
    def __init__(
        self,
        *,
        worker: str,
        agent_kind: str,
        settings: AgentSettings,
        home: Path,
        repo: Path | None,
        config: SandboxSettings,
        on_denied: Callable[[str, str], None],
        read_only: bool = False,
    ) -> None:
        self.worker = worker
        self.agent_kind = agent_kind
        self.settings = settings
        self.home = home  # the agent's own files (configurations, a home)
        self.repo = repo
        self.config = config
        self.on_denied = on_denied  # a host the sandbox's network refused, and why
        self.read_only = read_only  # a reviewer's: the checkout it reads is not its to write
        self.objects: Path | None = None  # the repository's objects, which task checkouts borrow
        self.large_files: Path | None = None  # its Git LFS store, where git-lfs finds them for a checkout

    @functools.cached_property
    def ignored(self) -> tuple[str, ...]:
        """What your checkout ignores beyond the repository's .gitignore (read once)."""
        return checkout.yours_ignored(Git(self.repo)) if self.repo is not None else ()

    @property
    def enabled(self) -> bool:
        return self.config.enabled

    @property
    def commands(self) -> Path:
        """The folder on the agent's PATH holding its ``czar`` (``search_path.czar_only``): beside
        its home, readable only."""
        return self.home.with_name(f"{self.worker}.bin")

    @property
    def gates(self) -> Path:
        """Where the gateways of the agent's starts keep their sockets (beside its home)."""
        return self.home.with_name(f"{self.worker}.net")

    def user_state(self) -> list[Path]:
        """The agent's own folders in your home (``home = "user"``)."""
        return [Path.home() / rel for rel in USER_STATE.get(self.agent_kind, ())]

    def confinement(self, worktree: Path, *, new_session: bool) -> sandbox.Confinement | None:
        """The agent's sandbox, or None when the plan opts out. Only the simulated agent, czar's
        own, runs unconfined on a machine that cannot confine."""
        if self.repo is not None and not self.read_only:
            # Not the task's work: the folders shown in it, what you ignore, tools' caches.
            shown = self.config.shared if self.config.enabled else ()
            own = adapter_for(self.agent_kind).capabilities.own_files
            checkout.exclude(worktree, shown, (*checkout.CACHES, *own, *self.ignored))  # yours after: they win
        if not self.config.enabled or self.repo is None:
            return None
        why = sandbox.available()
        if why is not None:
            if self.agent_kind == "sim":
                return None
            raise CzarError(f"no sandbox for the agent: {why}")
        if self.objects is None:
            self.objects = Git(self.repo).common_dir() / "objects"
            self.large_files = lfs.store(self.repo)
        extra = [Path(p) for p in self.config.writable]
        locked: tuple[Path, ...] = ()
        private: tuple[tuple[Path, Path], ...] = ()
        if self.settings.home == "user":  # the agent's own state in your home stays its to write
            state = self.user_state()
            for folder in state:  # made as the agent would make it: else its sessions live in a tmpfs
                if folder.suffix != ".json":
                    folder.mkdir(parents=True, exist_ok=True)
            extra += state
            user_config.prepare(self.agent_kind, Path.home())  # but not its configuration
            locked = user_config.locked(self.agent_kind, Path.home())
            # Beside the agent's home, not in it: a folder bound read-write must not be the
            # agent's to swap for a link.
            private = user_config.private(self.agent_kind, Path.home(), self.home.with_name(f"{self.worker}.user"))
        if self.read_only:
            locked = (*locked, worktree)
        return sandbox.for_task(
            worktree,
            home=self.home,
            data=czar_home(),
            repo=self.repo,
            objects=self.objects,
            extra=tuple(extra),
            new_session=new_session,
            locked=locked,
            network=sandbox.HOST_NETWORK if self.config.network == "host" else sandbox.NO_NETWORK,
            private=private,
            # (The large files too: a checkout in the sandbox of a commit made since the clone, a
            # merge of the integration branch, found them nowhere, and git-lfs left them empty.)
            readable=(
                self.commands,
                *submodules.object_stores(self.objects.parent),
                *((self.large_files,) if self.large_files is not None and self.large_files.is_dir() else ()),
            ),
            shared=self.config.shared,
        )

    def network(self, run: AgentRun) -> sandbox.Network:
        """The network of the agent's sandbox for this start: its own, where a gateway opens the
        doors to czar's tools and its model (see ``czar.core.egress``), unless the plan shares
        the machine's. Called once the agent's servers are open: their ports are forwarded."""
        if self.config.network == "host":
            return sandbox.HOST_NETWORK
        named = [run.relay.base if run.relay else "", run.mcp_url or ""]
        named += [self.settings.base_url or "", *self.settings.env.values()]
        caps = run.adapter.capabilities
        hosts = [*(() if self.settings.base_url and caps.hosts_only_models else caps.hosts), *self.config.allow_hosts]
        if self.settings.base_url and (elsewhere := egress.url_host(self.settings.base_url)):
            hosts.append(elsewhere)
        ports = egress.forwarded_ports([*named, *(f"http://127.0.0.1:{p}" for p in self.config.ports)])
        network = sandbox.Network(
            # A folder of this start's own: the last start's gateway, stopped in the background,
            # removes its folder when it is done, which must not be this one.
            gate=self.gates / f"{run.attempt}-{run.launches}",
            ports=ports,
            hosts=tuple(hosts),
        )
        run.gateway = Gateway(network, on_denied=self.on_denied)
        return network


def wrapper(confine: sandbox.Confinement | None) -> Callable[[list[str]], list[str]] | None:
    """How a command runs in that sandbox (None: as it is)."""
    return functools.partial(_confined, confine) if confine is not None else None


def _confined(confine: sandbox.Confinement, argv: list[str]) -> list[str]:
    return sandbox.wrap(argv, confine)
