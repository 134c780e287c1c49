"""No change lost: the lines a merge would take out of the integration branch that another task
put there. The rule (pure), then the merge queue on the fake repository: a resolution that drops
another task's lines is not merged, its agent hears which; one that says so in a commit message
is. On real git: ``tests/integration/test_merge_queue.py``."""

from __future__ import annotations

from pathlib import Path

from czar.core import hunks
from czar.core.lost_lines import LostLine, evidence, lost_lines
from czar.core.states import TaskState
from czar.supervisor.actions import Actions
from czar.supervisor.merge_queue import MergeQueue
from helpers import OnFakes, on_fakes

T = TaskState
INTEGRATION = "czar/integration"


def _diff(path: str, old: str, new: str) -> dict[str, hunks.FileChange]:
    removed = "".join(f"-{line}\n" for line in old.splitlines())
    added = "".join(f"+{line}\n" for line in new.splitlines())
    return hunks.parse(f"--- a/{path}\n+++ b/{path}\n@@ -1,9 +1,9 @@\n{removed}{added}")


A_ADDED = {"app.py": hunks.parse("--- a/app.py\n+++ b/app.py\n@@ -2,0 +3,1 @@\n+def alpha(): return 'a'\n")["app.py"]}


def test_a_line_another_task_added_and_the_merge_takes_out_is_lost() -> None:
    merge = _diff("app.py", "import x\ndef alpha(): return 'a'\n", "import x\ndef beta(): return 'b'\n")
    assert lost_lines(merge, {"a": A_ADDED}) == [LostLine("app.py", "def alpha(): return 'a'", "a")]


def test_a_line_moved_within_the_file_blank_lines_and_nobodys_lines_are_not() -> None:
    moved = _diff("app.py", "def alpha(): return 'a'\nimport x\n", "import x\ndef alpha(): return 'a'\n")
    assert lost_lines(moved, {"a": A_ADDED}) == []
    blank = _diff("app.py", "import x\n\n}\n", "import x\n")
    assert lost_lines(blank, {"a": A_ADDED}) == []
    theirs = _diff("app.py", "import os\n", "import sys\n")  # a line no task of these added
    assert lost_lines(theirs, {"a": A_ADDED}) == []


def test_a_line_the_tasks_own_commit_took_out_was_taken_out_on_purpose() -> None:
    merge = _diff("app.py", "def alpha(): return 'a'\n", "def beta(): return 'b'\n")
    own = _diff("app.py", "def alpha(): return 'a'\n", "def beta(): return 'b'\n")
    assert lost_lines(merge, {"a": A_ADDED}, own) == []
    elsewhere = _diff("other.py", "def alpha(): return 'a'\n", "")  # the same text, in another file
    assert lost_lines(merge, {"a": A_ADDED}, elsewhere) != []


def test_the_evidence_names_each_line_and_its_task_and_how_to_put_them_back() -> None:
    text = evidence([LostLine("app.py", "def alpha(): return 'a'", "a")], INTEGRATION)
    assert "app.py: `def alpha(): return 'a'` (task a)" in text and "git merge czar/integration" in text
    assert "a commit of its own" in text


# -- the merge queue, on the fakes -------------------------------------------------------------


def _two_tasks(tmp_path: Path) -> OnFakes:
    """a and b started from the same integration branch; a's work (a line in app.py) merged."""
    f = on_fakes(tmp_path, ["a", "b", "c"], workers=3, scope=("app.py",))
    f.repo.commit(INTEGRATION, {"app.py": "import x\n"}, "app")
    f.assign({"a": "w1", "b": "w2"})
    f.repo.commit_in(f.checkout("a"), "czar/a", {"app.py": "import x\ndef alpha(): return 'a'\n"}, "a: alpha")
    Actions(f.project).bring_in_handed_in("a")
    f.move("a", T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING)
    MergeQueue(f.project, Actions(f.project)).merge(["a"])
    assert f.states()["a"] == "merged"
    return f


def _b_resolves(f: OnFakes, resolution: str) -> None:
    """b's own work, then its merge of the integration branch resolved to ``resolution``."""
    f.repo.commit("czar/b", {"app.py": "import x\ndef beta(): return 'b'\n"}, "b: beta")
    f.repo.merge_by_hand("czar/b", INTEGRATION, {"app.py": resolution}, "merge czar/integration")
    f.move("b", T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING)
    MergeQueue(f.project, Actions(f.project)).merge(["b"])


def test_a_resolution_that_drops_another_tasks_line_is_not_merged_and_its_agent_hears(
    tmp_path: Path, czar_home: Path
) -> None:
    f = _two_tasks(tmp_path)
    before = f.repo.tip(INTEGRATION)
    _b_resolves(f, "import x\ndef beta(): return 'b'\n")  # alpha dropped
    assert f.repo.tip(INTEGRATION) == before  # nothing of it reached the branch
    b = f.task("b")
    assert b.state is T.READY and "def alpha(): return 'a'` (task a)" in str(b.note)
    lost = [e.payload for e in f.project.store.events_after(0) if e.kind == "change.lost"]
    assert lost and lost[0]["owners"] == ["a"]
    assert "def beta" in f.repo.files("czar/b")["app.py"]  # its work stays on its branch


def test_a_resolution_that_keeps_both_merges(tmp_path: Path, czar_home: Path) -> None:
    f = _two_tasks(tmp_path)
    _b_resolves(f, "import x\ndef alpha(): return 'a'\ndef beta(): return 'b'\n")
    assert f.states()["b"] == "merged"
    assert "def alpha(): return 'a'" in f.repo.files(INTEGRATION)["app.py"]


def test_a_task_that_changes_anothers_lines_in_a_commit_of_its_own_merges(tmp_path: Path, czar_home: Path) -> None:
    """b brings the integration branch in keeping both sides, then replaces a's line in a commit
    of its own: a change there to be read (and reviewed), not a resolution that dropped it."""
    f = _two_tasks(tmp_path)
    f.repo.commit("czar/b", {"app.py": "import x\ndef beta(): return 'b'\n"}, "b: beta")
    both = "import x\ndef alpha(): return 'a'\ndef beta(): return 'b'\n"
    f.repo.merge_by_hand("czar/b", INTEGRATION, {"app.py": both}, "merge czar/integration")
    f.repo.commit("czar/b", {"app.py": "import x\ndef beta(): return 'b'\n"}, "b: beta replaces alpha")
    f.move("b", T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING)
    MergeQueue(f.project, Actions(f.project)).merge(["b"])
    assert f.states()["b"] == "merged"


def test_what_a_task_changes_of_work_merged_before_it_started_is_its_own_to_change(
    tmp_path: Path, czar_home: Path
) -> None:
    f = _two_tasks(tmp_path)
    f.assign({"c": "w3"})  # c starts from the integration branch that holds a's work
    f.repo.commit_in(f.checkout("c"), "czar/c", {"app.py": "import x\ndef alpha(): return 'A'\n"}, "c: louder")
    Actions(f.project).bring_in_handed_in("c")
    f.move("c", T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING)
    MergeQueue(f.project, Actions(f.project)).merge(["c"])
    assert f.states()["c"] == "merged"
    assert not [e for e in f.project.store.events_after(0) if e.kind == "change.lost"]


def test_a_task_back_for_conflicts_again_and_again_gets_the_other_tasks_text(tmp_path: Path, czar_home: Path) -> None:
    """The tiers of a conflict: back to its agent to bring the integration branch in and resolve;
    from the third time on, with the full text of the task whose merge changed those lines, to
    make one change that does what both ask."""
    f = _two_tasks(tmp_path)
    f.repo.commit("czar/b", {"app.py": "import y\ndef beta(): return 'b'\n"}, "b: beta")  # import x -> y: conflicts
    notes = []
    f.move("b", T.READY)
    for _ in range(3):
        f.move("b", T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING)
        MergeQueue(f.project, Actions(f.project)).merge(["b"])
        assert f.task("b").state is T.READY and f.task("b").rounds == 0  # no fault of the work: no round
        notes.append(str(f.task("b").note))
    assert "### Task a" not in notes[0] and "### Task a" not in notes[1]
    assert "### Task a: task a" in notes[2] and "Do a." in notes[2] and "does what both tasks ask" in notes[2]
    asked = [e.payload for e in f.project.store.events_after(0) if e.kind == "resolution.asked"]
    assert asked == [{"others": ["a"], "files": ["app.py"]}]
