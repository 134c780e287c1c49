"""What a worker host asks of czar's store, as one port: ``HostLink`` for the host's own writes and
reads, ``HostTools`` for the agent tools its agent's signals call. Both speak through a
``Carrier``: a call by name with JSON-ready arguments and answer.

Two carriers: ``HttpCarrier``, to the project's tools server (``czar.agent_tools.host_service``
serves it there), and ``czar.agent_tools.host_service.LocalCarrier``, on the store in this
process. A worker host speaks through the tools server, so that a hundred of them do not each load
SQLAlchemy (some 28 MB and 0.3 s of CPU each); if the tools server cannot be reached, it goes on on
the store itself (``Fallback``): slower to start, the same calls, nothing lost.

Nothing here imports the store: this module is on the worker host's path.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import secrets
import socket
import tempfile
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from czar.agent_tools.identity import CallerError
from czar.agent_tools.relay import WAITS, RemoteTools
from czar.core.events import EventKind
from czar.core.host_commands import Posted, Unreadable, decode
from czar.core.policy import DECISION_WAIT_SECONDS, Decision, Verdict
from czar.core.states import WorkerState
from czar.errors import CzarError

PATH_PREFIX = "/host/"  # the tools server's path for worker ``W``'s host: /host/W
DROPS = 3  # a call dropped unanswered this often in a row: its server is not coming back for it
# The server closed a connection without a whole answer: it died with the call, or (a kept one) closed it while idle.
DROPPED = (http.client.RemoteDisconnected, http.client.IncompleteRead, ConnectionResetError, BrokenPipeError)
TIMEOUT = 60.0  # what a call may take, but one that waits for a person (relay.WAITS)
TOOL = "tool."  # a call's name for one of the agent tools (``AgentTools``), as ``tool.done``
KEY_FILE = "host.key"  # in the project's folder: what proves a worker host to the tools server
URL_FILE = "tools.url"  # in the project's folder: where the running tools server listens

Wrap = Callable[[list[str]], list[str]]


def mcp_path(worker: str, launch: int) -> str:
    """Where on the tools server one start of a worker's agent finds its tools."""
    return f"/mcp/{worker}/{launch}"


class Carrier(Protocol):
    """One call of a worker host: ``name`` (an operation of ``StoreLink``, or ``tool.`` and an agent
    tool), for its agent's start ``launch``; the answer as JSON-ready data. Raises ``CallerError``
    when the store refuses the caller (the task left the worker), ``CzarError`` otherwise."""

    @property
    def url(self) -> str | None:
        """The tools server it calls on (where its agents find MCP, for a plan that has it); None
        on the store itself."""

    def __call__(self, name: str, launch: int | None, args: dict[str, Any]) -> Any: ...

    def close(self) -> None:
        """Let go of what it holds (connections); a later call makes them again."""


@dataclass(frozen=True)
class Adopted:
    """The attempt a starting host carries on from its previous one (``HostLink.started``)."""

    attempt: int
    task: str
    state: str  # the task's
    worktree: str
    prompt: str
    launches: int
    session: str | None


@dataclass(frozen=True)
class HookEvent:
    """An event of an agent's hooks (``AGENT_HOOK``) or of a permission decided, as the host reads them."""

    id: int
    worker: str | None
    kind: EventKind
    payload: dict[str, Any]


class HostLink:
    """The worker host's writes and reads, each one transaction on the store's side."""

    def __init__(self, carry: Carrier) -> None:
        self.carry = carry
        self._integration: str | None = None  # the integration branch's name, told at the start
        self._marks = secrets.token_hex(6)  # this link's, for calls that must count once
        self._counted = itertools.count(1)

    def _call(self, name: str, **args: Any) -> Any:
        return self.carry(name, None, args)

    def started(self, pid: int, token_digest: str) -> Adopted | None:
        """The host is up (its process, its agent token's digest); the worker idle unless given a
        task meanwhile; the attempt it still holds from a previous host, if any."""
        found = self._call("started", pid=pid, token_digest=token_digest)
        self._integration = str(found["integration_branch"])
        return Adopted(**found["adopted"]) if found["adopted"] else None

    def stopped(self) -> None:
        self._call("stopped")

    def close(self) -> None:
        self.carry.close()

    def commands(self) -> list[Posted]:
        """The worker's inbox: commands not carried out yet, oldest first."""
        out = []
        for row in self._call("commands"):
            kind = str(row["kind"])
            why = row.get("unreadable")
            command = Unreadable(kind, str(why)) if why is not None else decode(kind, row["payload"])
            out.append(Posted(int(row["id"]), str(row["worker"]), command))
        return out

    def command_done(
        self, command: int, kind: EventKind, task: str | None, attempt: int | None, payload: dict[str, Any]
    ) -> None:
        """The command carried out (once: a repeat records nothing), with the event that says so."""
        self._call("command_done", command=command, kind=kind.value, task=task, attempt=attempt, payload=payload)

    def emit(self, kind: EventKind, task: str | None, attempt: int | None, payload: dict[str, Any]) -> None:
        self._call("emit", kind=kind.value, task=task, attempt=attempt, payload=payload)

    def worker_fields(self, **fields: Any) -> None:
        """Set the worker's ``agent_pid``, ``last_seen``, ``last_output``, ``repeats``, ``state`` or ``detail``."""
        if isinstance(fields.get("state"), WorkerState):
            fields["state"] = fields["state"].value
        self._call("worker_fields", fields=fields)

    def attempt_fields(self, attempt: int, **fields: Any) -> None:
        """Set the attempt's ``session_id``, ``launches`` or ``agent_exited_at``."""
        self._call("attempt_fields", attempt=attempt, fields=fields)

    def launched(self, attempt: int, agent_pid: int, launches: int, session: str | None, first: bool) -> None:
        """An agent started on ``attempt``: its process, its start's number, its session. ``first``:
        this host's first start of it, numbered past every earlier one, whose words are refused
        from now on (the host may have started one the store did not know of when it posted the
        start: a message for the worker's last task, handled in between)."""
        self._call("launched", attempt=attempt, agent_pid=agent_pid, launches=launches, session=session, first=first)

    def cannot_start(self, attempt: int, task: str, launches: int, text: str) -> None:
        """The agent could not start: it "exited" at once, with the error said."""
        self._call("cannot_start", attempt=attempt, task=task, launches=launches, text=text)

    def agent_exited(
        self,
        *,
        task: str,
        attempt: int,
        code: int | None,
        finished: bool,
        reviewer: bool,
        long_lived: bool,
        unreachable: bool,
    ) -> None:
        """The agent's process ended (``StoreLink.agent_exited`` says what follows)."""
        self._call(
            "agent_exited",
            task=task,
            attempt=attempt,
            code=code,
            finished=finished,
            reviewer=reviewer,
            long_lived=long_lived,
            unreachable=unreachable,
        )

    def alert(self, level: str, text: str, task: str | None, **extra: Any) -> None:
        self._call("alert", level=level, text=text, task=task, extra=extra)

    def usage(self, attempt: int, task: str, delta: dict[str, float]) -> None:
        """What an API exchange cost, added to the attempt, with its event. Counted once even if
        sent twice: a call whose answer was lost (a tools server killed after it wrote) is sent
        again, and this one must not count twice."""
        mark = f"{self._marks}-{next(self._counted)}"
        self._call("usage", attempt=attempt, task=task, delta=delta, mark=mark)

    def hook_events(self, after: int) -> tuple[int, list[HookEvent]]:
        """This worker's hook events and permissions decided with ids above ``after``, and the
        id to read after next time."""
        found = self._call("hook_events", after=after)
        events = [
            HookEvent(int(e["id"]), e["worker"], EventKind(e["kind"]), dict(e["payload"])) for e in found["events"]
        ]
        return int(found["last"]), events

    def newest_event(self) -> int:
        return int(self._call("newest_event"))

    def integration_branch(self) -> str:
        if self._integration is None:
            self._integration = str(self._call("integration_branch"))
        return self._integration

    def tools_address(self) -> str | None:
        """Where the project's tools server serves MCP (to an agent of a kind that speaks it); None
        if none runs."""
        if self.carry.url is not None:
            return self.carry.url
        found = self._call("tools_address")
        return None if found is None else str(found)


class HostTools(RemoteTools):
    """The agent tools (``czar.agent_tools.service.AgentTools``) for the host's own calls and its
    agent's relayed ones, through a carrier: for the agent's start ``launch`` (a replaced start's
    calls are refused). The calls an agent may make are ``RemoteTools``'s, answered the same way;
    the host's own are added. ``wrap``: how the host's own git runs in the checkout (it is the
    tools server's to know for its own)."""

    def __init__(self, carry: Carrier, launch: int | None = None) -> None:  # no endpoint: the carrier calls
        self.carry = carry
        self.launch = launch
        self.wrap: Wrap | None = None

    def at(self, launch: int) -> HostTools:
        """The same tools, for the agent's start ``launch`` (its relay's)."""
        tools = HostTools(self.carry, launch)
        tools.wrap = self.wrap
        return tools

    def _call(self, name: str, **args: Any) -> Any:
        return self.carry(TOOL + name, self.launch, args)

    def acknowledge(self, named: str | None, goal: str | None = None, digest_ok: bool | None = None) -> str:
        return str(self._call("acknowledge", named=named, goal=goal, digest_ok=digest_ok))

    def done(self, summary: str, head: str | None = None) -> str:
        return str(self._call("done", summary=summary, head=head))

    def commit(self, sha: str, message: str) -> None:
        self._call("commit", sha=sha, message=message)

    def activity(self, text: str, repeats: int = 0, **data: Any) -> None:
        self._call("activity", text=text, repeats=repeats, data=data)

    def idle(self) -> None:
        self._call("idle")

    def permission(self, tool: str, target: str) -> Verdict:
        decision, reason = self._call("permission", tool=tool, target=target)
        return Verdict(Decision(decision), str(reason))

    def rate_limited(self, reset_in: float, text: str = "") -> None:
        self._call("rate_limited", reset_in=reset_in, text=text)

    def model_reachable(self) -> None:
        self._call("model_reachable")

    def model_unreachable(self, evidence: str) -> None:
        self._call("model_unreachable", evidence=evidence)

    def turn_ended(self, *, again: bool) -> str | None:
        reason = self._call("turn_ended", again=again)
        return None if reason is None else str(reason)


class Unreachable(CzarError):
    """The tools server could not be reached, refused the call, or dropped it unanswered (then it
    may have been carried out: a call is made at least once)."""


class HttpCarrier:
    """Calls on the tools server at ``url``, as worker ``worker``'s host, proven by the project's
    host key. Kept-alive connections, each used by one call at a time and kept idle between calls:
    as many as calls went on at once (the host's loop, its relay's threads). One per thread leaked
    a connection and its socket with every thread the relay starts for a hook's call: a long run
    of hooks ran a host out of file descriptors."""

    def __init__(self, url: str, key: str, worker: str) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or parts.port is None:
            raise CzarError(f"not a tools server's address: {url!r}")
        self.url: str | None = url
        self.host, self.port = parts.hostname, parts.port
        self.path = PATH_PREFIX + urllib.parse.quote(worker, safe="")
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self._lock = threading.Lock()
        self._idle: list[http.client.HTTPConnection] = []
        self._open: set[http.client.HTTPConnection] = set()

    def __call__(self, name: str, launch: int | None, args: dict[str, Any]) -> Any:
        body = json.dumps({"call": name, "launch": launch, "args": args}).encode()
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        wait = DECISION_WAIT_SECONDS if name.removeprefix(TOOL) in WAITS else TIMEOUT
        for tried in range(1, DROPS + 1):
            try:
                data = self._post(conn, body, wait)
                break
            except DROPPED as exc:
                # Closed unanswered: a kept connection by the server while idle (the call was not
                # read), or the server died with the call (it may have been carried out). Sent
                # again on a new connection, which waits in the socket's queue for the server the
                # supervisor starts again: a call is carried out at least once, and those that must
                # count once (usage) carry a mark the store checks.
                if tried == DROPS:
                    raise Unreachable(f"the tools server dropped the call {DROPS} times: {exc}") from exc
                conn = None
        try:
            answer = json.loads(data)
        except ValueError:
            answer = None
        if not isinstance(answer, dict):  # a server cut off after its headers: no body, or half of one
            raise Unreachable(f"the tools server's answer is unreadable: {data[:80]!r}")
        if not answer.get("ok"):
            error = str(answer.get("error") or "the call failed")
            raise CallerError(error) if answer.get("caller") else CzarError(error)
        return answer.get("result")

    def _post(self, conn: http.client.HTTPConnection | None, body: bytes, wait: float) -> bytes:
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=wait)
            with self._lock:
                self._open.add(conn)
        conn.timeout = wait  # this call's (a kept connection's socket has the last call's)
        try:
            sock = conn.sock
            if sock is not None:
                sock.settimeout(wait)
            conn.request("POST", self.path, body=body, headers=self.headers)
            response = conn.getresponse()
            data = response.read()
        except DROPPED:
            self._forget(conn)
            raise
        except (OSError, http.client.HTTPException) as exc:
            self._forget(conn)
            raise Unreachable(f"cannot reach the tools server at {self.host}:{self.port}: {exc}") from exc
        with self._lock:
            if conn in self._open:  # kept for the next call (not if closed meanwhile)
                self._idle.append(conn)
        if response.status != 200:
            raise Unreachable(f"the tools server refused the call ({response.status})")
        return data

    def _forget(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        with self._lock:
            self._open.discard(conn)

    def close(self) -> None:
        with self._lock:
            conns, self._open, self._idle = self._open, set(), []
        for conn in conns:
            conn.close()


class Fallback:
    """``first``, until it cannot be reached; then ``second()`` (made then), for good. Said once."""

    def __init__(self, first: Carrier, second: Callable[[], Carrier], say: Callable[[str], None]) -> None:
        self.first: Carrier | None = first
        self.second = second
        self.say = say
        self._lock = threading.Lock()
        self._made: Carrier | None = None

    @property
    def url(self) -> str | None:
        first = self.first
        return first.url if first is not None else None

    def __call__(self, name: str, launch: int | None, args: dict[str, Any]) -> Any:
        first = self.first
        if first is not None:
            try:
                return first(name, launch, args)
            except Unreachable as exc:
                with self._lock:
                    if self.first is not None:
                        self.first = None
                        self.say(f"  {exc}; this host goes on on the store itself")
        with self._lock:
            if self._made is None:
                self._made = self.second()
            made = self._made
        return made(name, launch, args)

    def close(self) -> None:
        if self.first is not None:
            self.first.close()
        if self._made is not None:
            self._made.close()


def host_key(root: Path) -> str:
    """The project's host key (made at its first use, readable by its owner alone): what proves a
    worker host to the tools server. An agent's sandbox hides the project's folder."""
    path = root / KEY_FILE
    with contextlib.suppress(FileNotFoundError):
        return _read_key(path)
    root.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=root, prefix=f".{KEY_FILE}.")  # its owner's alone, a name of its own
    fresh = Path(name)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(os.urandom(32).hex())
    try:
        os.link(fresh, path)  # whoever links first made the key; the others read it
    except FileExistsError:
        pass
    finally:
        fresh.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> str:
    key = path.read_text(encoding="ascii").strip()
    if len(key) < 32:
        raise CzarError(f"the host key in {path} is damaged; remove it and start the run again")
    return key


def answers(url: str, timeout: float = 0.5) -> bool:
    """True if something listens at ``url`` (``http://HOST:PORT``): a tools server still there."""
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=timeout):
            return True
    except OSError:
        return False


def published_url(root: Path) -> str | None:
    """Where the project's tools server listens, as its supervisor wrote it; None if none runs."""
    with contextlib.suppress(OSError, UnicodeDecodeError):
        url = (root / URL_FILE).read_text(encoding="utf-8").strip()
        return url or None
    return None
