"""A ready task's branch and checkout are made ahead, before a worker is free for it. When it is
handed out, the integration branch may have moved: what merged meanwhile within its scope (the
work of a task it waited for, their scopes overlapping) is where it starts from, or its agent works
on the old text and conflicts with that work at once. Elsewhere, it keeps what was made ahead."""

from __future__ import annotations

from pathlib import Path

from czar.core.states import TaskState as T
from czar.store.store import Store
from czar.supervisor.actions import Actions
from helpers import OnFakes, on_fakes


def _merge_a(f: OnFakes, changes: dict[str, str]) -> None:
    """Task a's work merged: in the integration branch, and a merged in the store."""
    f.repo.commit("czar/integration", changes, "czar: merge task a")
    f.move("a", T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING, T.MERGED)


def _made_ahead(tmp_path: Path) -> tuple[OnFakes, str]:
    """a and b share shared.txt; b is ready, its branch made ahead on the integration branch."""
    f = on_fakes(tmp_path, ["a", "b"], scope=("shared.txt",))
    with f.project.store.write() as conn:
        Store.move_task(conn, "b", T.READY, reason="test")
    assert Actions(f.project).prepare_ahead("b", f.repo.tips())
    made = f.repo.tip("czar/b")
    assert made == f.repo.tip("czar/integration")
    return f, made


def test_a_task_made_ahead_starts_on_what_merged_since_in_its_scope(tmp_path: Path, czar_home: Path) -> None:
    f, made = _made_ahead(tmp_path)
    _merge_a(f, {"shared.txt": "a's version\n"})
    f.move("b", T.PENDING)
    f.assign({"b": "w1"})
    assert f.repo.tip("czar/b") == f.repo.tip("czar/integration") != made
    assert f.repo.checkouts[f.checkout("b")]["czar/b"] == f.repo.tip("czar/integration")  # its checkout too
    (assigned,) = [e.payload for e in f.project.store.events_after(0) if e.kind == "task.assigned"]
    assert assigned["base"] == f.repo.tip("czar/integration")


def test_a_task_made_ahead_keeps_it_when_nothing_in_its_scope_merged(tmp_path: Path, czar_home: Path) -> None:
    f, made = _made_ahead(tmp_path)
    _merge_a(f, {"a.txt": "a\n"})
    f.move("b", T.PENDING)
    f.assign({"b": "w1"})
    assert f.repo.tip("czar/b") == made  # no checkout made again for it


def test_what_was_made_ahead_is_kept_where_no_merged_task_shares_its_scope(tmp_path: Path, czar_home: Path) -> None:
    f, made = _made_ahead(tmp_path)
    # Something czar did not merge from a task changed the scope: not looked for (the radar
    # finds a conflict, if any, when the work is handed in).
    f.repo.commit("czar/integration", {"shared.txt": "a person's version\n"}, "by hand")
    f.move("b", T.PENDING)
    f.assign({"b": "w1"})
    assert f.repo.tip("czar/b") == made


def test_commits_on_a_branch_made_ahead_are_never_dropped(tmp_path: Path, czar_home: Path) -> None:
    f, made = _made_ahead(tmp_path)
    f.repo.discard_checkout(f.checkout("b"))  # (its checkout removed: it is made again from the branch)
    f.repo.commit("czar/b", {"b.txt": "someone's start on b\n"}, "a person's commit")
    theirs = f.repo.tip("czar/b")
    _merge_a(f, {"shared.txt": "a's version\n"})
    f.move("b", T.PENDING)
    f.assign({"b": "w1"})
    assert f.repo.tip("czar/b") == theirs != made
