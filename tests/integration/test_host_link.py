"""A worker host speaks to the store through the project's tools server (``host_link``): the same
calls give the same answers over HTTP as on the store, refusals keep their kind, only the host key
opens the door (an agent's token does not), a server that is gone leaves the host on the store
itself, and the host of a real run never loads SQLAlchemy."""

from __future__ import annotations

import http.server
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from czar.agent_tools import host_link, relay
from czar.agent_tools.host_link import (
    DROPS,
    URL_FILE,
    Fallback,
    HostLink,
    HostTools,
    HttpCarrier,
    Unreachable,
    host_key,
    published_url,
)
from czar.agent_tools.host_service import LocalCarrier
from czar.agent_tools.identity import CallerError, token_digest
from czar.agent_tools.tools_server import tools_pid
from czar.core.events import EventKind
from czar.core.host_commands import MessageKind, Tell, Unreadable
from czar.core.policy import Decision
from czar.core.states import TaskState, WorkerState
from czar.errors import CzarError
from czar.paths import ProjectPaths
from czar.store.store import Store
from czar.supervisor.actions import Actions
from czar.supervisor.project import Project, open_project
from czar.supervisor.tools import ToolsServer
from helpers import czar, make_repo, retry_until, sim_task, write_plan


def _worker(project: Project, wid: str) -> Any:
    return next(w for w in project.store.workers() if w.id == wid)


def _task(project: Project, tid: str) -> Any:
    return next(t for t in project.store.tasks() if t.id == tid)


@pytest.fixture
def project(tmp_path: Path, czar_home: Path) -> Project:
    make_repo(tmp_path / "repo")
    project = open_project(write_plan(tmp_path, "link", [sim_task("a"), sim_task("b")], workers=2))
    project.sync_plan()
    project.git.ensure_branch("czar/integration", "main")
    with project.store.write() as conn:
        for tid in ("a", "b"):
            Store.move_task(conn, tid, TaskState.READY, reason="test")
        for wid in ("w1", "w2"):
            Store.set_worker(conn, wid, state=WorkerState.IDLE)
    Actions(project).assign("a", "w1", "test")
    return project


@pytest.fixture
def server(project: Project) -> Any:
    keeper = ToolsServer(project, lambda _text: None)
    keeper.start()
    try:
        yield keeper
    finally:
        keeper.stop()


OPEN: list[HttpCarrier] = []


@pytest.fixture(autouse=True)
def _closed() -> Any:
    yield
    while OPEN:
        OPEN.pop().close()


def _carrier(url: str, key: str, worker: str) -> HttpCarrier:
    carrier = HttpCarrier(url, key, worker)
    OPEN.append(carrier)
    return carrier


def _over_http(project: Project, worker: str) -> HttpCarrier:
    url = published_url(project.paths.root)
    assert url is not None
    return _carrier(url, host_key(project.paths.root), worker)


@pytest.fixture
def host_pid() -> Any:
    """A process of the test's own to stand for a worker host (the cleanup kills what a worker's
    row names: never a made-up pid, which may be somebody else's)."""
    stand_in = subprocess.Popen(["sleep", "300"])
    try:
        yield stand_in.pid
    finally:
        stand_in.kill()
        stand_in.wait()


def test_a_hosts_calls_answer_the_same_over_http_as_on_the_store(project: Project, server: Any, host_pid: int) -> None:
    remote, local = HostLink(_over_http(project, "w1")), HostLink(LocalCarrier(project.store, "w1"))
    adopted = remote.started(host_pid, token_digest("agent-token"))
    assert adopted is not None and adopted.task == "a" and adopted.state == TaskState.ASSIGNED.value
    assert local.started(host_pid, token_digest("agent-token")) == adopted
    worker = _worker(project, "w1")
    assert worker.pid == host_pid and worker.token == token_digest("agent-token")

    # The inbox: a command posted by the supervisor comes back decoded; carried out once.
    with project.store.write() as conn:
        Store.post(conn, "w1", Tell(attempt=adopted.attempt, kind=MessageKind.FEEDBACK, text="again"))
        Store.post(conn, "w1", Tell(attempt=adopted.attempt, kind=MessageKind.FEEDBACK, text="twice"))
    posted = remote.commands()  # the assignment's start, then the two messages
    assert posted == local.commands() and [type(p.command).__name__ for p in posted] == ["StartTask", "Tell", "Tell"]
    assert [p.command.text for p in posted if isinstance(p.command, Tell)] == ["again", "twice"]
    for _ in range(2):
        remote.command_done(posted[1].id, EventKind.AGENT_MESSAGE_DELIVERED, "a", adopted.attempt, {"chars": 5})
    assert [p.id for p in remote.commands()] == [posted[0].id, posted[2].id]
    delivered = project.store.events_after(0, kinds=(EventKind.AGENT_MESSAGE_DELIVERED,))
    assert [(e.worker_id, e.task_id, e.payload["command"]) for e in delivered] == [("w1", "a", posted[1].id)]

    # Usage is counted on the attempt with its event; the hooks read are this worker's own.
    remote.usage(
        adopted.attempt,
        "a",
        {"input_tokens": 10, "output_tokens": 5, "cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": 0.25},
    )
    with project.store.read() as conn:
        assert Store.attempt(conn, adopted.attempt).cost_usd == pytest.approx(0.25)
    since = remote.newest_event()
    with project.store.write() as conn:
        Store.emit(conn, EventKind.AGENT_HOOK, worker="w2", about="prompt")
        Store.emit(conn, EventKind.AGENT_HOOK, worker="w1", about="session_start")
    last, hooks = remote.hook_events(since)
    assert [(h.worker, h.payload["about"]) for h in hooks] == [("w1", "session_start")]
    assert last == project.store.last_event_id() and remote.hook_events(last) == (last, [])

    # The agent tools, for the host: a report is recorded, its answer the store's.
    tools = HostTools(_over_http(project, "w1"), launch=1)
    assert "recorded" in tools.report("half way", checkpoint=1, task="a")
    assert _task(project, "a").last_note == "half way"
    assert remote.integration_branch() == "czar/integration"


def test_refusals_keep_their_kind_and_a_worker_cannot_touch_anothers_attempt(project: Project, server: Any) -> None:
    other = HostLink(_over_http(project, "w2"))
    attempt = _task(project, "a").attempt_id
    assert attempt is not None
    with pytest.raises(CallerError, match="not worker w2's"):
        other.attempt_fields(attempt, session_id="stolen")
    with pytest.raises(CallerError, match="no task"):
        HostTools(_over_http(project, "w2")).report("nothing to report on")
    with pytest.raises(CzarError, match="does not set"):
        other.worker_fields(token="forged")
    with pytest.raises(CzarError, match="no host operation"):
        _over_http(project, "w2")("drop_everything", None, {})


def test_only_the_host_key_opens_the_hosts_door(project: Project, server: Any) -> None:
    url = published_url(project.paths.root)
    assert url is not None
    with project.store.write() as conn:
        Store.set_worker(conn, "w1", token=token_digest("agent-token"))
    for key in ("agent-token", "", host_key(project.paths.root)[:-1]):
        with pytest.raises(Unreachable, match=r"refused the call \(401\)"):
            _carrier(url, key, "w1")("newest_event", None, {})
    for path in ("w1/../w2", "../mcp"):
        with pytest.raises(Unreachable, match=r"refused the call \(40[14]\)"):
            _carrier(url, host_key(project.paths.root), path)("newest_event", None, {})
    assert _carrier(url, host_key(project.paths.root), "w1")("newest_event", None, {}) >= 1


def test_the_key_is_made_once_for_everybody_and_kept_to_its_owner(tmp_path: Path) -> None:
    keys: list[str] = []
    threads = [threading.Thread(target=lambda: keys.append(host_key(tmp_path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and len(keys[0]) == 64
    assert (tmp_path / "host.key").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["host.key"]


def test_a_host_whose_server_is_gone_goes_on_on_the_store(project: Project, server: Any, host_pid: int) -> None:
    said: list[str] = []
    made: list[int] = []

    def local() -> LocalCarrier:
        made.append(1)
        return LocalCarrier(project.store, "w1")

    link = HostLink(Fallback(_over_http(project, "w1"), local, said.append))
    assert link.newest_event() >= 1 and not made  # through the server
    server.stop()  # and its socket closed: refused from now on
    assert not (project.paths.root / URL_FILE).exists()
    adopted = link.started(host_pid, token_digest("t"))
    assert adopted is not None and adopted.task == "a" and _worker(project, "w1").pid == host_pid
    link.emit(EventKind.AGENT_ERROR, "a", adopted.attempt, {"text": "still heard"})
    assert made == [1] and len(said) == 1 and "goes on on the store itself" in said[0]
    assert project.store.events_after(0, kinds=(EventKind.AGENT_ERROR,))[-1].payload["text"] == "still heard"


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """A socket listening on a free port, a stand-in for the tools server; closed after the test
    whatever happened (left to the collector, its warning fails another test)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(4)
        yield sock


def test_a_connection_the_server_closed_while_idle_is_made_again(project: Project, listening: socket.socket) -> None:
    """A kept-alive connection the server closed between two calls: the next call goes on a new
    one (nothing was carried out on the closed one)."""
    answered: list[int] = []

    def serve() -> None:
        for _ in range(2):
            _answer_one_call(listening, answered)  # and closed at once, as a server's keep-alive timeout does

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    carrier = _carrier(f"http://127.0.0.1:{listening.getsockname()[1]}", "k" * 64, "w1")
    assert carrier("newest_event", None, {}) == 7
    retry_until(lambda: len(answered) == 1, what="the first answer")
    assert carrier("newest_event", None, {}) == 7  # the server answers one call per connection
    retry_until(lambda: len(answered) == 2, what="the second answer, on a connection of its own")
    thread.join(timeout=5)


def _read_call(conn: socket.socket) -> None:
    """The whole call, headers and body: its body may come in a packet of its own, and a socket
    closed with it unread is reset, not closed (a drop the carrier sends again, on a server that
    answers no more)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return
        body += chunk


def _serve_dropping(listening: socket.socket, drops: int, answered: list[int] | None, how: str = "reset") -> None:
    """A server that dies with the call ``drops`` times (reads it, then its connection is reset as a
    killed process's socket is, closed, or closed half-way through the answer), then answers on the
    next connection (given ``answered``)."""
    for _ in range(drops):
        conn, _ = listening.accept()
        _read_call(conn)
        if how == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif how == "half-answered":
            conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n{"ok": tr')
        conn.close()
    if answered is not None:
        _answer_one_call(listening, answered)


def _answer_one_call(listening: socket.socket, answered: list[int]) -> None:
    conn, _ = listening.accept()
    with conn:
        _read_call(conn)
        body = b'{"ok": true, "result": 7}'
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        answered.append(1)


@pytest.mark.parametrize(
    ("drops", "how"), [(1, "reset"), (DROPS - 1, "reset"), (1, "closed"), (DROPS - 1, "half-answered")]
)
def test_a_call_the_server_died_with_goes_to_the_next_server(drops: int, how: str, listening: socket.socket) -> None:
    """Seen in CI: a host's first call (no kept connection) in flight when the tools server was
    killed went on the store itself, though the supervisor starts the next server on the same socket."""
    answered: list[int] = []
    thread = threading.Thread(target=_serve_dropping, args=(listening, drops, answered, how), daemon=True)
    thread.start()
    carrier = _carrier(f"http://127.0.0.1:{listening.getsockname()[1]}", "k" * 64, "w1")
    assert carrier("newest_event", None, {}) == 7
    thread.join(timeout=5)
    assert answered == [1]  # on the connection after the drops (the thread notes it after answering)


def test_a_call_dropped_every_time_is_unreachable(listening: socket.socket) -> None:
    thread = threading.Thread(target=_serve_dropping, args=(listening, DROPS, None), daemon=True)
    thread.start()
    carrier = _carrier(f"http://127.0.0.1:{listening.getsockname()[1]}", "k" * 64, "w1")
    with pytest.raises(Unreachable, match=f"dropped the call {DROPS} times"):
        carrier("newest_event", None, {})
    thread.join(timeout=5)


@pytest.mark.parametrize("answer", [b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]"])
def test_an_unreadable_answer_is_unreachable_not_a_crash(answer: bytes, listening: socket.socket) -> None:
    """Found in review: a server cut off after its status line (no headers, no body) or answering
    with JSON that is no object raised a raw JSONDecodeError or AttributeError, which no fallback
    caught."""

    def serve() -> None:
        conn, _ = listening.accept()
        with conn:
            _read_call(conn)
            conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    carrier = _carrier(f"http://127.0.0.1:{listening.getsockname()[1]}", "k" * 64, "w1")
    with pytest.raises(Unreachable, match="unreadable"):
        carrier("newest_event", None, {})
    thread.join(timeout=5)
    carrier.close()


def test_the_unreadable_command_reaches_the_host_as_unreadable(project: Project, server: Any) -> None:
    from sqlalchemy import insert

    from czar.store.schema import inbox

    with project.store.write() as conn:
        conn.execute(insert(inbox).values(worker_id="w1", kind="teleport", payload="{}", created_at=0.0))
    posted = HostLink(_over_http(project, "w1")).commands()[-1]
    assert isinstance(posted.command, Unreadable) and posted.command.kind == "teleport"


def test_the_hosts_of_a_real_run_never_load_sqlalchemy(tmp_path: Path, czar_home: Path) -> None:
    make_repo(tmp_path / "repo")
    slow = 'python -c "import time; time.sleep(1)"'
    plan = write_plan(tmp_path, "light", [sim_task(t) for t in "abc"], workers=2, project_extra=f"accept = [{slow!r}]")
    czar("up", str(plan), check=True)
    store = Store(ProjectPaths.for_project("light"))
    try:
        retry_until(lambda: all(w.pid for w in store.workers()), timeout=60, what="both hosts to start")
        pids = [w.pid for w in store.workers() if w.pid]
        for pid in pids:
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert "sqlalchemy" not in maps and "czar" in Path(f"/proc/{pid}/cmdline").read_text()
        # The tools server killed mid-run: the supervisor starts another on the same socket, and
        # the hosts' calls wait for it there (none goes on the store itself, nothing is lost).
        killed = tools_pid(store)
        assert killed is not None
        os.kill(killed, signal.SIGKILL)
        retry_until(
            lambda: all(t.state == TaskState.MERGED for t in store.tasks()), timeout=120, what="the run to merge"
        )
        hosts = store.events_after(0, kinds=(EventKind.WORKER_HOST_STARTED,))
        assert len(hosts) == 2
        assert tools_pid(store) not in (None, killed)
        log = (ProjectPaths.for_project("light").logs / "w1.log").read_text()
        assert "goes on on the store itself" not in log
        czar("down", str(plan), check=True, timeout=60)
        assert not (ProjectPaths.for_project("light").root / URL_FILE).exists()  # no address left to a gone server
    finally:
        store.close()
        czar("down", str(plan), timeout=60)


def test_a_hosts_start_said_again_after_its_answer_was_lost_is_one_start(project: Project, server: Any) -> None:
    # Seen in a loaded run: the tools server killed while the hosts' starts were in flight; each
    # host said it again to the next server, and the run counted four host starts for two hosts.
    for carry in (_over_http(project, "w1"), LocalCarrier(project.store, "w1")):
        carry("started", None, {"pid": 4242, "token_digest": "d"})
    carry("started", None, {"pid": 4343, "token_digest": "d"})  # a host of its own, started again
    starts = project.store.events_after(0, kinds=(EventKind.WORKER_HOST_STARTED,))
    assert [(e.worker_id, e.payload["pid"]) for e in starts] == [("w1", 4242), ("w1", 4343)]


def test_usage_sent_again_after_its_answer_was_lost_counts_once(project: Project, server: Any) -> None:
    """A tools server killed after it wrote, before it answered: the host sends the call again
    (to the next server, or on the store itself); the same exchange's cost must not count twice."""
    attempt = _task(project, "a").attempt_id
    assert attempt is not None
    delta = {"input_tokens": 7, "output_tokens": 3, "cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": 0.5}
    for carry in (_over_http(project, "w1"), _over_http(project, "w1"), LocalCarrier(project.store, "w1")):
        carry("usage", None, {"attempt": attempt, "task": "a", "delta": delta, "mark": "m-1"})
    carry("usage", None, {"attempt": attempt, "task": "a", "delta": delta, "mark": "m-2"})
    with project.store.read() as conn:
        assert Store.attempt(conn, attempt).cost_usd == pytest.approx(1.0)
        assert Store.attempt(conn, attempt).input_tokens == 14
    # Two links (two hosts, one after the other) never share a mark.
    link, other = HostLink(LocalCarrier(project.store, "w1")), HostLink(LocalCarrier(project.store, "w1"))
    for one in (link, other):
        one.usage(attempt, "a", delta)
    assert len(project.store.events_after(0, kinds=(EventKind.AGENT_USAGE,))) == 4


class _Late(http.server.BaseHTTPRequestHandler):
    """Answers every call ``after`` seconds late (as a permission that waits for a person does)."""

    protocol_version = "HTTP/1.1"  # connections kept alive, as the tools server keeps them
    after = 0.0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(self.after)
        body = b'{"ok": true, "result": ["allow", "allowed by a person"]}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def late() -> Iterator[Callable[[float], str]]:
    """``late(after)``: the address of a server that answers ``after`` seconds late."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(after: float) -> str:
        handler = type("Late", (_Late,), {"after": after})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_permission_waits_for_a_person_past_the_calls_timeout(
    monkeypatch: pytest.MonkeyPatch, late: Callable[[float], str]
) -> None:
    """Seen with Claude Code on its own screen: the host's call to the tools server for a permission
    a person had to answer timed out after a minute (every call's timeout), the host went on on the
    store for good and asked again there, and the agent's hook had given up at the same minute."""
    monkeypatch.setattr(host_link, "TIMEOUT", 0.3)
    carrier = _carrier(late(0.8), "k" * 64, "w1")
    tools = HostTools(carrier, launch=1)
    assert tools.decide_permission("Bash", "git push") == (Decision.ALLOW, "allowed by a person")
    with pytest.raises(Unreachable, match="timed out"):  # any other call keeps its timeout
        carrier("newest_event", None, {})
    carrier.close()


def test_a_hooks_permission_waits_for_a_person_past_the_calls_timeout(
    monkeypatch: pytest.MonkeyPatch, late: Callable[[float], str]
) -> None:
    """The same between an agent's hook (in its sandbox) and its worker host's relay."""
    monkeypatch.setattr(relay, "TIMEOUT", 0.3)
    tools = relay.RemoteTools(late(0.8), "t" * 32)
    assert tools.decide_permission("Bash", "git push") == (Decision.ALLOW, "allowed by a person")
    with pytest.raises(relay.RelayError, match="timed out"):
        tools.done("finished")


def test_the_hooks_calls_through_the_relay_keep_no_connection_each(late: Callable[[float], str]) -> None:
    """Found in review: each call an agent's hook makes through its worker host's relay runs on a
    thread of its own, and the host kept one connection to the tools server per thread, for
    good: a long run of hooks ran the host out of file descriptors."""
    carrier = _carrier(late(0.0), "k" * 64, "w1")
    server = relay.RelayServer(HostTools(carrier, launch=1), "t" * 32)
    hook = relay.RemoteTools(server.base, "t" * 32)
    try:
        for _ in range(60):
            assert hook.decide_permission("Bash", "ls") == (Decision.ALLOW, "allowed by a person")
        assert len(carrier._open) == 1  # one call at a time: one connection, kept
    finally:
        server.stop()
        carrier.close()


def test_a_tools_server_that_does_not_answer_is_told_from_one_that_does() -> None:
    # An agent is never given the address of a tools server killed since its host last called on it.
    import socket

    from czar.agent_tools.host_link import answers

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        assert answers(f"http://127.0.0.1:{port}")
    finally:
        server.close()
    assert not answers(f"http://127.0.0.1:{port}")
