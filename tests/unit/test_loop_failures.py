"""A verification's or the merge's job that raises (git could not run: a full disk, no file
descriptors left): what it held goes back where it waits, and is tried again after a rest, not at
every step; a person hears it from the third time (found by a probe)."""

from __future__ import annotations

import io
from pathlib import Path

from czar.core.states import TaskState
from czar.errors import GitError
from czar.supervisor.loop import MERGE_SLOT, Supervisor
from helpers import on_fakes

T = TaskState


def _settle(sup: Supervisor) -> None:
    for fut in list(sup.busy.values()):
        fut.exception()  # (waits for it)


def test_a_verification_that_raises_puts_its_task_back_and_rests(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"], workers=1)
    f.move("a", T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED)
    sup = Supervisor(f.project, out=io.StringIO())
    tries: list[str] = []

    def failing(task: str) -> None:
        tries.append(task)
        raise GitError("git fetch failed: fatal: write error: No space left on device")

    sup._verify = failing  # type: ignore[method-assign]
    try:
        for _ in range(3):
            sup.step()
            _settle(sup)
        sup.step()  # the failure is read: the task back where it waits, resting
        assert f.task("a").state is T.SUBMITTED and tries == ["a"]
        for _ in range(3):
            sup.step()
        assert tries == ["a"]  # not verified again at every step
        for _ in range(2):
            sup.failing["a"] = (sup.failing["a"][0], 0.0)  # (its rest over)
            sup.step()
            _settle(sup)
            sup.step()
        alerts = [e.payload["message"] for e in f.project.store.events_after(0) if e.kind == "alert"]
        assert tries == ["a"] * 3 and len(alerts) == 1 and "czar fails at task a, again and again" in str(alerts[0])
    finally:
        for pool in (sup.checks, sup.merges, sup.assigners):
            pool.shutdown(wait=True)


def test_a_merge_that_raises_is_not_tried_again_at_every_step(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"], workers=1)
    f.move("a", T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED)
    f.repo.branch("czar/a", "czar/integration")
    f.repo.commit("czar/a", {"a.txt": "a\n"}, "a: its work")
    sup = Supervisor(f.project, out=io.StringIO())
    tries: list[tuple[str, ...]] = []

    def failing(tasks: tuple[str, ...]) -> None:
        tries.append(tuple(tasks))
        raise GitError("git reset failed: fatal: Out of diskspace")

    sup.merge_queue.merge = failing  # type: ignore[method-assign]
    try:
        sup.step()
        _settle(sup)
        for _ in range(4):
            sup.step()
        assert tries == [("a",)] and MERGE_SLOT in sup.failing
    finally:
        for pool in (sup.checks, sup.merges, sup.assigners):
            pool.shutdown(wait=True)
