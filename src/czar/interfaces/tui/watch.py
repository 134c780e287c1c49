"""The dashboard's watch on one project: a thread that reads the run's overview again whenever
the store's doorbell rings (through ``Feed``: only what the new events touch), and hands each
picture to the view.

No fixed refresh tick: the thread sleeps on the doorbell. Its slow timeout is the doorbell's
documented safety net (a lost ring costs latency, not a stale screen) and reads the run again
only if an event came meanwhile. A burst of events (a hundred workers' reports) gives one read:
after a ring the thread waits until the bell is quiet for a moment.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable

from czar.errors import CzarError
from czar.supervisor.overview import Feed, Overview
from czar.supervisor.project import Project

SAFETY_POLL = 5.0  # seconds: the doorbell's safety net, not a refresh tick
QUIET = 0.1  # seconds without a ring that end a burst
BURST_AT_MOST = 1.0  # seconds a steady stream of rings may hold a read back
# ... or more: the share of a core the dashboard may take while a steady stream lasts. A look
# (reading the run and drawing it; Textual's painting after is not counted, hence the low share)
# of 0.1 s waits 3.3 s for the next; a quiet run's look of 10 ms is drawn at once.
SHARE = 0.03
LONGEST = 4.0  # seconds a steady stream may hold a read back at most, whatever a look cost

_numbers = itertools.count(1)


class Watch:
    """Reads ``project``'s overview on every ring, off the caller's thread; ``show`` gets each
    picture, ``trouble`` the line that says why the run could not be read."""

    def __init__(self, project: Project, show: Callable[[Overview], None], trouble: Callable[[str], None]) -> None:
        self.project = project
        self._feed = Feed(project)  # each read costs what changed since the last
        self._show = show
        self._trouble = trouble
        self._stopped = threading.Event()
        self.cost = 0.0  # seconds the last look took: reading it here, and drawing it (``drawn``)
        # Listening before the first read: a write between the two still rings.
        self._listener = project.store.listen(f"dash-{os.getpid()}-{next(_numbers)}")
        self._thread = threading.Thread(target=self._follow, name=f"czar-dash-{project.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 0.0) -> None:
        """End the thread (it closes its doorbell); wait for it at most ``wait`` seconds."""
        self._stopped.set()
        if not self._thread.is_alive() and self._thread.ident is None:
            self._listener.close()  # never started: nobody else will close it
            return
        self._listener.poke()
        self._thread.join(wait)

    def _follow(self) -> None:
        try:
            seen: int | None = None
            rung = True
            while not self._stopped.is_set():
                if rung or self._newest() != seen:
                    seen = self._read()
                rung = self._listener.wait(SAFETY_POLL)
                if rung:
                    self._let_burst_end()
        finally:
            self._listener.close()

    def drawn(self, seconds: float) -> None:
        """The view says how long drawing the last picture took."""
        self.cost += seconds

    def _let_burst_end(self) -> None:
        """Until the bell has been quiet for ``QUIET`` (or the burst has lasted long enough).
        It sleeps in steps rather than waking at each ring: a hundred workers ring hundreds of
        times a second."""
        deadline = time.monotonic() + min(LONGEST, max(BURST_AT_MOST, self.cost / SHARE))
        while not self._stopped.is_set() and time.monotonic() < deadline:
            self._stopped.wait(QUIET)
            if not self._listener.wait(0):
                return

    def _newest(self) -> int | None:
        try:
            return self.project.store.last_event_id()
        except CzarError:
            return None  # read again: the next read says what is wrong

    def _read(self) -> int | None:
        """Read and show the run; the newest event shown (None when it could not be read)."""
        if self._stopped.is_set():
            return None
        try:
            started = time.monotonic()
            picture = self._feed.look()
            self.cost = time.monotonic() - started
        except CzarError as exc:
            self._trouble(str(exc))
            return None
        if not self._stopped.is_set():
            self._show(picture)
        return picture.last_event
