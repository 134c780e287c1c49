"""A stacked dependent, and its dependency's work discarded (a fresh start): real git, no agents."""

from __future__ import annotations

from pathlib import Path

from czar.core.states import TaskState, WorkerState
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.project import open_project
from helpers import git, make_repo, sim_task, write_plan


def _commit(worktree: Path, name: str, text: str) -> str:
    (worktree / name).write_text(text)
    git(worktree, "add", name)
    git(worktree, "commit", "-q", "-m", f"write {name}")
    return git(worktree, "rev-parse", "HEAD")


def test_a_dependent_built_on_work_discarded_by_a_fresh_start_starts_afresh_too(
    tmp_path: Path, czar_home: Path
) -> None:
    make_repo(tmp_path / "repo")
    tasks = [sim_task("p"), sim_task("c", deps=("p",))]
    project = open_project(write_plan(tmp_path, "fresh", tasks, workers=3, project_extra="stack = true\n"))
    project.sync_plan()
    project.git.ensure_branch("czar/integration", "main")
    actions = Actions(project)
    with project.store.write() as conn:
        Store.move_task(conn, "p", TaskState.READY, reason="test")
        for wid in ("w1", "w2", "w3"):
            Store.set_worker(conn, wid, state=WorkerState.IDLE)
    actions.assign("p", "w1", "test")
    wrong = _commit(project.paths.worktree("p"), "wrong.txt", "work for another task\n")
    assert project.repo.harvest(project.paths.worktree("p"), "czar/p", None) == wrong  # (handed in)
    with project.store.write() as conn:
        for state in (TaskState.RUNNING, TaskState.SUBMITTED, TaskState.VERIFYING, TaskState.APPROVED):
            Store.move_task(conn, "p", state, reason="test")
        Store.move_task(conn, "c", TaskState.READY, reason="dependencies approved (stacked)")
    actions.assign("c", "w2", "test")  # stacked on p's approved work
    assert project.repo.is_ancestor(wrong, project.repo.tips()["czar/c"])
    with project.store.write() as conn:
        Store.move_task(conn, "p", TaskState.READY, reason="its merge broke the checks")
        Store.set_worker(conn, "w1", state=WorkerState.IDLE, task_id=None)
    actions.assign("p", "w3", "again")
    with project.store.write() as conn:
        Store.move_task(conn, "p", TaskState.RUNNING, reason="test")
        actions.requeue(conn, "p", "its agent named task c twice", fresh=True)  # its work: discarded
    with project.store.read() as conn:
        c = Store.task(conn, "c")
        w2 = Store.worker(conn, "w2")
    assert (c.state, c.fresh, c.rounds, c.worker_id) == (TaskState.PENDING, True, 0, None)
    assert w2.task_id is None and w2.state is WorkerState.IDLE  # its agent stopped
    # p's new work, approved: c starts on it, and on nothing p threw away.
    with project.store.write() as conn:
        Store.set_worker(conn, "w3", state=WorkerState.IDLE, task_id=None)
    actions.assign("p", "w3", "afresh")
    right = _commit(project.paths.worktree("p"), "p.txt", "p\n")
    assert project.repo.harvest(project.paths.worktree("p"), "czar/p", None) == right
    assert not project.repo.is_ancestor(wrong, right)
    with project.store.write() as conn:
        for state in (TaskState.RUNNING, TaskState.SUBMITTED, TaskState.VERIFYING, TaskState.APPROVED):
            Store.move_task(conn, "p", state, reason="test")
        Store.move_task(conn, "c", TaskState.READY, reason="dependencies approved (stacked)")
    actions.assign("c", "w2", "again")
    tip = project.repo.tips()["czar/c"]
    assert project.repo.is_ancestor(right, tip) and not project.repo.is_ancestor(wrong, tip)


def test_a_verification_that_ends_after_its_task_was_taken_back_leaves_it_as_it_is(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by review: c's checks ran (its last round) while its dependency's fresh start took it
    back and its worker took another task; the failed checks then failed c, and freed that worker."""
    make_repo(tmp_path / "repo")
    tasks = [sim_task("p"), sim_task("c", deps=("p",)), sim_task("x")]
    plan = write_plan(tmp_path, "race", tasks, workers=3, project_extra="stack = true\nmax_rounds = 2\n")
    project = open_project(plan)
    project.sync_plan()
    project.git.ensure_branch("czar/integration", "main")
    actions = Actions(project)
    with project.store.write() as conn:
        Store.move_task(conn, "p", TaskState.READY, reason="test")
        Store.move_task(conn, "x", TaskState.READY, reason="test")
        for wid in ("w1", "w2", "w3"):
            Store.set_worker(conn, wid, state=WorkerState.IDLE)
    actions.assign("p", "w1", "test")
    _commit(project.paths.worktree("p"), "p.txt", "p\n")
    project.repo.harvest(project.paths.worktree("p"), "czar/p", None)
    with project.store.write() as conn:
        for state in (TaskState.RUNNING, TaskState.SUBMITTED, TaskState.VERIFYING, TaskState.APPROVED):
            Store.move_task(conn, "p", state, reason="test")
        Store.move_task(conn, "c", TaskState.READY, reason="stacked")
    actions.assign("c", "w2", "test")
    with project.store.write() as conn:
        Store.move_task(conn, "p", TaskState.READY, reason="its merge broke the checks")
        Store.set_worker(conn, "w1", state=WorkerState.IDLE, task_id=None)
        for state in (TaskState.RUNNING, TaskState.SUBMITTED, TaskState.VERIFYING):
            Store.move_task(conn, "c", state, reason="test", rounds=1)  # its last round; checks running
    actions.assign("p", "w3", "again")
    with project.store.write() as conn:
        Store.move_task(conn, "p", TaskState.RUNNING, reason="test")

    def checks_meanwhile(*_args: object) -> tuple[list[str], list[str], list[object]]:
        with project.store.write() as conn:
            actions.requeue(conn, "p", "its agent named task c", fresh=True)  # c taken back, w2 freed
        actions.assign("x", "w2", "free")
        return ["a check failed"], [], []

    actions._examine = checks_meanwhile  # type: ignore[method-assign,assignment]
    actions.verify("c")
    with project.store.read() as conn:
        c, x, w2 = Store.task(conn, "c"), Store.task(conn, "x"), Store.worker(conn, "w2")
    assert c.state is TaskState.PENDING and c.fresh
    assert x.state is TaskState.ASSIGNED and x.worker_id == "w2" and w2.task_id == "x"
