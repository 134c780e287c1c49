"""The repository port's contract: real git (``GitRepository``) and ``FakeRepository`` give the
same answers to the same history, so that what the radar and merge-queue tests prove on the fake
holds on git. Each case runs on both."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

import pytest

from czar.core import hunks
from czar.core.repository import Repository
from czar.errors import GitError
from czar.testing import FakeRepository
from czar.vcs.repository import GitRepository
from helpers import git

LINES = "".join(f"line {i}\n" for i in range(1, 13))


class History(Protocol):
    """How a test makes history, on either repository."""

    repo: Repository
    worktree: Path

    def commit(self, branch: str, changes: Mapping[str, str | None]) -> str: ...
    def branch(self, name: str, at: str) -> None: ...
    def commit_in(self, checkout: Path, branch: str, changes: Mapping[str, str | None]) -> str: ...
    def files(self, ref: str) -> dict[str, str]: ...


class OnGit:
    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "repo"
        self.root.mkdir()
        git(self.root, "init", "-q", "-b", "main")
        (self.root / "README.md").write_text("# sample\n")
        (self.root / "CHANGES.md").write_text(LINES)
        git(self.root, "add", "-A")
        git(self.root, "commit", "-qm", "initial")
        self.repo = GitRepository(self.root)
        self.tmp = tmp
        self.worktree = tmp / "integration"
        self.repo.ensure_worktree(self.worktree, "main", detach=True)
        self.edits = 0

    def _apply(self, where: Path, changes: Mapping[str, str | None]) -> str:
        for path, text in changes.items():
            if text is None:
                git(where, "rm", "-q", path)
            else:
                (where / path).parent.mkdir(parents=True, exist_ok=True)
                (where / path).write_text(text)
                git(where, "add", path)
        git(where, "commit", "-qm", "work")
        return git(where, "rev-parse", "HEAD")

    def commit(self, branch: str, changes: Mapping[str, str | None]) -> str:
        self.edits += 1
        where = self.tmp / f"edit-{self.edits}"
        git(self.root, "worktree", "add", "-q", str(where), branch)
        try:
            return self._apply(where, changes)
        finally:
            git(self.root, "worktree", "remove", "--force", str(where))

    def branch(self, name: str, at: str) -> None:
        git(self.root, "branch", "-f", name, at)

    def commit_in(self, checkout: Path, branch: str, changes: Mapping[str, str | None]) -> str:
        return self._apply(checkout, changes)

    def files(self, ref: str) -> dict[str, str]:
        names = git(self.root, "ls-tree", "-r", "--name-only", ref).splitlines()
        return {n: git(self.root, "show", f"{ref}:{n}") + "\n" for n in names}


class InMemory:
    def __init__(self, tmp: Path) -> None:
        self.fake = FakeRepository({"README.md": "# sample\n", "CHANGES.md": LINES})
        self.repo = self.fake
        self.worktree = tmp / "integration"
        self.fake.add_worktree(self.worktree, "main")

    def commit(self, branch: str, changes: Mapping[str, str | None]) -> str:
        return self.fake.commit(branch, changes)

    def branch(self, name: str, at: str) -> None:
        self.fake.branch(name, at)

    def commit_in(self, checkout: Path, branch: str, changes: Mapping[str, str | None]) -> str:
        return self.fake.commit_in(checkout, branch, changes)

    def files(self, ref: str) -> dict[str, str]:
        return dict(self.fake.files(ref))


@pytest.fixture(params=["git", "fake"])
def h(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[History]:
    yield OnGit(tmp_path) if request.param == "git" else InMemory(tmp_path)


def _edit(line: int, text: str) -> dict[str, str]:
    lines = LINES.splitlines(keepends=True)
    lines[line - 1] = text + "\n"
    return {"CHANGES.md": "".join(lines)}


def _two_branches(h: History) -> None:
    h.branch("czar/a", "main")
    h.branch("czar/b", "main")


def test_tips_ancestry_and_the_merge_base(h: History) -> None:
    main = h.repo.tip("main")
    _two_branches(h)
    a = h.commit("czar/a", {"a.txt": "a\n"})
    b = h.commit("czar/b", {"b.txt": "b\n"})
    assert h.repo.tips() == {"czar/a": a, "czar/b": b}
    assert h.repo.tips("czar/a") == {"czar/a": a}
    assert h.repo.tip("czar/a") == a and h.repo.tip(a) == a
    assert h.repo.is_ancestor(main, a) and not h.repo.is_ancestor(a, main) and not h.repo.is_ancestor(a, b)
    assert h.repo.is_ancestor(a, a)
    assert not h.repo.is_ancestor("no-such-branch", a)
    assert h.repo.merge_base(a, b) == main
    assert h.repo.merge_base("czar/a", main) == main
    (root,) = h.repo.roots("main")
    assert h.repo.roots("czar/a") == [root] == h.repo.roots(b)
    assert h.repo.has_commit(root) and h.repo.has_commit(a) and not h.repo.has_commit("0" * 40)
    assert h.repo.files_between(a, b) == ["a.txt", "b.txt"]
    assert h.repo.commits_ahead(main, a) == 1 and h.repo.commits_ahead(a, main) == 0
    assert h.repo.commits_ahead("czar/b", "czar/a") == 1
    h.branch("czar/base", "main")
    h.commit("czar/base", {"m.txt": "m\n"})  # the base moves on: what a changed since it left is the same
    assert h.repo.changed_files("czar/base", "czar/a") == ["a.txt"]
    assert h.repo.changed_files("czar/a", "czar/base") == ["m.txt"]
    with pytest.raises(GitError):
        h.repo.tip("no-such-branch")


@pytest.mark.parametrize(
    ("changes", "expect"),
    [
        ({"CHANGES.md": LINES.replace("line 3\n", "line three\n")}, {"CHANGES.md": [(3, 1, ("line three",))]}),
        (
            {"CHANGES.md": LINES.replace("line 3\n", "line 3\nnew a\nnew b\n")},
            {"CHANGES.md": [(3, 0, ("new a", "new b"))]},
        ),
        (
            {"CHANGES.md": LINES.replace("line 1\n", "").replace("line 12\n", "")},
            {"CHANGES.md": [(1, 1, ()), (12, 1, ())]},
        ),
        (
            {"CHANGES.md": LINES.replace("line 5\nline 6\n", "five and six\n")},
            {"CHANGES.md": [(5, 2, ("five and six",))]},
        ),
        ({"new/file.txt": "one\ntwo\n"}, {"new/file.txt": [(0, 0, ("one", "two"))]}),
        ({"README.md": None}, {"README.md": [(1, 1, ())]}),
        ({"README.md": "# sample"}, {"README.md": [(1, 1, ("# sample",))]}),  # the last newline dropped
        ({"new/__init__.py": ""}, {"new/__init__.py": []}),  # an empty file: no lines, named by `diff --git`
    ],
    ids=["changed", "inserted", "deleted-ends", "replaced-two", "created", "deleted", "no-newline", "created-empty"],
)
def test_diff_zero_reads_the_same(
    h: History, changes: dict[str, str | None], expect: dict[str, list[tuple[int, int, tuple[str, ...]]]]
) -> None:
    main = h.repo.tip("main")
    h.branch("czar/a", "main")
    a = h.commit("czar/a", changes)
    got = hunks.parse(h.repo.diff_zero(main, a))
    assert {p: [(x.old_start, x.old_count, x.added) for x in f.hunks] for p, f in got.items()} == expect
    # The lines each hunk takes out are the old file's lines it replaces.
    before = h.files(main)
    for path, change in got.items():
        old = before.get(path, "").splitlines()
        for x in change.hunks:
            assert list(x.removed) == old[x.old_start - 1 : x.old_start - 1 + x.old_count], (path, x)
    assert [p for p, f in got.items() if f.created] == [p for p, t in changes.items() if t is not None and "new" in p]
    assert [p for p, f in got.items() if f.deleted] == [p for p, t in changes.items() if t is None]
    # What each holds after, by git's name for it: the same empty file made twice is one.
    for path, text in changes.items():
        data = (text or "").encode()
        held = "0" * 40 if text is None else hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        assert got[path].blob == held, path


@pytest.mark.parametrize(
    ("ours", "theirs", "conflicts"),
    [
        ({"a.txt": "a\n"}, {"b.txt": "b\n"}, None),  # other files
        (_edit(2, "two"), _edit(10, "ten"), None),  # one file, far apart
        (_edit(2, "two"), _edit(4, "four"), None),  # one unchanged line between
        (_edit(2, "two"), _edit(3, "three"), ["CHANGES.md"]),  # next to each other
        (_edit(2, "two"), _edit(2, "deux"), ["CHANGES.md"]),  # the same line, differently
        (_edit(2, "two"), _edit(2, "two"), None),  # the same change on both sides
        ({"n.txt": "one\n"}, {"n.txt": "two\n"}, ["n.txt"]),  # created twice, differently
        ({"README.md": None}, {"README.md": "# changed\n"}, ["README.md"]),  # deleted and changed
    ],
    ids=["files", "far", "one-between", "adjacent", "same-line", "same-change", "add-add", "delete-change"],
)
def test_merge_tree_conflicts_as_git_does(
    h: History, ours: dict[str, str | None], theirs: dict[str, str | None], conflicts: list[str] | None
) -> None:
    _two_branches(h)
    a = h.commit("czar/a", ours)
    b = h.commit("czar/b", theirs)
    assert h.repo.merge_tree(a, b) == conflicts
    assert h.repo.merge_tree(b, a) == conflicts


def test_a_merge_in_the_worktree_then_a_conflict_undone_then_the_branch_moved(h: History) -> None:
    main = h.repo.tip("main")
    _two_branches(h)
    h.branch("czar/c", "main")
    h.commit("czar/a", _edit(2, "two"))
    h.commit("czar/b", _edit(10, "ten"))
    h.commit("czar/c", _edit(2, "deux"))
    wt = h.worktree
    h.repo.detach(wt, main)
    assert h.repo.merge(wt, "czar/a", "merge a").ok
    first = h.repo.head(wt)
    assert h.repo.is_ancestor(h.repo.tip("czar/a"), first) and h.repo.is_ancestor(main, first)
    assert h.repo.merge(wt, "czar/b", "merge b").ok
    second = h.repo.head(wt)
    assert h.files(second)["CHANGES.md"] == _edit(2, "two")["CHANGES.md"].replace("line 10\n", "ten\n")
    conflicted = h.repo.merge(wt, "czar/c", "merge c")
    assert not conflicted.ok and "CHANGES.md" in conflicted.output
    assert h.repo.head(wt) == second  # undone
    again = h.repo.merge(wt, "czar/a", "merge a again")
    assert again.ok and h.repo.head(wt) == second  # already in: no commit
    with pytest.raises(GitError):
        h.repo.move_branch("main", second, h.repo.tip("czar/a"))  # main is not there
    assert h.repo.tip("main") == main
    h.repo.move_branch("main", second, main)
    assert h.repo.tip("main") == second
    h.repo.reset_hard(wt, first)
    assert h.repo.head(wt) == first
    h.repo.clean_worktree(wt)
    assert h.repo.head(wt) == first


def test_a_branchs_own_changes_leave_its_merges_out(h: History) -> None:
    main = h.repo.tip("main")
    _two_branches(h)
    a = h.commit("czar/a", _edit(2, "two"))
    h.commit("czar/b", _edit(10, "ten"))
    h.repo.detach(h.worktree, "czar/a")
    assert h.repo.merge(h.worktree, "czar/b", "merge b into a").ok
    head = h.repo.head(h.worktree)
    own = hunks.parse(h.repo.own_changes("czar/b", head))  # a's commit only: the merge is left out
    assert own["CHANGES.md"].removed_lines == ["line 2"] and own["CHANGES.md"].added_lines == ["two"]
    both = hunks.parse(h.repo.own_changes(main, head))
    assert sorted(both["CHANGES.md"].removed_lines) == ["line 10", "line 2"]
    assert h.repo.own_changes(head, head) == ""
    assert h.repo.first_parent(head) == a and h.repo.first_parent(a) == main


def test_a_review_checkout_holds_exactly_the_commit(h: History, tmp_path: Path) -> None:
    h.branch("czar/a", "main")
    first = h.commit("czar/a", {"a.txt": "a\n"})
    h.commit("czar/a", {"a.txt": "a, later\n"})
    place = tmp_path / "review"
    h.repo.make_review_checkout(place, first)
    assert h.repo.has_checkout(place)
    if isinstance(h, OnGit):
        assert (place / "a.txt").read_text() == "a\n"
        assert git(place, "rev-parse", "HEAD") == first
    with pytest.raises(GitError):
        h.repo.make_review_checkout(tmp_path / "other", "not-a-commit")
    h.repo.discard_checkout(place)
    assert not h.repo.has_checkout(place)


def test_a_merge_of_a_branch_the_head_is_behind_still_makes_a_merge_commit(h: History) -> None:
    main = h.repo.tip("main")
    h.branch("czar/a", "main")
    a = h.commit("czar/a", {"a.txt": "a\n"})
    h.repo.detach(h.worktree, main)
    assert h.repo.merge(h.worktree, "czar/a", "merge a").ok
    head = h.repo.head(h.worktree)
    assert head not in (a, main)  # --no-ff
    assert h.files(head) == h.files(a)


def test_branches_made_once_and_reset(h: History) -> None:
    main = h.repo.tip("main")
    assert h.repo.ensure_branch("czar/a", "main")
    a = h.commit("czar/a", {"a.txt": "a\n"})
    assert not h.repo.ensure_branch("czar/a", "main")  # there already: left as it is
    assert h.repo.tip("czar/a") == a
    h.repo.reset_branch("czar/a", main)
    assert h.repo.tip("czar/a") == main


def test_work_committed_in_a_checkout_is_brought_in(h: History, tmp_path: Path) -> None:
    h.branch("czar/a", "main")
    checkout = tmp_path / "checkouts" / "a"
    assert not h.repo.has_checkout(checkout)
    h.repo.make_checkout(checkout, "czar/a")
    assert h.repo.has_checkout(checkout)
    before = h.repo.tip("czar/a")
    assert h.repo.harvest(checkout, "czar/a", before) == before  # nothing new
    first = h.commit_in(checkout, "czar/a", {"a.txt": "a\n"})
    assert h.repo.tip("czar/a") == before  # the repository's branch does not move by itself
    assert h.repo.harvest(checkout, "czar/a", before) == first
    assert h.repo.tip("czar/a") == first
    second = h.commit_in(checkout, "czar/a", {"a.txt": "a2\n"})
    assert h.repo.harvest_commit(checkout, "czar/a", first)  # what was handed in, not the newest
    assert h.repo.tip("czar/a") == first
    assert h.repo.harvest(checkout, "czar/a", first) == second
    h.repo.discard_checkout(checkout)
    assert not h.repo.has_checkout(checkout)
    assert h.repo.harvest(checkout, "czar/a", second) == second  # nothing to bring in from
