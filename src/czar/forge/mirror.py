"""A remote forge's side of czar's pull requests, forge-neutral: each is first a record of the local
forge (``czar prs`` shows it, with its history), then mirrored to the forge, which a subclass
speaks to (``forge.github``, ``forge.gitlab``).

Opened there from ``czar/<task>`` into the integration branch, or found again (one opened before a
restart, or by a person); its title and body updated when czar's record changes (a digest of what
was last sent makes an unchanged one cost nothing; a failed send marks it to be sent again); closed
with the reason when its task fails. A reviewer's verdict goes there once (a mark in its text finds
it again after a restart), pinned to the commit read. A merge by czar needs no request: the
integration branch pushed with the pull request's head in it is how the forge learns it merged.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import replace

from czar.core import markdown
from czar.core.forge import Finding, PullDraft, PullRef, PullState, Review, Verdict
from czar.core.omnibus import OMNIBUS
from czar.errors import CzarError, ForgeError, ForgeUnanswered
from czar.forge.local import ForgeRefused, LocalForge
from czar.store.records import Pull
from czar.store.store import Store


class MirroredForge(ABC):
    forge_name = "the forge"  # as a person reads it in a message: "GitHub", "GitLab"
    pull_label = "pull request #"  # before its number there: "merge request !" on GitLab

    def __init__(self, store: Store) -> None:
        self.store = store
        self.local = LocalForge(store)

    # -- what each forge says in its own API ----------------------------------------------------

    @abstractmethod
    def login(self) -> str:
        """The account the token speaks for."""

    @abstractmethod
    def find_open(self, draft: PullDraft) -> int | None:
        """The open pull request from the draft's branch into its base, if there is one."""

    @abstractmethod
    def open_remote(self, draft: PullDraft) -> tuple[int, str]:
        """A new pull request: its number there, and where a person sees it."""

    @abstractmethod
    def update_remote(self, number: int, draft: PullDraft, *, reopen: bool) -> tuple[int, str]:
        """Its title and body (and open again, with ``reopen``)."""

    @abstractmethod
    def is_open(self, number: int) -> bool: ...

    @abstractmethod
    def closed_unmerged(self, number: int) -> bool:
        """Closed there, and not merged."""

    @abstractmethod
    def author(self, number: int) -> str:
        """The account that opened it."""

    @abstractmethod
    def review_posted(self, number: int, mark: str) -> bool:
        """Whether a review or note holding ``mark`` is on it."""

    @abstractmethod
    def send_review(self, number: int, review: Review, text: list[str], mark: str, *, own: bool) -> None:
        """The verdict (a comment when ``own``: no account approves its own), ``text`` its body,
        each finding on its line where the diff shows it."""

    @abstractmethod
    def close_remote(self, number: int, reason: str) -> None: ...

    # -- the port -------------------------------------------------------------------------------

    def open_or_update(self, draft: PullDraft) -> PullRef:
        ref = self.local.open_or_update(draft)
        pull = self._pull(ref.number)
        want = "closed" if pull.state is PullState.CLOSED else "open"
        digest = _digest(draft.title, draft.body, draft.base_branch, want)
        if pull.state is PullState.MERGED and pull.remote_number is not None:
            return replace(ref, url=pull.url or "")  # merged there as here: nothing more to send
        # Reopened there only if czar closed it (its task failed, and was tried again): one a
        # person closed stays closed, and its task does not merge until they reopen it. The
        # omnibus is made again by a later run: a new one, open whatever became of the last.
        reopen = want == "open" and (pull.synced in (SENT_CLOSED, REOPEN_OWED) or draft.task == OMNIBUS)
        try:
            if pull.remote_number is None:
                number, url = self._find_or_open(draft)
            elif pull.synced != digest:
                number, url = self._update(pull.remote_number, draft, reopen=reopen)
            else:
                return replace(ref, url=pull.url or "")
        except CzarError:
            with self.store.write() as conn:  # known out of step: the next look sends it again
                Store.unsync_pull(conn, pull.id, REOPEN_OWED if reopen else None)
            raise
        with self.store.write() as conn:
            Store.set_pull_remote(conn, pull.id, remote_number=number, url=url, synced=digest)
        return replace(ref, url=url)

    def post_review(self, number: int, review: Review) -> None:
        pull = self._pull(number)
        if review.commit != pull.head_commit:
            raise ForgeRefused(
                f"pull request #{number} is at {pull.head_commit[:10]}, not at the reviewed {review.commit[:10]}"
            )
        remote = self.remote_number(pull)
        mark = f"<!-- czar review {review.commit} {review.reviewer} -->"
        if not self.review_posted(remote, mark):
            own = self.author(remote) == self.login()
            words = "approves" if review.verdict is Verdict.APPROVE else "requests changes to"
            text = [
                f"**{review.reviewer}** {words} {review.commit[:10]}.",
                "",
                *markdown.block(review.summary.strip() or "(no summary)"),  # the reviewer's words: shown, not read
            ]
            if own:
                text += [
                    "",
                    f"_{self.forge_name} lets no account approve or reject its own pull request: czar's verdict is"
                    " this comment._",
                ]
            self.send_review(remote, review, text, mark, own=own)
        self.local.post_review(number, review)

    def closed_there(self, number: int) -> str | None:
        """Closed on the forge, not merged, while czar's record has it open: a person's doing (czar
        closes only when its task fails, and then closes its record too)."""
        pull = self._pull(number)
        if pull.state is not PullState.OPEN or pull.remote_number is None or out_of_step(pull):
            return None  # (czar's own closing, there, may not be undone yet: the next look does it)
        if not self.closed_unmerged(pull.remote_number):
            return None
        return (
            f"{self.pull_label}{pull.remote_number} was closed on {self.forge_name} by a person; "
            "czar merges it only once it is reopened there"
        )

    def merge(self, number: int, head_commit: str, merged_as: str) -> None:
        # czar merged it and pushed the integration branch with its head in it (the forge marks it
        # merged on its own), or the forge merged it (``land``): recorded here.
        self.local.merge(number, head_commit, merged_as)

    def close(self, number: int, reason: str) -> None:
        pull = self._pull(number)
        if pull.remote_number is not None and pull.state is PullState.OPEN:
            # There first: if the forge fails, the record stays open and the next look closes it.
            self.close_remote(pull.remote_number, reason)
            # Marked before the record is closed: whatever stops czar in between, it is known as
            # czar's own closing (a record still open is closed again at the next look).
            with self.store.write() as conn:
                Store.set_pull_remote(
                    conn, number, remote_number=pull.remote_number, url=pull.url or "", synced=SENT_CLOSED
                )
        self.local.close(number, reason)

    # -- shared ---------------------------------------------------------------------------------

    def _update(self, remote: int, draft: PullDraft, *, reopen: bool) -> tuple[int, str]:
        try:
            return self.update_remote(remote, draft, reopen=reopen)
        except ForgeUnanswered:
            raise  # nothing refused: tried again, not replaced by a new one
        except ForgeError:
            # No forge reopens a pull request whose branch was made again while it was closed: a
            # new one then, and the old one stays closed.
            if not reopen or self.is_open(remote):
                raise
            return self._find_or_open(draft)

    def _find_or_open(self, draft: PullDraft) -> tuple[int, str]:
        """The open one from the draft's branch (opened before a restart, or by a person),
        brought up to date; else a new one."""
        found = self.find_open(draft)
        return self.open_remote(draft) if found is None else self.update_remote(found, draft, reopen=False)

    def _pull(self, number: int) -> Pull:
        with self.store.read() as conn:
            return Store.pull(conn, number)

    def remote_number(self, pull: Pull) -> int:
        if pull.remote_number is None:
            raise ForgeError(f"pull request #{pull.id} of {pull.task_id} is not on {self.forge_name} yet")
        return pull.remote_number


def findings_listed(review: Review) -> list[str]:
    """A review's findings as lines of Markdown, for a body (where a line comment cannot go)."""
    return [f"- {markdown.code(f'{f.path}:{f.line}')} {finding_text(f)}" for f in review.findings]


def finding_text(finding: Finding) -> str:
    """A finding in Markdown, for a comment on its line: the reviewer's words as code
    (``czar.core.markdown``: they neither forge czar's text nor notify anyone)."""
    return f"**{finding.severity}**: {markdown.code(finding.failure)}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


SENT_CLOSED = _digest("", "", "", "closed")  # what czar last sent was its own closing
REOPEN_OWED = "reopen"  # out of step, and czar's own closing is still to undo there


def out_of_step(pull: Pull) -> bool:
    """Whether the forge may not show what czar has for the pull request: a send that failed, or
    czar's own closing there not undone yet though its record is open again (czar stopped between
    the two)."""
    reopening = pull.state is PullState.OPEN and pull.synced == SENT_CLOSED
    return pull.synced is None or pull.synced == REOPEN_OWED or reopening
