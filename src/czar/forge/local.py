"""The local forge: pull requests as records in the project's store, with their checks, reviews
and history (``czar prs``, ``czar pr show N``). Offline, and the reference for the others."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from czar.core.forge import CheckRun, Forge, PullDraft, PullRef, PullState, Remark, Review
from czar.errors import CzarError
from czar.store.records import Pull, checks_at
from czar.store.store import Store, Tx


class ForgeRefused(CzarError):
    """The forge would not do it: the pull request is not in a state for it, or its head moved."""


class InMergeQueue(ForgeRefused):
    """The forge merges it later, through its own merge queue: asked again, it says how it went."""


class LocalForge:
    def __init__(self, store: Store) -> None:
        self.store = store

    def open_or_update(self, draft: PullDraft) -> PullRef:
        with self.store.write() as conn:
            pull, changed = Store.put_pull(
                conn,
                task_id=draft.task,
                head_branch=draft.head_branch,
                base_branch=draft.base_branch,
                head_commit=draft.head_commit,
                title=draft.title,
                body=draft.body,
                files=draft.files,
                rounds=draft.rounds,
                cost_usd=draft.cost_usd,
            )
            if draft.checks and (changed or not _checks_at(conn, pull.id, draft.head_commit)):
                Store.add_pull_entry(conn, pull.id, "checks", draft.head_commit, runs=[asdict(c) for c in draft.checks])
        return _ref(pull)

    def post_review(self, number: int, review: Review) -> None:
        with self.store.write() as conn:
            pull = Store.pull(conn, number)
            if review.commit != pull.head_commit:
                raise ForgeRefused(
                    f"pull request #{number} is at {pull.head_commit[:10]}, not at the reviewed {review.commit[:10]}"
                )
            seen = {k: v for k, v in asdict(review).items() if k != "commit"}
            Store.add_pull_entry(conn, number, "review", review.commit, **seen)

    def checks(self, number: int) -> tuple[CheckRun, ...]:
        with self.store.read() as conn:
            pull = Store.pull(conn, number)
            runs = _checks_at(conn, number, pull.head_commit)
        return tuple(CheckRun(**run) for run in runs)

    def remarks(self, number: int) -> tuple[Remark, ...]:
        return ()  # people write on czar's own pull requests through czar, not here

    def merge(self, number: int, head_commit: str, merged_as: str) -> None:
        with self.store.write() as conn:
            pull = Store.pull(conn, number)
            if pull.state is PullState.MERGED and pull.merged_as == merged_as:
                return  # recorded already (a supervisor that restarted does it again)
            if pull.state is not PullState.OPEN or pull.head_commit != head_commit:
                raise ForgeRefused(
                    f"pull request #{number} is {pull.state} at {pull.head_commit[:10]}; "
                    f"it cannot merge at {head_commit[:10]}"
                )
            Store.set_pull_state(conn, number, PullState.MERGED, merged_as=merged_as)
            Store.add_pull_entry(conn, number, "merged", head_commit, merged_as=merged_as)

    def closed_there(self, number: int) -> str | None:
        return None  # czar's record is the pull request: nobody closes it behind czar's back

    def blocked(self, number: int) -> str | None:
        return None  # czar merges: nothing of the forge's own to wait for

    def land(self, number: int, head_commit: str) -> str:
        raise ForgeRefused("the local forge merges nothing itself: czar merges into the integration branch")

    def close(self, number: int, reason: str) -> None:
        with self.store.write() as conn:
            pull = Store.pull(conn, number)
            if pull.state is not PullState.OPEN:
                return
            Store.set_pull_state(conn, number, PullState.CLOSED)
            Store.add_pull_entry(conn, number, "closed", pull.head_commit, reason=reason)


def _checks_at(conn: Tx, number: int, commit: str) -> list[dict[str, Any]]:
    """The last checks recorded for ``commit``."""
    return checks_at(Store.pull_entries(conn, number, "checks"), commit)


def _ref(pull: Pull) -> PullRef:
    return PullRef(pull.id, pull.task_id, pull.state, pull.head_commit)


if TYPE_CHECKING:  # mypy proves it fills the port

    def _fills(store: Store) -> Forge:
        return LocalForge(store)
