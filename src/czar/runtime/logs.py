"""czar's own logs: a process's lines of what it does (``supervisor.log``, ``<worker>.log``),
written through ``logging``, one file handler per file for the life of the process (closed by
``logging.shutdown`` at exit), each line flushed as it is written so that ``czar logs`` follows."""

from __future__ import annotations

import logging
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
            handler = logging.FileHandler(path, encoding="utf-8", delay=True)
            handler.setFormatter(FORMAT)
            logger.addHandler(handler)
            _LOGGERS[path] = logger  # kept: logging.shutdown closes its handler at exit
        return logger


def close_all() -> None:
    """Close every log file this process writes (at the end of a test, say)."""
    with _LOCK:
        for logger in _LOGGERS.values():
            for handler in logger.handlers:
                handler.close()
        _LOGGERS.clear()
