"""`czar down` told to stop while it stops the run: it hurries, and says so, whatever it was doing."""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import termios
import threading
import time

import pytest

from czar.supervisor import launcher


def test_a_kill_in_the_middle_of_a_line_written_hurries_and_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    # Seen: a killed `czar down` ended without a word; the kill came while it wrote a line, and the
    # handler's own print, a reentrant call on stderr's buffer, failed.
    read_end, write_end = os.pipe()
    monkeypatch.setattr(sys, "stderr", open(write_end, "w", buffering=1))  # noqa: SIM115 - closed below
    hurry, got = threading.Event(), []
    said: list[bytes] = []

    def kill_when_the_line_waits() -> None:
        waiting = bytearray(4)
        deadline = time.monotonic() + 30
        # The pipe full: the long line below waits in the middle of being written.
        while time.monotonic() < deadline:
            fcntl.ioctl(read_end, termios.FIONREAD, waiting)
            if int.from_bytes(waiting, sys.byteorder) >= 65536:
                break
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)
        while chunk := os.read(read_end, 65536):
            said.append(chunk)

    previous = launcher._hurried_by_signals(hurry, got)
    reader = threading.Thread(target=kill_when_the_line_waits)
    try:
        reader.start()
        print("x" * (1 << 20), file=sys.stderr)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sys.stderr.close()
        reader.join(timeout=30)
    assert hurry.is_set() and got == [signal.SIGTERM]
    assert b"czar: stopping at once" in b"".join(said)
