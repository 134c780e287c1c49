"""What makes the page live: one thread per project waits on the store's doorbell and, on a ring,
brings the page up to date for every open page at once.

The run is read through ``Feed`` (only what the new events touch), and only the parts and the rows
that changed are rendered again: a page that is up to date gets a patch of those (a few rows, not
the whole run), a page that fell behind or joined gets the whole live part. Rings that come close
together are coalesced (``COALESCE_SECONDS``); writes that are no event (a worker's last sign of
life) show at most every ``QUIET_SECONDS``; a slow poll (``SAFETY_SECONDS``) catches a lost ring.
There is no fixed refresh tick: with nothing happening, nothing is read, rendered or sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment

from czar.interfaces.web.graph import graph_layout_key, graph_node, graph_positions, graph_svg
from czar.store.doorbell import Listener
from czar.supervisor.overview import BRANCH_SECONDS, Feed, Overview, TaskRow, supervisor_of
from czar.supervisor.project import Project

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.02
SAFETY_SECONDS = 5.0
QUIET_SECONDS = 2.0
TRACE = os.environ.get("CZAR_WEB_TRACE")  # a file to note each version in (benchmarks)
WHOLE_SECONDS = 300.0
WORKERS_SECONDS = 10.0
KEPT = 64  # patches kept, so a page a little behind gets patches rather than the whole page


@dataclass
class Rendered:
    """The live part as it is now: each part's HTML and each row's, in order."""

    parts: dict[str, str] = field(default_factory=dict)
    rows: dict[str, str] = field(default_factory=dict)
    task_keys: list[str] = field(default_factory=list)
    worker_keys: list[str] = field(default_factory=list)


class LivePage:
    """One project's live part, rendered and patched."""

    def __init__(self, project: Project, env: Environment) -> None:
        # Whole reads seldom, as a safety net: each reads everything, and holds up the changes
        # that come meanwhile. The workers' last sign of life (written with no event) is read
        # more often, alone. Git is run by a thread of its own (``Broadcaster``): a change never
        # waits for it.
        self.feed = Feed(
            project,
            whole_seconds=WHOLE_SECONDS,
            workers_seconds=WORKERS_SECONDS,
            every_branch=False,
            branches_apart=True,
        )
        self.env = env
        self.macros = env.get_template("parts.html").module
        self.now = Rendered()
        self._tasks: list[TaskRow] = []  # as last read: the graph is drawn whole from them when asked
        self._layout: tuple[object, ...] = ()  # what the graph's layout was made from
        self._at: dict[str, tuple[int, int]] = {}  # ... and where each task's node stands in it
        self._shown: dict[str, object] = {}  # each row's key -> what its HTML was rendered from
        self._whole_next = False  # the next look reads the whole run (a look that failed half-way)
        self.supervisor_shown: dict[str, Any] | None = None  # as the page shows it

    def update(self) -> dict[str, dict[str, str]] | None:
        """Read the run again: the patch that brings a page up to date (rows, graph nodes and
        parts whose HTML changed; empty if none did), or None if the page must be rendered whole.

        A row is rendered again only when what it shows changed, of those the read says may have:
        a whole read of a hundred workers renders the few rows that moved."""
        view = self.feed.look(whole=self._whole_next)
        self._whole_next = False
        self.supervisor_shown = view.supervisor
        task_keys = [f"task:{t.id}" for t in view.tasks]
        worker_keys = [f"worker:{w.id}" for w in view.workers]
        layout = graph_layout_key(view.tasks)
        # New or gone rows (a task added to the plan), or another graph: the page is sent whole.
        whole = (
            not self.now.parts
            or task_keys != self.now.task_keys
            or worker_keys != self.now.worker_keys
            or layout != self._layout
        )
        if whole:
            self._shown = {}
            self._layout = layout
            self._at = graph_positions(view.tasks)
        self._tasks = view.tasks
        m = self.macros
        # What may have changed: what the read names (every row after a whole read).
        named = None if whole or view.changed is None else view.changed
        rows: dict[str, str] = {}
        for t in view.tasks:
            if named is not None and f"task:{t.id}" not in named:
                continue
            if self._changed(f"task:{t.id}", t):
                rows[f"task:{t.id}"] = str(m.task_row(t))  # type: ignore[attr-defined]
            if self._changed(f"node:{t.id}", (t.title, t.state)):
                rows[f"node:{t.id}"] = graph_node(t, self._at[t.id])
        for w in view.workers:
            if (named is None or f"worker:{w.id}" in named) and self._changed(f"worker:{w.id}", w):
                rows[f"worker:{w.id}"] = str(m.worker_row(w))  # type: ignore[attr-defined]
        parts = self._parts(view, whole)
        if whole:
            self.now = Rendered(parts, rows, task_keys, worker_keys)
            return None
        patch_rows = {k: html for k, html in rows.items() if self.now.rows.get(k) != html}
        patch_parts = {k: html for k, html in parts.items() if self.now.parts.get(k) != html}
        self.now.rows.update(patch_rows)
        self.now.parts.update(patch_parts)
        return {"rows": patch_rows, "parts": patch_parts}

    def forget(self) -> None:
        """After an update that failed half-way (its events read, its rows not all sent): the
        next reads the whole run and sends the whole page."""
        self.now = Rendered()
        self._whole_next = True

    def _changed(self, key: str, shown: object) -> bool:
        """True (and noted) if ``key``'s row would show something else than it last did."""
        if self._shown.get(key) == shown:
            return False
        self._shown[key] = shown
        return True

    def _parts(self, view: Overview, whole: bool) -> dict[str, str]:
        m = self.macros
        changed = view.changed or frozenset()
        every = whole or view.changed is None
        parts = {"summary": str(m.summary(view)), "inbox": str(m.inbox(view))}  # type: ignore[attr-defined]
        if whole:
            parts["graph"] = graph_svg(view.tasks)  # later, only its nodes change (as rows)
        if every or "pulls" in changed:
            parts["pulls"] = str(m.pulls(view))  # type: ignore[attr-defined]
        if every or "alerts" in changed:
            parts["alerts"] = str(m.alerts(view))  # type: ignore[attr-defined]
        return parts

    def html(self) -> str:
        r = self.now
        # The graph as its nodes are now: they were patched since it was drawn whole.
        parts = {**r.parts, "graph": graph_svg(self._tasks)}
        return self.env.get_template("live.html").render(
            parts=parts, rows=r.rows, task_keys=r.task_keys, worker_keys=r.worker_keys
        )


class Broadcaster:
    """One project's live page and the pages waiting for it."""

    def __init__(self, page: LivePage, name: str) -> None:
        self.page = page
        self.store = page.feed.p.store
        self.name = name
        self.version = 0
        self._patches: dict[int, dict[str, dict[str, str]] | None] = {}  # version -> how it came
        self._html: str | None = None  # the whole live part at ``version``, once asked for
        self._seen = -1  # the newest event id rendered
        self._rendered_at = 0.0
        self._lock = threading.Lock()  # the published state: version, patches, the whole part
        self._first = threading.Lock()  # one first picture, however many pages open at once
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[int]]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._listener: Listener | None = None

    def latest(self) -> tuple[int, str]:
        """The version and the whole live part."""
        with self._first:
            if self.version == 0:
                self._refresh(True)
        with self._lock:
            return self.version, self._whole()

    def since(self, version: int) -> tuple[int, str, str]:
        """What brings a page at ``version`` up to date: (the version now, "patch" or "page", the
        patch as JSON or the whole live part)."""
        with self._lock:
            steps = [self._patches.get(v) for v in range(version + 1, self.version + 1)]
            if all(step is not None for step in steps):
                merged: dict[str, dict[str, str]] = {"rows": {}, "parts": {}}
                for step in steps:
                    assert step is not None
                    merged["rows"].update(step["rows"])
                    merged["parts"].update(step["parts"])
                return self.version, "patch", json.dumps(merged)
            return self.version, "page", self._whole()

    def _whole(self) -> str:
        if self._html is None:
            self._html = self.page.html()
        return self._html

    def subscribe(self) -> asyncio.Queue[int]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        with self._lock:
            self._waiting.add((asyncio.get_running_loop(), queue))
            if self._thread is None:
                self._listener = listener = self.store.listen(f"web-{os.getpid()}-{self.name}-{id(self)}")
                self._thread = threading.Thread(
                    target=self._watch, args=(listener,), name=f"live-{self.name}", daemon=True
                )
                self._thread.start()
                threading.Thread(target=self._follow_branches, name=f"branches-{self.name}", daemon=True).start()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[int]) -> None:
        with self._lock:
            self._waiting = {w for w in self._waiting if w[1] is not queue}

    def close(self) -> None:
        self._stop.set()
        self.page.feed.branches_due.set()  # its thread wakes, and ends

    def _follow_branches(self) -> None:
        """Reads the branches' positions when a look says they may have moved (at most every
        ``BRANCH_SECONDS``), and has the page brought up to date if one did."""
        feed = self.page.feed
        while not self._stop.is_set():
            recount = feed.recount_in()  # counts left lagging a merge, due again then
            wait = SAFETY_SECONDS if recount is None else min(SAFETY_SECONDS, recount)
            if not feed.branches_due.wait(wait) and (recount is None or recount > wait):
                continue
            feed.branches_due.clear()
            if self._stop.is_set():
                break
            try:
                if feed.read_branches() and self._listener is not None:
                    self._listener.poke()
            except Exception as exc:  # git failed this time: the next look that sees a move tries again
                log.warning("branches of %s not read: %r", self.name, exc)
            self._stop.wait(BRANCH_SECONDS)

    def _watch(self, listener: Listener) -> None:
        try:
            while not self._stop.is_set():
                rung = listener.wait(SAFETY_SECONDS)
                if rung:
                    time.sleep(COALESCE_SECONDS)
                    listener.wait(0)  # the rings of the burst, drained
                try:
                    with self._first:
                        changed = self._refresh(rung)
                except Exception as exc:  # the store or git failed this time: the page waits for the next
                    log.warning("live page of %s not brought up to date: %r", self.name, exc)
                    self._seen = -1  # read again at the next ring, whole
                    self.page.forget()
                    continue
                with self._lock:
                    waiting = list(self._waiting)
                if changed:
                    for loop, queue in waiting:
                        with contextlib.suppress(RuntimeError):  # that page's loop has closed
                            loop.call_soon_threadsafe(queue.put_nowait, self.version)
        finally:
            listener.close()

    def _refresh(self, rung: bool) -> bool:
        """Bring the page up to date when the store has new events, or, for writes that are not
        events, at most every ``QUIET_SECONDS``; True if the page changed. Only its watch thread
        calls it (and ``latest``, once, before that thread starts); pages asking ``since``
        meanwhile are not held up by the reading and rendering, only by the swap."""
        newest = self.store.last_event_id()
        due = rung and time.monotonic() - self._rendered_at >= QUIET_SECONDS
        quiet = newest == self._seen and self.version and not due and not self.page.feed.has_news()
        if quiet and supervisor_of(self.page.feed.p) == self.page.supervisor_shown:
            return False
        self._rendered_at = time.monotonic()
        self._seen = newest
        began, cpu = time.time(), time.thread_time()
        patch = self.page.update()
        if patch is not None and not patch["rows"] and not patch["parts"] and self.version:
            return False
        with self._lock:
            self._publish(patch, newest, began, time.thread_time() - cpu)
        return True

    def _publish(self, patch: dict[str, dict[str, str]] | None, newest: int, began: float, cpu: float) -> None:
        self.version += 1
        if TRACE:  # czar bench views: when each version went out, the events it shows, its making
            with open(TRACE, "a", encoding="utf-8") as fh:
                size = len(json.dumps(patch)) if patch is not None else -1
                fh.write(f"{time.time():.4f} {self.version} {newest} {began:.4f} {cpu:.4f} {size}\n")
        self._patches[self.version] = patch
        self._patches.pop(self.version - KEPT, None)
        self._html = None
