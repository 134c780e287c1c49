"""What makes the page live: one thread per project waits on the store's doorbell, and on a ring
renders the live part of the page once, for every open page at once.

Rings that come close together are coalesced (``COALESCE_SECONDS``), so a burst of events costs
one render; a slow poll (``SAFETY_SECONDS``) catches a ring that was lost. There is no fixed
refresh tick: with nothing happening, nothing is rendered or sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Callable

from czar.store.store import Store

COALESCE_SECONDS = 0.02
SAFETY_SECONDS = 5.0


class Broadcaster:
    """The live part of one project's page, kept rendered, and the pages waiting for it."""

    def __init__(self, store: Store, render: Callable[[], str], name: str) -> None:
        self.store = store
        self.render = render
        self.name = name
        self.version = 0
        self.html = ""
        self._seen = -1  # the newest event id rendered
        self._lock = threading.Lock()
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[int]]] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def latest(self) -> tuple[int, str]:
        with self._lock:
            if self.version == 0:
                self._refresh(True)
            return self.version, self.html

    def subscribe(self) -> asyncio.Queue[int]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        with self._lock:
            self._waiting.add((asyncio.get_running_loop(), queue))
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name=f"live-{self.name}", daemon=True)
                self._thread.start()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[int]) -> None:
        with self._lock:
            self._waiting = {w for w in self._waiting if w[1] is not queue}

    def close(self) -> None:
        self._stop.set()

    def _watch(self) -> None:
        listener = self.store.listen(f"web-{os.getpid()}-{self.name}-{id(self)}")
        try:
            while not self._stop.is_set():
                rung = listener.wait(SAFETY_SECONDS)
                if rung:
                    time.sleep(COALESCE_SECONDS)
                    listener.wait(0)  # the rings of the burst, drained
                with self._lock:
                    changed = self._refresh(rung)
                    waiting = list(self._waiting)
                if changed:
                    for loop, queue in waiting:
                        with contextlib.suppress(RuntimeError):  # that page's loop has closed
                            loop.call_soon_threadsafe(queue.put_nowait, self.version)
        finally:
            listener.close()

    def _refresh(self, rung: bool) -> bool:
        """Render again after a ring (not every write is an event: a worker's state, say) or when
        the store has new events; True if the page changed."""
        newest = self.store.last_event_id()
        if not rung and newest == self._seen and self.version:
            return False
        html = self.render()
        self._seen = newest
        if html == self.html and self.version:
            return False
        self.html = html
        self.version += 1
        return True
