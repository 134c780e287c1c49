"""czar's agent tools across the sandbox wall: the worker host serves them on its local endpoint
(``/czar/call``, the worker's token required), and the ``czar report/done/.../hook`` commands an
agent runs inside its sandbox, where the store is out of reach, call them there.

The same operations as ``AgentTools``; only these names can be called, and their answers travel as
JSON (board rows and claim results rebuilt on the agent's side).
"""

from __future__ import annotations

import hmac
import json
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, fields, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from czar.agent_tools.identity import CallerError, caller_from_env
from czar.agents.base import HookCall, HookKind
from czar.core.board import BoardRow
from czar.core.claims import ClaimResult
from czar.core.policy import DECISION_WAIT_SECONDS, Decision
from czar.errors import CzarError

PATH = "/czar/call"
ENV_ENDPOINT = "CZAR_ENDPOINT"  # the host's endpoint, for an agent whose store is out of reach
TIMEOUT = 60.0  # what a call may take, but a permission's (it may wait for a person)
WAITS = frozenset({"decide_permission"})  # calls that may wait for a person: DECISION_WAIT_SECONDS
WAITS_PER_WORKER = 2  # of those, one worker's decided at once (the rest queue), wherever they come from
MAX_BODY = 4 * 1024 * 1024  # a hook's payload (a tool's input) is small; more is not read


class RelayError(CzarError):
    """The worker host could not be reached, or refused the call."""

    exit_code = 2


class ToolCalls(Protocol):
    """What the ``czar`` commands an agent runs need: ``AgentTools`` itself, or ``RemoteTools``."""

    def report(self, text: str, *, checkpoint: int | None = None, task: str | None = None) -> str: ...
    def board(self) -> list[BoardRow]: ...
    def claim(self, patterns: list[str]) -> list[ClaimResult]: ...
    def release(self, patterns: list[str]) -> list[ClaimResult]: ...
    def done(self, summary: str) -> str: ...
    def blocked(self, on_task: str | None, need: str) -> str: ...
    def ask(self, question: str) -> str: ...
    def finding(self, path: str, line: int, severity: str, failure: str) -> str: ...
    def verdict(self, decision: str, commit: str, summary: str = "") -> str: ...
    def on_hook(self, call: HookCall) -> str | None: ...
    def decide_permission(self, tool: str, target: str) -> tuple[Decision, str]: ...


def _checkpoint(value: object) -> int | None:
    """A checkpoint as the command line and MCP take it: a whole number from 1 (found by a probe:
    1e308 was stored, and kept by every later max)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raise CallerError(f"a checkpoint is a whole number from 1, not {value!r:.40}")
    return value


def _text(value: object) -> str | None:
    return None if value is None else str(value)


# Each call an agent's side may make: czar's agent tools (``czar.core.toolbox``), and the calls
# behind its hooks and permission requests.
CALLS: dict[str, Callable[[ToolCalls, dict[str, Any]], Any]] = {
    "report": lambda tools, args: tools.report(
        str(args["text"]), checkpoint=_checkpoint(args.get("checkpoint")), task=_text(args.get("task"))
    ),
    "board": lambda tools, args: [asdict(r) for r in tools.board()],
    "claim": lambda tools, args: [asdict(r) for r in tools.claim([str(p) for p in args["paths"]])],
    "release": lambda tools, args: [asdict(r) for r in tools.release([str(p) for p in args["paths"]])],
    "done": lambda tools, args: tools.done(str(args["summary"])),
    "blocked": lambda tools, args: tools.blocked(args.get("on"), str(args["need"])),
    "ask": lambda tools, args: tools.ask(str(args["question"])),
    "finding": lambda tools, args: tools.finding(
        str(args["path"]), int(args["line"]), str(args["severity"]), str(args["failure"])
    ),
    "verdict": lambda tools, args: tools.verdict(
        str(args["decision"]), str(args["commit"]), str(args.get("summary") or "")
    ),
    "on_hook": lambda tools, args: tools.on_hook(_hook_call(args["call"])),
    "decide_permission": lambda tools, args: _decision(tools.decide_permission(str(args["tool"]), str(args["target"]))),
}


def serve(tools: ToolCalls, tool: str, args: dict[str, Any]) -> Any:
    """Carry out one call for the worker's agent; the answer as JSON-ready data."""
    call = CALLS.get(tool)
    if call is None:
        raise RelayError(f"no agent tool {tool!r}")
    return call(tools, args)


def _hook_call(fields: dict[str, Any]) -> HookCall:
    """A hook call as the agent's side sent it (``asdict``); only its own fields are taken."""
    try:
        call = HookCall(**{k: v for k, v in fields.items() if k in HOOK_CALL_FIELDS})
        # What it said is recorded: within bounds (found by a probe: megabytes a call were kept).
        said = {str(k)[:100]: str(v)[:2000] for k, v in list(dict(call.said).items())[:20]}
        return replace(call, name=str(call.name)[:200], kind=HookKind(call.kind), said=said)
    except (TypeError, ValueError) as exc:
        raise RelayError(f"not a hook call: {exc}") from None


HOOK_CALL_FIELDS = frozenset(f.name for f in fields(HookCall))


def _decision(verdict: tuple[Decision, str]) -> list[str]:
    return [verdict[0].value, verdict[1]]


class RelayServer:
    """The worker host's end: ``relay.PATH`` on 127.0.0.1 (any free port), served by a thread,
    each request with the worker's token (``Authorization: Bearer``). The standard library's
    server: a host of the simulated agent, in a benchmark of a hundred, must not load a web stack."""

    def __init__(self, tools: ToolCalls, token: str) -> None:
        expected = f"Bearer {token}".encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                given = (self.headers.get("Authorization") or "").encode()
                if self.path != PATH or not hmac.compare_digest(given, expected):
                    self.send_error(404 if self.path != PATH else 401)
                    return
                try:
                    length = int(self.headers.get("Content-Length") or 0)
                    call = json.loads(self.rfile.read(min(length, MAX_BODY)))
                    answer = {"ok": True, "result": serve(tools, str(call["tool"]), dict(call.get("args") or {}))}
                except Exception as exc:  # the agent hears why; the host goes on
                    answer = {"ok": False, "error": str(exc) or type(exc).__name__}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the pane is the agent's transcript, not an access log

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="czar-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def caller_tools() -> ToolCalls:
    """The calling worker's agent tools (its environment names it): through its worker host
    inside a sandbox, else on the store."""
    caller = caller_from_env()
    endpoint = os.environ.get(ENV_ENDPOINT)
    if endpoint:  # inside a sandbox, where the store is out of reach: through the worker host
        return RemoteTools(endpoint, caller.token)
    from czar.agent_tools.service import AgentTools  # the store (SQLAlchemy): a quarter of a second

    return AgentTools.for_caller(caller)


class RemoteTools:
    """``AgentTools``'s calls, made on the worker host's endpoint."""

    def __init__(self, endpoint: str, token: str) -> None:
        self.url = endpoint.rstrip("/") + PATH
        self.token = token

    def _call(self, name: str, **args: Any) -> Any:
        body = json.dumps({"tool": name, "args": args}).encode()
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            wait = DECISION_WAIT_SECONDS if name in WAITS else TIMEOUT
            with urllib.request.urlopen(request, timeout=wait) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RelayError(f"the worker host refused the call ({exc.code})") from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise RelayError(f"cannot reach the worker host at {self.url}: {exc}") from exc
        if not answer.get("ok"):
            raise CzarError(str(answer.get("error") or "the call failed"))
        return answer.get("result")

    def report(self, text: str, *, checkpoint: int | None = None, task: str | None = None) -> str:
        return str(self._call("report", text=text, checkpoint=checkpoint, task=task))

    def board(self) -> list[BoardRow]:
        rows = self._call("board")
        return [BoardRow(**{**r, "claims": tuple(r["claims"])}) for r in rows]

    def claim(self, patterns: list[str]) -> list[ClaimResult]:
        return [ClaimResult(**r) for r in self._call("claim", paths=patterns)]

    def release(self, patterns: list[str]) -> list[ClaimResult]:
        return [ClaimResult(**r) for r in self._call("release", paths=patterns)]

    def done(self, summary: str) -> str:
        return str(self._call("done", summary=summary))

    def blocked(self, on_task: str | None, need: str) -> str:
        return str(self._call("blocked", on=on_task, need=need))

    def ask(self, question: str) -> str:
        return str(self._call("ask", question=question))

    def finding(self, path: str, line: int, severity: str, failure: str) -> str:
        return str(self._call("finding", path=path, line=line, severity=severity, failure=failure))

    def verdict(self, decision: str, commit: str, summary: str = "") -> str:
        return str(self._call("verdict", decision=decision, commit=commit, summary=summary))

    def on_hook(self, call: HookCall) -> str | None:
        reason = self._call("on_hook", call=asdict(call))
        return None if reason is None else str(reason)

    def decide_permission(self, tool: str, target: str) -> tuple[Decision, str]:
        decision, reason = self._call("decide_permission", tool=tool, target=target)
        return Decision(decision), str(reason)
