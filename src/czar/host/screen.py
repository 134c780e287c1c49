"""An agent on a terminal of its own, shown in the worker's pane: the agent's own screen.

The worker host starts the agent on a pseudo-terminal the size of its pane, copies what the agent
draws to the pane, and what a person types in the pane (after ``czar attach``) to the agent. czar's
messages go in as a bracketed paste followed by a separate Enter, so that a message of many lines
is one prompt; whether it was submitted is confirmed by the agent's hook, not trusted.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import shutil
import signal
import struct
import sys
import termios
import time
import tty
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from czar.runtime.proc import spawn

PASTE_START, PASTE_END = b"\x1b[200~", b"\x1b[201~"
ENTER_PAUSE = 0.15  # between a paste and its Enter: a TUI takes an Enter inside a paste as text


class Screen:
    """One agent process on a pseudo-terminal; ``fd`` is czar's end of it."""

    def __init__(
        self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, out: IO[str], *, niceness: int = 0
    ) -> None:
        self.out = out
        self.fd, child = pty.openpty()
        _copy_size(out, child)
        try:
            self.proc = spawn(argv, cwd=cwd, env=env, terminal=child, niceness=niceness)
        except OSError:
            os.close(self.fd)
            raise
        finally:
            os.close(child)
        os.set_blocking(self.fd, False)

    # -- the pane -----------------------------------------------------------------------------

    def pump(self) -> bool:
        """Copy what the agent drew to the pane; False once its terminal closed (it exited)."""
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                return True
            except OSError:  # EIO: every process on the terminal is gone
                return False
            if not chunk:
                return False
            self._show(chunk)

    def type_in(self, data: bytes) -> None:
        """What a person typed in the pane, for the agent."""
        self._put(data)

    def resize(self) -> None:
        _copy_size(self.out, self.fd)
        self.proc.signal_group(signal.SIGWINCH)

    # -- czar's messages ----------------------------------------------------------------------

    def paste(self, text: str) -> None:
        """``text`` as one bracketed paste, then Enter."""
        body = text.replace("\r\n", "\n").encode()
        while PASTE_END in body:  # nothing inside may end the paste early (removing one may make one)
            body = body.replace(PASTE_END, b"")
        self._put(PASTE_START + body + PASTE_END)
        time.sleep(ENTER_PAUSE)
        self.enter()

    def enter(self) -> None:
        self._put(b"\r")

    # -- the end --------------------------------------------------------------------------------

    def close(self) -> None:
        """czar's end of the agent's terminal is closed."""
        with contextlib.suppress(OSError):
            os.close(self.fd)

    def _put(self, data: bytes) -> None:
        view = memoryview(data)
        deadline = time.monotonic() + 5
        while view and time.monotonic() < deadline:
            try:
                view = view[os.write(self.fd, view) :]
            except BlockingIOError:
                time.sleep(0.01)
            except OSError:
                return  # it exited; its end is noticed when its terminal closes

    def _show(self, chunk: bytes) -> None:
        buffer = getattr(self.out, "buffer", None)
        with contextlib.suppress(OSError, ValueError):
            if buffer is not None:
                buffer.write(chunk)
                buffer.flush()
            else:
                self.out.write(chunk.decode(errors="replace"))
                self.out.flush()


class Pane:
    """The worker's tmux pane, while an agent's screen is on it: its keyboard in raw mode (keys go
    to the agent as they are typed: arrows, Escape, Ctrl-C), and as it was once the agent is gone.
    Owned by the worker host's main thread: one saved mode, whatever agents come and go."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self._saved: list[Any] | None = None

    def lend(self) -> int | None:
        """Give the pane to an agent's screen; its keyboard's file descriptor, if it has one."""
        if self.out is not sys.stdout or not sys.stdin.isatty():
            return None
        if self._saved is None:
            with contextlib.suppress(termios.error, OSError):
                self._saved = termios.tcgetattr(sys.stdin.fileno())
                tty.setraw(sys.stdin.fileno())
        return sys.stdin.fileno() if self._saved is not None else None

    def take_back(self) -> None:
        """The pane as it was, and the modes an agent's screen turns on turned off again."""
        if self._saved is not None:
            with contextlib.suppress(termios.error, OSError):
                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, self._saved)
            self._saved = None
        # Plain text, bracketed paste and focus reports off, the cursor shown; the host's lines go
        # below the agent's last screen (kept above them), from the bottom line.
        reset = "\x1b[0m\x1b[?2004l\x1b[?1004l\x1b[?1049l\x1b[?25h\x1b[999;1H\r\n"
        with contextlib.suppress(OSError, ValueError):
            self.out.write(reset)
            self.out.flush()


def _copy_size(out: IO[str], fd: int) -> None:
    """Give the agent's terminal the pane's size (80x24 when the pane has none)."""
    size = shutil.get_terminal_size((120, 40))
    with contextlib.suppress(OSError, ValueError):
        if out is sys.stdout and os.isatty(sys.stdout.fileno()):
            size = os.get_terminal_size(sys.stdout.fileno())
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", size.lines, size.columns, 0, 0))
