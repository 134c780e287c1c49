"""What a person does to a run besides answering agents: retry a failed task, cancel one, pause
and resume the run; each one an event with ``actor="person"``, and bad input one clear line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from czar.core.events import EventKind
from czar.core.host_commands import StopAgent
from czar.core.states import AttemptOutcome, TaskState, WorkerState
from czar.errors import SupervisorError
from czar.store.store import Store
from czar.supervisor import people
from czar.supervisor.actions import Actions
from czar.supervisor.lock import SupervisorLock
from czar.supervisor.snapshot import PAUSED, snapshot
from helpers import czar, on_fakes

T = TaskState


def _fail(f, *tids: str) -> None:  # type: ignore[no-untyped-def]
    with f.project.store.write() as conn:
        for tid in tids:
            Store.move_task(conn, tid, T.FAILED, reason="test", rounds=3)


def test_retry_gives_a_failed_task_and_those_it_blocked_another_go(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a", "b", "c"])
    # b and c depend on a (in the store, which is what a retry reads).
    with f.project.store.write() as conn:
        for tid in ("b", "c"):
            row = Store.task(conn, tid)
            spec = replace(row.spec, depends_on=("a",))
            Store.set_task_text(conn, tid, order=row.order, title=row.title, body=row.body, spec=spec)
    f.move("a", T.READY, T.ASSIGNED)
    _fail(f, "a", "b", "c")
    # b failed with a: on its own, it would fail again at once (found by a probe: it said it went again).
    with pytest.raises(SupervisorError, match=r"task b waits for a, which failed: `czar retry a` \(task b goes again"):
        people.retry(f.project, "b")
    said = people.retry(f.project, "a")
    assert said == "task a goes again (and b, c, which waited for it)"
    assert f.states() == {"a": "ready", "b": "pending", "c": "pending"}
    assert f.task("a").rounds == 0
    (event,) = f.project.store.events_after(0, kinds=(EventKind.PERSON_RETRIED,))
    assert (event.actor, event.payload["tasks"]) == ("person", ["a", "b", "c"])
    with pytest.raises(SupervisorError, match="task a is ready; only a failed task can be retried"):
        people.retry(f.project, "a")
    with pytest.raises(SupervisorError, match="no task 'zz'"):
        people.retry(f.project, "zz")
    with f.project.store.write() as conn:
        Store.move_task(conn, "a", T.CANCELLED, reason="test")
        Store.move_task(conn, "b", T.FAILED, reason="test")
    with pytest.raises(SupervisorError, match="task b waits for a, which was cancelled: it cannot run"):
        people.retry(f.project, "b")


def test_a_retried_task_keeps_its_failed_attempt_as_it_was(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"])
    f.assign({"a": "w1"})
    attempt = f.task("a").attempt_id
    assert attempt is not None
    with f.project.store.write() as conn:
        Actions(f.project).give_up(conn, Store.task(conn, "a"), "w1", "test", "a failed")
    people.retry(f.project, "a")
    assert f.task("a").attempt_id is None  # the next assignment makes a new one
    people.cancel(f.project, "a")  # withdrawn before it started again: its failed attempt stays failed
    with f.project.store.read() as conn:
        assert Store.attempt(conn, attempt).outcome is AttemptOutcome.FAILED


def test_cancel_stops_the_agent_frees_the_worker_and_releases_the_claims(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a", "b"])
    f.assign({"a": "w1"})
    attempt = f.task("a").attempt_id
    assert attempt is not None
    f.take("w1")  # its host took the start
    said = people.cancel(f.project, "a", "not needed after all")
    assert said == "task a cancelled (it was assigned)"
    assert f.states()["a"] == "cancelled"
    posted = f.take("w1")
    assert StopAgent(attempt) in posted
    with f.project.store.read() as conn:
        assert Store.worker(conn, "w1").state is WorkerState.IDLE
        assert Store.worker(conn, "w1").task_id is None
        assert "a" not in Store.all_claims(conn)
    (event,) = f.project.store.events_after(0, kinds=(EventKind.PERSON_CANCELLED,))
    assert (event.actor, event.payload["reason"]) == ("person", "not needed after all")
    with pytest.raises(SupervisorError, match="task a is cancelled already"):
        people.cancel(f.project, "a")
    f.move("b", T.READY, T.ASSIGNED, T.RUNNING, T.SUBMITTED, T.VERIFYING, T.APPROVED, T.MERGING)
    # (Found by a probe: with no supervisor, "merging now" read wrong; its merge is ended by the next.)
    with pytest.raises(SupervisorError, match="task b was merging when the supervisor stopped: `czar up` ends"):
        people.cancel(f.project, "b")
    lock = SupervisorLock(f.project)
    lock.acquire()
    try:
        with pytest.raises(SupervisorError, match="task b is merging now"):
            people.cancel(f.project, "b")
    finally:
        lock.release()


def test_an_answer_or_a_give_up_written_for_what_has_moved_on_is_not_carried_out(
    tmp_path: Path, czar_home: Path
) -> None:
    """Found by a probe: a page or a dashboard stands still while a person types; the answer typed
    for task q1 went to the worker's next task, and a "give up" on a failed task cancelled it
    after another person had retried it."""
    f = on_fakes(tmp_path, ["q1", "q2"])
    f.assign({"q2": "w1"})
    with pytest.raises(SupervisorError, match="worker w1 works on task q2 now, not q1: your words were not sent"):
        people.tell(f.project, "w1", "red", "q1")
    assert not f.project.store.events_after(0, kinds=(EventKind.PERSON_TOLD,))
    assert people.tell(f.project, "w1", "blue", "q2") == "sent to worker w1 (task q2)"
    _fail(f, "q1")
    people.retry(f.project, "q1")
    with pytest.raises(SupervisorError, match="task q1 is ready now, not failed: it was not cancelled"):
        people.cancel(f.project, "q1", was=T.FAILED)
    assert f.states()["q1"] == "ready"
    _fail(f, "q1")
    assert people.cancel(f.project, "q1", was=T.FAILED) == "task q1 cancelled (it was failed)"


def test_pause_holds_new_work_until_resume(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"])
    assert people.pause(f.project).startswith("paused")
    assert people.pause(f.project).startswith("the run is paused already")
    assert snapshot(f.project.store).paused
    assert people.resume(f.project).startswith("resumed")
    assert people.resume(f.project) == "the run is not paused"
    with f.project.store.read() as conn:
        assert Store.get_meta(conn, PAUSED) is False
    kinds = [(e.kind, e.actor) for e in f.project.store.events_after(0) if e.kind.startswith("person.")]
    assert kinds == [("person.paused", "person"), ("person.resumed", "person")]


def test_the_commands_say_what_is_wrong_in_one_line(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"])
    plan = str(f.project.plan.path)
    result = czar("retry", "a", "--plan", plan)
    assert result.returncode != 0
    assert result.stderr.strip() == "czar: task a is pending; only a failed task can be retried"
    result = czar("cancel", "nope", "--plan", plan)
    assert result.stderr.strip() == "czar: no task 'nope' in project fakes"
    assert czar("pause", plan).stdout.startswith("paused")
    assert czar("resume", plan).stdout.startswith("resumed")
    listed = json.loads(czar("projects", "--json", check=True).stdout)
    assert [(p["name"], p["counts"], p["running"]) for p in listed] == [("fakes", {"pending": 1}, False)]
    assert "fakes" in czar("projects", check=True).stdout
