"""Telling an agent's process from a person's: its environment, its ancestors, its sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from czar.agent_tools.identity import agent_trace
from czar.runtime.ancestry import ProcessInfo, ancestry, process
from czar.supervisor.overview import _stopped
from helpers import retry_until

DATA = Path("/home/u/.local/share/czar")
SHOW_ANCESTRY = "import json; from czar.runtime.ancestry import ancestry as a; print(json.dumps([p.pid for p in a()]))"


def proc(
    pid: int, ppid: int, *, pgid: int = 0, sid: int = 0, name: str = "sh", cmd: tuple[str, ...] = ()
) -> ProcessInfo:
    return ProcessInfo(pid, ppid, pgid or pid, sid or pid, name, cmd)


def trace(lineage: list[ProcessInfo], env: dict[str, str] | None = None, agents: set[int] | None = None) -> str | None:
    return agent_trace(env or {}, lineage, agents=agents or set(), hosts={50}, data=DATA)


def test_a_person_is_not_an_agent() -> None:
    assert trace([proc(300, 200), proc(200, 1), proc(1, 0, name="init")]) is None
    # A bubblewrap sandbox that is not czar's (a flatpak's terminal, say) is no sign.
    flatpak = proc(150, 1, name="bwrap", cmd=("bwrap", "--args", "41", "/app/bin/terminal"))
    assert trace([proc(300, 150), flatpak]) is None


def test_an_agent_is_known_by_its_environment_or_its_ancestors() -> None:
    assert "CZAR_TOKEN set" in (trace([proc(300, 1)], env={"CZAR_TOKEN": "t"}) or "")
    assert "worker host 50" in (trace([proc(300, 60), proc(60, 50), proc(50, 1)]) or "")
    assert "started by an agent" in (trace([proc(300, 70), proc(70, 1)], agents={70}) or "")
    # Adopted by init after a double fork, it still belongs to the agent's session.
    assert "started by an agent" in (trace([proc(300, 1, pgid=300, sid=70)], agents={70}) or "")
    sandbox = proc(1, 0, name="bwrap", cmd=("bwrap", "--tmpfs", f"{DATA}", "--", "claude"))
    assert "sandbox" in (trace([proc(5, 1), sandbox]) or "")


def test_ancestry_reads_the_real_line_of_parents() -> None:
    me = process(os.getpid())
    assert me is not None and me.ppid == os.getppid()
    line = ancestry(os.getpid())
    assert [p.pid for p in line[:2]] == [os.getpid(), os.getppid()]
    child = subprocess.run(
        [sys.executable, "-c", SHOW_ANCESTRY],
        capture_output=True,
        text=True,
        check=True,
    )
    pids = json.loads(child.stdout)
    assert pids[1] == os.getpid() and os.getppid() in pids


def test_a_process_stopped_by_a_signal_reads_as_stopped_until_it_is_continued() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert _stopped(sleeper.pid) is False
        os.kill(sleeper.pid, signal.SIGSTOP)
        retry_until(lambda: _stopped(sleeper.pid))
        os.kill(sleeper.pid, signal.SIGCONT)
        retry_until(lambda: not _stopped(sleeper.pid))
        assert _stopped(None) is False and _stopped(-1) is False
    finally:
        sleeper.kill()
        sleeper.wait()
