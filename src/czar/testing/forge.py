"""A remote forge without the network: the local forge, each pull request given a number "there"
as a mirror gives it, plus what a remote forge adds and a test sets: the checks its CI reports on
a commit (``ci``), what people write on a pull request (``people``), those a person closed there
(``closed``) and those its rules hold (``rules``); and a forge that refuses everything for a while
(``failing``: its words)."""

from __future__ import annotations

from dataclasses import replace

from czar.core.forge import CheckRun, PullDraft, PullRef, Remark
from czar.errors import ForgeError
from czar.forge.local import LocalForge
from czar.store.store import Store


class FakeForge(LocalForge):
    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.ci: dict[str, list[CheckRun]] = {}  # commit -> the checks reported on it
        self.people: dict[int, list[Remark]] = {}  # pull request -> what people wrote, oldest first
        self.failing: str | None = None  # while set, every request fails with these words
        self.closed: set[int] = set()  # pull requests a person closed on the forge (czar's record has them open)
        self.rules: dict[int, str] = {}  # pull requests the forge's rules hold (required checks, reviews): why

    def _answer(self) -> None:
        if self.failing is not None:
            raise ForgeError(self.failing)

    def open_or_update(self, draft: PullDraft) -> PullRef:
        self._answer()
        ref = super().open_or_update(draft)
        url = f"https://forge.example/pull/{ref.number}"
        with self.store.write() as conn:
            Store.set_pull_remote(conn, ref.number, remote_number=ref.number, url=url, synced="")
        return replace(ref, url=url)

    def checks(self, number: int) -> tuple[CheckRun, ...]:
        self._answer()
        with self.store.read() as conn:
            head = Store.pull(conn, number).head_commit
        return tuple(self.ci.get(head, ()))

    def remarks(self, number: int) -> tuple[Remark, ...]:
        self._answer()
        return tuple(self.people.get(number, ()))

    def closed_there(self, number: int) -> str | None:
        self._answer()
        return f"pull request #{number} was closed on the forge by a person" if number in self.closed else None

    def blocked(self, number: int) -> str | None:
        self._answer()
        return self.rules.get(number)
