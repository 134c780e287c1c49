"""A task whose start fails (git cannot make its branch or clone: a full disk, a repository gone)
rests, longer each time, while the other tasks start; a person hears when it keeps failing. Found
by hand: tried again at once, it failed thousands of times a minute, each failure an event in the
store, and its worker never took another task. On the fake terminal, repository and clock."""

from __future__ import annotations

import io
from pathlib import Path

from czar.core.events import EventKind
from czar.core.states import TaskState, WorkerState
from czar.errors import GitError
from czar.store.store import Store
from czar.supervisor.loop import START_ALERT, START_GIVE_UP, Supervisor
from helpers import OnFakes, on_fakes, project_events

BROKEN = "git clone --quiet --shared failed: fatal: repository does not exist"


def _breaking(f: OnFakes, task: str) -> list[bool]:
    """The repository cannot make ``task``'s clone while the returned switch is on."""
    broken = [True]
    make = f.repo.make_checkout

    def making(checkout: Path, branch: str) -> None:
        if broken[0] and branch == f"czar/{task}":
            raise GitError(BROKEN)
        make(checkout, branch)

    f.repo.make_checkout = making  # type: ignore[method-assign]
    return broken


def _errors(task: str) -> int:
    return sum(1 for e in project_events("fakes", EventKind.SUPERVISOR_ERROR) if e["task"] == task)


def _supervisor(f: OnFakes) -> Supervisor:
    """A supervisor of workers whose hosts wait for work."""
    with f.project.store.write() as conn:
        for w in Store.all_workers(conn):
            Store.set_worker(conn, w.id, state=WorkerState.IDLE)
    return Supervisor(f.project, out=io.StringIO())


def test_the_other_tasks_start_while_a_task_that_cannot_start_rests(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a", "b"], workers=1)
    _breaking(f, "a")
    sup = _supervisor(f)
    try:
        sup.step()  # a first (the plan's order), and it fails
        assert f.states() == {"a": "ready", "b": "ready"} and _errors("a") == 1
        sup.step()
        assert f.states() == {"a": "ready", "b": "assigned"}  # its worker took b meanwhile
        assert _errors("a") == 1
    finally:
        for pool in (sup.checks, sup.merges, sup.assigners):
            pool.shutdown(wait=True)


def test_a_task_that_cannot_start_is_tried_again_later_each_time_then_fails_and_a_person_hears(
    tmp_path: Path, czar_home: Path
) -> None:
    f = on_fakes(tmp_path, ["a"], workers=1)
    broken = _breaking(f, "a")
    sup = _supervisor(f)
    try:
        tries = []
        # Its first try; then after resting 1 s, 2, 4, 8, 16, 32, and 60 at most (each looked at
        # a little before its time too: no try then).
        for rest in (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0):
            f.clock.advance(max(0.0, rest - 0.1))
            sup.step()
            tries.append(_errors("a"))
            f.clock.advance(0.1 if rest else 0.0)
            sup.step()
            tries.append(_errors("a"))
        assert tries == [1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8]
        assert (START_ALERT, START_GIVE_UP) == (3, 8)
        alerts = [e for e in project_events("fakes", EventKind.ALERT) if e["task"] == "a"]
        assert [a["message"] for a in alerts] == [
            f"task a cannot start (3 tries): {BROKEN}",
            f"task a failed: it could not start (8 tries): {BROKEN}",
        ]
        assert f.states() == {"a": "failed"}  # the run goes on without it, and can end
        # A person retries it once git works again: it starts at once, its count begun afresh.
        broken[0] = False
        f.move("a", TaskState.READY)
        sup.step()
        assert f.states() == {"a": "assigned"}
        assert sup.failed_starts == {}
    finally:
        for pool in (sup.checks, sup.merges, sup.assigners):
            pool.shutdown(wait=True)
