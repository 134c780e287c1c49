"""The store's end of the worker hosts' link (``czar.agent_tools.host_link``): ``StoreLink``, the
host's own writes and reads, each one transaction; ``serve``, a call by name (one of those, or an
agent tool); ``LocalCarrier``, the calls in this process; ``host_app``, the calls over HTTP on the
project's tools server, for hosts that prove themselves with the project's host key.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from czar.agent_tools.host_link import PATH_PREFIX, TOOL, Wrap
from czar.agent_tools.identity import CallerError
from czar.agent_tools.relay import CALLS, WAITS, WAITS_PER_WORKER
from czar.agent_tools.service import AgentTools
from czar.core.events import EventKind
from czar.core.host_commands import Unreadable, encode
from czar.core.policy import Verdict
from czar.core.states import ACTIVE_TASK_STATES, AGENT_AT_WORK, TaskState, WorkerState
from czar.errors import CzarError
from czar.store.store import Store, Tx

MAX_BODY = 4 * 1024 * 1024  # a host's call carries at most a tool's input or a line of output
WORKER_FIELDS = frozenset({"agent_pid", "last_seen", "last_output", "repeats", "state", "detail"})
ATTEMPT_FIELDS = frozenset({"session_id", "launches", "agent_exited_at"})
USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


class StoreLink:
    """Worker ``worker``'s host's operations on the store. Arguments and answers are JSON-ready."""

    def __init__(self, store: Store, worker: str) -> None:
        self.store = store
        self.worker = worker

    def _event(self, conn: Tx, kind: EventKind, task: str | None, attempt: int | None, **payload: Any) -> None:
        Store.emit(conn, kind, actor=self.worker, worker=self.worker, task=task, attempt=attempt, **payload)

    def started(self, pid: int, token_digest: str) -> dict[str, Any]:
        with self.store.write() as conn:
            # The same host saying it again: its answer was lost with a tools server killed after
            # it wrote (the host sends the call again). One start, one event.
            again = Store.worker(conn, self.worker).pid == pid
            Store.set_worker(
                conn, self.worker, pid=pid, last_seen=time.time(), agent_pid=None, token=token_digest, repeats=0
            )
            # Idle unless the supervisor gave this worker a task while the host was starting; a
            # host saying it again leaves the worker as its first call did and the supervisor made
            # it since (given a review, a reviewer's row names no task).
            if not again:
                Store.idle_unless_given_a_task(conn, self.worker)
            adopted = self._adopted(conn)
            if not again:
                self._event(conn, EventKind.WORKER_HOST_STARTED, None, None, pid=pid)
            integration = str(Store.get_meta(conn, "integration_branch", "czar/integration"))
        return {"adopted": adopted, "integration_branch": integration}

    def _adopted(self, conn: Tx) -> dict[str, Any] | None:
        """The attempt the worker still holds from its previous host (one that died, or was stopped
        by `czar down`), to carry on: a restart loses neither the worker nor the task."""
        row = Store.worker(conn, self.worker)
        if row.task_id is None:
            return None
        task = Store.task(conn, row.task_id)
        if task.worker_id != self.worker or task.attempt_id is None or task.state not in ACTIVE_TASK_STATES:
            return None
        attempt = Store.attempt(conn, task.attempt_id)
        if row.state == WorkerState.STARTING.value:
            Store.set_worker(conn, self.worker, state=WorkerState.WORKING, detail=None)
        return {
            "attempt": attempt.id,
            "task": task.id,
            "state": TaskState(task.state).value,
            "worktree": attempt.worktree,
            "prompt": Store.prompt(conn, attempt.id),
            # Its next start is numbered past any refused (one its dead host made unrecorded).
            "launches": max(attempt.launches, attempt.stale_launch),
            "session": attempt.session_id,
        }

    def stopped(self) -> None:
        with self.store.write() as conn:
            Store.set_worker(conn, self.worker, state=WorkerState.STOPPED, agent_pid=None)
            self._event(conn, EventKind.WORKER_HOST_STOPPED, None, None)

    def commands(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for posted in self.store.open_commands(self.worker):
            row: dict[str, Any] = {"id": posted.id, "worker": posted.worker_id}
            if isinstance(posted.command, Unreadable):
                row |= {"kind": posted.command.kind, "unreadable": posted.command.why}
            else:
                row["kind"], row["payload"] = encode(posted.command)
            out.append(row)
        return out

    def command_done(
        self, command: int, kind: str, task: str | None, attempt: int | None, payload: dict[str, Any]
    ) -> None:
        with self.store.write() as conn:
            if Store.mark_done(conn, command):
                self._event(conn, EventKind(kind), task, attempt, command=command, **payload)

    def emit(self, kind: str, task: str | None, attempt: int | None, payload: dict[str, Any]) -> None:
        with self.store.write() as conn:
            self._event(conn, EventKind(kind), task, attempt, **payload)

    def worker_fields(self, fields: dict[str, Any]) -> None:
        if unknown := set(fields) - WORKER_FIELDS:
            raise CzarError(f"a worker host does not set {', '.join(sorted(unknown))}")
        if "state" in fields:
            fields = {**fields, "state": WorkerState(fields["state"])}
        with self.store.write() as conn:
            Store.set_worker(conn, self.worker, **fields)

    def attempt_fields(self, attempt: int, fields: dict[str, Any]) -> None:
        if unknown := set(fields) - ATTEMPT_FIELDS:
            raise CzarError(f"a worker host does not set {', '.join(sorted(unknown))}")
        with self.store.write() as conn:
            self._own(conn, attempt)
            Store.set_attempt(conn, attempt, **fields)

    def _own(self, conn: Tx, attempt: int) -> None:
        if Store.attempt(conn, attempt).worker_id != self.worker:
            raise CallerError(f"attempt {attempt} is not worker {self.worker}'s")

    def launched(self, attempt: int, agent_pid: int, launches: int, session: str | None, first: bool = False) -> None:
        now = time.time()
        with self.store.write() as conn:
            self._own(conn, attempt)
            Store.set_worker(conn, self.worker, agent_pid=agent_pid, last_seen=now, last_output=now, repeats=0)
            Store.set_attempt(conn, attempt, launches=launches, agent_exited_at=None, session_id=session)
            if first:
                Store.refuse_before(conn, attempt, launches)

    def cannot_start(self, attempt: int, task: str, launches: int, text: str) -> None:
        with self.store.write() as conn:
            self._own(conn, attempt)
            Store.set_attempt(conn, attempt, agent_exited_at=time.time(), launches=launches)
            self._event(conn, EventKind.AGENT_ERROR, task, attempt, text=text)

    def agent_exited(
        self,
        task: str,
        attempt: int,
        code: int | None,
        finished: bool,
        reviewer: bool,
        long_lived: bool,
        unreachable: bool,
    ) -> None:
        with self.store.write() as conn:
            Store.set_worker(conn, self.worker, agent_pid=None, last_seen=time.time())
            state = TaskState(Store.task(conn, task).state)
            # A reviewer's agent is done with its verdict (the review is closed then); exited
            # before it, the review is lost (``czar.supervisor.reviews``).
            at_work = (TaskState.ASSIGNED, TaskState.RUNNING, TaskState.REVIEWING) if reviewer else AGENT_AT_WORK
            unfinished = not finished and state in at_work
            # An agent that answers one message per process ends its turn by exiting: that is
            # waiting for the next message, not a crash.
            answered = not long_lived and code == 0
            if unfinished and answered and not unreachable:
                unfinished = False
                if Store.worker(conn, self.worker).state == WorkerState.WORKING.value:
                    Store.set_worker(conn, self.worker, state=WorkerState.WAITING_INPUT, detail="waiting for input")
            elif unfinished and not unreachable:
                Store.set_attempt(conn, attempt, agent_exited_at=time.time())
            why = {"model_unreachable": True} if unreachable else {}
            self._event(conn, EventKind.AGENT_EXITED, task, attempt, code=code, finished=not unfinished, **why)

    def alert(self, level: str, text: str, task: str | None, extra: dict[str, Any]) -> None:
        with self.store.write() as conn:
            Store.alert(conn, level, text, task=task, worker=self.worker, actor=self.worker, **extra)

    def usage(self, attempt: int, task: str, delta: dict[str, float], mark: str) -> None:
        with self.store.write() as conn:
            self._own(conn, attempt)
            if Store.marked(conn, task, EventKind.AGENT_USAGE, mark):
                return  # counted already: its answer was lost on the way (a server that died)
            Store.add_usage(
                conn,
                attempt,
                **{k: int(delta[k]) for k in USAGE_FIELDS},
                cost_usd=float(delta["cost_usd"]),
            )
            self._event(
                conn, EventKind.AGENT_USAGE, task, attempt, mark=mark, **{k: round(v, 6) for k, v in delta.items()}
            )

    def hook_events(self, after: int) -> dict[str, Any]:
        found = self.store.events_after(after, kinds=(EventKind.AGENT_HOOK, EventKind.PERMISSION_DECIDED))
        return {
            "last": found[-1].id if found else after,
            "events": [
                {"id": e.id, "worker": e.worker_id, "kind": e.kind, "payload": e.payload}
                for e in found
                if e.worker_id == self.worker
            ],
        }

    def newest_event(self) -> int:
        return self.store.last_event_id()

    def integration_branch(self) -> str:
        with self.store.read() as conn:
            return str(Store.get_meta(conn, "integration_branch", "czar/integration"))

    def tools_address(self) -> str | None:
        from czar.agent_tools.tools_server import address

        return address(self.store)


# The link's operations by name; nothing else of ``StoreLink`` is called from outside.
OPERATIONS: dict[str, Callable[..., Any]] = {
    name: getattr(StoreLink, name)
    for name in (
        "started",
        "stopped",
        "commands",
        "command_done",
        "emit",
        "worker_fields",
        "attempt_fields",
        "launched",
        "cannot_start",
        "agent_exited",
        "alert",
        "usage",
        "hook_events",
        "newest_event",
        "integration_branch",
        "tools_address",
    )
}

# The agent tools a host calls: those its agent may call through its relay, and the host's own.
TOOL_CALLS: dict[str, Callable[[AgentTools, dict[str, Any]], Any]] = {
    **CALLS,
    "done": lambda tools, args: tools.done(str(args["summary"]), head=args.get("head")),
    "acknowledge": lambda tools, args: tools.acknowledge(args.get("named"), args.get("goal"), args.get("digest_ok")),
    "commit": lambda tools, args: tools.commit(str(args["sha"]), str(args["message"])),
    "activity": lambda tools, args: tools.activity(
        str(args["text"]), int(args.get("repeats") or 0), **dict(args.get("data") or {})
    ),
    "idle": lambda tools, args: tools.idle(),
    "permission": lambda tools, args: _verdict(tools.permission(str(args["tool"]), str(args["target"]))),
    "rate_limited": lambda tools, args: tools.rate_limited(float(args["reset_in"]), str(args.get("text") or "")),
    "model_reachable": lambda tools, args: tools.model_reachable(),
    "model_unreachable": lambda tools, args: tools.model_unreachable(str(args["evidence"])),
    "turn_ended": lambda tools, args: tools.turn_ended(again=bool(args["again"])),
}


def _verdict(verdict: Verdict) -> list[str]:
    return [verdict.decision.value, verdict.reason]


def serve(store: Store, worker: str, launch: int | None, wrap: Wrap | None, name: str, args: dict[str, Any]) -> Any:
    """Carry out one call of ``worker``'s host; the answer as JSON-ready data."""
    if name.startswith(TOOL):
        call = TOOL_CALLS.get(name.removeprefix(TOOL))
        if call is None:
            raise CzarError(f"no agent tool {name!r}")
        tools = AgentTools(store, worker, launch)
        tools.wrap = wrap
        return call(tools, args)
    operation = OPERATIONS.get(name)
    if operation is None:
        raise CzarError(f"no host operation {name!r}")
    return operation(StoreLink(store, worker), **args)


class LocalCarrier:
    """A host's calls on the store in this process (tests, and a host whose tools server is gone).
    The arguments and answers go through JSON as they would over HTTP: the same calls, the same
    answers. ``wrap()``: how czar's git runs in the worker's checkout now."""

    def __init__(self, store: Store, worker: str, wrap: Callable[[], Wrap | None] = lambda: None) -> None:
        self.store = store
        self.worker = worker
        self.wrap = wrap
        self.url: str | None = None  # calls made here: where a tools server runs is asked

    def __call__(self, name: str, launch: int | None, args: dict[str, Any]) -> Any:
        answer = serve(self.store, self.worker, launch, self.wrap(), name, json.loads(json.dumps(args)))
        return json.loads(json.dumps(answer))

    def close(self) -> None:
        pass  # the store is its owner's to close


def answer_of(store: Store, worker: str, wrap: Wrap | None, body: bytes) -> dict[str, Any]:
    """The answer to one HTTP call's body: ``{"ok": true, "result": ...}``, or the error said
    (``caller``: the store refused the caller, as ``CallerError``)."""
    try:
        call = json.loads(body)
        launch = call.get("launch")
        result = serve(
            store, worker, int(launch) if launch is not None else None, wrap, str(call["call"]), dict(call["args"])
        )
        return {"ok": True, "result": result}
    except CallerError as exc:
        return {"ok": False, "error": str(exc), "caller": True}
    except Exception as exc:  # the host hears why; the server goes on
        return {"ok": False, "error": str(exc) or type(exc).__name__}


ASGIApp = Any  # (scope, receive, send) -> awaitable


def host_app(store: Store, key: str, sandbox_for: Callable[[str], Wrap | None], inner: ASGIApp | None) -> ASGIApp:
    """The worker hosts' calls (``POST /host/<worker>``, the host key as ``Authorization: Bearer``),
    each in a thread of its own (a call is a transaction); every other request goes to ``inner``
    (the MCP server), or is not found when there is none. A call that may wait for a person
    (``relay.WAITS``) waits on its worker's own threads, as the MCP server's permission tool does:
    on the shared ones (forty), forty of them waiting held every host's every other call."""
    import anyio
    import anyio.to_thread

    waiting: dict[str, anyio.CapacityLimiter] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await (inner(scope, receive, send) if inner is not None else _lifespan(receive, send))
            return
        worker = host_path(scope.get("path", "")) if scope["type"] == "http" else None
        if worker is None:
            if inner is not None:
                await inner(scope, receive, send)
            elif scope["type"] == "http":
                await _reply(send, 404, b"czar: no such thing here\n", "text/plain")
            return
        given = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        if scope.get("method") != "POST" or not proven(key, given):
            await _reply(send, 401, b"czar: not a worker host of this project\n", "text/plain")
            return
        body = await _body(receive)
        if body is None:
            await _reply(send, 413, b"czar: too large\n", "text/plain")
            return
        limiter = waiting.setdefault(worker, anyio.CapacityLimiter(WAITS_PER_WORKER)) if _waits(body) else None
        answer = await anyio.to_thread.run_sync(answer_of, store, worker, sandbox_for(worker), body, limiter=limiter)
        await _reply(send, 200, json.dumps(answer).encode(), "application/json")

    return app


def _waits(body: bytes) -> bool:
    """Whether the call may wait for a person."""
    try:
        call = json.loads(body)
    except ValueError:
        return False
    return isinstance(call, dict) and str(call.get("call", "")).removeprefix(TOOL) in WAITS


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _body(receive: Any) -> bytes | None:
    """The request's body; None past ``MAX_BODY``."""
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(send: Any, status: int, body: bytes, content_type: str) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def host_path(path: str) -> str | None:
    """The worker a path of the tools server names as ``/host/<worker>``; None for other paths."""
    if not path.startswith(PATH_PREFIX):
        return None
    worker = path.removeprefix(PATH_PREFIX)
    return worker if worker and len(worker) <= 64 and all(c.isalnum() or c in "_.-" for c in worker) else None


def proven(key: str, authorization: str) -> bool:
    return hmac.compare_digest(authorization.encode(), f"Bearer {key}".encode())
