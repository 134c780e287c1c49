"""`czar dash`: the run live in a terminal: workers, tasks, pull requests, alerts and what needs
you, from the read model (``czar.supervisor.overview``), refreshed when the store's doorbell rings.

The view decides nothing: each key calls a function of ``czar.supervisor.people``, the same path
as the CLI's commands, and shows its answer or its one-line refusal.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import DataTable, Footer, Label, Static, TabbedContent, TabPane

from czar.core.states import TaskState
from czar.errors import CzarError
from czar.interfaces.tui import rows
from czar.interfaces.tui.modals import AskLine, ChooseProject, Confirm
from czar.interfaces.tui.tables import Grid, selected_key, show_rows
from czar.interfaces.tui.watch import Watch
from czar.supervisor import people, projects
from czar.supervisor.overview import NeedsYou, Overview, TaskRow, overview
from czar.supervisor.project import Project

TABLES = {
    "workers": rows.WORKER_COLUMNS,
    "tasks": rows.TASK_COLUMNS,
    "pulls": rows.PULL_COLUMNS,
    "inbox": rows.INBOX_COLUMNS,
    "alerts": rows.ALERT_COLUMNS,
}


class Fresh(Message):
    """A new picture of ``project``'s run, from its watch."""

    def __init__(self, project: Project, overview: Overview) -> None:
        super().__init__()
        self.project = project
        self.overview = overview

    def can_replace(self, message: Message) -> bool:
        # Pictures queued behind a newer one of the same project are never worth drawing.
        return isinstance(message, Fresh) and message.project is self.project


class Unreadable(Message):
    """``project``'s run could not be read: why, in one line."""

    def __init__(self, project: Project, why: str) -> None:
        super().__init__()
        self.project = project
        self.why = why


QUIT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
QUIT_GRACE_SECONDS = 5.0  # after a quit signal, the longest giving the terminal back may take
# A quiet run is drawn again this often, for its times to count on: longer than the watch makes a
# busy run wait for its next picture (``watch.LONGEST``), so a busy run is never drawn twice over.
TICK_SECONDS = 5.0


class Dashboard(App[None]):
    """The run of ``project``, live. ``now``: the clock the ages ("12s ago") are measured with."""

    TITLE = "czar dash"
    CSS = """
    #summary { height: 1; padding: 0 1; background: $boost; }
    #summary.trouble { color: $error; }
    TabbedContent { height: 3fr; }
    #below { height: 2fr; }
    #needs-box { width: 3fr; }
    #alerts-box { width: 2fr; }
    .caption { padding: 0 1; text-style: bold; }
    DataTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "attach", "attach"),
        Binding("t", "tell", "tell"),
        Binding("y", "allow", "allow"),
        Binding("n", "deny", "deny"),
        Binding("r", "answer", "answer"),
        Binding("R", "retry", "retry"),
        Binding("c", "cancel_task", "cancel"),
        Binding("p", "pause", "pause/resume"),
        Binding("P", "switch_project", "projects"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(
        self,
        project: Project,
        *,
        now: Callable[[], float] = time.time,
        live: bool = True,
        on_quit_signal: Callable[[int], None] | None = None,
    ) -> None:
        """``live``: follow the run (else show one picture of it, read at start: a still, for a
        screenshot that must come out the same every time). ``on_quit_signal``: called with a
        quit signal's number when one comes (``run_dashboard`` makes sure the process ends)."""
        super().__init__()
        self.project = project
        self.now = now
        self.live = live
        self.on_quit_signal = on_quit_signal
        self.overview: Overview | None = None
        self._watch: Watch | None = None
        self._task_cells: dict[str, tuple[TaskRow, tuple[Text, ...]]] = {}  # made at the last look
        self._drawn_at = 0.0  # (monotonic)
        self._acting = threading.Lock()  # a person's actions, carried out one at a time

    def compose(self) -> ComposeResult:
        yield Static(Text(f"project {self.project.name}: reading the run…"), id="summary")
        with TabbedContent(id="main"):
            with TabPane("workers", id="workers-tab"):
                yield Grid(TABLES["workers"], id="workers")
            with TabPane("tasks", id="tasks-tab"):
                yield Grid(TABLES["tasks"], id="tasks")
            with TabPane("pull requests", id="pulls-tab"):
                yield Grid(TABLES["pulls"], id="pulls")
        with Horizontal(id="below"):
            with Vertical(id="needs-box"):
                yield Label("needs you", classes="caption")
                yield Grid(TABLES["inbox"], id="inbox")
            with Vertical(id="alerts-box"):
                yield Label("alerts (newest last)", classes="caption")
                yield Grid(TABLES["alerts"], id="alerts")
        yield Footer()

    def on_mount(self) -> None:
        # Killed (`kill`, `timeout`) or hung up, it quits as `q` does: it ended at once, and left
        # the terminal on its screen, the cursor hidden, keys not echoed. The handler is the signal
        # module's, not the loop's: a loop stuck writing to a terminal nobody reads any more (a
        # stalled connection) would never run the loop's, and the dashboard would run on for ever.
        loop = asyncio.get_running_loop()
        for sig in QUIT_SIGNALS:
            if signal.getsignal(sig) is signal.SIG_IGN:
                continue  # (`nohup`)
            with contextlib.suppress(ValueError):  # off the main thread: it quits by `q` alone
                signal.signal(sig, functools.partial(self._quit_signal, loop))
        self._table("workers").focus()
        if self.live:
            self._follow(self.project)
            self.set_interval(1.0, self._tick)
        else:
            self._fresh(Fresh(self.project, overview(self.project)))

    def _quit_signal(self, loop: asyncio.AbstractEventLoop, signum: int, _frame: object) -> None:
        if self.on_quit_signal is not None:
            self.on_quit_signal(signum)
        with contextlib.suppress(RuntimeError):  # its loop is closed: it is ending already
            loop.call_soon_threadsafe(self.exit)

    def on_unmount(self) -> None:
        # Its quit signals stay with it until ``kept_signals`` puts the old handlers back: a
        # second one (a closed window sends two) quits again, rather than end it before the
        # terminal is given back.
        if self._watch is not None:
            self._watch.stop(wait=2.0)

    # -- the run, as the watch reads it --------------------------------------------------------

    def _follow(self, project: Project) -> None:
        if self._watch is not None:
            self._watch.stop()
        self.project = project
        self.overview = None
        self._task_cells = {}  # another project's tasks
        self._watch = Watch(
            project,
            show=lambda o: self._post(Fresh(project, o)),
            trouble=lambda why: self._post(Unreadable(project, why)),
        )
        self._watch.start()

    def _post(self, message: Message) -> None:
        with contextlib.suppress(RuntimeError):  # the app closed its loop: nobody is left to show it to
            self.post_message(message)

    @on(Fresh)
    def _fresh(self, message: Fresh) -> None:
        if message.project is not self.project:
            return  # a late picture of the project switched away from
        self._draw(message.overview)

    def _tick(self) -> None:
        """How long ago, and for how long, count on while the run is quiet (a still run, or a
        supervisor killed: no picture comes). A busy run's pictures come more often than this."""
        if self.overview is not None and time.monotonic() - self._drawn_at >= TICK_SECONDS:
            self._draw(self.overview)

    def _draw(self, o: Overview) -> None:
        self.overview = o
        self._drawn_at = time.monotonic()
        now = self.now()
        summary = self.query_one("#summary", Static)
        summary.remove_class("trouble")
        summary.update(rows.summary(o))
        tabs = self.query_one(TabbedContent)
        self._draw_tab(tabs.active)
        show_rows(self._table("inbox"), rows.inbox_rows(o, now))
        show_rows(self._table("alerts"), rows.alert_rows(o, now), follow_end=True)
        for tab, label in (
            ("workers-tab", f"workers ({len(o.workers)})"),
            ("tasks-tab", f"tasks ({len(o.tasks)})"),
            ("pulls-tab", f"pull requests ({len(o.pulls)})"),
        ):
            shown = tabs.get_tab(tab)
            if shown.label.plain != label:  # a new label lays the tabs out again, and slides the underline
                shown.label = Text(label)

    def _draw_tab(self, tab: str) -> None:
        """The table of tab ``tab`` as the last picture shows it. Only the tab in view is drawn
        at each picture: a tab out of sight is drawn when a person turns to it (three hundred
        tasks' rows are not made and laid out again at every look for nobody)."""
        o = self.overview
        if o is None:
            return
        match tab:
            case "workers-tab":
                show_rows(self._table("workers"), rows.worker_rows(o, self.now()))
            case "tasks-tab":
                show_rows(self._table("tasks"), rows.task_rows(o, self._task_cells))
            case "pulls-tab":
                show_rows(self._table("pulls"), rows.pull_rows(o))

    def show_tab(self, tab: str) -> None:
        """Turn to tab ``tab`` (workers-tab, tasks-tab, pulls-tab), drawn at once."""
        self.query_one(TabbedContent).active = tab
        self._draw_tab(tab)

    @on(TabbedContent.TabActivated)
    def _turned(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id is not None and event.pane.is_attached:
            with contextlib.suppress(NoMatches):  # the screen is closing: nothing to draw on
                self._draw_tab(event.pane.id)

    @on(Unreadable)
    def _unreadable(self, message: Unreadable) -> None:
        if message.project is self.project:
            summary = self.query_one("#summary", Static)
            summary.add_class("trouble")
            summary.update(Text(f"project {message.project.name}: cannot read the run: {message.why}"))

    def _table(self, name: str) -> Grid:
        return self.query_one(f"#{name}", Grid)

    # -- what is selected ----------------------------------------------------------------------

    def _subject(self) -> tuple[str | None, str | None, NeedsYou | None]:
        """The task, the worker and the need of the row a person points at: the focused table's
        (the workers table's when none of them has the focus)."""
        o = self.overview
        if o is None:
            return None, None, None
        focused = self.focused
        table = focused if isinstance(focused, DataTable) else self._table("workers")
        key = selected_key(table)
        if key is None:
            return None, None, None
        match table.id:
            case "inbox":
                need = next((n for n in o.inbox if n.key == key), None)
                return (need.task, need.worker, need) if need else (None, None, None)
            case "tasks":
                task = o.task(key)
                return key, task.worker if task else None, None
            case "pulls":
                pull = next((p for p in o.pulls if str(p["number"]) == key), None)
                tid = str(pull["task"]) if pull else None
                held = o.task(tid) if tid else None
                return tid, held.worker if held else None, None
            case "alerts":
                alert = next((a for a in o.alerts if str(a.id) == key), None)
                return (alert.task, alert.worker, None) if alert else (None, None, None)
            case _:
                worker = next((w for w in o.workers if w.id == key), None)
                return (worker.task, worker.id, None) if worker else (None, None, None)

    def _need(self, kind: str) -> NeedsYou | None:
        """What needs you of ``kind`` on the row pointed at (the row itself, in the inbox)."""
        task, worker, need = self._subject()
        if need is not None:
            return need if need.kind == kind else None
        found = self.overview.inbox if self.overview else []
        return next((n for n in found if n.kind == kind and (n.worker, n.task) == (worker, task)), None)

    def _selected_worker(self) -> str | None:
        worker = self._subject()[1]
        if worker is None:
            self.notify("select a row with a worker first", severity="warning")
        return worker

    def _selected_task(self) -> str | None:
        task = self._subject()[0]
        if task is None:
            self.notify("select a row with a task first", severity="warning")
        return task

    # -- acting, through people ----------------------------------------------------------------

    def _act(self, deed: Callable[[], str]) -> None:
        """``deed`` off the screen's thread: a write waits up to half a minute for a store another
        process holds, and the keys (and `q`) must answer meanwhile."""

        def carry_out() -> None:
            with self._acting:  # one at a time, in the order pressed (a pause, then a resume)
                try:
                    said, severity = deed(), "information"
                except CzarError as exc:
                    said, severity = str(exc), "error"
                except Exception as exc:  # (the store's or the system's own: said, not lost with the thread)
                    said, severity = f"not done: {exc}", "error"
            with contextlib.suppress(RuntimeError):  # the dashboard closed meanwhile: nobody to tell
                self.call_from_thread(self.notify, said, severity=severity, markup=False)

        self.run_worker(carry_out, thread=True, group="acts", exit_on_error=False)

    def action_attach(self) -> None:
        worker = self._selected_worker()
        if worker is None:
            return
        if worker not in self.project.tmux.windows():
            self.notify(f"worker {worker} has no window now", severity="error")
            return
        argv = self.project.tmux.attach_argv(worker)
        try:
            with self.suspend():
                # The person's terminal, handed over to tmux until they detach: no pipes, no
                # time limit, so not through czar.runtime.proc.
                os.spawnvp(os.P_WAIT, argv[0], argv)
        except SuspendNotSupported:
            self.notify(f"this terminal cannot be handed over; `czar attach {worker}` can", severity="error")
        except OSError as exc:
            self.notify(f"cannot run {argv[0]}: {exc.strerror or exc}", severity="error", markup=False)

    def action_tell(self) -> None:
        worker = self._selected_worker()
        if worker is None:
            return
        task = self._subject()[0]  # the one it works on as the person starts typing
        project = self.project  # (the person may switch projects while typing)

        def send(text: str | None) -> None:
            if text:
                self._act(functools.partial(people.tell, project, worker, text, task))

        self.push_screen(AskLine(f"tell worker {worker}:"), send)

    def _decide(self, allow: bool) -> None:
        need = self._need("permission")
        if need is None or need.worker is None:
            self.notify("the selected row asks for no permission", severity="warning")
            return
        worker, asked_at = need.worker, need.asked_at
        self._act(functools.partial(people.answer_permission, self.project, worker, allow, asked_at=asked_at))

    def action_allow(self) -> None:
        self._decide(True)

    def action_deny(self) -> None:
        self._decide(False)

    def action_answer(self) -> None:
        need = self._need("question")
        if need is None or need.worker is None:
            self.notify("the selected row asks no question", severity="warning")
            return
        worker, task, project = need.worker, need.task, self.project

        def send(text: str | None) -> None:
            if text:
                self._act(functools.partial(people.tell, project, worker, text, task))

        self.push_screen(AskLine(need.text), send)

    def action_retry(self) -> None:
        task = self._selected_task()
        if task is not None:
            self._act(functools.partial(people.retry, self.project, task))

    def action_cancel_task(self) -> None:
        task = self._selected_task()
        if task is None:
            return
        shown = self.overview.task(task) if self.overview else None
        # Giving up on a failed task: not if someone retried it meanwhile.
        was = TaskState.FAILED if shown is not None and shown.state == TaskState.FAILED.value else None
        project = self.project

        def cancel(sure: bool | None) -> None:
            if sure:
                self._act(functools.partial(people.cancel, project, task, was=was))

        self.push_screen(Confirm(f"cancel task {task}?"), cancel)

    def action_pause(self) -> None:
        if self.overview is None:
            self.notify("the run is not read yet", severity="warning")
        elif self.overview.paused:
            self._act(functools.partial(people.resume, self.project))
        else:
            self._act(functools.partial(people.pause, self.project))

    def action_switch_project(self) -> None:
        def switch(name: str | None) -> None:
            if name is None or name == self.project.name:
                return
            try:
                chosen = projects.open_named(name)
            except CzarError as exc:
                self.notify(str(exc), severity="error", markup=False)
                return
            for table in TABLES:
                self._table(table).reset()
            self.query_one("#summary", Static).update(Text(f"project {name}: reading the run…"))
            self._follow(chosen)

        self.push_screen(ChooseProject(projects.all_projects(), self.project.name), switch)


def run_dashboard(project: Project) -> None:
    """Show ``project``'s run until the person quits (refused inside an agent: its keys act for a
    person)."""
    people.require_person(project, "dash")
    project.store.last_event_id()  # a store that cannot be read is said in one line, before the screen
    ending: list[threading.Timer] = []

    def end_soon(signum: int) -> None:
        # Killed or hung up, it ends within QUIT_GRACE_SECONDS whatever happens: giving a terminal
        # nobody reads any more its screen back waits for ever (Textual's writes to it are queued
        # behind one that never returns). It reads the run and changes nothing by itself: a
        # person's command, if one was being carried out, is one transaction, kept or not.
        if not ending:
            ending.append(threading.Timer(QUIT_GRACE_SECONDS, os._exit, (128 + signum,)))
            ending[0].daemon = True
            ending[0].start()

    with kept_signals():
        Dashboard(project, on_quit_signal=end_soon).run()
    for timer in ending:
        timer.cancel()


@contextlib.contextmanager
def kept_signals() -> Iterator[None]:
    """The quit signals' handlers as they were before the dashboard took them (else they would
    stay its own after it ended, and `nohup` would be undone)."""
    before = {sig: signal.getsignal(sig) for sig in QUIT_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
