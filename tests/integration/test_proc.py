"""The subprocess chokepoint: liveness of processes czar did not start itself (worker hosts in tmux)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def test_a_process_whose_name_the_kernel_cut_inside_a_character_is_alive(tmp_path: Path) -> None:
    # The kernel keeps a command's first 15 bytes, so a name of two-byte letters is cut inside
    # one: /proc/PID/stat is not UTF-8 then, and a worker host's (or agent's) liveness must
    # still be read from it.
    program = tmp_path / ("\u00e9" * 9)
    program.write_bytes(Path("/bin/sleep").read_bytes())
    program.chmod(0o755)
    child = subprocess.Popen([str(program), "30"])
    try:
        retry_until(lambda: _comm(child.pid) != b"", what="the child to start")
        with pytest.raises(UnicodeDecodeError):
            _comm(child.pid).decode()  # the name as the kernel keeps it: cut inside a letter
        assert pid_alive(child.pid)
    finally:
        child.kill()
        child.wait()


def _comm(pid: int) -> bytes:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return stat[stat.index(b"(") + 1 : stat.rindex(b")")]


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


# -- long-lived children (agents) -------------------------------------------------------------


def _echo_child(tmp_path: Path) -> proc.Child:
    # Echoes each line of its input, and says when its input closes.
    code = "import sys\nfor line in sys.stdin:\n    print('got ' + line.strip(), flush=True)\nprint('input closed')\n"
    return proc.spawn([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ))


def test_a_child_is_written_to_and_read_without_blocking(tmp_path: Path) -> None:
    child = _echo_child(tmp_path)
    try:
        assert child.read(1000) == (b"", False)  # nothing printed yet: no wait
        assert child.send(b"one\n")
        seen = retry_until(lambda: child.read(1000)[0] or None, what="its answer")
        assert seen == b"got one\n"
        child.close_input()
        assert child.exit_code() == 0
        rest = b""
        while not (got := child.read(1000))[1]:
            rest += got[0]
        assert rest + got[0] == b"input closed\n"
        assert not child.running()
        assert not child.send(b"two\n")  # its input is closed: nothing is written, nothing raised
    finally:
        child.end_all()
        child.close()


def test_reading_a_flood_is_bounded(tmp_path: Path) -> None:
    code = "import sys\nsys.stdout.write('x' * 1_000_000)\nsys.stdout.flush()\nimport time\ntime.sleep(30)\n"
    child = proc.spawn([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ))
    total = 0

    def read_some() -> bool:
        nonlocal total
        data, ended = child.read(100_000)
        assert len(data) < 100_000 + 65536 and not ended  # at most one read past the limit
        total += len(data)
        return total == 1_000_000

    try:
        retry_until(read_some, what="all of its output")
    finally:
        child.end_all()
        child.close()


def _with_a_grandchild_in_a_session_of_its_own(tmp_path: Path) -> tuple[proc.Child, int]:
    """A child that started a grandchild in a session of its own (holding the child's output),
    and the grandchild's pid."""
    code = (
        "import subprocess, sys, time\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], start_new_session=True)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    child = proc.spawn([sys.executable, "-c", code], cwd=tmp_path, env=dict(os.environ))
    line = retry_until(lambda: child.read(100)[0] or None, what="the grandchild's pid")
    return child, int(line.split()[0])


def test_ending_a_child_ends_what_it_started_in_a_session_of_its_own(tmp_path: Path) -> None:
    # A grandchild that left the child's process group (as one in a sandbox does) is out of
    # reach of a group kill, but ends with the child's end all the same once it is waited for.
    child, grandchild = _with_a_grandchild_in_a_session_of_its_own(tmp_path)
    left = child.end_all(patience=0.5)
    child.close()
    assert not child.running()
    assert left == [grandchild]  # still running: it was in a session of its own
    os.kill(grandchild, 9)
    assert wait_gone([grandchild], timeout=10)


def test_a_child_that_cannot_start_raises(tmp_path: Path) -> None:
    import pytest

    with pytest.raises(OSError):
        proc.spawn([str(tmp_path / "missing")], cwd=tmp_path, env={})


def test_killing_a_child_at_once_kills_what_it_started_in_a_session_of_its_own(tmp_path: Path) -> None:
    # A worker host that stops its agent to start it again at once (``Child.kill_all``): a
    # grandchild in a session of its own (a sandbox's inside, killed as it started) holds the
    # child's output open, and the child's end would never be seen.
    child, grandchild = _with_a_grandchild_in_a_session_of_its_own(tmp_path)
    try:
        child.kill_all()
        retry_until(lambda: child.read(100)[1] or None, what="the end of its output")
        assert proc.wait_gone([grandchild], timeout=5)
    finally:
        child.end_all(patience=0)
        child.close()
