"""A real agent CLI that cannot start at all (an option it does not know, in the plan's `args`):
its workers stop taking tasks, each with a critical alert quoting the CLI, and no task is failed
or charged a round (found by hand, where such a plan failed its four tasks in 18 s); with no worker
left, `czar run` ends at once and says why."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from czar.paths import ProjectPaths
from czar.store.store import Store
from helpers import czar, make_repo


def free_port() -> int:
    """A port where nothing listens: the agent never gets as far as its model."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CLAUDE = Path(__file__).resolve().parents[2] / "agent-clis" / "node_modules" / ".bin" / "claude"


@pytest.mark.timeout(300)
def test_an_agent_that_cannot_start_sidelines_its_workers_and_fails_no_task(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not CLAUDE.exists():
        pytest.fail(f"{CLAUDE} is missing: `make test` installs the agent CLIs (npm ci in agent-clis/)")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0123456789abcdefghijklmnop")
    make_repo(tmp_path / "repo")
    text = (
        '[project]\nname = "nostart"\nrepo = "repo"\n\n[workers]\nagent = "claude"\ncount = 2\n\n'
        f'[agents.claude]\ncommand = "{CLAUDE}"\nbase_url = "http://127.0.0.1:{free_port()}"\nhome = "private"\n'
        'args = ["--no-such-option"]\n'
    )
    for tid in ("a", "b", "c"):
        text += f'\n[[tasks]]\nid = "{tid}"\nscope = ["{tid}.py"]\nbody = "Add {tid}.py."\n'
    plan = tmp_path / "czar.toml"
    plan.write_text(text)
    # `czar run` ends as soon as no worker is left to take the tasks (before, it followed the run
    # until the stall watch, a quarter of an hour later), saying why and what to do.
    result = czar("run", str(plan), timeout=240)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "czar: the run cannot go on: no worker can take a task: the agent of every one (w1, w2) cannot start" in (
        result.stderr
    )
    assert "Fix [agents.claude]" in result.stderr
    store = Store(ProjectPaths.for_project("nostart"))
    try:
        events = store.events_after(0, limit=10_000)
        assert sorted(e.worker_id or "" for e in events if e.kind == "health.sideline") == ["w1", "w2"]
        alerts = [e.payload["message"] for e in events if e.kind == "alert" and e.payload["level"] == "critical"]
        sidelines = [m for m in alerts if "cannot start" in m and "--no-such-option" in m]
        assert len(sidelines) == 2, alerts
        assert sum("the run cannot go on" in m for m in alerts) == 1
        with store.read() as conn:
            tasks = Store.all_tasks(conn)
        assert {t.state for t in tasks} == {"ready"} and all(t.rounds == 0 for t in tasks)  # none failed or charged
    finally:
        store.close()
        czar("down", str(plan))
