"""The store on real SQLite: WAL, migrations, many writers at once, the doorbell."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from czar.core.events import EventKind
from czar.core.host_commands import MessageKind, StopAgent, Tell, Unreadable
from czar.core.states import TaskState
from czar.paths import ProjectPaths
from czar.store.schema import MIGRATIONS, inbox
from czar.store.store import Store, TransitionRefused


def _paths(tmp_path: Path) -> ProjectPaths:
    return ProjectPaths(name="s", root=tmp_path / "proj")


def test_store_is_wal_and_migrated_once(tmp_path: Path) -> None:
    store = Store(_paths(tmp_path))
    with store.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA user_version")).scalar_one() == len(MIGRATIONS)
    store.close()
    again = Store(_paths(tmp_path))  # opening again applies nothing twice
    with again.read() as conn:
        assert conn.execute(text("PRAGMA user_version")).scalar_one() == len(MIGRATIONS)
    again.close()


def test_a_store_at_this_schema_opens_and_reads_while_another_connection_holds_its_write_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `czar status` waited a minute in silence, then failed, while a person's sqlite3 shell (or a
    # long write) held the lock: opening took the write lock to migrate even with nothing to do.
    import sqlite3

    from czar.store import sqlite as database

    paths = _paths(tmp_path)
    Store(paths).close()
    holder = sqlite3.connect(paths.db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    monkeypatch.setattr(database, "LOCK_WAIT_SECONDS", 1.0)
    try:
        store = Store(paths)
        with store.read() as conn:
            assert conn.execute(text("PRAGMA user_version")).scalar_one() == len(MIGRATIONS)
        store.close()
    finally:
        holder.rollback()
        holder.close()


def _writer(root: str, n: int, who: str) -> None:
    store = Store(ProjectPaths(name="s", root=Path(root)))
    for i in range(n):
        with store.write() as conn:
            Store.emit(conn, EventKind.AGENT_REPORT, actor=who, i=i)
    store.close()


def test_several_processes_write_at_once_without_loss(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    Store(paths).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(paths.root), 150, f"p{k}")) for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = Store(paths)
    events = [e for e in store.events_after(0, limit=10_000) if e.kind == EventKind.AGENT_REPORT]
    assert len(events) == 600
    ids = [e.id for e in events]
    assert ids == sorted(ids) and len(set(ids)) == 600
    for k in range(4):
        assert [e.payload["i"] for e in events if e.actor == f"p{k}"] == list(range(150))
    store.close()


def test_transitions_are_guarded_by_the_table(tmp_path: Path) -> None:
    from sqlalchemy import insert

    from czar.store.schema import tasks

    store = Store(_paths(tmp_path))
    with store.write() as conn:
        conn.execute(
            insert(tasks).values(
                id="t", ord=0, title="t", body="b", spec="{}", state="pending", created_at=0, updated_at=0
            )
        )
    with pytest.raises(TransitionRefused), store.write() as conn:
        Store.move_task(conn, "t", TaskState.MERGED, reason="skipping ahead")
    with pytest.raises(TransitionRefused), store.write() as conn:
        Store.move_task(conn, "t", TaskState.READY, expect=TaskState.ASSIGNED, reason="wrong guess")
    with store.write() as conn:
        assert Store.move_task(conn, "t", TaskState.READY, reason="deps merged") is TaskState.PENDING
    kinds = [(e.kind, e.payload.get("new")) for e in store.events_after(0)]
    assert kinds == [("task.state", "ready")]  # refused moves wrote nothing
    store.close()


def test_a_state_this_czar_does_not_know_is_one_line_not_a_crash(tmp_path: Path) -> None:
    from sqlalchemy import insert

    from czar.errors import StoreError
    from czar.store.schema import tasks

    store = Store(_paths(tmp_path))
    with store.write() as conn:  # as a newer czar would have written it
        row = {"id": "t", "ord": 0, "title": "t", "body": "b", "spec": "{}", "created_at": 0, "updated_at": 0}
        conn.execute(insert(tasks).values(**row, state="judging"))
    with pytest.raises(StoreError, match="a task state this czar does not know: 'judging'"):
        store.tasks()
    store.close()


def test_inbox_commands_are_carried_out_once(tmp_path: Path) -> None:
    store = Store(_paths(tmp_path))
    with store.write() as conn:
        first = Store.post(conn, "w1", Tell(1, MessageKind.FEEDBACK, "the checks failed"))
        Store.post(conn, "w2", StopAgent(2))
    assert [(c.id, c.command) for c in store.open_commands("w1")] == [
        (first, Tell(1, MessageKind.FEEDBACK, "the checks failed"))
    ]
    with store.write() as conn:
        assert Store.mark_done(conn, first) is True
    with store.write() as conn:
        assert Store.mark_done(conn, first) is False  # a repeat is recognised and ignored
    assert store.open_commands("w1") == []
    store.close()


def test_an_inbox_row_no_command_can_be_read_from_is_unreadable_not_a_crash(tmp_path: Path) -> None:
    """A row from another version, or written by hand: the host records it and goes on."""
    store = Store(_paths(tmp_path))
    with store.write() as conn:
        Store.post(conn, "w1", StopAgent(1))
        for kind, payload in (("launch", "{}"), ("stop", "{}"), ("message", "[1]"), ("answer", "not json")):
            conn.execute(inbox.insert().values(worker_id="w1", kind=kind, payload=payload, created_at=0.0))
    assert [c.command for c in store.open_commands("w1")] == [
        StopAgent(1),
        Unreadable("launch", "no such command"),
        Unreadable("stop", "StopAgent.__init__() missing 1 required positional argument: 'attempt'"),
        Unreadable("message", "its fields are not an object"),
        Unreadable("answer", "its fields are not JSON"),
    ]
    store.close()


def _ring_later(root: str, delay: float) -> None:
    time.sleep(delay)
    store = Store(ProjectPaths(name="s", root=Path(root)))
    with store.write() as conn:
        Store.emit(conn, EventKind.AGENT_REPORT, actor=f"pid{os.getpid()}")
    store.close()


def test_a_write_in_another_process_wakes_a_listener(tmp_path: Path) -> None:
    paths = _paths(tmp_path)
    store = Store(paths)
    listener = store.listen("test")
    try:
        assert listener.wait(0.05) is False  # nothing rang
        ctx = multiprocessing.get_context("spawn")
        proc = ctx.Process(target=_ring_later, args=(str(paths.root), 0.2))
        proc.start()
        assert listener.wait(30) is True
        proc.join(30)
        assert [e.kind for e in store.events_after(0)] == [EventKind.AGENT_REPORT]
    finally:
        listener.close()
        store.close()


def test_the_migrations_build_exactly_the_tables_the_code_knows(tmp_path: Path) -> None:
    from czar.store.schema import metadata

    store = Store(_paths(tmp_path))
    with store.read() as conn:
        for table in metadata.sorted_tables:
            built = [row[1] for row in conn.execute(text(f'PRAGMA table_info("{table.name}")'))]
            # As sets: a column a later migration added comes last in the table, not where the code lists it.
            assert sorted(built) == sorted(c.name for c in table.columns), table.name
    store.close()


def test_whether_every_task_is_finished_is_the_cores_answer_read_at_once(tmp_path: Path) -> None:
    # A follower asks at every change of a task: a query, not the whole run read into a snapshot.
    from sqlalchemy import update

    from czar.core.decide import run_finished
    from czar.store.records import TaskSpec
    from czar.store.schema import tasks
    from czar.supervisor.snapshot import snapshot

    store = Store(_paths(tmp_path))
    with store.read() as conn:
        assert Store.all_finished(conn) is run_finished(snapshot(store)) is True  # no task yet
    with store.write() as conn:
        for order, tid in enumerate(("a", "b")):
            Store.add_task(conn, tid, order=order, title=tid, body="", spec=TaskSpec(agent="sim"))
    for a, b in [(s, t) for s in TaskState for t in (TaskState.MERGED, TaskState.RUNNING)]:
        with store.write() as conn:
            conn.execute(update(tasks).where(tasks.c.id == "a").values(state=a.value))
            conn.execute(update(tasks).where(tasks.c.id == "b").values(state=b.value))
        with store.read() as conn:
            assert Store.all_finished(conn) is run_finished(snapshot(store)), (a, b)
    store.close()


def test_checks_passed_are_known_by_their_files_commands_time_allowed_and_sandbox(tmp_path: Path) -> None:
    store = Store(_paths(tmp_path))
    try:
        with store.write() as conn:
            for n in range(20):
                Store.note_checks_passed(conn, f"tree-{n}", ["pytest -q"], 600, "boxed")
            Store.note_checks_passed(conn, "tree-19", ["pytest -q"], 600, "boxed")  # again: kept once
        with store.read() as conn:
            assert Store.checks_passed(conn, "tree-19", ["pytest -q"], 600, "boxed")
            assert Store.checks_passed(conn, "tree-4", ["pytest -q"], 600.0, "boxed")
            assert not Store.checks_passed(conn, "tree-3", ["pytest -q"], 600, "boxed")  # the oldest are let go
            assert not Store.checks_passed(conn, "tree-19", ["pytest -q", "ruff check"], 600, "boxed")
            assert not Store.checks_passed(conn, "tree-19", ["pytest -q"], 60, "boxed")
            assert not Store.checks_passed(conn, "tree-19", ["pytest -q"], 600, "unboxed")
            assert len(Store.get_meta(conn, "checks_passed")) == 16
        with store.write() as conn:
            Store.forget_checks_passed(conn)  # a supervisor starts
        with store.read() as conn:
            assert not Store.checks_passed(conn, "tree-19", ["pytest -q"], 600, "boxed")
    finally:
        store.close()


def test_the_briefs_decisions_read_are_the_records_fields(tmp_path: Path) -> None:
    """What the supervisor reads at every step (a task or worker without its text) says what the
    whole record says, and a joined row (a worker with its task and attempt) is read with its
    missing side None."""
    from czar.core.states import WorkerRole, WorkerState
    from czar.store.records import HeldTask, TaskAtWork, TaskBrief, TaskSpec, WorkerBrief

    store = Store(_paths(tmp_path))
    with store.write() as conn:
        for n, tid in enumerate(("a", "b", "c")):
            spec = TaskSpec(depends_on=("a",) if tid != "a" else (), scope=(f"{tid}/*",), agent="sim", rank=n + 1.5)
            Store.add_task(conn, tid, order=n, title=f"task {tid}", body="do it", spec=spec)
        Store.add_worker(conn, "w1", "sim")
        Store.add_worker(conn, "w2", "claude", WorkerRole.REVIEWER)
        Store.move_task(conn, "a", TaskState.READY, reason="test")
        attempt = Store.new_attempt(
            conn,
            task_id="a",
            worker_id="w1",
            branch="czar/a",
            worktree="/x",
            base_commit="0" * 40,
            prompt="p",
            prompt_sha256="h",
            after_launch=0,
        )
        fields = {"worker_id": "w1", "approved_window": 3, "attempt_id": attempt}
        Store.move_task(conn, "a", TaskState.ASSIGNED, reason="test", **fields)
        Store.set_waits(conn, "b", "a")
        Store.set_worker(conn, "w1", state=WorkerState.WORKING.value, task_id="a")
        Store.set_attempt(conn, attempt, named_task="b", launches=2, stale_launch=1)
    with store.read() as conn:
        tasks, briefs = Store.all_tasks(conn), Store.task_briefs(conn)
        workers, worker_briefs = Store.all_workers(conn), Store.worker_briefs(conn)
        stations = {s.worker.id: s for s in Store.stations(conn)}
        at_work = Store.tasks_at_work(conn, (TaskState.ASSIGNED, TaskState.PENDING))
        whole = Store.attempt(conn, attempt)
    # The radar's reading: the task's fields, and its attempt's (none for a task without one).
    assert at_work == [
        TaskAtWork("a", 0, TaskState.ASSIGNED, tasks[0].spec, False, attempt, whole.worktree, "b", 2, 1),
        *(TaskAtWork(t.id, t.order, t.state, t.spec, t.fresh, None, None, None, 0, 0) for t in tasks[1:]),
    ]
    assert whole.worktree == "/x" and whole.named_task == "b" and (whole.launches, whole.stale_launch) == (2, 1)
    assert briefs == [
        TaskBrief(t.id, t.order, t.state, t.spec, t.worker_id, t.blocked_on, t.approved_window) for t in tasks
    ]
    assert [(b.id, b.state, b.worker_id, b.blocked_on, b.approved_window) for b in briefs] == [
        ("a", TaskState.ASSIGNED, "w1", None, 3),
        ("b", TaskState.PENDING, None, "a", None),
        ("c", TaskState.PENDING, None, None, None),
    ]
    assert briefs[2].spec.rank == 3.5 and briefs[1].spec.depends_on == ("a",)
    assert worker_briefs == [WorkerBrief(w.id, w.agent, w.state, w.task_id, w.role) for w in workers]
    assert [(b.id, b.state, b.task_id, b.role) for b in worker_briefs] == [
        ("w1", WorkerState.WORKING, "a", WorkerRole.AUTHOR),
        ("w2", WorkerState.STOPPED, None, WorkerRole.REVIEWER),
    ]
    busy = stations["w1"]
    a = tasks[0]
    assert busy.worker == workers[0]
    assert busy.task == HeldTask(a.id, a.state, a.spec, a.checkpoint, a.confusions, a.blocked_on)
    assert busy.attempt is not None and busy.attempt.id == attempt and busy.attempt.branch == "czar/a"
    assert stations["w2"].worker == workers[1] and stations["w2"].task is None and stations["w2"].attempt is None


def test_a_brief_of_a_state_this_czar_does_not_know_is_one_line_too(tmp_path: Path) -> None:
    from sqlalchemy import insert, update

    from czar.errors import StoreError
    from czar.store.schema import pulls, tasks, workers

    store = Store(_paths(tmp_path))
    with store.write() as conn:
        row = {"id": "t", "ord": 0, "title": "t", "body": "b", "spec": "{}", "created_at": 0, "updated_at": 0}
        conn.execute(insert(tasks).values(**row, state="judging"))
        Store.add_worker(conn, "w1", "sim")
        conn.execute(update(workers).values(role="auditor"))
        pull = {"task_id": "t", "title": "t", "body": "", "files": "[]", "rounds": 1, "cost_usd": 0}
        branches = {"head_branch": "czar/t", "base_branch": "czar/integration", "head_commit": "0" * 40}
        conn.execute(insert(pulls).values(**pull, **branches, state="queued", created_at=0, updated_at=0))
    with store.read() as conn:
        with pytest.raises(StoreError, match="a task state this czar does not know: 'judging'"):
            Store.task_briefs(conn)
        with pytest.raises(StoreError, match="a worker role this czar does not know: 'auditor'"):
            Store.worker_briefs(conn)
        with pytest.raises(StoreError, match="a pull request state this czar does not know: 'queued'"):
            Store.pull_states(conn)
    store.close()
