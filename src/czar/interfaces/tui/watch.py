"""The dashboard's watch on one project: a thread that reads the run's overview again whenever
the store's doorbell rings (through ``Feed``: only what the new events touch), and hands each
picture to the view.

No fixed refresh tick: the thread sleeps on the doorbell. Its slow timeout is the doorbell's
documented safety net (a lost ring costs latency, not a stale screen) and reads the run again
only if an event came meanwhile. A burst of events (a hundred workers' reports) gives one read:
after a ring the thread waits until the bell is quiet for a moment. Under a steady stream of rings
it looks again at a pace that keeps the whole dashboard within a small share of a core (``Pace``).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from czar.errors import CzarError
from czar.supervisor.overview import Feed, Overview, supervisor_of
from czar.supervisor.project import Project

SAFETY_POLL = 5.0  # seconds: the doorbell's safety net, not a refresh tick
QUIET = 0.1  # seconds a ring waits for the rest of its burst
SOONEST = 0.5  # seconds after a look began that the next may come, at the soonest (twice a second)
# ... or later: the share of a core the dashboard may take while rings keep coming, counted as
# the CPU its whole process used since the last look began (reading the run, drawing it, and
# Textual painting it), with the git commands it ran. A quiet run's change is drawn at once.
SHARE = 0.03
LONGEST = 4.0  # seconds rings may hold a look back at most, whatever a look cost


@dataclass(frozen=True)
class Pace:
    """When the next look may come while rings keep coming: at least ``shortest`` after the
    last began, later if the process used more than ``share`` of a core since, never later than
    ``longest``."""

    share: float = SHARE
    shortest: float = SOONEST
    longest: float = LONGEST

    def next_look(self, last_began: float, cpu_since: float) -> float:
        return last_began + min(self.longest, max(self.shortest, cpu_since / self.share))


_numbers = itertools.count(1)


class Watch:
    """Reads ``project``'s overview on every ring, off the caller's thread; ``show`` gets each
    picture, ``trouble`` the line that says why the run could not be read."""

    def __init__(self, project: Project, show: Callable[[Overview], None], trouble: Callable[[str], None]) -> None:
        self.project = project
        # Each read costs what changed since the last; the branches counted are those shown.
        self._feed = Feed(project, every_branch=False)
        self._show = show
        self._trouble = trouble
        self._pace = Pace()
        self._stopped = threading.Event()
        self._last_began = 0.0  # when the last look began (monotonic) ...
        self._cpu_at_last = 0.0  # ... and the CPU used then (``_cpu``)
        self._supervisor_shown: dict[str, Any] | None = None  # as the last picture showed it
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
                if rung or self._newest() != seen or self._supervisor() != self._supervisor_shown:
                    seen = self._read()
                rung = self._listener.wait(SAFETY_POLL)
                if rung:
                    self._let_burst_end()
        finally:
            self._listener.close()

    def _let_burst_end(self) -> None:
        """A moment (``QUIET``), so that a burst of rings gives one look, then until the pace lets
        the next look come. It sleeps in steps rather than waking at each ring (a hundred workers
        ring hundreds of times a second), and weighs the CPU again at each: the painting of the
        last look goes on meanwhile."""
        self._stopped.wait(QUIET)
        while not self._stopped.is_set():
            now = time.monotonic()
            due = self._pace.next_look(self._last_began, _cpu() - self._cpu_at_last)
            if now >= due:
                break
            self._stopped.wait(min(QUIET, due - now))
        self._listener.wait(0)  # the rings so far: the look to come reads what they rang for

    def _newest(self) -> int | None:
        try:
            return self.project.store.last_event_id()
        except CzarError:
            return None  # read again: the next read says what is wrong

    def _read(self) -> int | None:
        """Read and show the run; the newest event shown (None when it could not be read)."""
        if self._stopped.is_set():
            return None
        self._last_began, self._cpu_at_last = time.monotonic(), _cpu()
        try:
            picture = self._feed.look()
        except CzarError as exc:
            self._trouble(str(exc))
            return None
        if not self._stopped.is_set():
            self._show(picture)
        self._supervisor_shown = picture.supervisor
        return picture.last_event

    def _supervisor(self) -> dict[str, Any] | None:
        try:
            return supervisor_of(self.project)
        except (CzarError, OSError):
            return self._supervisor_shown  # (the next read says what is wrong, if anything is)


def _cpu() -> float:
    """The CPU this process has used (every thread), and the commands it ran and waited for."""
    children = os.times()  # in clock ticks: the process's own time is read finer
    return time.process_time() + children.children_user + children.children_system
