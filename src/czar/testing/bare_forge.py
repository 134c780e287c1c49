"""What the small forges of the tests share (``czar.testing.github``, ``czar.testing.gitlab``): a
bare repository on disk that czar pushes to as its remote, read as a forge reads it (a branch's
tip, whether one holds a commit, the lines a diff shows, a merge made there), and an HTTP server
on 127.0.0.1 that answers JSON, keeps every request for the test to read, checks the token, and
can be told to fail the next requests."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import re
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from czar.runtime import proc

Answer = tuple[int, Any, dict[str, str]]  # status, JSON (None: no body; str: plain text), headers
Route = tuple[str, str, Callable[..., Answer]]  # path pattern, method, what answers


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    body: Any
    status: int


class BareForge(ABC):
    prefix = ""  # where the API's paths start

    def __init__(self, bare: Path, token: str) -> None:
        self.bare = bare
        self.token = token
        self.requests: list[Seen] = []
        self._failures: list[tuple[int, dict[str, str], str]] = []
        self._lock = threading.RLock()
        self._server: _Server | None = None

    # -- what each forge answers ----------------------------------------------------------------

    @abstractmethod
    def routes(self) -> list[Route]:
        """Each path below ``prefix`` (a regular expression, its groups the answer's arguments)."""

    @abstractmethod
    def authorized(self, headers: Any) -> bool: ...

    def unauthorized(self) -> Answer:
        return 401, {"message": "401 Unauthorized"}, {}

    def failure(self, status: int, message: str, headers: dict[str, str]) -> Answer:
        return status, {"message": message}, headers

    def outside(self, path: str) -> Answer | None:
        """An answer for a path outside the API (a log's storage), served without the token."""
        return None

    # -- for the tests --------------------------------------------------------------------------

    @abstractmethod
    def merged_from(self, branch: str) -> bool:
        """Whether the last pull request from ``branch`` is merged, as the forge shows it now."""

    def start(self) -> str:
        fake = self

        class Handler(_Handler):
            forge = fake

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def fail_next(
        self, status: int, message: str = "", *, times: int = 1, headers: dict[str, str] | None = None
    ) -> None:
        """The next ``times`` requests answer ``status`` with ``message`` (and ``headers``)."""
        with self._lock:
            self._failures += [(status, dict(headers or {}), message or "failed")] * times

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> Answer:
        with self._lock:
            if self._failures:
                status, headers, message = self._failures.pop(0)
                return self.failure(status, message, headers)
            if not path.startswith(self.prefix):
                return 404, {"message": "404 Not Found"}, {}
            rest = path[len(self.prefix) :]
            for pattern, verb, act in self.routes():
                m = re.fullmatch(pattern, rest)
                if m and verb == method:
                    return _paged(path, query, act(query, body, *(unquote(g) for g in m.groups())))
            return 404, {"message": "404 Not Found"}, {}

    # -- the repository -------------------------------------------------------------------------

    def git(self, *args: str) -> proc.Result:
        return proc.run(["git", "-C", str(self.bare), *args], timeout=30)

    def tip(self, branch: str) -> str | None:
        result = self.git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}")
        return result.output.strip() if result.ok else None

    def contains(self, branch: str, commit: str) -> bool:
        return self.git("merge-base", "--is-ancestor", commit, f"refs/heads/{branch}").ok

    def lines_shown(self, base_branch: str, head: str, merged: bool, path: str) -> set[int]:
        """The lines of ``path`` at ``head`` that its diff against ``base_branch`` shows (its
        hunks). A merged one keeps its diff: against the base as it was before the head came in
        (the newest commit of its first-parent line without it)."""
        base = self.tip(base_branch) or ""
        # Merged by now if its base holds it now: a push may land between the caller's look at
        # the pull request and this one (a forge reads both at once), and the diff against a base
        # that holds the head shows nothing.
        if merged or (base and self.git("merge-base", "--is-ancestor", head, base).ok):
            line = self.git("rev-list", "--first-parent", "--max-count=200", base).output.split()
            base = next((c for c in line if not self.git("merge-base", "--is-ancestor", head, c).ok), base)
        out = self.git("diff", "--unified=3", f"{base}...{head}", "--", path).output
        shown: set[int] = set()
        for m in re.finditer(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", out, re.M):
            start, count = int(m.group(1)), int(m.group(2) or "1")
            shown.update(range(start, start + count))
        return shown

    def merge_into(self, base_branch: str, head: str, title: str) -> str | None:
        """``head`` merged into ``base_branch`` there (a merge commit); None if they conflict."""
        base = self.tip(base_branch)
        assert base is not None
        tree = self.git("merge-tree", "--write-tree", base, head)
        if not tree.ok:
            return None
        # The forge's own name on its merges (a machine may have no git identity: CI's has none).
        who = ("-c", "user.name=Forge", "-c", "user.email=noreply@forge.example")
        made = self.git(*who, "commit-tree", tree.output.split()[0], "-p", base, "-p", head, "-m", title)
        commit = made.output.strip()
        self.git("update-ref", f"refs/heads/{base_branch}", commit, base)
        return commit


def _paged(path: str, query: dict[str, str], answer: Answer) -> Answer:
    """A list answered a page at a time when the request names a page size (as both forges do),
    with a ``Link: <...>; rel="next"`` header while more remain."""
    status, data, headers = answer
    if not isinstance(data, list) or "per_page" not in query:
        return answer
    size, page = int(query["per_page"]), int(query.get("page") or 1)
    part = data[(page - 1) * size : page * size]
    if page * size < len(data):
        more = urlencode({**query, "page": page + 1})
        headers = {**headers, "Link": f'<http://forge.invalid{path}?{more}>; rel="next"'}
    return status, part, headers


def stamp() -> str:
    """A forge's time stamp, to the microsecond (so that it orders remarks made in one second)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away mid-answer (a supervisor killed by ``czar bench chaos``) is no
        fault of the forge's: nothing printed (found by a probe: a traceback after each kill)."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(http.server.BaseHTTPRequestHandler):
    forge: BareForge
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # a test's output stays quiet
        return

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        size = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(size) if size else b""
        try:
            body: Any = json.loads(raw) if raw else {}
        except ValueError:
            body = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}  # a form
        answer = self.forge.outside(split.path)
        if answer is None:
            authorized = self.forge.authorized(self.headers)
            answer = self.forge.handle(method, split.path, query, body) if authorized else self.forge.unauthorized()
        status, data, headers = answer
        if isinstance(data, str):
            payload, kind = data.encode(), "text/plain"
        else:
            payload, kind = (json.dumps(data).encode() if data is not None else b""), "application/json"
        etag = f'"{hashlib.sha256(payload).hexdigest()[:20]}"'
        if method == "GET" and status == 200 and self.headers.get("If-None-Match") == etag:
            status, payload = 304, b""
        with self.forge._lock:
            self.forge.requests.append(Seen(method, split.path, split.query, body, status))
        self.send_response(status)
        self.send_header("Content-Type", f"{kind}; charset=utf-8")
        self.send_header("ETag", etag)
        if payload and "gzip" in self.headers.get("Accept-Encoding", ""):  # as GitHub and GitLab do
            payload = gzip.compress(payload)
            self.send_header("Content-Encoding", "gzip")
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")
