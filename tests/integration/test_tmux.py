"""Worker windows on a private tmux socket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from czar.runtime.tmux import TmuxHost
from helpers import retry_until


@pytest.fixture
def host() -> Iterator[TmuxHost]:
    h = TmuxHost(f"czar-test-{uuid.uuid4().hex[:8]}", "czar-test")
    yield h
    h.kill_server()
    assert not h.alive()
    assert not h.socket_path().exists()  # no socket file left behind


def test_windows_run_their_command_and_a_dead_pane_stays_for_inspection(host: TmuxHost, tmp_path: Path) -> None:
    # It prints once its window is seen alive: what a process prints before tmux has set its pane
    # up can be lost on a busy machine.
    go = tmp_path / "go"
    hello = f'while [ ! -e {go} ]; do sleep 0.02; done; echo "hello $CZAR_X"; exit 3'
    host.start_window("w1", ["sh", "-c", hello], env={"CZAR_X": "from czar"}, cwd=tmp_path)
    host.start_window("w2", ["sleep", "60"], env={}, cwd=tmp_path)
    retry_until(lambda: host.window_alive("w1"), what="w1 to start")
    go.touch()
    retry_until(lambda: not host.window_alive("w1"), what="w1 to exit")
    assert "w1" in host.windows()
    assert "hello from czar" in host.capture("w1")
    assert host.window_alive("w2")
    host.start_window("w1", ["sleep", "60"], env={}, cwd=tmp_path)  # replaces the dead window
    assert host.windows().count("w1") == 1 and host.window_alive("w1")
    host.kill_window("w2")
    assert "w2" not in host.windows()


def test_a_window_cannot_be_renamed_nor_your_clipboard_written_by_what_runs_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An agent's screen is relayed to its pane: an escape sequence in it renamed its window
    (czar finds windows by name) or wrote the clipboard where ~/.tmux.conf allowed it."""
    (tmp_path / ".tmux.conf").write_text("set -g allow-rename on\nset -s set-clipboard on\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    host = TmuxHost(f"czar-test-{uuid.uuid4().hex[:8]}", "czar-test")
    try:
        host.start_window("w2", ["sleep", "60"], env={}, cwd=tmp_path)
        rename = r"printf '\033kw2\033\\'; printf '\033]52;c;ZXZpbA==\007'; echo sent; sleep 60"
        host.start_window("w1", ["sh", "-c", rename], env={}, cwd=tmp_path)
        retry_until(lambda: "sent" in host.capture("w1"), what="the sequences to be sent")
        assert sorted(host.windows()) == ["w1", "w2"]  # not two windows named w2
        assert not host._cmd("list-buffers")  # nothing copied
    finally:
        host.kill_server()
