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
