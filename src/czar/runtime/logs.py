"""czar's own logs: a process's lines of what it does (``supervisor.log``, ``<worker>.log``),
written through ``logging``, one file handler per file for the life of the process (closed by
``logging.shutdown`` at exit), each line flushed as it is written so that ``czar logs`` follows."""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import sys
import threading
from pathlib import Path

_LOGGERS: dict[Path, logging.Logger] = {}
_LOCK = threading.Lock()
FORMAT = logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S")


def to_file(path: Path) -> logging.Logger:
    """The logger whose lines go to ``path`` (appended; the file is made on the first line)."""
    with _LOCK:
        logger = _LOGGERS.get(path)
        if logger is None:
            # Not in logging's tree of named loggers: nothing above it adds its own handlers.
            logger = logging.Logger(f"czar:{path.name}", logging.INFO)
            logger.propagate = False
            handler = _Handler(path, encoding="utf-8", delay=True)
            handler.setFormatter(FORMAT)
            logger.addHandler(handler)
            _LOGGERS[path] = logger  # kept: logging.shutdown closes its handler at exit
        return logger


def gather(path: Path) -> None:
    """This process's warnings from czar's named loggers (``czar.git``, ``czar.checkout``, ...) go
    to ``path`` too: in a process whose screen is a tmux window nobody reads (the supervisor, a
    worker host), a warning from deep inside (a git command that failed) is in its log, not lost."""
    handlers = to_file(path).handlers
    named = logging.getLogger("czar")
    with _LOCK:
        named.handlers = [*(h for h in named.handlers if h not in handlers), *handlers]
        if not any(isinstance(h, _Screen) for h in named.handlers):  # and still on its screen, as before
            named.handlers.append(_Screen())


class _Screen(logging.StreamHandler):  # type: ignore[type-arg]
    """What logging printed of a warning with no handler of its own: the line, on standard error."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def handleError(self, record: logging.LogRecord) -> None:  # a screen gone (a closed pane) stops nothing
        pass


class _Handler(logging.handlers.WatchedFileHandler):
    """Opens its file again when it was moved or deleted; a line it cannot write (a full disk, a
    removed folder) is dropped quietly: the log must never stop czar, nor write over an agent's
    screen in the pane."""

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(OSError):  # opening it again is outside logging's own error handling
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        pass


def close_all() -> None:
    """Close every log file this process writes (at the end of a test, say)."""
    with _LOCK:
        for logger in _LOGGERS.values():
            for handler in logger.handlers:
                handler.close()
        _LOGGERS.clear()
        logging.getLogger("czar").handlers = []
