"""A command that owns a run stops it when told to stop, whichever way it is told.

Ctrl-C (SIGINT) reaches Python as ``KeyboardInterrupt``, and the commands that start a run
(`czar run`, `czar demo`, `czar bench`) stop it on their way out. SIGTERM (``timeout``, a CI job
cancelled, ``kill``) and SIGHUP (the terminal closed) ended the process at once, with no way
out: the run went on with nobody following it, its agents spending tokens (seen: a benchmark
cut short by ``timeout`` left a hundred worker hosts running). Here they take Ctrl-C's way.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import FrameType
from typing import ParamSpec, TypeVar

import typer

from czar.runtime import proc

P = ParamSpec("P")
R = TypeVar("R")

_again: list[int] = []  # the stop signals that came after the first, before `down` took them over


class Terminated(KeyboardInterrupt):
    """Told to stop by a signal other than Ctrl-C: handled as Ctrl-C is, and said as itself."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _raise(signum: int, _frame: FrameType | None) -> None:
    stopping()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Terminated(signum)


def stopping() -> None:
    """The command is on its way out (a signal, its output closed): what follows (the run's
    `down`, which takes the signals over and hurries when told again) must not be cut short by a
    signal raising in the middle of its way there; they are noted until then."""
    for sig in proc.STOP_SIGNALS:
        if signal.getsignal(sig) is _raise:
            signal.signal(sig, _noted)


def _noted(signum: int, _frame: FrameType | None) -> None:
    _again.append(signum)


def told_again() -> bool:
    """A stop signal came again since the first (`down` then hurries from its start)."""
    return bool(_again)


@contextlib.contextmanager
def as_interrupts() -> Iterator[None]:
    """Within it, SIGTERM and SIGHUP raise ``Terminated``, and Ctrl-C ``KeyboardInterrupt``; the
    first of them only (see ``_raise``). One the process ignores (``nohup``, a background job)
    stays ignored."""
    before = {sig: signal.getsignal(sig) for sig in proc.STOP_SIGNALS}
    for sig, handler in before.items():
        if handler is not signal.SIG_IGN:
            signal.signal(sig, _raise)
    try:
        yield
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        _again.clear()


def on_signals(command: Callable[P, R], *, said: str | None = None) -> Callable[P, R]:
    """``command`` run within ``as_interrupts`` (a command that starts runs of its own); it
    exits as a shell says of a process the signal ended (Typer makes every interrupt 130), saying
    ``said`` after how it was stopped, if given (a command that says nothing of its own)."""

    @functools.wraps(command)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            with as_interrupts():
                return command(*args, **kwargs)
        except KeyboardInterrupt as exc:  # Terminated too
            if said is None and not isinstance(exc, Terminated):
                raise
            if said is not None:
                say(f"czar: {how(exc).said}; {said}")
            raise typer.Exit(how(exc).exit_code) from exc
        except BrokenPipeError as exc:
            stopping()
            output_gone()
            raise typer.Exit(how(exc).exit_code) from exc

    return wrapped


def say(text: str) -> None:
    """A line on the way out, to a terminal that may be gone (closed: SIGHUP): writing to it
    fails, and that must not keep the run from being stopped."""
    with contextlib.suppress(OSError):
        print(text, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Stop:
    said: str  # to the person: "interrupted", "stopped by SIGTERM"
    reason: str  # in the run's record (``run.down``)
    exit_code: int  # as a shell reports a process a signal ended


def how(exc: KeyboardInterrupt | BrokenPipeError) -> Stop:
    if isinstance(exc, BrokenPipeError):
        # What read its output is gone (`czar run | head`, a pager quit): as a terminal closed.
        return Stop("its output was closed", "stopped (its output was closed)", 128 + signal.SIGPIPE)
    if isinstance(exc, Terminated):
        return Stop(f"stopped by {exc.name}", f"stopped ({exc.name})", 128 + exc.signum)
    return Stop("interrupted", "interrupted (Ctrl-C)", 128 + signal.SIGINT)


def output_gone() -> None:
    """Standard output points nowhere from now on: what is still written to it (Python's own
    flush on the way out) must not fail again."""
    with contextlib.suppress(OSError, ValueError):
        nowhere = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(nowhere, sys.stdout.fileno())
        finally:
            os.close(nowhere)
