"""One lock per key (a task, a branch), made on first use: threads working on different keys run
side by side, two on the same key one after the other."""

from __future__ import annotations

import threading


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def __call__(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())
