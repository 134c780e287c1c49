"""The terminal port's contract: tmux (``TmuxHost``) and ``FakeTerminal`` give the same answers,
so that what the supervisor's tests prove on the fake holds on tmux. Each case runs on both; on
tmux a window's process really prints and exits, on the fake the test says it did."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from czar.core.terminal import Terminal
from czar.errors import RuntimeHostError
from czar.runtime.tmux import TmuxHost
from czar.testing import FakeTerminal
from helpers import retry_until


class Screens:
    """Start a window whose process prints and exits, or prints and runs on, on either terminal.

    On tmux the process prints only once the test has seen its window alive (it waits for a file
    the test makes): what a process prints before tmux has set its pane up can be lost, and a
    busy machine must not decide what the test sees."""

    def __init__(self, terminal: Terminal, tmp: Path) -> None:
        self.t = terminal
        self.tmp = tmp

    def _start(self, name: str, then: str) -> None:
        go = self.tmp / f"go-{name}-{len(list(self.tmp.glob('go-*')))}"
        wait = f"while [ ! -e {go} ]; do sleep 0.02; done; "
        self.t.start_window(name, ["sh", "-c", wait + then], env={}, cwd=self.tmp)
        if not isinstance(self.t, FakeTerminal):
            retry_until(lambda: self.t.window_alive(name), what=f"{name} to start")
        go.touch()

    def exits(self, name: str, text: str) -> None:
        self._start(name, f"echo {text}; exit 3")
        if isinstance(self.t, FakeTerminal):
            self.t.exit(name, text)
        retry_until(lambda: not self.t.window_alive(name), what=f"{name} to exit")

    def runs(self, name: str, text: str) -> None:
        self._start(name, f"echo {text}; exec sleep 60")
        if isinstance(self.t, FakeTerminal):
            self.t.show(name, text)
        retry_until(lambda: text in self.t.capture(name), what=f"{name} to print")


@pytest.fixture(params=["tmux", "fake"])
def screens(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Screens]:
    if request.param == "fake":
        yield Screens(FakeTerminal(), tmp_path)
        return
    host = TmuxHost(f"czar-test-{uuid.uuid4().hex[:8]}", "czar-test")
    try:
        yield Screens(host, tmp_path)
    finally:
        host.kill_server()


def test_nothing_runs_before_the_first_window(screens: Screens) -> None:
    t = screens.t
    assert not t.alive()
    assert t.windows() == [] and t.live_windows() == set()
    assert not t.window_alive("w1") and t.capture("w1") == ""
    t.kill_window("w1")  # no such window: nothing to do


def test_a_window_that_exits_stays_dead_with_its_screen_and_is_replaced_by_a_new_start(screens: Screens) -> None:
    t = screens.t
    screens.exits("w1", "goodbye")
    screens.runs("w2", "hello")
    assert t.alive()
    assert sorted(t.windows()) == ["w1", "w2"]
    assert t.live_windows() == {"w2"}
    assert "goodbye" in t.capture("w1") and "hello" in t.capture("w2")
    screens.runs("w1", "again")
    assert t.windows().count("w1") == 1 and t.live_windows() == {"w1", "w2"}
    t.kill_window("w2")
    assert t.windows() == ["w1"]
    t.kill_server()
    assert not t.alive() and t.windows() == []


def test_an_environment_variable_name_that_is_not_one_is_refused(screens: Screens) -> None:
    with pytest.raises(RuntimeHostError, match="not an environment variable name"):
        screens.t.start_window("w1", ["true"], env={"A B": "x"}, cwd=screens.tmp)
    assert screens.t.windows() == []


def test_attaching_names_the_window(screens: Screens) -> None:
    argv = screens.t.attach_argv("w1")
    assert argv[0] == "tmux" and "attach-session" in argv and argv[-1].endswith(":w1")
