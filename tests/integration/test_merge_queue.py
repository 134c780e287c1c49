"""The merge queue on a real repository: batches, conflicts, and a batch that breaks the checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from czar.core.events import EventKind
from czar.core.states import TaskState
from czar.store.schema import tasks
from czar.store.store import Store
from czar.supervisor import merge_queue
from czar.supervisor.actions import Actions
from czar.supervisor.merge_queue import MergeQueue
from czar.supervisor.project import Project, open_project
from czar.supervisor.radar import Radar
from helpers import git, make_repo, sim_task, write_plan

CHECK = "python -c \"import os, sys; sys.exit(1 if os.path.exists('bad.txt') else 0)\""


def _project(tmp_path: Path, names: list[str], accept: bool = False, check: str = CHECK, extra: str = "") -> Project:
    repo = make_repo(tmp_path / "repo")
    extra = (f"accept = [{json.dumps(check)}]\n" if accept else "") + extra
    project = open_project(write_plan(tmp_path, "mq", [sim_task(n) for n in names], project_extra=extra))
    project.sync_plan()
    g = project.git
    g.ensure_branch("czar/integration", "main")
    g.ensure_worktree(project.paths.integration_worktree, "czar/integration", detach=True)
    with project.store.write() as conn:
        for n in names:
            for state in (
                TaskState.READY,
                TaskState.ASSIGNED,
                TaskState.RUNNING,
                TaskState.SUBMITTED,
                TaskState.VERIFYING,
                TaskState.APPROVED,
                TaskState.MERGING,
            ):
                Store.move_task(conn, n, state, reason="test")
    for n in names:
        g.ensure_branch(f"czar/{n}", "czar/integration")
    assert repo.exists()
    return project


def _commit(project: Project, branch: str, path: str, text: str) -> None:
    wt = project.paths.worktree(branch.removeprefix("czar/"))
    project.git.ensure_worktree(wt, branch)
    (wt / path).write_text(text)
    git(wt, "add", path)
    git(wt, "commit", "-q", "-m", f"{branch}: {path}")


def _changelog(project: Project, tmp_path: Path, count: int) -> list[str]:
    """A CHANGES.md of ``count`` lines on the integration branch, every task's branch started
    from it; returns its lines."""
    lines = [f"line {i}" for i in range(1, count + 1)]
    base = tmp_path / "base-edit"
    git(project.plan.repo, "worktree", "add", "-q", str(base), "czar/integration")
    (base / "CHANGES.md").write_text("\n".join(lines) + "\n")
    git(base, "add", "CHANGES.md")
    git(base, "commit", "-qm", "a changelog")
    git(project.plan.repo, "worktree", "remove", "--force", str(base))
    for t in project.store.tasks():
        git(project.plan.repo, "branch", "-f", f"czar/{t.id}", "czar/integration")
    return lines


def _states(project: Project) -> dict[str, str]:
    return {t.id: t.state for t in project.store.tasks()}


def _merges(project: Project) -> list[str]:
    return git(project.plan.repo, "log", "--first-parent", "--format=%s", "czar/integration").splitlines()[:-1]


def test_a_batch_merges_in_order_and_skips_what_conflicts(tmp_path: Path, czar_home: Path) -> None:
    project = _project(tmp_path, ["a", "b", "c"])
    _commit(project, "czar/a", "a.txt", "a\n")
    _commit(project, "czar/b", "README.md", "# b was here\n")
    _commit(project, "czar/c", "c.txt", "c\n")
    # Meanwhile the integration branch changed the same line of the README: b conflicts.
    integ = tmp_path / "integ-edit"
    git(project.plan.repo, "worktree", "add", "-q", str(integ), "czar/integration")
    (integ / "README.md").write_text("# changed on the integration branch\n")
    git(integ, "commit", "-qam", "someone else")
    git(project.plan.repo, "worktree", "remove", "--force", str(integ))

    MergeQueue(project, Actions(project)).merge(["a", "b", "c"])
    assert _states(project) == {"a": "merged", "b": "ready", "c": "merged"}
    assert _merges(project)[:2] == ["czar: merge task c: task c", "czar: merge task a: task a"]
    b = next(t for t in project.store.tasks() if t.id == "b")
    # The integration branch moved under verified work: made again, and no round is charged for it.
    assert "README.md" in b.note and "make your change again" in b.note and b.rounds == 0
    failed = [e for e in project.store.events_after(0) if e.kind == "merge.failed"]
    assert [(e.task_id, e.payload["charged"]) for e in failed] == [("b", False)]
    assert not project.paths.worktree("a").exists() and project.paths.worktree("b").exists()


def test_work_next_to_lines_the_integration_branch_changed_meanwhile_is_made_again(
    tmp_path: Path, czar_home: Path
) -> None:
    """git merges a change made beside another without a word, though each side was made blind
    to the other (a changelog heading renamed above an entry added): the task makes its change
    again on the integration branch as it is, with no round charged; work further away merges."""
    project = _project(tmp_path, ["near", "far"])
    lines = _changelog(project, tmp_path, 20)
    _commit(project, "czar/near", "CHANGES.md", "\n".join([*lines[:7], "entry", *lines[7:]]) + "\n")  # after 7
    _commit(project, "czar/far", "CHANGES.md", "\n".join([*lines[:15], "entry", *lines[15:]]) + "\n")  # after 15
    integ = tmp_path / "integ-edit"
    git(project.plan.repo, "worktree", "add", "-q", str(integ), "czar/integration")
    (integ / "CHANGES.md").write_text("\n".join([*lines[:4], "[line 5]", *lines[5:]]) + "\n")  # line 5 changed
    git(integ, "commit", "-qam", "merged meanwhile")
    git(project.plan.repo, "worktree", "remove", "--force", str(integ))
    assert project.git.merge_tree("czar/integration", "czar/near") is None  # git sees nothing wrong

    actions = Actions(project)
    MergeQueue(project, actions, Radar(project, actions)).merge(["near", "far"])
    assert _states(project) == {"near": "ready", "far": "merged"}
    near = next(t for t in project.store.tasks() if t.id == "near")
    assert "CHANGES.md" in near.note and "make your change again" in near.note and near.rounds == 0
    failed = [e for e in project.store.events_after(0) if e.kind == "merge.failed"]
    assert [(e.task_id, e.payload["charged"]) for e in failed] == [("near", False)]


def test_of_two_tasks_of_a_batch_changing_one_file_the_later_merges_in_the_next_batch(
    tmp_path: Path, czar_home: Path
) -> None:
    """Their lines are compared from one base only once the first is in the integration branch."""
    project = _project(tmp_path, ["first", "second"])
    lines = _changelog(project, tmp_path, 30)
    _commit(project, "czar/first", "CHANGES.md", "\n".join([*lines[:3], "first", *lines[3:]]) + "\n")
    _commit(project, "czar/second", "CHANGES.md", "\n".join([*lines[:25], "second", *lines[25:]]) + "\n")
    actions = Actions(project)
    queue = MergeQueue(project, actions, Radar(project, actions))
    queue.merge(["first", "second"])
    assert _states(project) == {"first": "merged", "second": "approved"}
    with project.store.write() as conn:
        Store.move_task(conn, "second", TaskState.MERGING, reason="test: the next batch")
    queue.merge(["second"])
    assert _states(project) == {"first": "merged", "second": "merged"}
    assert not [e for e in project.store.events_after(0) if e.kind == "merge.failed"]


def test_a_batch_that_breaks_the_checks_is_bisected(tmp_path: Path, czar_home: Path) -> None:
    project = _project(tmp_path, ["good1", "bad", "good2"], accept=True)
    _commit(project, "czar/good1", "g1.txt", "1\n")
    _commit(project, "czar/bad", "bad.txt", "breaks the checks\n")
    _commit(project, "czar/good2", "g2.txt", "2\n")
    queue = MergeQueue(project, Actions(project))
    queue.merge(["good1", "bad", "good2"])
    # What came before the breaker merges; what came after it waits for the next batch.
    assert _states(project) == {"good1": "merged", "bad": "ready", "good2": "approved"}
    with project.store.write() as conn:
        Store.move_task(conn, "good2", TaskState.MERGING, reason="test")
    queue.merge(["good2"])
    assert _states(project) == {"good1": "merged", "bad": "ready", "good2": "merged"}
    files = git(project.plan.repo, "ls-tree", "-r", "--name-only", "czar/integration").split()
    assert "bad.txt" not in files and {"g1.txt", "g2.txt"} <= set(files)
    note = next(t.note for t in project.store.tasks() if t.id == "bad")
    assert "the project's checks failed" in note


def test_merging_again_after_a_crash_changes_nothing(tmp_path: Path, czar_home: Path) -> None:
    project = _project(tmp_path, ["a"])
    _commit(project, "czar/a", "a.txt", "a\n")
    queue = MergeQueue(project, Actions(project))
    queue.merge(["a"])
    tip = git(project.plan.repo, "rev-parse", "czar/integration")
    with project.store.write() as conn:  # as if the supervisor died before recording the merge
        conn.execute(tasks.update().where(tasks.c.id == "a").values(state="merging"))
    queue.merge(["a"])
    assert git(project.plan.repo, "rev-parse", "czar/integration") == tip
    assert _states(project) == {"a": "merged"}


def test_a_task_whose_work_overlaps_one_in_flight_that_came_first_is_held_not_merged(
    tmp_path: Path, czar_home: Path
) -> None:
    make_repo(tmp_path / "repo")
    project = open_project(write_plan(tmp_path, "mq", [sim_task("first"), sim_task("second")]))
    project.sync_plan()
    project.git.ensure_branch("czar/integration", "main")
    project.git.ensure_worktree(project.paths.integration_worktree, "czar/integration", detach=True)
    with project.store.write() as conn:
        for state in (TaskState.READY, TaskState.ASSIGNED, TaskState.RUNNING):
            Store.move_task(conn, "first", state, reason="test")
        for state in (*(TaskState.READY, TaskState.ASSIGNED, TaskState.RUNNING, TaskState.SUBMITTED),
                      *(TaskState.VERIFYING, TaskState.APPROVED, TaskState.MERGING)):  # fmt: skip
            Store.move_task(conn, "second", state, reason="test")
    for n in ("first", "second"):
        project.git.ensure_branch(f"czar/{n}", "czar/integration")
    # Both change the README's first line; the first task, still at work, came first.
    _commit(project, "czar/first", "README.md", "# first\n")
    _commit(project, "czar/second", "README.md", "# second\n")
    actions = Actions(project)
    MergeQueue(project, actions, Radar(project, actions)).merge(["second"])
    assert _states(project) == {"first": "running", "second": "approved"}
    assert _merges(project) == []
    held = [e.payload["reason"] for e in project.store.events_after(0) if e.kind == "task.state"][-1]
    assert held.startswith("held:") and "first" in held


def test_a_resolution_that_took_out_another_tasks_lines_is_not_merged(tmp_path: Path, czar_home: Path) -> None:
    """b brought the integration branch in after a merged, and its resolution kept only its own
    side (`git merge -s ours`, the peers' silent fix): a's entry would leave the integration branch
    with b's merge. It is not merged; its agent hears which lines, whose; once it keeps both, it is."""
    project = _project(tmp_path, ["a", "b"])
    lines = _changelog(project, tmp_path, 20)
    start = project.git.tip("czar/integration")
    with project.store.write() as conn:
        for t in ("a", "b"):
            Store.new_attempt(
                conn,
                task_id=t,
                worker_id="w1",
                branch=f"czar/{t}",
                worktree=str(project.paths.worktree(t)),
                base_commit=start,
                prompt="p",
                prompt_sha256="d",
                after_launch=0,
            )
    _commit(project, "czar/a", "CHANGES.md", "\n".join([*lines[:3], "entry of task a", *lines[3:]]) + "\n")
    _commit(project, "czar/b", "CHANGES.md", "\n".join([*lines[:15], "entry of task b", *lines[15:]]) + "\n")
    queue = MergeQueue(project, Actions(project))
    queue.merge(["a"])
    assert _states(project)["a"] == "merged"
    b_checkout = project.paths.worktree("b")
    git(b_checkout, "merge", "-q", "-s", "ours", "-m", "merge czar/integration", "czar/integration")
    with project.store.write() as conn:
        Store.move_task(conn, "b", TaskState.READY, reason="test: made again")
        for state in (TaskState.ASSIGNED, TaskState.RUNNING, TaskState.SUBMITTED, TaskState.VERIFYING):
            Store.move_task(conn, "b", state, reason="test")
        Store.move_task(conn, "b", TaskState.APPROVED, reason="test")
        Store.move_task(conn, "b", TaskState.MERGING, reason="test")
    before = project.git.tip("czar/integration")
    queue.merge(["b"])
    assert project.git.tip("czar/integration") == before
    assert _states(project)["b"] == "ready"
    b = next(t for t in project.store.tasks() if t.id == "b")
    assert "`entry of task a` (task a)" in str(b.note)
    lost = [e.payload for e in project.store.events_after(0) if e.kind == "change.lost"]
    assert lost[0]["owners"] == ["a"] and lost[0]["lines"][0]["text"] == "entry of task a"
    # Its agent keeps both sides: now it merges, and a's entry is still there.
    (b_checkout / "CHANGES.md").write_text(
        "\n".join([*lines[:3], "entry of task a", *lines[3:15], "entry of task b", *lines[15:]]) + "\n"
    )
    git(b_checkout, "commit", "-qam", "keep both")
    with project.store.write() as conn:
        for state in (
            TaskState.ASSIGNED,
            TaskState.RUNNING,
            TaskState.SUBMITTED,
            TaskState.VERIFYING,
            TaskState.APPROVED,
            TaskState.MERGING,
        ):
            Store.move_task(conn, "b", state, reason="test")
    queue.merge(["b"])
    assert _states(project)["b"] == "merged"
    text = git(project.plan.repo, "show", "czar/integration:CHANGES.md")
    assert "entry of task a" in text and "entry of task b" in text


def test_checkouts_go_once_the_merge_is_recorded_and_a_leftover_at_the_next_start(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deleting a merged task's checkout takes tens of milliseconds under a hundred agents: it
    comes after the merge is recorded (the tasks waiting for it start meanwhile), and the merge
    holds no lock then (assignments making their clones go on). A checkout a stop left behind in
    between goes at the supervisor's next start; the others stay."""
    project = _project(tmp_path, ["a", "b"])
    _commit(project, "czar/a", "a.txt", "a\n")
    _commit(project, "czar/b", "b.txt", "b\n")
    seen: list[tuple[list[str], dict[str, str]]] = []
    discard = merge_queue.discard_checkouts

    def watching(p: Project, merged: list[str]) -> None:
        with p.git_lock.held(shared=True):  # as an assignment would, meanwhile
            seen.append((list(merged), _states(p)))
        discard(p, merged)

    monkeypatch.setattr(merge_queue, "discard_checkouts", watching)
    MergeQueue(project, Actions(project)).merge(["a"])
    assert seen == [(["a"], {"a": "merged", "b": "merging"})]
    assert not project.paths.worktree("a").exists() and project.paths.worktree("b").exists()

    # b merges, and the supervisor stops before its checkout goes.
    monkeypatch.setattr(merge_queue, "discard_checkouts", lambda p, merged: None)
    MergeQueue(project, Actions(project)).merge(["b"])
    assert _states(project)["b"] == "merged" and project.paths.worktree("b").exists()
    project.paths.worktree("c").mkdir()  # not a merged task's: kept
    monkeypatch.setattr(merge_queue, "discard_checkouts", discard)
    merge_queue.discard_leftovers(project)
    assert not project.paths.worktree("b").exists() and project.paths.worktree("c").exists()


def test_a_merge_whose_git_was_killed_leaves_nothing_locked_and_merges_with_the_next_batch(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A git killed in the middle of a merge leaves the worktree's index locked: every later
    # command there failed, and the queue stood still until czar started again.
    from czar.core.repository import MergeResult

    project = _project(tmp_path, ["a"])
    _commit(project, "czar/a", "a.txt", "a\n")
    worktree = project.paths.integration_worktree
    lock = Path((worktree / ".git").read_text().removeprefix("gitdir: ").strip()) / "index.lock"
    real = project.repo.merge

    def killed(wt: Path, tip: str, message: str) -> MergeResult:
        lock.write_text("")
        return MergeResult(False, "[killed]", stopped=True)

    monkeypatch.setattr(project.repo, "merge", killed)
    queue = MergeQueue(project, Actions(project))
    queue.merge(["a"])
    assert _states(project) == {"a": "approved"} and not lock.exists()
    monkeypatch.setattr(project.repo, "merge", real)
    with project.store.write() as conn:
        Store.move_task(conn, "a", TaskState.MERGING, reason="test")
    queue.merge(["a"])
    assert _states(project) == {"a": "merged"}
    a = next(t for t in project.store.tasks() if t.id == "a")
    assert a.rounds == 0


def test_a_merge_whose_git_is_killed_every_time_is_the_tasks_failure_at_last(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from czar.core.repository import MergeResult

    project = _project(tmp_path, ["a"])
    _commit(project, "czar/a", "a.txt", "a\n")
    monkeypatch.setattr(project.repo, "merge", lambda wt, tip, m: MergeResult(False, "[killed]", stopped=True))
    queue = MergeQueue(project, Actions(project))
    for _ in range(merge_queue.STOPS):
        queue.merge(["a"])
        assert _states(project) == {"a": "approved"}
        with project.store.write() as conn:
            Store.move_task(conn, "a", TaskState.MERGING, reason="test")
    queue.merge(["a"])
    a = next(t for t in project.store.tasks() if t.id == "a")
    assert a.state == "ready" and "git was killed 3 times" in a.note


def _killed_first(tmp_path: Path, times: int) -> str:
    """A check killed by SIGKILL (from outside, as far as czar can tell) its first ``times`` runs."""
    script = tmp_path / "killed_first.py"
    script.write_text(
        "import os, pathlib, signal\n"
        f"runs = pathlib.Path({str(tmp_path / 'runs')!r})\n"
        "runs.open('a').write('run\\n')\n"
        f"if len(runs.read_text().splitlines()) <= {times}:\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    return f"python {script}"


@pytest.mark.parametrize(("killed", "runs", "merged"), [(2, 3, True), (3, 4, True), (99, 6, False)])
def test_a_merge_check_killed_by_a_signal_is_run_again_three_times_at_most(
    tmp_path: Path, czar_home: Path, killed: int, runs: int, merged: bool
) -> None:
    # Killed twice: its third run decides. Killed three times: a failure, which the queue runs
    # once more before blaming the task (a flake). Killed every time: the task's.
    # (Unconfined: in a sandbox, a process killed inside is its sandbox's exit 137, the work's.)
    check = _killed_first(tmp_path, killed)
    extra = "check_after_merge = true\n[sandbox]\nenabled = false\n"
    project = _project(tmp_path, ["a"], accept=True, check=check, extra=extra)
    _commit(project, "czar/a", "a.txt", "a\n")
    MergeQueue(project, Actions(project)).merge(["a"])
    assert len((tmp_path / "runs").read_text().splitlines()) == runs
    a = next(t for t in project.store.tasks() if t.id == "a")
    if merged:
        assert a.state == "merged" and a.rounds == 0
    else:
        assert a.state == "ready" and "killed by a signal, 3 times" in a.note and a.rounds == 1


def test_a_dependent_waits_with_its_dependency_whose_pull_request_is_not_on_the_forge_yet(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by review: p had no pull request on GitHub yet (GitHub answered 502), c, stacked on
    it, had one; c merged alone and brought p's work in, and GitHub then refused p's pull request
    for good (its work merged already): p waited for ever."""
    import dataclasses

    from czar.plan.model import ForgeConfig

    make_repo(tmp_path / "repo")
    tasks_ = [sim_task("p"), sim_task("c", deps=("p",))]
    project = open_project(write_plan(tmp_path, "unpub", tasks_, project_extra="stack = true\n"))
    project.plan = dataclasses.replace(project.plan, forge=ForgeConfig(kind="github"))  # czar merges
    project.sync_plan()
    g = project.git
    g.ensure_branch("czar/integration", "main")
    g.ensure_worktree(project.paths.integration_worktree, "czar/integration", detach=True)
    for name, base in (("p", "czar/integration"), ("c", "czar/p")):
        g.ensure_branch(f"czar/{name}", base)
        worktree = tmp_path / f"wt-{name}"
        g.ensure_worktree(worktree, f"czar/{name}")
        (worktree / f"{name}.txt").write_text(name)
        git(worktree, "add", ".")
        git(worktree, "commit", "-qm", name)
    p_work = project.repo.tip("czar/p")
    way = (TaskState.READY, TaskState.ASSIGNED, TaskState.RUNNING, TaskState.SUBMITTED, TaskState.VERIFYING)
    with project.store.write() as conn:
        for name in ("p", "c"):
            for state in (*way, TaskState.APPROVED, TaskState.MERGING):
                Store.move_task(conn, name, state, reason="test")
        pull, _ = Store.put_pull(
            conn,
            task_id="c",
            head_branch="czar/c",
            base_branch="czar/integration",
            head_commit=project.repo.tip("czar/c"),
            title="c",
            body="",
            files=[],
            rounds=0,
            cost_usd=0.0,
        )
        Store.set_pull_remote(conn, pull.id, remote_number=7, url="u", synced="x")  # p has none
    MergeQueue(project, Actions(project)).merge(["p", "c"])
    with project.store.read() as conn:
        states = {t: Store.task(conn, t) for t in ("p", "c")}
    assert {t: r.state for t, r in states.items()} == {"p": TaskState.APPROVED, "c": TaskState.APPROVED}
    said = [e.payload["reason"] for e in project.store.events_after(0) if e.kind == "task.state" and e.task_id == "c"]
    assert said[-1] == "task p, which comes before it, waits for the forge; it merges after"
    assert not project.repo.is_ancestor(p_work, project.repo.tip("czar/integration"))


def test_what_merges_is_the_commit_verified_not_a_branch_moved_since(tmp_path: Path, czar_home: Path) -> None:
    # Found by a probe: a person moved an approved task's branch to a commit that took its work out;
    # the merge took the branch as it was, what no check had seen, and the omnibus said "proven".
    project = _project(tmp_path, ["a"])
    _commit(project, "czar/a", "a.txt", "the work checked\n")
    verified = git(project.plan.repo, "rev-parse", "czar/a")
    with project.store.write() as conn:
        Store.emit(conn, EventKind.VERIFY_PASSED, task="a", checks=[], changed=["a.txt"], commit=verified)
    _commit(project, "czar/a", "a.txt", "moved after the checks\n")
    MergeQueue(project, Actions(project)).merge(["a"])
    assert _states(project) == {"a": "merged"}
    assert git(project.plan.repo, "show", "czar/integration:a.txt") == "the work checked"
    (alert,) = [e for e in project.store.events_after(0) if e.kind == "alert"]
    assert "czar/a moved to" in alert.payload["message"] and "what moved it is not merged" in alert.payload["message"]


def test_an_integration_branch_deleted_or_moved_back_is_put_back_at_the_last_merge(
    tmp_path: Path, czar_home: Path
) -> None:
    # Found by a probe: deleted mid-run, every verification "could not run" and used a round, and
    # the next run made it again from the base branch; moved back, the next merges went on top
    # without a word, and a dependent was built without its dependency.
    from czar.supervisor import integration_guard

    project = _project(tmp_path, ["a", "b", "c"])
    for t in ("a", "b", "c"):
        _commit(project, f"czar/{t}", f"{t}.txt", f"{t}\n")
    queue = MergeQueue(project, Actions(project))
    queue.merge(["a"])
    merged_a = git(project.plan.repo, "rev-parse", "czar/integration")
    git(project.plan.repo, "branch", "-D", "czar/integration")
    queue.merge(["b"])
    assert _states(project) == {"a": "merged", "b": "merged", "c": "merging"}
    assert git(project.plan.repo, "merge-base", "--is-ancestor", merged_a, "czar/integration") == ""
    git(project.plan.repo, "branch", "-f", "czar/integration", "main")
    queue.merge(["c"])
    assert _states(project)["c"] == "merged"
    assert {"a.txt", "b.txt", "c.txt"} <= set(
        git(project.plan.repo, "ls-tree", "--name-only", "czar/integration").split()
    )
    alerts = [e.payload["message"] for e in project.store.events_after(0) if e.kind == "alert"]
    assert any("czar/integration was deleted: czar put it back at its last merge" in a for a in alerts)
    assert any("which lacks czar's merges: czar put it back" in a for a in alerts)
    # Where it holds the last merge (and more, a person's commit on top), it is left as it is.
    assert integration_guard.restore(project, lambda _said: None) is False


def test_the_worktree_merges_are_made_in_is_made_again_once_deleted(tmp_path: Path, czar_home: Path) -> None:
    # Found by a probe: deleted (and pruned) mid-run, every merge failed with a critical alert
    # until the supervisor was started again.
    import io
    import shutil

    from czar.supervisor.loop import Supervisor

    project = _project(tmp_path, ["a"])
    worktree = project.paths.integration_worktree
    shutil.rmtree(worktree)
    git(project.plan.repo, "worktree", "prune")
    out = io.StringIO()
    Supervisor(project, out=out)._integration_worktree()
    assert git(worktree, "rev-parse", "HEAD") == git(project.plan.repo, "rev-parse", "czar/integration")
    assert "the worktree merges are made in was gone" in out.getvalue()
    MergeQueue(project, Actions(project)).merge(["a"])  # (nothing to merge: a has no commit; it runs)


def test_an_approved_task_whose_branch_moved_since_its_verification_is_verified_again(
    tmp_path: Path, czar_home: Path
) -> None:
    # Found by a review: through the forge, its pull request showed the moved commit, which the
    # forge was asked to merge as the one verified, for ever.
    project = _project(tmp_path, ["a"])
    _commit(project, "czar/a", "a.txt", "the work checked\n")
    verified = git(project.plan.repo, "rev-parse", "czar/a")
    with project.store.write() as conn:
        Store.move_task(conn, "a", TaskState.APPROVED, reason="test")
        Store.emit(conn, EventKind.VERIFY_PASSED, task="a", checks=[], changed=["a.txt"], commit=verified)
    queue = MergeQueue(project, Actions(project))
    assert queue.as_verified("a", project.repo.tips()) is True  # as verified: it merges
    _commit(project, "czar/a", "a.txt", "moved after the checks\n")
    assert queue.as_verified("a", project.repo.tips()) is False
    assert _states(project) == {"a": "submitted"}


def test_the_integration_branch_put_back_by_another_thread_meanwhile_raises_no_alert(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Found by a review: two verifications' threads put a deleted branch back at once; the one
    # that lost the compare-and-swap raised a critical alert that it could not.
    from czar.supervisor import integration_guard

    project = _project(tmp_path, ["a"])
    _commit(project, "czar/a", "a.txt", "a\n")
    MergeQueue(project, Actions(project)).merge(["a"])
    last = git(project.plan.repo, "rev-parse", "czar/integration")
    git(project.plan.repo, "branch", "-D", "czar/integration")
    repo = project.repo
    real = type(repo).move_branch

    def beaten(self: object, branch: str, new: str, old: str) -> None:
        git(project.plan.repo, "branch", "czar/integration", last)  # the other thread, first
        real(repo, branch, new, old)

    monkeypatch.setattr(type(repo), "move_branch", beaten)
    assert integration_guard.restore(project, lambda _said: None, back=False) is False
    assert not [e for e in project.store.events_after(0) if e.kind == "alert"]
    assert git(project.plan.repo, "rev-parse", "czar/integration") == last
