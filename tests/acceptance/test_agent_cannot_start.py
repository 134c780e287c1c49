"""A real agent CLI that cannot start at all (an option it does not know, in the plan's `args`):
its workers stop taking tasks, each with a critical alert quoting the CLI, and no task is failed
or charged a round; found by hand, where such a plan failed its four tasks in 18 s."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from czar.paths import ProjectPaths
from czar.store.store import Store
from helpers import czar, make_repo, retry_until


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
    store = Store(ProjectPaths.for_project("nostart"))
    try:
        czar("up", str(plan), check=True)

        def sidelined() -> list[str] | None:
            found = [e.worker_id or "" for e in store.events_after(0, limit=10_000) if e.kind == "health.sideline"]
            return sorted(found) if len(found) == 2 else None

        assert retry_until(sidelined, timeout=120, what="both workers sidelined") == ["w1", "w2"]
        events = store.events_after(0, limit=10_000)
        alerts = [e.payload["message"] for e in events if e.kind == "alert" and e.payload["level"] == "critical"]
        assert len(alerts) == 2 and all("cannot start" in m and "--no-such-option" in m for m in alerts), alerts
        with store.read() as conn:
            tasks = Store.all_tasks(conn)
            workers = Store.all_workers(conn)
        assert {t.state for t in tasks} == {"ready"} and all(t.rounds == 0 for t in tasks)  # none failed or charged
        assert {w.state for w in workers} == {"crashed"}
    finally:
        store.close()
        czar("down", str(plan))
