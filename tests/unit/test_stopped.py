"""SIGTERM and SIGHUP take Ctrl-C's way out of the commands that own a run."""

from __future__ import annotations

import os
import signal

import pytest

from czar.interfaces.cli import stopped


def test_a_kill_within_is_an_interrupt_said_as_itself_and_the_handlers_come_back() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as raised, stopped.as_interrupts():
        os.kill(os.getpid(), signal.SIGTERM)
    assert isinstance(raised.value, stopped.Terminated)
    stop = stopped.how(raised.value)
    assert (stop.said, stop.reason, stop.exit_code) == ("stopped by SIGTERM", "stopped (SIGTERM)", 143)
    assert signal.getsignal(signal.SIGTERM) is before
    ctrl_c = stopped.how(KeyboardInterrupt())
    assert (ctrl_c.said, ctrl_c.reason, ctrl_c.exit_code) == ("interrupted", "interrupted (Ctrl-C)", 130)


def test_only_the_first_stop_raises_the_next_are_noted_for_down_to_hurry() -> None:
    # Ctrl-C as Python has it in a terminal (a test runner's worker may ignore it).
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt) as raised, stopped.as_interrupts():
            try:
                os.kill(os.getpid(), signal.SIGINT)
            finally:
                assert not stopped.told_again()
                os.kill(os.getpid(), signal.SIGTERM)  # on the way out: noted, not raised
                os.kill(os.getpid(), signal.SIGINT)
                assert stopped.told_again()
        assert type(raised.value) is KeyboardInterrupt
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler and not stopped.told_again()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_hangup_ignored_before_stays_ignored() -> None:
    # `nohup czar run ...`: the person asked for the run to outlive the terminal.
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stopped.as_interrupts():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGHUP)  # nothing happens
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_a_line_to_a_terminal_gone_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    class Gone:
        def write(self, _text: str) -> int:
            raise OSError(5, "Input/output error")

        def flush(self) -> None:
            raise OSError(5, "Input/output error")

    monkeypatch.setattr("sys.stderr", Gone())
    stopped.say("czar: stopped by SIGHUP: stopping the run...")  # no exception


def test_a_closed_output_on_the_way_out_has_the_next_kill_noted_not_raised() -> None:
    with stopped.as_interrupts():
        stopped.stopping()  # (what `czar run` does when its output is closed)
        os.kill(os.getpid(), signal.SIGTERM)  # would have raised in the middle of its way to `down`
        assert stopped.told_again()
    assert not stopped.told_again()
