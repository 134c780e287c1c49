"""The supervisor's care for its worker hosts, on the fake terminal, repository and clock
(``czar.testing``): hosts started in their windows, a host that died started again with its task
kept, and one that keeps dying given up on, its task back in the pool and a person told. No host
runs; the terminal says which windows live. End to end, with real hosts in tmux:
``tests/acceptance/test_crash_workers.py``."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from czar.agents.host_settings import HostSettings
from czar.core.host_commands import Restart, StartTask
from czar.core.states import TaskState, WorkerState
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.healer import HOST_START_SECONDS
from czar.supervisor.loop import HOST_RESTART_WINDOW, HOST_RESTARTS, Supervisor
from helpers import OnFakes, on_fakes


@pytest.fixture
def gone() -> int:
    """The pid of a process that has ended."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def alive() -> Iterator[int]:
    proc = subprocess.Popen(["sleep", "600"], start_new_session=True)
    yield proc.pid
    proc.kill()
    proc.wait()


def _supervisor(f: OnFakes) -> Supervisor:
    return Supervisor(f.project, out=io.StringIO())


def _worker(f: OnFakes, wid: str) -> tuple[WorkerState, int | None, str | None]:
    with f.project.store.read() as conn:
        w = Store.worker(conn, wid)
    return w.state, w.pid, w.task_id


def _at_work_on_a_dead_host(tmp_path: Path, pid: int) -> tuple[OnFakes, Supervisor]:
    """Task a running on w1, whose host (``pid``) has ended."""
    f = on_fakes(tmp_path, ["a"], workers=1)
    f.assign({"a": "w1"}, pid=pid)
    f.move("a", TaskState.RUNNING)
    return f, _supervisor(f)


def _host_runs(f: OnFakes, wid: str, pid: int) -> None:
    """The host in the window started and recorded itself, as a live host does."""
    with f.project.store.write() as conn:
        Store.set_worker(conn, wid, state=WorkerState.WORKING, pid=pid)


def test_every_worker_without_a_live_host_gets_one_in_its_window(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"], workers=2)
    sup = _supervisor(f)
    sup.start_hosts(sup.take_back(["w1", "w2"]))
    assert f.terminal.started == ["w1", "w2"]
    window = f.terminal.open["w1"]
    assert window.argv[1:4] == ("-m", "czar.host", "--settings")
    # The host reads its worker's settings from the file the supervisor wrote, not the plan.
    told = HostSettings.loads(Path(window.argv[4]).read_text())
    assert told == f.project.host_settings("w1")
    assert (told.project, told.worker, told.kind, told.repo) == (f.project.name, "w1", "sim", f.project.plan.repo)
    assert window.env["CZAR_HOME"] == str(czar_home) and window.cwd == f.project.paths.root
    assert _worker(f, "w1") == (WorkerState.STARTING, None, None)
    spawned = [e.worker_id for e in f.project.store.events_after(0) if e.kind == "worker.spawned"]
    assert spawned == ["w1", "w2"]


def test_a_live_host_in_a_live_window_is_left_alone(tmp_path: Path, czar_home: Path, alive: int) -> None:
    f = on_fakes(tmp_path, ["a"], workers=1)
    sup = _supervisor(f)
    sup.start_hosts(sup.take_back(["w1"]))
    _host_runs(f, "w1", alive)
    assert sup.take_back(["w1"]) == []
    assert f.terminal.started == ["w1"]


def test_a_host_that_died_is_started_again_and_its_agent_carries_the_task_on(
    tmp_path: Path, czar_home: Path, gone: int
) -> None:
    f, sup = _at_work_on_a_dead_host(tmp_path, gone)
    (start,) = f.take("w1")
    assert isinstance(start, StartTask)
    f.terminal.start_window("w1", ["czar-host"], env={}, cwd=tmp_path)
    f.terminal.exit("w1", "Traceback: the host died")
    sup.heal()
    assert f.terminal.started[-1] == "w1" and f.terminal.window_alive("w1")
    assert _worker(f, "w1") == (WorkerState.STARTING, None, "a")  # it keeps its task
    (restart,) = f.take("w1")
    assert isinstance(restart, Restart) and restart.attempt == start.attempt
    assert f.task("a").state is TaskState.RUNNING and f.task("a").rounds == 0


def test_a_host_that_keeps_dying_is_given_up_on_and_its_task_goes_back(
    tmp_path: Path, czar_home: Path, gone: int
) -> None:
    f, sup = _at_work_on_a_dead_host(tmp_path, gone)
    for _ in range(HOST_RESTARTS):
        sup.start_hosts(sup.take_back(["w1"]))
        f.terminal.exit("w1", "Traceback: the host died")
        f.clock.advance(HOST_RESTART_WINDOW / (HOST_RESTARTS + 1))
    starts = len(f.terminal.started)
    sup.heal()
    assert len(f.terminal.started) == starts  # not started again
    assert _worker(f, "w1")[0] is WorkerState.CRASHED
    assert f.task("a").state is TaskState.READY and f.task("a").worker_id is None
    alerts = [e.payload["message"] for e in f.project.store.events_after(0) if e.kind == "alert"]
    assert any("died 5 times" in m and "no longer starts it" in m for m in alerts)
    f.clock.advance(HOST_RESTART_WINDOW * 2)
    sup.heal()
    assert len(f.terminal.started) == starts  # given up on stays given up on


def test_a_host_that_died_a_few_times_spread_out_is_always_started_again(
    tmp_path: Path, czar_home: Path, gone: int
) -> None:
    f = on_fakes(tmp_path, ["a"], workers=1)
    sup = _supervisor(f)

    def dies() -> None:  # the host started registers, then dies
        f.terminal.exit("w1")
        with f.project.store.write() as conn:
            Store.set_worker(conn, "w1", state=WorkerState.IDLE, pid=gone)

    for _ in range(HOST_RESTARTS * 2):
        sup.start_hosts(sup.take_back(["w1"]))
        dies()
        f.clock.advance(HOST_RESTART_WINDOW / 2)
        sup.heal()
        dies()
    assert _worker(f, "w1")[0] is not WorkerState.CRASHED
    assert len(f.terminal.started) == HOST_RESTARTS * 2 + HOST_RESTARTS * 2


def test_a_host_on_its_way_is_not_started_twice_when_its_workers_task_is_verified_meanwhile(
    tmp_path: Path, czar_home: Path, gone: int
) -> None:
    """After `czar up`, the hosts start while the supervisor verifies work handed in before: the
    worker of a task approved then has no task any more, but its host is still on its way."""
    f, sup = _at_work_on_a_dead_host(tmp_path, gone)
    f.repo.commit_in(f.checkout("a"), "czar/a", {"a.txt": "a\n"})
    Actions(f.project).bring_in_handed_in("a")
    f.move("a", TaskState.SUBMITTED, TaskState.VERIFYING)
    sup.start_hosts(sup.take_back(["w1"]))
    Actions(f.project).verify("a")
    assert f.task("a").state is TaskState.APPROVED
    assert _worker(f, "w1") == (WorkerState.STARTING, None, None)  # starting still, not idle
    sup.heal()
    assert f.terminal.started == ["w1"]  # one start: the host on its way was not taken for lost


def test_the_agent_a_dead_host_never_recorded_is_found_and_ended(tmp_path: Path, czar_home: Path, gone: int) -> None:
    """A host killed between starting its agent and recording it leaves, outside a sandbox, an
    agent nobody knows of, still editing the checkout the next host works in: it is found by the
    environment its host gave it. Another worker's agent is left alone."""
    f, sup = _at_work_on_a_dead_host(tmp_path, gone)
    orphan, other = _agent(f, "w1"), _agent(f, "w2")
    try:
        assert _worker(f, "w1")[1] == gone  # the host's pid: no agent's recorded
        sup.start_hosts(sup.take_back(["w1"]))
        assert orphan.wait(timeout=10) != 0
        assert other.poll() is None
    finally:
        _end(orphan, other)


def test_the_agent_of_a_host_that_keeps_dying_is_ended_when_czar_gives_up_on_it(
    tmp_path: Path, czar_home: Path, gone: int
) -> None:
    """Its task goes to another worker, maybe into the same checkout: the last host's agent must
    not keep editing it."""
    f, sup = _at_work_on_a_dead_host(tmp_path, gone)
    for _ in range(HOST_RESTARTS):
        sup.start_hosts(sup.take_back(["w1"]))
        f.terminal.exit("w1", "Traceback: the host died")
        _host_runs(f, "w1", gone)  # each host recorded itself, then died
        f.clock.advance(HOST_RESTART_WINDOW / (HOST_RESTARTS + 1))
    orphan = _agent(f, "w1")
    try:
        sup.heal()
        assert _worker(f, "w1")[0] is WorkerState.CRASHED
        assert orphan.wait(timeout=10) != 0
    finally:
        _end(orphan)


def test_a_host_on_its_way_when_the_supervisor_starts_is_left_to_come(tmp_path: Path, czar_home: Path) -> None:
    """A supervisor started (`czar up`) just after the one before it started a host, not yet
    registered: started over it, its agent, if it starts one meanwhile, would be no one's."""
    f = on_fakes(tmp_path, ["a"], workers=1)
    sup = _supervisor(f)
    sup.start_hosts(sup.take_back(["w1"]))  # on its way: its window lives, it has not registered
    assert _supervisor(f).take_back(["w1"]) == []
    assert f.terminal.started == ["w1"]
    f.clock.advance(HOST_START_SECONDS + 1)  # it never came: started again
    again = _supervisor(f)
    again.start_hosts(again.take_back(["w1"]))
    assert f.terminal.started == ["w1", "w1"]
    # The new one has its grace in turn: not started a third time at once.
    assert _supervisor(f).take_back(["w1"]) == []
    f.clock.advance(HOST_START_SECONDS + 1)
    assert _supervisor(f).take_back(["w1"]) == ["w1"]


def _agent(f: OnFakes, worker: str) -> subprocess.Popen[bytes]:
    """A process as a host starts an agent of ``worker``: in a session of its own, with a child."""
    env = {**f.project.marks(), "CZAR_WORKER": worker, "PATH": "/usr/bin:/bin"}
    return subprocess.Popen(["sh", "-c", "sleep 600 & wait"], env=env, start_new_session=True)


def _end(*agents: subprocess.Popen[bytes]) -> None:
    for p in agents:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        p.wait()
