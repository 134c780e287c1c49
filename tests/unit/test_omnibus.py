"""The omnibus: containment proven from the tasks' verified commits and states, release notes that
list what merged and what did not, and its pull request written from the store (on the fakes),
once, however often it is written."""

from __future__ import annotations

from pathlib import Path

from czar.core.forge import PullState
from czar.core.omnibus import OMNIBUS, Shipped, containment, release_notes
from czar.core.states import TaskState
from czar.store.store import Store
from czar.supervisor import omnibus
from czar.supervisor.actions import Actions
from czar.supervisor.pulls import PullRequests
from helpers import OnFakes, on_fakes

T = TaskState


def test_containment_needs_every_verified_commit_in_the_branch_and_every_task_ended() -> None:
    inside = {"c1", "c2"}
    tasks = [
        Shipped("a", "A", T.MERGED, "c1"),
        Shipped("b", "B", T.FAILED, None),
        Shipped("c", "C", T.CANCELLED, "c9"),  # not merged: its commit need not be in
    ]
    assert containment(tasks, inside.__contains__).ok
    lost = containment([*tasks, Shipped("d", "D", T.MERGED, "c7")], inside.__contains__)
    assert not lost.ok and lost.lost == ("d",)
    open_ = containment([*tasks, Shipped("e", "E", T.RUNNING, None)], inside.__contains__)
    assert open_.unaccounted == ("e",) and not open_.ok
    bare = containment([*tasks, Shipped("f", "F", T.MERGED, None)], inside.__contains__)
    assert bare.unproven == ("f",) and "merged without a pull request" in bare.problems()[0]


def test_the_notes_tell_what_merged_by_whom_and_what_a_person_must_decide() -> None:
    tasks = [
        Shipped("a", "Add A", T.MERGED, "c1", ("w1 (claude)",), 2, 0.5, ("request_changes", "approve"), "1/1 passed"),
        Shipped("b", "Add B", T.FAILED, None),
    ]
    proof = containment(tasks, {"c1"}.__contains__)
    notes = release_notes(
        project="p",
        integration="czar/integration",
        base="main",
        head="f" * 40,
        tasks=tasks,
        proof=proof,
        checks_passed=False,
        totals={"cost_usd": 0.75},
    )
    assert "- Tasks: 1 merged, 1 not." in notes and "checks on `czar/integration`: FAIL" in notes
    assert "Containment: proven" in notes and "Cost: $0.7500" in notes
    assert (
        "**a**: `Add A` (by w1 (claude); 2 round(s); $0.5000; checks 1/1 passed; reviews: request_changes, approve)"
        in notes
    )
    assert "## Not merged (a person decides)" in notes and "**b**: `Add B` (failed)" in notes


def _merged(tmp_path: Path) -> OnFakes:
    f = on_fakes(tmp_path, ["a", "b"], workers=1)
    for tid in ("a", "b"):
        f.assign({tid: "w1"})
        f.repo.commit_in(f.checkout(tid), f"czar/{tid}", {f"{tid}.txt": f"{tid}\n"})
        actions = Actions(f.project)
        actions.bring_in_handed_in(tid)
        f.move(tid, T.RUNNING, T.SUBMITTED, T.VERIFYING)
        actions.verify(tid)
        f.move(tid, T.MERGING)
        # As the merge queue merges: in the integration worktree, then the branch moved.
        worktree, before = f.project.paths.integration_worktree, f.repo.tip("czar/integration")
        f.repo.detach(worktree, "czar/integration")
        f.repo.merge(worktree, f"czar/{tid}", f"czar: merge task {tid}")
        merged_as = f.repo.head(worktree)
        f.repo.move_branch("czar/integration", merged_as, before)
        with f.project.store.write() as conn:
            actions.merged(conn, f.task(tid), merged_as)
    PullRequests(f.project, lambda _text: None).sync()
    return f


def test_the_omnibus_is_written_once_from_the_integration_branch_into_the_base(tmp_path: Path, czar_home: Path) -> None:
    f = _merged(tmp_path)
    written = omnibus.write(f.project, True)
    assert written.proof.ok and written.pull is not None
    with f.project.store.read() as conn:
        pull = Store.pull(conn, written.pull.number)
    assert (pull.task_id, pull.head_branch, pull.base_branch) == (OMNIBUS, "czar/integration", "main")
    assert pull.head_commit == f.repo.tip("czar/integration") and pull.state is PullState.OPEN
    assert "- Tasks: 2 merged, 0 not." in pull.body and [s.path for s in pull.files] == ["a.txt", "b.txt"]
    assert "- Into `main` as it is here: merges cleanly." in pull.body and written.conflicts == ()
    assert omnibus.write(f.project, True).pull == written.pull  # again: nothing new
    with f.project.store.read() as conn:
        assert [e.kind for e in Store.pull_entries(conn, pull.id)] == ["opened"]
    assert f.repo.tip("main") != pull.head_commit  # czar never moves the base branch
    written_events = [e.payload for e in f.project.store.events_after(0) if e.kind == "omnibus.written"]
    assert [(e["number"], e["containment"]) for e in written_events] == [(pull.id, True), (pull.id, True)]
    # A person lands it (the plan does not say land = "merge"): they hear so once, not at each write.
    alerts = [e.payload["message"] for e in f.project.store.events_after(0) if e.kind == "alert"]
    assert alerts == [
        f"the omnibus, pull request #{pull.id} into main (containment proven), waits for a person to land it"
    ]


def test_a_verified_commit_missing_from_the_branch_is_not_proven(tmp_path: Path, czar_home: Path) -> None:
    f = _merged(tmp_path)
    f.repo.reset_branch("czar/integration", f.repo.tip("main"))  # someone rewound it
    f.repo.commit("czar/integration", {"a.txt": "a\n"})
    written = omnibus.write(f.project, None)
    assert not written.proof.ok and set(written.proof.lost) == {"a", "b"}
    with f.project.store.read() as conn:
        assert "## What is not proven" in Store.pull(conn, written.pull.number).body  # type: ignore[union-attr]


def test_nothing_merged_no_omnibus(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"], workers=1)
    f.move("a", T.FAILED)
    written = omnibus.write(f.project, None)
    assert written.pull is None and written.proof.ok


def test_the_omnibus_says_where_the_base_branch_moved_on_and_conflicts(tmp_path: Path, czar_home: Path) -> None:
    # Found by hand: a person committed to main during the run; the omnibus said "containment
    # proven" and nothing of its conflict with main, found only by whoever merged it.
    f = _merged(tmp_path)
    f.repo.commit("main", {"a.txt": "the person's a\n", "c.txt": "c\n"}, "a person's commit")
    written = omnibus.write(f.project, True)
    assert written.proof.ok and written.conflicts == ("a.txt",)
    with f.project.store.read() as conn:
        body = Store.pull(conn, written.pull.number).body  # type: ignore[union-attr]
    assert (
        "- Into `main` as it is here: CONFLICTS in `a.txt` (main moved on since the run began): merge `main` into "
        "`czar/integration` and resolve them, then write the omnibus again (`czar omnibus`)." in body
    )
    alerts = [e.payload["message"] for e in f.project.store.events_after(0) if e.kind == "alert"]
    assert alerts == [
        f"the omnibus, pull request #{written.pull.number} into main (containment proven; it conflicts with main in "  # type: ignore[union-attr]
        "1 file(s)), waits for a person to land it"
    ]
    # Brought in and resolved by a person, it merges cleanly again.
    f.repo.merge_by_hand("czar/integration", "main", {"a.txt": "a, and the person's\n"}, "main brought in")
    assert omnibus.write(f.project, True).conflicts == ()


def test_the_omnibus_line_writes_out_the_escape_sequences_of_the_files_it_names(
    tmp_path: Path, czar_home: Path
) -> None:
    """`czar run` ends naming the files in conflict with the base branch: agents name those."""
    import io

    from czar.interfaces.cli.views import write_omnibus

    f = _merged(tmp_path)
    evil = "a\x1b]52;c;ZXZpbA==\x07.txt"
    f.repo.commit("czar/integration", {evil: "an agent's\n"}, "a file an agent named")
    f.repo.commit("main", {evil: "the person's\n"}, "a person's commit")
    said = io.StringIO()
    write_omnibus(f.project, True, print_to=said)
    assert "a^[]52;c;ZXZpbA==^G.txt" in said.getvalue()
    assert "\x1b" not in said.getvalue() and "\x07" not in said.getvalue()
