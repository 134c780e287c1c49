"""`czar dash`: the Textual dashboard, driven by Textual's pilot on a real store, the run's
repository, terminal and clock faked behind their ports (``czar.testing``)."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import html
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, OptionList, Static

from czar.core import waits
from czar.core.events import EventKind
from czar.core.forge import FileStat
from czar.core.states import TaskState, WorkerState
from czar.interfaces.tui import watch
from czar.interfaces.tui.dashboard import QUIT_GRACE_SECONDS, Dashboard, kept_signals
from czar.interfaces.tui.modals import ChooseProject
from czar.interfaces.tui.tables import Grid
from czar.store.store import Store
from czar.supervisor.project import Project, open_project
from czar.testing import FakeClock, FakeRepository, FakeTerminal
from helpers import OnFakes, git, make_repo, sim_task, write_plan

SIZE = (160, 50)
FIXED = 1_000_000.0  # the snapshot's time: every stamp of its store, and its view's clock a minute on


def _project(root: Path, name: str = "dash") -> OnFakes:
    """Tasks a..d (d waits for a and c), three workers; nothing is run."""
    make_repo(root / "repo")
    tasks = [sim_task("a"), sim_task("b"), sim_task("c"), sim_task("d", deps=("a", "c"))]
    plan = write_plan(root, name, tasks, workers=3)
    repo, terminal, clock = FakeRepository(), FakeTerminal(), FakeClock(time.time())
    project = replace(open_project(plan, check_repo=False), repository=repo, terminal=terminal, clock=clock)
    project.sync_plan()
    with project.store.write() as conn:  # the history is the fake's; the data, the repository's on disk
        Store.set_meta(conn, "repo_roots", [git(root / "repo", "rev-list", "--max-parents=0", "main")])
    repo.branch(project.plan.project.integration_branch, "main")
    repo.add_worktree(project.paths.integration_worktree, project.plan.project.integration_branch)
    return OnFakes(project, repo, terminal, clock)


def _busy_run(root: Path) -> Project:
    """w1 asks for a permission on a, w2 asks a question on b, c failed, a's pull request is
    open with a review, and an alert whose text looks like markup."""
    f = _project(root)
    f.assign({"a": "w1", "b": "w2"})
    now = time.time()
    with f.project.store.write() as conn:
        asked = json.dumps({"asked_at": now, "tool": "Bash", "target": "rm -rf build"})
        Store.set_worker(conn, "w1", state=WorkerState.WAITING_PERMISSION, detail=asked, last_seen=now - 3)
        attempt = Store.task(conn, "a").attempt_id or 0
        Store.set_attempt(conn, attempt, cost_usd=0.42, input_tokens=12_345, output_tokens=678)
        Store.set_waits(conn, "b", waits.PERSON)
        Store.set_worker(conn, "w2", state=WorkerState.BLOCKED, detail="which database?", last_seen=now - 3)
        Store.emit(conn, EventKind.AGENT_QUESTION, task="b", worker="w2", question="Which [bold]database[/bold]?")
        Store.move_task(conn, "c", TaskState.FAILED, reason="checks failed three times")
        Store.alert(conn, "warning", "disk [red]almost[/red] full", task="a", worker="w1")
        pull, _ = Store.put_pull(
            conn,
            task_id="a",
            head_branch="czar/a",
            base_branch="czar/integration",
            head_commit="c0ffee" * 6 + "c0ff",
            title="task a",
            body="",
            files=[FileStat("a.txt", 3, 1)],
            rounds=1,
            cost_usd=0.25,
        )
        Store.add_pull_entry(conn, pull.id, "checks", pull.head_commit, runs=[{"passed": True}, {"passed": False}])
        Store.add_pull_entry(conn, pull.id, "review", pull.head_commit, verdict="approve", reviewer="r1")
    return f.project


def _drive(app: Dashboard, script: Callable[[Pilot[None]], Awaitable[None]]) -> None:
    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.overview is not None, "the first picture of the run")
            await script(pilot)

    asyncio.run(go())


async def _until(pilot: Pilot[None], condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await pilot.pause(0.1)


def _cells(app: Dashboard, table: str) -> dict[str, list[str]]:
    """Each row of the table by its key, as the text its columns show (a tab's table turned to
    first: only the tab in view is kept drawn)."""
    if table in ("workers", "tasks", "pulls"):
        app.show_tab(f"{table}-tab")
    shown = app.query_one(f"#{table}", Grid)
    return {str(row.key.value): shown.fields(str(row.key.value)) for row in shown.ordered_rows}


def _column(table: str, name: str) -> int:
    from czar.interfaces.tui.dashboard import TABLES

    return TABLES[table].index(name)


def _point_at(app: Dashboard, table: str, key: str) -> None:
    shown = app.query_one(f"#{table}", DataTable)
    if table in ("workers", "tasks", "pulls"):
        app.show_tab(f"{table}-tab")
    shown.focus()
    shown.move_cursor(row=shown.get_row_index(key))


def _events(project: Project, kind: EventKind) -> list[Any]:
    return project.store.events_after(0, 10_000, (kind,))


@pytest.fixture(autouse=True)
def _signals_kept() -> Iterator[None]:
    # The dashboard's loop, closing, leaves its quit signals at their default (as `czar dash`
    # keeps them around it): the tests after these keep theirs.
    with kept_signals():
        yield


@pytest.fixture
def run(tmp_path: Path, czar_home: Path) -> Iterator[Project]:
    project = _busy_run(tmp_path)
    yield project
    project.store.close()


def test_it_shows_workers_tasks_pull_requests_alerts_and_what_needs_you(run: Project) -> None:
    seen = next(w.last_seen for w in run.store.workers() if w.id == "w1")
    assert seen is not None
    app = Dashboard(run, now=lambda: seen + 3.2)  # the view's clock: its ages never depend on how busy the machine is

    async def look(pilot: Pilot[None]) -> None:
        workers = _cells(app, "workers")
        assert sorted(workers) == ["w1", "w2", "w3"]
        assert workers["w1"][:3] == ["w1", "sim", "author"]
        assert workers["w1"][_column("workers", "state")] == "waiting_permission"
        assert workers["w1"][_column("workers", "task")] == "a"
        assert workers["w1"][_column("workers", "seen")] == "3s ago"
        tasks = _cells(app, "tasks")
        assert list(tasks) == ["c", "a", "b", "d"]  # what failed first, the rest in the plan's order
        assert tasks["c"][_column("tasks", "state")] == "failed"
        assert tasks["d"][_column("tasks", "depends on")] == "a, c"
        assert tasks["a"][_column("tasks", "PR")] == "#1"
        pull = _cells(app, "pulls")["1"]
        assert pull[:5] == ["#1", "a", "open", "1/2", "1 (approve)"]
        (alert,) = _cells(app, "alerts").values()
        assert alert[_column("alerts", "message")] == "disk [red]almost[/red] full"  # text, not markup
        inbox = {row[0]: row for row in _cells(app, "inbox").values()}
        assert sorted(inbox) == ["failed", "permission", "question"]
        what, keys = _column("inbox", "what"), _column("inbox", "keys")
        assert inbox["permission"][what] == "w1 asks to use Bash rm -rf build"
        assert inbox["permission"][keys] == "y allow n deny"
        assert inbox["question"][what] == "w2 asks: Which [bold]database[/bold]?"
        assert inbox["failed"][2] == "c" and inbox["failed"][keys] == "R retry c cancel"
        summary = str(app.query_one("#summary", Static).render())
        assert "project dash" in summary and "supervisor not running" in summary
        assert "1 failed" in summary and "PAUSED" not in summary
        assert "cost $0.42 (12.3k tokens in, 678 out)" in summary
        assert workers["w1"][_column("workers", "tokens")] == "12.3k/678"
        assert workers["w1"][_column("workers", "cost")] == "$0.42"

    _drive(app, look)


def test_a_change_in_the_store_shows_without_a_key_pressed(run: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watch, "SAFETY_POLL", 120.0)  # only the doorbell can bring the change in time
    app = Dashboard(run)

    async def change(pilot: Pilot[None]) -> None:
        assert _cells(app, "tasks")["a"][1] == "assigned"
        with run.store.write() as conn:
            Store.move_task(conn, "a", TaskState.RUNNING, reason="the agent acknowledged")
        await _until(pilot, lambda: _cells(app, "tasks")["a"][1] == "running", "task a shown running")

    _drive(app, change)
    assert not [bell for bell in os.listdir(run.paths.bells) if bell.startswith("dash-")]  # closed on quitting


def test_y_allows_the_permission_pointed_at_as_a_person(run: Project) -> None:
    app = Dashboard(run)

    async def allow(pilot: Pilot[None]) -> None:
        key = next(k for k, row in _cells(app, "inbox").items() if row[0] == "permission")
        _point_at(app, "inbox", key)
        await pilot.press("y")
        await _until(pilot, lambda: _cells(app, "workers")["w1"][3] == "working", "w1 shown working")

    _drive(app, allow)
    (decided,) = _events(run, EventKind.PERMISSION_DECIDED)
    assert (decided.actor, decided.worker_id, decided.payload["decision"]) == ("person", "w1", "allow")
    assert next(w for w in run.store.workers() if w.id == "w1").state is WorkerState.WORKING


def test_n_on_a_worker_row_denies_what_that_worker_asks(run: Project) -> None:
    app = Dashboard(run)

    async def deny(pilot: Pilot[None]) -> None:
        _point_at(app, "workers", "w2")
        await pilot.press("n")  # w2 asks a question, not a permission: nothing happens
        _point_at(app, "workers", "w1")
        await pilot.press("n")
        await _until(pilot, lambda: _events(run, EventKind.PERMISSION_DECIDED), "the decision")

    _drive(app, deny)
    (decided,) = _events(run, EventKind.PERMISSION_DECIDED)
    assert (decided.worker_id, decided.payload["decision"]) == ("w1", "deny")


def test_p_pauses_the_run_and_p_again_resumes_it(run: Project) -> None:
    app = Dashboard(run)

    def summary() -> str:
        return str(app.query_one("#summary", Static).render())

    async def pause(pilot: Pilot[None]) -> None:
        await pilot.press("p")
        await _until(pilot, lambda: "PAUSED" in summary(), "the run shown paused")
        with run.store.read() as conn:
            assert Store.get_meta(conn, "paused", False) is True
        await pilot.press("p")
        await _until(pilot, lambda: "PAUSED" not in summary(), "the run shown going on")

    _drive(app, pause)
    assert [e.actor for e in _events(run, EventKind.PERSON_PAUSED)] == ["person"]
    assert [e.actor for e in _events(run, EventKind.PERSON_RESUMED)] == ["person"]


def test_the_keys_answer_while_an_action_waits_for_a_busy_store(run: Project) -> None:
    """Found by a probe: an action ran on the screen's thread, and a write waits up to half a
    minute for a store another process holds: every key, `q` too, was dead meanwhile."""
    import sqlite3

    app = Dashboard(run)
    holder = sqlite3.connect(run.paths.db, isolation_level=None)

    async def pause_while_held(pilot: Pilot[None]) -> None:
        holder.execute("BEGIN IMMEDIATE")  # a person's sqlite3 shell, say
        try:
            await pilot.press("p")
            await pilot.press("P")  # while the pause waits for the store, the projects come up
            await _until(pilot, lambda: isinstance(app.screen, ChooseProject), "the projects to choose from")
            await pilot.press("escape")
        finally:
            holder.rollback()
        await _until(pilot, lambda: "PAUSED" in str(app.query_one("#summary", Static).render()), "the pause")

    try:
        _drive(app, pause_while_held)
    finally:
        holder.close()
    assert [e.actor for e in _events(run, EventKind.PERSON_PAUSED)] == ["person"]


def test_a_quiet_run_keeps_its_times_counting_and_a_killed_supervisor_shows(
    run: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by a probe: with no event coming (a still run; a supervisor killed with `kill -9`
    writes none), "for" and "seen" stood at their last drawing and the header said the supervisor
    ran, minutes after it had died."""
    from czar.interfaces.tui import dashboard
    from czar.supervisor.lock import SupervisorLock

    monkeypatch.setattr(dashboard, "TICK_SECONDS", 0.2)
    monkeypatch.setattr(watch, "SAFETY_POLL", 0.2)
    clock = [time.time()]
    app = Dashboard(run, now=lambda: clock[0])
    lock = SupervisorLock(run)
    lock.acquire()

    def summary() -> str:
        return str(app.query_one("#summary", Static).render())

    async def wait(pilot: Pilot[None]) -> None:
        await _until(pilot, lambda: "supervisor running" in summary(), "the supervisor shown running")
        seen = _cells(app, "workers")["w1"][8]
        clock[0] += 600  # ten minutes on, and nothing happens
        await _until(pilot, lambda: _cells(app, "workers")["w1"][8] != seen, "w1's last sign of life counting on")
        assert _cells(app, "workers")["w1"][8].startswith("10m")
        lock.release()  # as a killed supervisor's lock goes: no event
        await _until(pilot, lambda: "supervisor not running" in summary(), "the supervisor shown gone")

    try:
        _drive(app, wait)
    finally:
        lock.release()


def test_shift_r_retries_the_failed_task_pointed_at(run: Project) -> None:
    app = Dashboard(run)

    async def retry(pilot: Pilot[None]) -> None:
        _point_at(app, "tasks", "a")
        await pilot.press("R")  # a has not failed: people refuses, and nothing changes
        _point_at(app, "tasks", "c")
        await pilot.press("R")
        await _until(pilot, lambda: _cells(app, "tasks")["c"][1] == "ready", "task c shown ready")

    _drive(app, retry)
    (retried,) = _events(run, EventKind.PERSON_RETRIED)
    assert (retried.actor, retried.task_id) == ("person", "c")
    assert {t.id: t.state for t in run.store.tasks()}["a"] is TaskState.ASSIGNED


def test_t_tells_the_worker_pointed_at_what_a_person_types(run: Project) -> None:
    app = Dashboard(run)

    async def tell(pilot: Pilot[None]) -> None:
        _point_at(app, "workers", "w2")
        await pilot.press("t")
        await pilot.press(*"use [sqlite]", "enter")
        await _until(pilot, lambda: _events(run, EventKind.PERSON_TOLD), "the message sent")

    _drive(app, tell)
    (told,) = _events(run, EventKind.PERSON_TOLD)
    assert (told.actor, told.worker_id, told.payload["text"]) == ("person", "w2", "use [sqlite]")


def test_r_answers_the_question_and_c_cancels_a_task_once_confirmed(run: Project) -> None:
    app = Dashboard(run)

    async def answer_then_cancel(pilot: Pilot[None]) -> None:
        key = next(k for k, row in _cells(app, "inbox").items() if row[0] == "question")
        _point_at(app, "inbox", key)
        await pilot.press("r", *"postgres", "enter")
        await _until(pilot, lambda: "question" not in {r[0] for r in _cells(app, "inbox").values()}, "answered")
        _point_at(app, "tasks", "d")
        await pilot.press("c", "n")
        await pilot.press("c", "y")
        await _until(pilot, lambda: _cells(app, "tasks")["d"][1] == "cancelled", "task d shown cancelled")

    _drive(app, answer_then_cancel)
    (told,) = _events(run, EventKind.PERSON_TOLD)
    assert (told.worker_id, told.payload["text"]) == ("w2", "postgres")
    assert [e.task_id for e in _events(run, EventKind.PERSON_CANCELLED)] == ["d"]
    # What was typed into the questions went there, not to the dashboard's own keys.
    assert _events(run, EventKind.PERSON_PAUSED) == [] and _events(run, EventKind.PERMISSION_DECIDED) == []


def test_a_hands_the_terminal_to_the_workers_window(
    run: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spawned: list[list[str]] = []
    monkeypatch.setattr(os, "spawnvp", lambda mode, file, argv: spawned.append(list(argv)) or 0)
    app = Dashboard(run)
    app.suspend = contextlib.nullcontext  # type: ignore[method-assign]  (a headless test has no terminal to hand over)

    async def attach(pilot: Pilot[None]) -> None:
        _point_at(app, "workers", "w1")
        await pilot.press("a")  # no window yet: nothing to attach to
        run.tmux.start_window("w1", ["true"], env={}, cwd=tmp_path)
        await pilot.press("a")

    _drive(app, attach)
    assert spawned == [run.tmux.attach_argv("w1")]


def test_shift_p_switches_to_another_project(run: Project, tmp_path: Path) -> None:
    other = _project(tmp_path / "other", "other").project
    other.store.close()
    app = Dashboard(run)

    async def switch(pilot: Pilot[None]) -> None:
        await pilot.press("P")
        choices = app.screen.query_one(OptionList)
        choices.highlighted = next(
            i for i in range(choices.option_count) if choices.get_option_at_index(i).id == "other"
        )
        await pilot.press("enter")
        await _until(pilot, lambda: app.overview is not None and app.overview.project == "other", "the other project")
        assert "project other" in str(app.query_one("#summary", Static).render())
        assert _cells(app, "inbox") == {} and sorted(_cells(app, "tasks")) == ["a", "b", "c", "d"]

    _drive(app, switch)
    app.project.store.close()


SNAPSHOT = Path(__file__).parent / "__snapshots__" / "test_dashboard" / "test_the_dashboard_looks_as_it_did.svg"


def _screen(svg: str) -> list[str]:
    """The screen's lines as a person reads them, from Textual's SVG screenshot. Compared as text:
    the SVG's style classes are numbered in the order styles first show, which a focus or a
    hover a moment earlier or later changes without changing what is on the screen."""
    lines: dict[float, list[str]] = {}
    for y, text in re.findall(r'<text[^>]*\by="([\d.]+)"[^>]*>([^<]*)</text>', svg):
        lines.setdefault(float(y), []).append(html.unescape(text).replace("\xa0", " "))
    return ["".join(parts).rstrip() for _, parts in sorted(lines.items())]


def test_the_dashboard_looks_as_it_did(tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual's own screenshot (an SVG of the screen) against the one kept in the repository;
    `CZAR_UPDATE_SNAPSHOTS=1` writes it again (then look at it: it must show the run)."""
    with monkeypatch.context() as frozen:
        frozen.setattr(time, "time", lambda: FIXED)
        project = _busy_run(tmp_path)
    app = Dashboard(project, now=lambda: FIXED + 60, live=False)  # a still: one picture, read at start
    app.animation_level = "none"  # else the tab's underline is caught half-way through its slide
    shot: list[str] = []

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.overview is not None, "the picture of the run")
            await _until(pilot, lambda: len(app.query("FooterKey")) > 0, "the footer's keys")
            await pilot.pause(0.3)
            shot.append(app.export_screenshot(title="czar dash"))

    try:
        asyncio.run(go())
    finally:
        project.store.close()
    (tmp_path / "dashboard.svg").write_text(shot[0], encoding="utf-8")  # to look at when it differs
    if os.environ.get("CZAR_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(shot[0], encoding="utf-8")
    screen = "\n".join(_screen(shot[0]))
    for seen in ("waiting_permission", "w2 asks: Which [bold]database[/bold]?", "disk [red]almost[/red] full"):
        assert seen in screen, f"the screen does not show {seen!r}"
    assert _screen(shot[0]) == _screen(SNAPSHOT.read_text(encoding="utf-8")), (
        f"the dashboard looks different: see {tmp_path / 'dashboard.svg'} (CZAR_UPDATE_SNAPSHOTS=1 to keep it)"
    )


def test_a_table_shows_each_row_as_one_line_and_widens_a_column_for_a_field_that_outgrows_it() -> None:
    """``show_rows`` keeps rows in place and changes the lines of the rows that changed; a field
    wider than its column widens it (every row made again, the cursor kept on its row); a row is
    one cell, which Textual paints at a quarter of the cost of a row of fields."""
    from rich.text import Text
    from textual.app import App, ComposeResult

    from czar.interfaces.tui.tables import Grid, show_rows

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield Grid(("worker", "seen"), id="t")

    def rows(*ages: str) -> list[tuple[str, tuple[Text, ...]]]:
        return [(f"w{i}", (Text(f"w{i}"), Text(age))) for i, age in enumerate(ages)]

    async def go() -> None:
        app = One()
        async with app.run_test(size=(80, 20)) as pilot:
            table = app.query_one(Grid)
            show_rows(table, rows("9s ago", "1m 05s ago", "3s ago"))
            await pilot.pause()
            assert table.widths == [len("worker"), len("1m 05s ago")]
            assert table.get_row("w0")[0].plain == "w0      9s ago    "
            assert table.ordered_columns[0].label.plain == "worker  seen      "
            table.move_cursor(row=2)
            show_rows(table, rows("10s ago", "1m 06s ago", "4s ago"))  # within their column
            await pilot.pause()
            assert table.widths == [len("worker"), len("1m 05s ago")]
            assert table.fields("w0") == ["w0", "10s ago"] and table.cursor_row == 2
            show_rows(table, rows("11s ago", "1h 02m 06s ago", "5s ago"))  # one outgrew it
            await pilot.pause()
            assert table.widths == [len("worker"), len("1h 02m 06s ago")]
            assert table.fields("w1") == ["w1", "1h 02m 06s ago"] and table.cursor_row == 2
            assert table.ordered_columns[0].label.plain == "worker  seen          "
            assert table.ordered_columns[0].content_width == len("worker  seen          ")
            assert len(table.columns) == 1 and table.row_count == 3
            many = [(f"w{i}", (Text(f"w{i}"), Text("1s ago"))) for i in range(60)]
            show_rows(table, many)  # another set of rows: filled again
            await pilot.pause()
            table.move_cursor(row=50)
            await pilot.pause()
            scrolled = table.scroll_y
            assert scrolled > 0
            show_rows(table, [(k, (f[0], Text("1h 02m 06s ago and more"))) for k, f in many])  # widens
            await pilot.pause()
            assert table.cursor_row == 50 and table.scroll_y == scrolled  # where the person left them
            assert table.fields("w50") == ["w50", "1h 02m 06s ago and more"]

    asyncio.run(go())


def test_under_a_steady_stream_the_dashboard_looks_again_at_a_pace_its_cpu_allows() -> None:
    pace = watch.Pace(share=0.04, shortest=1.0, longest=4.0)
    assert pace.next_look(100.0, cpu_since=0.01) == 101.0  # a cheap look: a second on, no sooner
    assert pace.next_look(100.0, cpu_since=0.1) == pytest.approx(102.5)  # 0.1 s of CPU is 4% of 2.5 s
    assert pace.next_look(100.0, cpu_since=2.0) == 104.0  # never held back more than the longest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_kill_or_a_hangup_quits_it_as_q_does(run: Project, sig: signal.Signals) -> None:
    # Killed, it ended at once and left the terminal on its screen, the cursor hidden.
    caught: list[int] = []
    previous = signal.signal(sig, lambda signum, _frame: caught.append(signum))  # were it not heard
    app = Dashboard(run)

    async def go() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await _until(pilot, lambda: app.overview is not None, "the first picture of the run")
            os.kill(os.getpid(), sig)
            await _until(pilot, lambda: not app.is_running, "the dashboard to quit")

    try:
        asyncio.run(go())
    finally:
        signal.signal(sig, previous)
    assert caught == [] and app.return_code == 0


def test_killed_while_nobody_reads_its_terminal_it_still_ends(run: Project) -> None:
    """A terminal nobody reads any more (a stalled connection): its screen's writes wait for
    ever, and giving the terminal back with them. Killed, `czar dash` ended never (seen: two left
    running, holding the store, after benchmarks); it ends within its grace now."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    argv = [sys.executable, "-m", "czar", "dash", str(run.plan.path)]
    dash = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        # Its quit signals taken (the screen is up), and what it wrote no longer growing: its
        # first picture fills the terminal's buffer, and its writer waits.
        deadline, pending, still = time.monotonic() + 60, -1, 0
        while still < 5:
            assert time.monotonic() < deadline and dash.poll() is None, "the dashboard's screen never came"
            time.sleep(0.2)
            status = Path(f"/proc/{dash.pid}/status").read_text()
            caught = int(next(x for x in status.splitlines() if x.startswith("SigCgt")).split()[1], 16)
            now = struct.unpack("i", fcntl.ioctl(master, termios.FIONREAD, b"\0\0\0\0"))[0]
            still = still + 1 if caught & (1 << (signal.SIGTERM - 1)) and now == pending and now > 0 else 0
            pending = now
        dash.send_signal(signal.SIGTERM)
        assert dash.wait(timeout=QUIT_GRACE_SECONDS + 30) == 128 + signal.SIGTERM
    finally:
        if dash.poll() is None:
            dash.kill()
        os.close(master)
