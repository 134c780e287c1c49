from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True)
def _log_files_closed() -> Iterator[None]:
    """The log files a test's in-process supervisor or worker host opened are closed after it."""
    yield
    from czar.runtime import logs

    logs.close_all()


@pytest.fixture
def czar_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private CZAR_HOME; afterwards, every tmux server and process it started is gone."""
    home = tmp_path / "home"
    monkeypatch.setenv("CZAR_HOME", str(home))
    yield home
    _cleanup(home)


def _cleanup(home: Path) -> None:
    from czar.agent_tools.identity import ENV_PROJECT
    from czar.paths import ProjectPaths
    from czar.runtime.proc import find_by_env, kill_group, pid_alive
    from czar.runtime.tmux import TmuxHost
    from czar.store.store import Store
    from czar.supervisor.lock import holder_pid

    projects = home / "projects"
    if not projects.is_dir():
        return
    for folder in projects.iterdir():
        paths = ProjectPaths(name=folder.name, root=folder)
        pids: list[int] = []
        if paths.db.exists():
            store = Store(paths)
            for w in store.workers():
                pids += [p for p in (w.pid, w.agent_pid) if p]
            store.close()
        holder = holder_pid(paths.supervisor_lock)
        if holder and holder > 0:
            pids.append(holder)
        TmuxHost(paths.tmux_socket, paths.tmux_session).kill_server()
        # What lives outside tmux (the project's tools server) and whatever else carries its marks.
        pids += find_by_env({"CZAR_HOME": str(home), ENV_PROJECT: folder.name})
        for pid in pids:
            if pid_alive(pid):
                kill_group(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test that ran czar shows how each of its runs ended: a whole run that timed out
    in CI is otherwise a traceback of the test's own wait, with nothing of what the run did."""
    outcome = yield
    report = outcome.get_result()
    home = item.funcargs.get("czar_home") if isinstance(item, pytest.Function) else None
    if report.when == "call" and report.failed and isinstance(home, Path):
        with contextlib.suppress(Exception):  # a post-mortem never hides the failure itself
            report.sections.append(("czar runs (the end of each)", _post_mortem(home)))


def _post_mortem(home: Path, events: int = 25, lines: int = 10, others: int = 4) -> str:
    """Kept short: CI shows only the end of what the tests print."""
    from czar.paths import ProjectPaths
    from czar.store.store import Store

    out: list[str] = []
    projects = home / "projects"
    for folder in sorted(projects.iterdir()) if projects.is_dir() else []:
        paths = ProjectPaths(name=folder.name, root=folder)
        out.append(f"== {folder.name}")
        if paths.db.exists():
            store = Store(paths)
            try:
                tail = store.all_events_after(0)[-events:]
                tasks, workers = store.tasks(), store.workers()
            finally:
                store.close()
            out.append("tasks: " + " ".join(f"{t.id}={t.state.value}" for t in tasks))
            out += [f"{w.id}: {w.state.value} task={w.task_id} host={w.pid} agent={w.agent_pid}" for w in workers]
            for e in tail:
                who = " ".join(x for x in (e.worker_id or "", e.task_id or "") if x)
                at = time.strftime("%H:%M:%S", time.localtime(e.ts)) + f"{e.ts % 1:.2f}"[1:]
                out.append(f"{e.id:>4} {at} {e.kind} {who} {json.dumps(e.payload)[:140]}")
        for log in sorted(paths.logs.glob("*.log")) if paths.logs.is_dir() else []:
            said = log.read_text(errors="replace").splitlines()
            if said:
                out.append(f"-- {log.name}")
                out += said[-(lines if log.stem == "supervisor" else others) :]
    return "\n".join(out)
