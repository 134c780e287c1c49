"""One supervisor per project: the lock, and what a second start is told."""

from __future__ import annotations

import fcntl
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from czar.errors import SupervisorError
from czar.supervisor.lock import SupervisorLock, holder_pid


def _lock(path: Path) -> SupervisorLock:
    project: Any = SimpleNamespace(paths=SimpleNamespace(supervisor_lock=path))
    return SupervisorLock(project)


def test_a_second_start_names_the_running_supervisors_pid(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.lock"
    first = _lock(path)
    first.acquire()
    try:
        assert holder_pid(path) is not None and holder_pid(path) > 0  # type: ignore[operator]
        with pytest.raises(SupervisorError, match=r"a supervisor already runs for this project \(pid \d+\)"):
            _lock(path).acquire()
    finally:
        first.release()
    assert holder_pid(path) is None


@pytest.mark.parametrize("text", ["", "not a pid\n"])
def test_a_lock_held_with_no_pid_in_it_says_so_not_pid_minus_one(tmp_path: Path, text: str) -> None:
    path = tmp_path / "supervisor.lock"
    path.write_text(text)
    with open(path) as held:  # a supervisor that has not written its pid yet, or another program
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SupervisorError) as refused:
            _lock(path).acquire()
    assert str(refused.value) == "a supervisor already runs for this project (its pid not written yet)"


def test_the_views_data_give_no_pid_for_a_lock_held_with_none_in_it(tmp_path: Path, czar_home: Path) -> None:
    """``czar status --json`` and ``czar projects --json`` said ``"pid": -1`` then."""
    from czar.supervisor.overview import overview
    from czar.supervisor.projects import _entry
    from helpers import on_fakes

    f = on_fakes(tmp_path, ["a"])
    path = f.project.paths.supervisor_lock
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    with open(path) as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert overview(f.project, git=False).supervisor == {"running": True, "pid": None, "stopped": False}
        entry = _entry(f.project.paths)
        assert entry.running and entry.pid is None
