"""`czar run` following a run (``czar.supervisor.outcome.follow``): how it tells the supervisor's
stop from its death."""

from __future__ import annotations

from pathlib import Path

import pytest

from czar.core.events import EventKind
from czar.errors import SupervisorGone
from czar.store.store import Store
from czar.supervisor.outcome import follow
from helpers import on_fakes


def test_a_supervisor_stopped_while_it_was_followed_is_said_stopped_not_dead(tmp_path: Path, czar_home: Path) -> None:
    """Found by a probe: `czar down` from another terminal, and `czar run` said the supervisor died
    and its workers went on: it had read the supervisor's last event, then looked for it after."""
    f = on_fakes(tmp_path, ["a"])
    with f.project.store.write() as conn:
        Store.emit(conn, EventKind.SUPERVISOR_STARTED, pid=1, plan="p")
        Store.emit(conn, EventKind.SUPERVISOR_STOPPED, pid=1)
    with pytest.raises(SupervisorGone) as gone:
        follow(f.project, 0, lambda _e: None, timeout=30)
    assert gone.value.stopped and "was stopped" in str(gone.value)


def test_a_supervisor_that_started_again_and_died_is_said_dead(tmp_path: Path, czar_home: Path) -> None:
    f = on_fakes(tmp_path, ["a"])
    with f.project.store.write() as conn:
        Store.emit(conn, EventKind.SUPERVISOR_STARTED, pid=1, plan="p")
        Store.emit(conn, EventKind.SUPERVISOR_STOPPED, pid=1)
        Store.emit(conn, EventKind.SUPERVISOR_STARTED, pid=2, plan="p")  # then killed: no stop of its own
    with pytest.raises(SupervisorGone) as gone:
        follow(f.project, 0, lambda _e: None, timeout=30)
    assert not gone.value.stopped and "died" in str(gone.value)


def test_a_supervisor_ended_by_an_error_is_said_so_with_its_cause(tmp_path: Path, czar_home: Path) -> None:
    """Found by a probe: a supervisor whose store's disk filled said "stopped", and `czar run` that
    it was stopped; the cause was only in its window, gone with it."""
    f = on_fakes(tmp_path, ["a"])
    with f.project.store.write() as conn:
        Store.emit(conn, EventKind.SUPERVISOR_STARTED, pid=1, plan="p")
        Store.emit(conn, EventKind.SUPERVISOR_STOPPED, pid=1, error="the store ...: database or disk is full")
    with pytest.raises(SupervisorGone) as gone:
        follow(f.project, 0, lambda _e: None, timeout=30)
    assert "the supervisor ended on an error before the run finished (the store ...: database or disk is full)" in str(
        gone.value
    )
