"""A person's `czar down` and `czar up` at any moment of a run: `down` returns only when nothing
of the run is left (no supervisor still merging, no agent, nothing an agent forked), `up` carries
every worker's work on, and the interruption is charged to no task. `czar run` follows a run
without owning it: when the supervisor dies, the workers go on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from czar.paths import ProjectPaths
from czar.runtime.proc import find_by_env, kill_by_env, pid_alive
from czar.runtime.tmux import TmuxHost
from czar.store.store import Store
from czar.supervisor.lock import holder_pid
from helpers import czar, czar_started, make_repo, retry_until, write_plan
from run_checks import Hold, assert_nothing_charged, assert_whole, crash_plan, events, first, last_event, reach

SLOW_CHECK_SECONDS = 1.5  # so that `down` comes while checks run
QUICK_CHECK = 'python -c "pass"'  # where a kill comes before any check
# `down` always meets slow checks, held at each point: with quick ones a loaded machine could
# finish all six tasks while the `czar down` process is starting (seen from the running and
# handed-in points alike), and there would be nothing left to carry on.

POINTS = {
    "running": lambda e: e.kind == "agent.progress",
    "handed-in": lambda e: e.kind == "agent.finished",
    "verifying": lambda e: e.kind == "task.state" and e.payload["new"] == "verifying",
    "merging": lambda e: e.kind == "task.state" and e.payload["new"] == "merging",
}


def left_over(home: Path) -> list[int]:
    """Processes of the run still there: every one czar starts carries its CZAR_HOME."""
    return find_by_env({"CZAR_HOME": str(home)})


def _hosts_started(name: str, after: int) -> bool:
    return {e.worker_id for e in events(name) if e.kind == "worker.host_started" and e.id > after} == {"w1", "w2", "w3"}


def _workers(name: str) -> list[Any]:
    store = Store(ProjectPaths.for_project(name))
    try:
        return store.workers()
    finally:
        store.close()


def test_down_then_up_with_work_in_flight_carries_it_on_and_charges_nothing(tmp_path: Path, czar_home: Path) -> None:
    # Each point in turn in the same run (`up` after each `down`, `czar run` after the last): one
    # run for the suite to pay for, not one per point.
    name = "downup"
    hold = Hold(tmp_path / "gate", SLOW_CHECK_SECONDS)
    plan = crash_plan(tmp_path, name, hold.check, extra_project=hold.plan_lines())
    czar("up", str(plan), check=True)
    stops: list[int] = []
    for n, point in enumerate(POINTS):
        after = stops[-1] if stops else 0
        hold.off()
        reach(name, POINTS[point], f"the run to reach {point}", after=after)
        hold.on()  # `down` meets work in flight however long it takes to start
        if stops:  # every host back before the next `down` (the point may come before a slow one)
            retry_until(
                partial(_hosts_started, name, after), timeout=60, what=f"every host to start again before {point}"
            )
        down = czar("down", str(plan))
        assert down.returncode == 0, down.stderr
        # `down` returned: the supervisor has stopped (not merging on in the background), and
        # nothing of the run is left.
        assert holder_pid(ProjectPaths.for_project(name).supervisor_lock) is None, point
        assert left_over(czar_home) == [], point
        after_down = [e.kind for e in events(name) if e.id > after]
        assert after_down[after_down.index("run.down") :] == ["run.down", "person.down"], point  # nothing moved
        stops.append(last_event(name))
        if n < len(POINTS) - 1:
            czar("up", str(plan), check=True)

    hold.off()
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stderr
    evs = assert_whole(name, tmp_path / "repo", json.loads(result.stdout))
    assert_nothing_charged(name, evs)
    # No worker was lost: each had a host again after each `up`.
    for stopped_at, up_to in zip(stops, [*stops[1:], evs[-1].id + 1], strict=True):
        restarted = {e.worker_id for e in evs if e.kind == "worker.host_started" and stopped_at < e.id < up_to}
        assert restarted == {"w1", "w2", "w3"}, stopped_at
    # Never two supervisors at once: each one stopped before the next started.
    lives = [e.kind for e in evs if e.kind in ("supervisor.started", "supervisor.stopped")]
    assert lives == ["supervisor.started", "supervisor.stopped"] * (len(POINTS) + 1)
    assert left_over(czar_home) == []


@pytest.mark.parametrize(
    ("sig", "said"),
    [
        (signal.SIGKILL, "czar: the supervisor died before the run finished"),
        # Ctrl-C typed in its window (`czar attach supervisor`, then Ctrl-C to leave it)
        (signal.SIGINT, "czar: the supervisor was stopped before the run finished"),
    ],
    ids=["killed", "ctrl-c"],
)
def test_czar_run_leaves_the_workers_running_when_the_supervisor_dies(
    tmp_path: Path, czar_home: Path, sig: signal.Signals, said: str
) -> None:
    name = "run-orphan"
    plan = crash_plan(tmp_path, name, QUICK_CHECK)
    run = czar_started("run", str(plan), "--json")
    try:
        retry_until(lambda: first(name, POINTS["running"]), timeout=60, what="the run to start")
        pid = holder_pid(ProjectPaths.for_project(name).supervisor_lock)
        assert pid
        os.kill(pid, sig)
        _, err = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode != 0
    assert said in err
    assert f"`czar up {plan}`" in err
    assert "Traceback" not in err
    # The workers and their hosts were left alone, for the next supervisor.
    assert all(pid_alive(w.pid) for w in _workers(name))
    assert not any(e.kind == "run.down" for e in events(name))
    if sig is signal.SIGINT:  # its window says so too, where the person typed it
        log = czar("logs", str(plan), "-n", "5").stdout
        assert f"the workers go on; `czar up {plan}` starts the supervisor again" in log
        assert czar("down", str(plan)).returncode == 0
        return

    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stderr
    assert_whole(name, tmp_path / "repo", json.loads(result.stdout))


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""  # it ended meanwhile


FORK = (
    "run python -c \"import subprocess, sys; subprocess.Popen([sys.executable, '-c', "
    "'import time; time.sleep(600)'], start_new_session=True, stdin=subprocess.DEVNULL, "
    'stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)"'
)


def test_no_agent_process_outlives_down_even_after_restarts(tmp_path: Path, czar_home: Path) -> None:
    # An agent that forks a process into a session of its own (as Codex runs its tools), left
    # unconfined, whose host is killed and started again (its agent too): the supervisor ends what
    # the dead host's agent left, `down` ends the rest.
    make_repo(tmp_path / "repo")
    task = (
        '[[tasks]]\nid = "a"\ntitle = "forks"\nscope = ["a.txt"]\n'
        f"body = '''\nDo a.\n\n```czar-sim\nprogress 1 starting\n{FORK}\nhang\n```\n'''\n"
    )
    name = "forks"
    plan = write_plan(tmp_path, name, [task], workers=1, project_extra="\n[sandbox]\nenabled = false\n")
    czar("up", str(plan), check=True)

    def sleepers() -> list[int]:
        # The sleepers, not the short-lived process that starts one (its command line names it too).
        return [p for p in left_over(czar_home) if b"time.sleep(600)" in _cmdline(p) and b"Popen" not in _cmdline(p)]

    retry_until(lambda: len(sleepers()) == 1, timeout=60, what="the agent to fork")
    (first,) = sleepers()
    host = _workers(name)[0].pid
    os.kill(host, signal.SIGKILL)

    # The dead host's agent is ended with what it started (it carries its worker's marks); the
    # next host carries the task on and starts the agent again, which forks again.
    def restarted_forked() -> bool:
        found = sleepers()  # one look: two could see the first sleeper, then not yet its successor
        return len(found) == 1 and first not in found

    retry_until(restarted_forked, timeout=60, what="the restarted agent to fork")
    assert sum(1 for e in events(name) if e.kind == "worker.host_started") == 2

    down = czar("down", str(plan))
    assert down.returncode == 0, down.stderr
    assert left_over(czar_home) == []


def _as_in_a_terminal() -> None:
    """Ctrl-C as a terminal's foreground command has it: the tests may run as a shell's background
    job, whose commands ignore SIGINT and SIGQUIT (and pass that on): czar run then never heard
    the key and ran to its end (seen: signals 2 and 3 ignored, `_signals`)."""
    for sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGHUP):  # (`nohup make test`)
        signal.signal(sig, signal.SIG_DFL)


def _czar(*args: str) -> subprocess.Popen[str]:
    """A czar command, its output read here, signals as in a terminal."""
    return subprocess.Popen(
        [sys.executable, "-m", "czar", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_as_in_a_terminal,
    )


def _signals(pid: int) -> str:
    """What the kernel says of a process's signals (pending, blocked, ignored, caught) and state."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        return f"no status: {exc}"
    return " ".join(line for line in status.splitlines() if line.startswith(("State", "Sig", "ShdPnd")))


def _interrupt(plan: Path, name: str, presses: int, after: int, sig: signal.Signals = signal.SIGINT) -> None:
    """Start `czar run`; once the run is at work (after event ``after``), press Ctrl-C
    ``presses`` times, or send it ``sig`` so (to it alone, as `timeout` and `kill` do): it stops
    the run and says so."""
    with subprocess.Popen(
        [sys.executable, "-m", "czar", "run", str(plan)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's Ctrl-C reaches the whole foreground group
        preexec_fn=_as_in_a_terminal,
    ) as run:

        def send() -> None:
            if sig is signal.SIGINT:
                os.killpg(run.pid, sig)
            else:
                os.kill(run.pid, sig)

        try:
            reach(name, POINTS["running"], "the run to be at work", after=after)
            send()
            seen = _signals(run.pid)  # were it ever to miss the key
            said = ""
            if presses == 2:
                assert run.stderr is not None
                while "stopping the run" not in said and run.poll() is None:
                    said += run.stderr.readline()
                send()  # while it stops the run
            out, err = run.communicate(timeout=120)
            err = said + err
        finally:
            run.kill()  # (ended already, unless the test failed)
    # Typer ended the process without a word (a kill ended it with no way out, the run left
    # going): now it says what became of the run.
    assert run.returncode == 128 + sig, (presses, err, out[-2000:], seen)
    assert "Traceback" not in err
    how = "interrupted" if sig is signal.SIGINT else f"stopped by {sig.name}"
    assert f"czar: {how}: the run is stopped; its tasks, branches and checkouts are kept (`czar run {plan}`" in err, err


def test_ctrl_c_or_a_kill_of_czar_run_stops_the_run_says_so_and_a_second_run_carries_it_on(
    tmp_path: Path, czar_home: Path
) -> None:
    # Once, then twice in the next run: a person presses again while czar stops the run. Before,
    # the second press cut `down` short and left the workers running, with a traceback. Then
    # SIGTERM twice (`timeout`, or a CI job cancelled) and SIGHUP (the terminal closed), which
    # ended czar run with no way out and left the run going with nobody following it.
    name = "ctrl-c"
    plan = crash_plan(tmp_path, name, QUICK_CHECK)
    after = 0
    for sig, presses in ((signal.SIGINT, 1), (signal.SIGINT, 2), (signal.SIGTERM, 2), (signal.SIGHUP, 1)):
        _interrupt(plan, name, presses, after, sig)
        assert holder_pid(ProjectPaths.for_project(name).supervisor_lock) is None
        assert left_over(czar_home) == []
        after = last_event(name)
    # Its terminal closed for real: SIGHUP, and every line it writes then fails (which kept it
    # from stopping the run: its first line on the way out raised).
    terminal = TmuxHost(f"czar-test-hangup-{os.getpid()}", "hangup")
    try:
        terminal.start_window("run", [sys.executable, "-m", "czar", "run", str(plan)], env={}, cwd=tmp_path)
        reach(name, POINTS["running"], "the run to be at work", after=after)
    finally:
        terminal.kill_server()
    retry_until(
        lambda: holder_pid(ProjectPaths.for_project(name).supervisor_lock) is None and left_over(czar_home) == [],
        timeout=60,
        what="the run to stop",
    )
    # What read its output went away (`czar run | head`, a pager quit): the run was stopped as
    # "run finished", without a word, exit 1.
    after = last_event(name)
    with _czar("run", str(plan)) as run:
        try:
            reach(name, POINTS["running"], "the run to be at work", after=after)
            assert run.stdout is not None
            run.stdout.close()  # its next line finds no reader
            err = run.stderr.read() if run.stderr is not None else ""
            run.wait(timeout=120)
        finally:
            run.kill()  # (ended already, unless the test failed)
    assert run.returncode == 128 + signal.SIGPIPE, err
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert "czar: its output was closed: the run is stopped; its tasks, branches and checkouts are kept" in err
    assert left_over(czar_home) == []
    downs = [e.payload["reason"] for e in events(name) if e.kind == "run.down"]
    assert downs == ["interrupted (Ctrl-C)"] * 2 + ["stopped (SIGTERM)"] + ["stopped (SIGHUP)"] * 2 + [
        "stopped (its output was closed)"
    ]
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stderr
    assert_whole(name, tmp_path / "repo", json.loads(result.stdout))


def test_a_benchmark_killed_at_work_stops_its_run(tmp_path: Path, czar_home: Path) -> None:
    # Seen: `timeout 600 czar bench scale`, cut short, left its hundred worker hosts running (and
    # spoiling every figure measured after it on the machine).
    folder = tmp_path / "bench"
    home = folder / "home"  # the benchmark keeps its run there, apart from yours
    argv = ["bench", "dag", "--workers", "2", "--tasks", "4", "--task-seconds", "30"]
    with _czar(*argv, "--json", "--dir", str(folder)) as bench:
        try:
            # Its agents at work: a simulated agent's sleep, under a worker host.
            retry_until(
                lambda: any(b"czar.agents.sim" in _cmdline(p) for p in find_by_env({"CZAR_HOME": str(home)})),
                timeout=60,
                what="the benchmark's agents to start",
            )
            bench.send_signal(signal.SIGTERM)
            out, err = bench.communicate(timeout=120)
        finally:
            bench.kill()  # (ended already, unless the test failed)
            left = find_by_env({"CZAR_HOME": str(home)})
            kill_by_env({"CZAR_HOME": str(home)})  # (none, unless the test failed)
    assert bench.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and out == ""
    # Said, as `czar run` says it (found by a probe: a replay stopped so ended in silence).
    assert err.strip().endswith("czar: stopped by SIGTERM; its runs are stopped, nothing of them left running"), err
    assert left == []
