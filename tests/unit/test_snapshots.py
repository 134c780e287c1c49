"""The supervisor's snapshots (``Snapshots``): each step's view of a task or a worker is made
again only when what it is made from changed, and is always what a fresh read of the store
gives."""

from __future__ import annotations

from pathlib import Path

from czar.core.decide import Snapshot
from czar.core.review import ReviewState
from czar.core.states import TaskState
from czar.store.store import Store
from czar.supervisor.snapshot import Snapshots, snapshot
from helpers import on_fakes

T = TaskState


def test_each_snapshot_is_a_fresh_reads_and_keeps_the_views_nothing_changed(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a", "b", "c"], workers=2)
    store = f.project.store
    snaps = Snapshots(store)

    def read() -> Snapshot:
        got = snaps.read()
        assert got == snapshot(store)
        return got

    first = read()
    again = read()
    assert again.tasks["a"] is first.tasks["a"] and again.workers["w1"] is first.workers["w1"]
    f.assign({"a": "w1"})
    now = read()
    assert now.tasks["a"].worker == "w1" and now.workers["w1"].task == "a"
    assert now.tasks["b"] is first.tasks["b"]  # untouched: the same view
    f.move("a", T.RUNNING)
    with store.write() as conn:
        Store.claim(conn, "a", "w1", ["notes/*"])
        Store.set_waits(conn, "b", "a")
    now = read()
    assert "notes/*" in now.tasks["a"].scope and now.tasks["b"].waits == frozenset({"a"})
    # Approved, it ages with each merge batch started, though its row does not change.
    with store.write() as conn:
        for state in (T.SUBMITTED, T.VERIFYING):
            Store.move_task(conn, "a", state, reason="test")
        Store.move_task(conn, "a", T.APPROVED, reason="test", approved_window=Store.merge_window(conn))
    assert read().tasks["a"].waited == 0
    with store.write() as conn:
        Store.next_merge_window(conn)
    assert read().tasks["a"].waited == 1
    # A review, open, then with a verdict: the reviewer holds the task, then the verdict shows.
    f.assign({"c": "w2"})
    with store.write() as conn:
        for state in (T.RUNNING, T.SUBMITTED, T.VERIFYING, T.REVIEWING):
            Store.move_task(conn, "c", state, reason="test")
        Store.set_worker(conn, "w2", task_id=None)
        review = Store.new_review(conn, task_id="c", worker_id="w2", attempt_id=1, agent="sim", commit="0" * 40)
    now = read()
    assert now.workers["w2"].task == "c" and now.tasks["c"].review is ReviewState.OPEN
    with store.write() as conn:
        Store.set_review(conn, review, state=ReviewState.APPROVED.value)
    assert read().tasks["c"].review is ReviewState.APPROVED
