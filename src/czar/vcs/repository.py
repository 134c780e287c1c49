"""git as the supervisor's repository port (``czar.core.repository.Repository``): the commands of
``Git``, and the tasks' checkouts (``czar.vcs.checkout``) it brings work in from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from czar.vcs import checkout as task_checkout
from czar.vcs.git import Git


class GitRepository(Git):
    def unlock_worktree(self, worktree: Path) -> list[str]:
        return task_checkout.unlock_worktree(worktree, self.common_dir())

    def has_checkout(self, checkout: Path) -> bool:
        return task_checkout.is_checkout(checkout)

    def make_checkout(self, checkout: Path, branch: str) -> None:
        task_checkout.make(self, checkout, branch)

    def make_review_checkout(self, checkout: Path, commit: str) -> None:
        task_checkout.detached(self, checkout, commit)

    def harvest(self, checkout: Path, branch: str, known: str | None) -> str | None:
        return task_checkout.harvest(self, checkout, branch, known)

    def harvest_commit(self, checkout: Path, branch: str, commit: str) -> bool:
        return task_checkout.harvest_commit(self, checkout, branch, commit)

    def discard_checkout(self, checkout: Path) -> None:
        task_checkout.remove(self, checkout)

    def keep_unmerged(self, checkout: Path, branch: str) -> list[tuple[str, str | None]]:
        return task_checkout.keep_unmerged(self, checkout, branch)

    def replaced(self) -> list[tuple[str, str, str]]:
        return task_checkout.replaced()


if TYPE_CHECKING:  # mypy proves it fills the port
    from czar.core.repository import Repository

    _port: Repository = GitRepository(Path())
