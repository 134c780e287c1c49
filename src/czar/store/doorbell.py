"""A per-project doorbell: writers ring after they commit, waiting readers wake at once.

Each listener binds a Unix datagram socket in the project's bell folder; ``ring`` sends one
byte to every socket there. A lost ring costs only latency, because every reader also polls
slowly as a safety net.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
from pathlib import Path


class Listener:
    """One reader's doorbell socket."""

    def __init__(self, folder: Path, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / name
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        self._sock.setblocking(False)

    def wait(self, timeout: float) -> bool:
        """Block until a ring or ``timeout`` seconds; True if rung. Drains queued rings."""
        ready, _, _ = select.select([self._sock], [], [], max(0.0, timeout))
        rung = bool(ready)
        while True:
            try:
                self._sock.recv(64)
            except (BlockingIOError, OSError):
                break
            rung = True
        return rung

    def poke(self) -> None:
        """Wake this listener from within its own process (for example from a signal handler)."""
        with contextlib.suppress(OSError):
            self._sock.sendto(b"!", str(self.path))

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


WORKER_PREFIX = "w-"  # a worker host's bell is named w-<worker>; every other bell is an observer's


def worker_bell(worker_id: str) -> str:
    return f"{WORKER_PREFIX}{worker_id}"


def ring(folder: Path, *, workers: frozenset[str] | set[str] = frozenset(), observers: bool = True) -> None:
    """Wake the named workers' hosts and, if ``observers``, every other listener of the folder.

    Targeting matters at scale: a hundred worker hosts woken by every event would spend the
    machine re-reading inboxes that did not change. Never fails (a missed ring is caught by polling).
    """
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return
    wanted = {worker_bell(w) for w in workers}
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        for name in names:
            if name not in wanted and (name.startswith(WORKER_PREFIX) or not observers):
                continue
            try:
                sock.sendto(b"!", str(folder / name))
            except ConnectionRefusedError:
                # The listener died without unlinking its socket: clean up after it.
                with contextlib.suppress(OSError):
                    (folder / name).unlink()
            except OSError:
                pass  # full queue: the listener is already awake
    finally:
        sock.close()
