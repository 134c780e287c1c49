"""The subprocess chokepoint: liveness of processes czar did not start itself (worker hosts in tmux)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from czar.runtime import ancestry, proc
from czar.runtime.proc import pid_alive, wait_gone
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


def test_the_processes_a_sandboxed_program_started_are_found_and_waited_for() -> None:
    # A shell that starts a sleeper in a session of its own (as a sandbox's processes are): out of
    # its group's reach, but found under it, and gone only once killed.
    shell = subprocess.Popen(["sh", "-c", "setsid sleep 60 & wait"], start_new_session=True)
    try:
        retry_until(lambda: len(ancestry.descendants(shell.pid)) == 1, what="the sleeper to start")
        [sleeper] = ancestry.descendants(shell.pid)
        assert not wait_gone([sleeper], timeout=0.2)
        os.kill(sleeper, 9)
        assert wait_gone([sleeper], timeout=5.0)
    finally:
        shell.kill()
        shell.wait()


def test_a_command_run_in_the_callers_group_ends_with_it() -> None:
    """An agent's own commands (the sim's) stay in its process group: a kill of the agent's group
    ends them too; a timeout still ends the command."""
    here = proc.run([sys.executable, "-c", "import os; print(os.getpgrp())"], own_group=False)
    assert here.ok and int(here.output) == os.getpgrp()
    apart = proc.run([sys.executable, "-c", "import os; print(os.getpgrp())"])
    assert apart.ok and int(apart.output) != os.getpgrp()
    slow = proc.run([sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5, own_group=False)
    assert slow.timed_out and not slow.ok


def test_a_timed_out_command_whose_child_holds_the_output_is_not_waited_for() -> None:
    """In the caller's group, only the command is killed at its timeout: a process it started
    that still holds the pipe must not keep the caller waiting (the old way: forever)."""
    started = time.monotonic()
    child = "import time; time.sleep(40)"
    script = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)"
    slow = proc.run([sys.executable, "-c", script], timeout=0.5, own_group=False)
    assert slow.timed_out and time.monotonic() - started < 30  # not the child's 40 s
    noisy = "import sys; print('out'); print('err', file=sys.stderr)"
    quiet = proc.run([sys.executable, "-c", noisy], errors_too=False)
    assert quiet.output == "out\n"
