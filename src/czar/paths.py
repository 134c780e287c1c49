"""Where czar keeps a project's data: never inside the user's repository."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs


def czar_home() -> Path:
    """``$CZAR_HOME``, or the platform's user data folder."""
    env = os.environ.get("CZAR_HOME")
    return Path(env).expanduser().resolve() if env else Path(platformdirs.user_data_dir("czar"))


@dataclass(frozen=True)
class ProjectPaths:
    """Every file and folder czar keeps for one project."""

    name: str
    root: Path

    @classmethod
    def for_project(cls, name: str) -> ProjectPaths:
        return cls(name=name, root=czar_home() / "projects" / name)

    @property
    def db(self) -> Path:
        return self.root / "czar.db"

    @property
    def worktrees(self) -> Path:
        return self.root / "worktrees"

    def worktree(self, task_id: str) -> Path:
        return self.worktrees / task_id

    def review_checkout(self, name: str) -> Path:
        """A reviewer's read-only checkout of the commit under review."""
        return self.root / "reviews" / name

    @property
    def integration_worktree(self) -> Path:
        return self.root / "integration"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def checks(self) -> Path:
        """Output of acceptance checks, one file per task and round."""
        return self.root / "checks"

    @property
    def supervisor_lock(self) -> Path:
        return self.root / "supervisor.lock"

    @property
    def git_lock(self) -> Path:
        return self.root / "git.lock"

    @property
    def key(self) -> str:
        """A short id unique to this project folder, for names outside it (sockets)."""
        return hashlib.sha256(str(self.root).encode()).hexdigest()[:10]

    @property
    def tmux_socket(self) -> str:
        return f"czar-{self.name}-{self.key}"

    @property
    def tmux_session(self) -> str:
        return f"czar-{self.name}"

    @property
    def bells(self) -> Path:
        # Unix socket paths are limited to ~100 bytes, so the doorbells live in a short folder
        # under the runtime dir rather than in the (possibly deep) project folder.
        base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
        return Path(base) / f"czar-{os.getuid()}" / self.key

    def ensure(self) -> None:
        """Make the project's folders; the project folder is its owner's alone (0700): it holds the
        store, every task's checkout and every agent's home."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(PermissionError):  # not ours to change: the store says so when opened
            self.root.chmod(0o700)
        for folder in (self.worktrees, self.logs, self.checks):
            folder.mkdir(parents=True, exist_ok=True)
