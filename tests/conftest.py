from __future__ import annotations

import contextlib
import os
import signal
import sys
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
    from czar.paths import ProjectPaths
    from czar.runtime.proc import kill_group, pid_alive
    from czar.runtime.tmux import TmuxHost
    from czar.store.store import Store
    from czar.supervisor.loop import holder_pid

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
        for pid in pids:
            if pid_alive(pid):
                kill_group(pid)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With several test workers (``make test``), the whole runs of ``tests/acceptance`` spread
    evenly through the order: each worker's share starts with its part of them, and the short tests
    fill in behind, instead of one worker getting them all (xdist splits the order in runs)."""
    if not getattr(config.option, "numprocesses", None):
        return
    slow = [i for i in items if "acceptance" in i.path.parts]
    fast = [i for i in items if "acceptance" not in i.path.parts]
    if not slow or not fast:
        return
    every = len(items) / len(slow)
    order: list[pytest.Item] = []
    for n, item in enumerate(slow):
        order.append(item)
        order.extend(fast[round(n * (every - 1)) : round((n + 1) * (every - 1))])
    order.extend(fast[round(len(slow) * (every - 1)) :])
    items[:] = order
