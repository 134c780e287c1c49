"""Alerts to a webhook: concurrent, each attempt bounded, critical ones first, at least once."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from czar.store.store import Store
from czar.supervisor.alerts import DELIVERED, AlertSender
from czar.supervisor.project import Project, open_project
from helpers import make_repo, retry_until, sim_task, write_plan


@dataclass
class Hook:
    """A webhook on 127.0.0.1 that answers critical alerts at once and never answers warnings
    (until ``release``)."""

    url: str = ""
    received: list[dict[str, object]] = field(default_factory=list)
    hung: list[int] = field(default_factory=list)  # warnings it holds without an answer
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, level: str) -> list[int]:
        with self.lock:
            return [int(str(a["id"])) for a in self.received if a["level"] == level]


@pytest.fixture
def hook() -> Iterator[Hook]:
    state = Hook()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            alert = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if alert["level"] == "warning":
                with state.lock:
                    state.hung.append(alert["id"])
                state.release.wait()
            with state.lock:
                state.received.append(alert)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()


def _project(tmp_path: Path, url: str) -> Project:
    make_repo(tmp_path / "repo")
    extra = f'\n[alerts]\nwebhook = "{url}"\nlevel = "warning"\n'
    project = open_project(write_plan(tmp_path, "alerts", [sim_task("a")], project_extra=extra))
    project.paths.ensure()
    return project


def _raise(project: Project, level: str, n: int = 1) -> list[int]:
    with project.store.write() as conn:
        return [Store.alert(conn, level, f"{level} {i}") for i in range(n)]


def _outcomes(project: Project) -> list[tuple[str, int]]:
    found = project.store.events_after(0, kinds=("alert.delivered", "alert.undelivered"))
    return [(e.kind, int(e.payload["alert"])) for e in found]


def test_a_critical_alert_is_not_held_back_by_a_webhook_that_never_answers(
    tmp_path: Path, czar_home: Path, hook: Hook
) -> None:
    project = _project(tmp_path, hook.url)
    # Each attempt may wait far longer than this test: only concurrency gets the critical one out.
    sender = AlertSender(project, attempt_seconds=600)
    warnings = _raise(project, "warning", 6)  # more than a lane holds at once
    (critical,) = _raise(project, "critical")
    assert sender.send_pending() == 7
    retry_until(lambda: _outcomes(project) == [("alert.delivered", critical)], what="the critical alert")
    assert hook.of("critical") == [critical]
    # It came while the warnings were still waiting for their answer: none timed out or was given up.
    assert hook.of("warning") == []
    # A lane's worth of warnings are posted and hang; the others wait their turn.
    retry_until(lambda: len(hook.hung) == 4, what="four warnings on their way")
    # The mark stays below the first warning: a supervisor that restarts now sends the warnings
    # again, and not the critical alert, which was acknowledged.
    with project.store.read() as conn:
        assert Store.get_meta(conn, DELIVERED, 0) < warnings[0]
    again = AlertSender(project, attempt_seconds=600)
    assert again.send_pending() == 6
    hook.release.set()
    assert sender.flush(timeout=60) and again.flush(timeout=60)
    assert hook.of("critical") == [critical]
    assert set(hook.of("warning")) == set(warnings)  # at least once
    with project.store.read() as conn:
        assert Store.get_meta(conn, DELIVERED) == critical
    sender.close()
    again.close()


def test_an_alert_the_webhook_never_answers_is_given_up_after_its_bounded_attempts(
    tmp_path: Path, czar_home: Path, hook: Hook
) -> None:
    project = _project(tmp_path, hook.url)
    sender = AlertSender(project, attempt_seconds=0.2, backoff=0.01)
    (warning,) = _raise(project, "warning")
    assert sender.flush(timeout=60)
    assert hook.hung.count(warning) == 3  # three attempts, each cut off
    ((kind, alert),) = _outcomes(project)
    assert (kind, alert) == ("alert.undelivered", warning)
    with project.store.read() as conn:
        assert Store.get_meta(conn, DELIVERED) == warning  # given up is handled: not sent again
    assert AlertSender(project).send_pending() == 0
    sender.close()


def test_an_alert_reaches_ntfy_topics_and_the_webhook_with_a_link_to_its_item(tmp_path: Path, czar_home: Path) -> None:
    got: list[tuple[str, dict[str, str], bytes]] = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with lock:
                got.append((self.path, dict(self.headers.items()), body))
            self.send_response(200 if self.path != "/broken-topic" else 500)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        make_repo(tmp_path / "repo")
        extra = (
            f'\n[alerts]\nwebhook = "{base}/hook"\nntfy = ["{base}/czar-phone", "{base}/broken-topic"]\n'
            'web_url = "https://czar.example.com/"\n'
        )
        project = open_project(write_plan(tmp_path, "alerts", [sim_task("a")], project_extra=extra))
        project.paths.ensure()
        sender = AlertSender(project, attempt_seconds=5, backoff=0.01)
        with project.store.write() as conn:
            alert = Store.alert(conn, "critical", "task a failed: its checks failed three times", task="a")
        assert sender.flush(timeout=60)
        sender.close()
    finally:
        server.shutdown()
        server.server_close()
    hook = [json.loads(b) for p, _, b in got if p == "/hook"]
    assert hook == [
        {
            "project": "alerts",
            "id": alert,
            "time": hook[0]["time"],
            "level": "critical",
            "message": "task a failed: its checks failed three times",
            "task": "a",
            "worker": None,
            "link": "https://czar.example.com/p/alerts/task/a",
        }
    ]
    ((headers, body),) = [(h, b) for p, h, b in got if p == "/czar-phone"]  # sent once: it took it the first time
    assert body.decode() == "task a failed: its checks failed three times"
    assert headers["Title"] == "czar alerts: critical"
    assert headers["Priority"] == "5"
    assert headers["Click"] == "https://czar.example.com/p/alerts/task/a"
    assert len([p for p, _, _ in got if p == "/broken-topic"]) == 3  # each attempt, then given up
    ((kind, which),) = _outcomes(project)
    assert (kind, which) == ("alert.undelivered", alert)
    (outcome,) = project.store.events_after(0, kinds=("alert.undelivered",))
    assert "broken-topic" not in str(outcome.payload) and "czar-phone" not in str(outcome.payload)
