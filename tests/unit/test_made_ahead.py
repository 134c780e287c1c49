"""A ready task's branch and checkout are made ahead, before a worker is free for it. When it is
handed out, the integration branch may have moved: what merged meanwhile within its scope (the
work of a task it waited for, their scopes overlapping) is where it starts from, or its agent works
on the old text and conflicts with that work at once. Elsewhere, it keeps what was made ahead."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.core.states import TaskState as T
from czar.store.store import Store
from czar.supervisor.actions import Actions
from helpers import OnFakes, on_fakes, sim_task


def _merge_a(f: OnFakes, changes: dict[str, str]) -> None:
    """Task a's work merged: in the integration branch, and a merged in the store."""
    f.repo.commit(f.project.plan.project.integration_branch, changes, "czar: merge task a")
    f.move("a", T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING, T.MERGED)


def _made_ahead(tmp_path: Path, integration: str = "czar/integration") -> tuple[OnFakes, str]:
    """a and b share shared.txt; b is ready, its branch made ahead on the integration branch."""
    f = on_fakes(tmp_path, ["a", "b"], scope=("shared.txt",), project_extra=f'integration_branch = "{integration}"')
    with f.project.store.write() as conn:
        Store.move_task(conn, "b", T.READY, reason="test")
    assert Actions(f.project).prepare_ahead("b", f.repo.tips())
    made = f.repo.tip("czar/b")
    assert made == f.repo.tip(integration)
    return f, made


@pytest.mark.parametrize("integration", ["czar/integration", "dev"])
def test_a_task_made_ahead_starts_on_what_merged_since_in_its_scope(
    tmp_path: Path, czar_home: Path, integration: str
) -> None:
    # (An integration branch not under czar/ is not among czar's branches' tips: it is asked.)
    f, made = _made_ahead(tmp_path, integration)
    _merge_a(f, {"shared.txt": "a's version\n"})
    f.move("b", T.PENDING)
    f.assign({"b": "w1"})
    assert f.repo.tip("czar/b") == f.repo.tip(integration) != made
    assert f.repo.checkouts[f.checkout("b")]["czar/b"] == f.repo.tip(integration)  # its checkout too
    (assigned,) = [e.payload for e in f.project.store.events_after(0) if e.kind == "task.assigned"]
    assert assigned["base"] == f.repo.tip(integration)


def test_a_task_made_ahead_on_a_stacked_start_starts_again_once_that_work_merged(
    tmp_path: Path, czar_home: Path
) -> None:
    # t builds on d (stacked); t shares shared.txt with o. Made ahead, t's branch is a merge czar
    # made of the integration branch and d's approved work: in no history of the integration
    # branch, it is czar's own, not commits of a person's to keep.
    entries = [
        sim_task("o", files={"shared.txt": "o\n"}),
        sim_task("d", files={"d.txt": "d\n"}),
        sim_task("t", deps=("d",), files={"shared.txt": "t\n"}),
    ]
    f = on_fakes(tmp_path, [], entries=entries, project_extra="stack = true")
    f.repo.branch("czar/d", "czar/integration")
    f.repo.commit("czar/d", {"d.txt": "d\n"}, "d's work")
    f.move("d", T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED)
    f.repo.commit("czar/integration", {"x.txt": "x\n"}, "another merge")  # d is behind it now
    f.move("t", T.READY)
    actions = Actions(f.project)
    assert actions.prepare_ahead("t", f.repo.tips())
    made = f.repo.tip("czar/t")
    assert len(f.repo.commits[made].parents) == 2  # the stacked start
    f.repo.commit("czar/integration", {"shared.txt": "o's version\n"}, "czar: merge task o")
    f.move("o", T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING, T.MERGED)
    f.repo.merge_by_hand("czar/integration", "czar/d", {}, "czar: merge task d")
    f.move("d", T.MERGING, T.MERGED)
    f.move("t", T.PENDING)
    f.assign({"t": "w1"}, actions=actions)
    assert f.repo.tip("czar/t") == f.repo.tip("czar/integration") != made
    assert f.repo.files("czar/t")["shared.txt"] == "o's version\n"


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
