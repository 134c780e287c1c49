"""The subprocess chokepoint: liveness of processes czar did not start itself (worker hosts in tmux)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from czar.runtime.proc import pid_alive
from helpers import retry_until


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def test_a_zombie_counts_as_dead_at_once() -> None:
    # A child that exits and is not reaped (nobody waits for it) stays a zombie, as a killed
    # worker host does under a tmux that has not reaped it yet: it still answers signal 0.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        retry_until(lambda: _state(child.pid) == "Z", what="the child to become a zombie")
        os.kill(child.pid, 0)  # the kernel still knows it
        assert not pid_alive(child.pid)
    finally:
        child.wait()


def test_a_running_process_is_alive_and_a_reaped_one_is_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    assert pid_alive(child.pid)
    assert child.stdin is not None
    child.stdin.close()
    child.wait()
    assert not pid_alive(child.pid)
    assert not pid_alive(None)
