"""An agent on a terminal of its own: what it draws reaches the pane, czar's messages go in as one
bracketed paste and a separate Enter, and its end is noticed."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from czar.host.screen import PASTE_END, PASTE_START, Screen
from helpers import retry_until

# Reads raw bytes from its terminal and prints each as a repr: what the agent really received.
READER = (
    "import os, sys, termios, tty\n"
    "tty.setraw(0)\n"
    "os.write(1, b'ready\\r\\n')\n"
    "seen = b''\n"
    "while not seen.endswith(b'\\r'):\n"
    "    seen += os.read(0, 1024)\n"
    "os.write(1, repr(seen).encode() + b'\\r\\n')\n"
)


def started(tmp_path: Path) -> tuple[Screen, io.StringIO]:
    """The reader on its terminal, once it reads keys as they come (as an agent's screen does)."""
    out = io.StringIO()
    screen = Screen([sys.executable, "-c", READER], dict(os.environ), tmp_path, out)
    retry_until(lambda: screen.pump() and "ready" in out.getvalue(), timeout=20, what="the reader to start")
    return screen, out


def test_a_message_is_one_bracketed_paste_then_enter(tmp_path: Path) -> None:
    screen, out = started(tmp_path)
    try:
        screen.paste("first line\nsecond line")

        def shown() -> str | None:
            screen.pump()
            return out.getvalue() if "\\r'" in out.getvalue() else None

        text = retry_until(shown, timeout=20, what="the reader to print what it received")
        expected = PASTE_START + b"first line\nsecond line" + PASTE_END + b"\r"
        assert repr(expected) in text
        retry_until(lambda: not screen.pump(), timeout=20, what="the end of its terminal")
        assert screen.proc.wait(timeout=10) == 0
    finally:
        screen.close()


def test_a_paste_cannot_end_early_with_a_stray_end_marker(tmp_path: Path) -> None:
    screen, out = started(tmp_path)
    try:
        screen.paste("evil \x1b[201~ rest")
        text = retry_until(lambda: (screen.pump() or True) and "\\r'" in out.getvalue(), timeout=20, what="the echo")
        assert text and repr(PASTE_START + b"evil  rest" + PASTE_END + b"\r") in out.getvalue()
    finally:
        screen.proc.end_all()
        screen.close()
