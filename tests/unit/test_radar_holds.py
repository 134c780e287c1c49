"""The radar's holds on the fake repository (``czar.testing``), in milliseconds: of two tasks
whose work overlaps, the later in the plan stands off until the first merges, whoever committed
first; changes next to each other that git would merge hold the later back too; work an agent
undid to make again keeps its place; work outside the task's scope is named. Each case drives
the radar as the supervisor does: agents commit in their checkouts, the radar scans and acts.
On real git and checkouts: ``tests/integration/test_stand_offs.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.core.states import TaskState
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.radar import Radar
from helpers import OnFakes, on_fakes

T = TaskState
CHANGES = "".join(f"line {i}\n" for i in range(1, 21))


def _at_work(tmp_path: Path, names: tuple[str, ...] = ("a", "b")) -> tuple[OnFakes, Radar]:
    """The tasks assigned (a to w1, b to w2, ...) and running, with a changelog on the
    integration branch they all started from."""
    f = on_fakes(tmp_path, list(names), workers=len(names), scope=("CHANGES.md",))
    f.repo.commit("czar/integration", {"CHANGES.md": CHANGES}, "a changelog")
    f.assign({t: f"w{i}" for i, t in enumerate(names, 1)})
    for t in names:
        f.move(t, T.RUNNING)
    actions = Actions(f.project)
    return f, Radar(f.project, actions)


def _line(n: int, text: str, base: str = CHANGES) -> dict[str, str]:
    lines = base.splitlines(keepends=True)
    lines[n - 1] = text + "\n"
    return {"CHANGES.md": "".join(lines)}


def _found(radar: Radar) -> list[tuple[str, str, str | None, tuple[str, ...]]]:
    found = radar.scan() or []
    radar.act(found)
    return sorted((str(x.kind), x.task, x.other, x.files) for x in found)


def test_the_later_task_in_the_plan_stands_off_though_it_committed_first(tmp_path: Path, czar_home: Path) -> None:
    f, radar = _at_work(tmp_path)
    f.repo.commit_in(f.checkout("b"), "czar/b", _line(5, "the same fix"))  # b first
    assert _found(radar) == []
    f.repo.commit_in(f.checkout("a"), "czar/a", _line(5, "the same fix"))
    assert _found(radar) == [("duplicate", "b", "a", ("CHANGES.md",))]
    assert f.told("w2")[-1] == "message:stand-off" and "message:stand-off" not in f.told("w1")
    assert f.task("b").blocked_on == "a"
    # Looked at again with nothing new: nobody is told twice.
    assert radar.scan() is None
    assert f.told("w2").count("message:stand-off") == 1


def test_when_the_first_merges_the_later_goes_on_and_the_finding_clears(tmp_path: Path, czar_home: Path) -> None:
    f, radar = _at_work(tmp_path)
    f.repo.commit_in(f.checkout("a"), "czar/a", _line(5, "a's fix"))
    f.repo.commit_in(f.checkout("b"), "czar/b", _line(5, "b's fix"))
    assert _found(radar) == [("duplicate", "b", "a", ("CHANGES.md",))]
    # a merges: its work is in the integration branch now.
    f.repo.detach(f.project.paths.integration_worktree, "czar/integration")
    assert f.repo.merge(f.project.paths.integration_worktree, "czar/a", "merge a").ok
    f.repo.branch("czar/integration", f.repo.head(f.project.paths.integration_worktree))
    f.move("a", T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING)
    with f.project.store.write() as conn:
        Actions(f.project).merged(conn, Store.task(conn, "a"), f.repo.tip("czar/integration"))
    assert f.task("b").blocked_on is None
    assert f.told("w2")[-1] == "message:merged"
    # b's branch now conflicts with the integration branch (same line): b is told to merge it.
    assert _found(radar) == [("conflict", "b", None, ("CHANGES.md",))]
    kinds = [e.kind for e in f.project.store.events_after(0)]
    assert "radar.cleared" in kinds


def test_changes_next_to_each_other_hold_the_later_back_though_git_merges_them(tmp_path: Path, czar_home: Path) -> None:
    f, radar = _at_work(tmp_path)
    f.repo.commit_in(f.checkout("a"), "czar/a", _line(5, "a's line"))
    f.repo.commit_in(f.checkout("b"), "czar/b", _line(7, "b's line"))  # one unchanged line between
    found = _found(radar)
    assert f.repo.merge_tree("czar/a", "czar/b") is None  # git sees nothing wrong
    assert found == [("conflict", "b", "a", ("CHANGES.md",))]
    assert f.told("w2")[-1] == "message:conflict"


def test_work_far_apart_holds_nobody(tmp_path: Path, czar_home: Path) -> None:
    f, radar = _at_work(tmp_path)
    f.repo.commit_in(f.checkout("a"), "czar/a", _line(2, "a's line"))
    f.repo.commit_in(f.checkout("b"), "czar/b", _line(18, "b's line"))
    assert _found(radar) == []
    assert f.told("w2") == f.told("w1") == ["start"]


def test_work_an_agent_undid_to_make_again_keeps_its_place(tmp_path: Path, czar_home: Path) -> None:
    f, radar = _at_work(tmp_path)
    base = f.repo.tip("czar/a")
    f.repo.commit_in(f.checkout("a"), "czar/a", _line(5, "a's entry"))
    assert _found(radar) == []  # a's work seen
    f.repo.reset_in(f.checkout("a"), "czar/a", base)
    assert _found(radar) == []  # its branch as its agent left it: nothing on it now
    assert f.repo.tip("czar/a") == base
    f.repo.commit_in(f.checkout("b"), "czar/b", _line(5, "b's entry"))
    assert _found(radar) == [("duplicate", "b", "a", ("CHANGES.md",))]


def test_a_task_at_work_outside_its_scope_is_told(tmp_path: Path, czar_home: Path) -> None:
    f, radar = _at_work(tmp_path)
    f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a\n", "setup.cfg": "[x]\n"})
    assert _found(radar) == [("scope", "a", None, ("setup.cfg",))]
    assert f.told("w1")[-1] == "message:scope"


def test_a_merge_that_moves_the_integration_branch_is_seen_against_every_branch(
    tmp_path: Path, czar_home: Path
) -> None:
    f, radar = _at_work(tmp_path, ("a", "b", "c"))
    f.repo.commit_in(f.checkout("a"), "czar/a", _line(3, "a's line"))
    f.repo.commit_in(f.checkout("b"), "czar/b", {"b.txt": "b\n"})
    assert _found(radar) == []
    f.repo.commit("czar/integration", _line(3, "merged meanwhile"), "another task's merge")
    assert _found(radar) == [("conflict", "a", None, ("CHANGES.md",))]


def test_a_look_before_a_merge_reads_again_only_the_branches_the_last_merge_touched(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each merge moves the integration branch. The merge queue's look before the next merge read
    every branch in flight again (three git commands each: three hundred at a hundred workers)
    unless the radar's own scan had come first; it now catches up as the scan does."""
    f, radar = _at_work(tmp_path, ("a", "b", "c"))
    f.repo.commit_in(f.checkout("a"), "czar/a", _line(3, "a's line"))
    f.repo.commit_in(f.checkout("b"), "czar/b", {"b.txt": "b's work\n"})
    f.repo.commit_in(f.checkout("c"), "czar/c", {"c.txt": "c's work\n"})
    assert _found(radar) == []
    read: list[tuple[str, str]] = []
    diff_zero = f.repo.diff_zero
    monkeypatch.setattr(f.repo, "diff_zero", lambda base, tip: read.append((base, tip)) or diff_zero(base, tip))
    # Another task's merge changes b.txt: b's branch is read again, c's and a's are not.
    f.repo.commit("czar/integration", {"b.txt": "merged meanwhile\n"}, "another task's merge")
    found, seen = radar.before_merge(["c"])["c"]
    assert found == [] and seen == (True, ["c.txt"])
    # b's: its work and the integration branch's since it started; nothing of a's or c's.
    assert sorted(tip for _, tip in read) == sorted([f.repo.tip("czar/b"), f.repo.tip("czar/integration")])
    # What the look saw holds: b's lines and the merge's are the same file's, a conflict for b.
    found, _ = radar.before_merge(["b"])["b"]
    assert [(str(x.kind), x.task, x.files) for x in found] == [("conflict", "b", ("b.txt",))]


def test_after_a_reset_of_the_integration_branch_and_a_look_from_before_it_the_radar_sees_what_a_new_one_sees(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A branch the radar knows is caught up with a moved integration branch only when the move
    is merges on top of what it knew: after a person's reset, and a verification's look that read
    the tips just before it, b's branch would bring back a line the reset took out; a radar that
    caught up across the reset said nothing of it."""
    f, radar = _at_work(tmp_path, ("a", "b"))
    before = f.repo.tip("czar/integration")
    assert _found(radar) == []
    merged = f.repo.commit("czar/integration", _line(10, "a merge's line"), "a merge")
    assert _found(radar) == []
    f.repo.merge_in(f.checkout("b"), "czar/b", "czar/integration", {})  # b brings it in, as told
    f.repo.commit_in(f.checkout("b"), "czar/b", {"b.txt": "b's work\n"})
    assert _found(radar) == []
    f.repo.reset_branch("czar/integration", before)  # a person takes the merge back
    _found(radar)
    tips = f.repo.tips
    monkeypatch.setattr(f.repo, "tips", lambda prefix="czar/": {**tips(prefix), "czar/integration": merged})
    radar.findings_for("b")  # a verification that read the tips before the reset
    monkeypatch.setattr(f.repo, "tips", tips)
    f.repo.commit("czar/integration", _line(10, "a person's line"), "a person's fix")
    fresh = Radar(f.project, Actions(f.project)).scan() or []
    assert ("conflict", "b", None, ("CHANGES.md",)) in [(str(x.kind), x.task, x.other, x.files) for x in fresh]
    assert sorted(map(str, radar.scan() or [])) == sorted(map(str, fresh))


def test_a_look_from_before_the_last_merge_does_not_undo_the_catching_up(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    f, radar = _at_work(tmp_path, ("a", "b", "c"))
    for t in ("a", "b", "c"):
        f.repo.commit_in(f.checkout(t), f"czar/{t}", {f"{t}.txt": f"{t}'s work\n"})
    assert _found(radar) == []
    older = f.repo.commit("czar/integration", {"x.txt": "x\n"}, "a merge")
    f.repo.commit("czar/integration", {"y.txt": "y\n"}, "the next merge")
    radar.before_merge(["a"])
    tips = f.repo.tips
    monkeypatch.setattr(f.repo, "tips", lambda prefix="czar/": {**tips(prefix), "czar/integration": older})
    radar.findings_for("a")  # a verification that read the tips before the last merge
    monkeypatch.setattr(f.repo, "tips", tips)
    read: list[str] = []
    diff_zero = f.repo.diff_zero
    monkeypatch.setattr(f.repo, "diff_zero", lambda base, tip: read.append(tip) or diff_zero(base, tip))
    radar.before_merge(["a"])
    assert f.repo.tip("czar/b") not in read and f.repo.tip("czar/c") not in read


def test_a_branch_git_cannot_place_against_the_integration_branch_is_not_judged_against_its_tip(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Seen in a chaos run: git's merge-base failed once, the branch was compared with the
    # integration branch's tip, and a file merged since it left counted as its own, out of scope.
    f, radar = _at_work(tmp_path)
    f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a\n"})
    f.repo.commit("czar/integration", {"b.txt": "b\n"}, "b merged meanwhile")
    real = f.repo.merge_base
    monkeypatch.setattr(f.repo, "merge_base", lambda a, b: None)
    assert _found(radar) == []
    found, known = radar.findings_for("a")
    assert found == [] and known is None  # the verification reads the branch itself
    monkeypatch.setattr(f.repo, "merge_base", real)
    assert radar.findings_for("a") == ([], (True, ["a.txt"]))
