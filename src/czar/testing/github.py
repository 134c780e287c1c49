"""A small GitHub for tests: the REST endpoints czar's GitHub forge uses, with GitHub's semantics,
over a bare repository on disk that czar pushes to as its remote.

Stateful where GitHub is: pull requests are numbered from 1 and keep their reviews and comments; a
pull request's head is its branch's commit in the bare repository as it is now; one whose head the
base branch contains is merged, as GitHub marks it when such a push arrives; a merge through the
API is pinned to the head commit given (409 if the branch moved) and made in the bare repository.
It refuses what GitHub refuses: a token it does not know (401), a pull request from a branch that
is not there or one already open for the same branches (422), an approval or a rejection by the
account that opened the pull request (422), a line comment on a line the diff does not show (422).
Answers carry ETags, and a conditional request for an unchanged answer gets 304. A test can make
the next requests fail (``fail_next``: a status, or a rate limit with its headers), set check runs
and statuses on a commit, and read every request made (``requests``).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from czar.runtime import proc


@dataclass
class FakePull:
    number: int
    title: str
    body: str
    head: str  # branch
    base: str  # branch
    author: str
    state: str = "open"  # open, closed
    merged: bool = False
    merge_commit: str | None = None
    head_sha: str = ""  # its head when it was closed or merged (then it no longer follows the branch)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)  # issue comments
    review_comments: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    body: Any
    status: int


class FakeGitHub:
    def __init__(self, bare: Path, owner: str = "acme", name: str = "app", token: str = "t0ken") -> None:
        self.bare = bare
        self.owner = owner
        self.name = name
        self.token = token
        self.login = "czar-bot"  # the account the token speaks for
        self.pulls: dict[int, FakePull] = {}
        self.check_runs: dict[str, list[dict[str, Any]]] = {}  # commit -> check runs
        self.statuses: dict[str, list[dict[str, Any]]] = {}  # commit -> statuses
        self.requests: list[Seen] = []
        self.protected: dict[str, list[str]] = {}  # branch -> its required checks (protected)
        self.rules: dict[str, list[str]] = {}  # branch -> the kinds of rule its rulesets apply
        self.refuse_merges: str | None = None  # a rule of the repository's that blocks merges: its words
        self.jobs: dict[int, dict[str, Any]] = {}  # GitHub Actions jobs: their steps and log
        self._jobs = 0
        self._failures: list[tuple[int, dict[str, str], str]] = []
        self._lock = threading.RLock()
        self._server: http.server.ThreadingHTTPServer | None = None

    # -- for the tests ---------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a free port of 127.0.0.1; the API's base URL."""
        fake = self

        class Handler(_Handler):
            github = fake

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, name="fake-github", daemon=True).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def fail_next(self, status: int, message: str = "", *, times: int = 1, rate_limited: bool = False) -> None:
        """The next ``times`` requests answer ``status`` (a rate limit: with GitHub's headers)."""
        headers: dict[str, str] = {}
        if rate_limited:
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 1), "retry-after": "1"}
        with self._lock:
            self._failures += [(status, headers, message or "failed")] * times

    def set_check(
        self,
        commit: str,
        name: str,
        conclusion: str | None,
        *,
        title: str = "",
        text: str = "",
        log: str | None = None,
        failing_step: str = "",
    ) -> None:
        """A check run on ``commit`` (conclusion None: still running); with ``log``, a GitHub
        Actions job whose log that is (``failing_step`` the step that failed)."""
        with self._lock:
            self._jobs += 1
            job = self._jobs
            if log is not None:
                steps = [{"name": "Set up job", "number": 1, "conclusion": "success"}]
                if failing_step:
                    steps.append({"name": failing_step, "number": 2, "conclusion": conclusion})
                self.jobs[job] = {"id": job, "name": name, "conclusion": conclusion, "steps": steps, "log": log}
        run = {
            "id": job,
            "app": {"slug": "github-actions" if log is not None else "some-ci"},
            "name": name,
            "head_sha": commit,
            "status": "completed" if conclusion else "in_progress",
            "conclusion": conclusion,
            "details_url": f"https://ci.example/{commit[:7]}/{name}",
            "output": {"title": title or name, "summary": title, "text": text},
        }
        with self._lock:
            runs = [r for r in self.check_runs.get(commit, []) if r["name"] != name]
            self.check_runs[commit] = [*runs, run]

    def person_review(
        self, number: int, login: str, state: str, body: str, comments: tuple[tuple[str, int, str], ...] = ()
    ) -> None:
        """A person's review (``CHANGES_REQUESTED``, ``COMMENTED``, ``APPROVED``) with comments on
        lines (path, line, text)."""
        with self._lock:
            pull = self.pulls[number]
            self._follow(pull)
            user = {"login": login, "type": "User"}
            stamp = _stamp()
            pull.reviews.append(
                {
                    "id": 1000 + len(pull.reviews),
                    "user": user,
                    "body": body,
                    "state": state,
                    "commit_id": pull.head_sha,
                    "submitted_at": stamp,
                }
            )
            for path, line, text in comments:
                pull.review_comments.append(
                    {
                        "id": 2000 + len(pull.review_comments),
                        "user": user,
                        "body": text,
                        "path": path,
                        "line": line,
                        "commit_id": pull.head_sha,
                        "created_at": stamp,
                    }
                )

    def person_comment(self, number: int, login: str, body: str, *, bot: bool = False) -> None:
        with self._lock:
            pull = self.pulls[number]
            user = {"login": login, "type": "Bot" if bot else "User"}
            pull.comments.append({"id": 3000 + len(pull.comments), "user": user, "body": body, "created_at": _stamp()})

    def pull_of(self, branch: str) -> FakePull | None:
        with self._lock:
            found = [p for p in self.pulls.values() if p.head == branch]
        return found[-1] if found else None

    # -- the repository --------------------------------------------------------------------------

    def _git(self, *args: str) -> proc.Result:
        return proc.run(["git", "-C", str(self.bare), *args], timeout=30)

    def tip(self, branch: str) -> str | None:
        result = self._git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}")
        return result.output.strip() if result.ok else None

    def _contains(self, branch: str, commit: str) -> bool:
        return self._git("merge-base", "--is-ancestor", commit, f"refs/heads/{branch}").ok

    def _follow(self, pull: FakePull) -> None:
        """A pull request as GitHub would show it now: following its branch while open, merged
        once its base branch holds its head."""
        if pull.state != "open":
            return
        head = self.tip(pull.head)
        if head is None:
            pull.state = "closed"  # its branch was deleted
            return
        pull.head_sha = head
        if self._contains(pull.base, head):
            pull.state, pull.merged = "closed", True

    def _lines_shown(self, pull: FakePull, path: str) -> set[int]:
        """The lines of ``path`` at the head that the pull request's diff shows (its hunks)."""
        base = self.tip(pull.base) or ""
        if pull.merged:
            # GitHub keeps a merged pull request's diff: against the base as it was before the
            # head came in (the newest commit of its first-parent line without it).
            line = self._git("rev-list", "--first-parent", "--max-count=200", base).output.split()
            base = next((c for c in line if not self._git("merge-base", "--is-ancestor", pull.head_sha, c).ok), base)
        out = self._git("diff", "--unified=3", f"{base}...{pull.head_sha}", "--", path).output
        shown: set[int] = set()
        for m in re.finditer(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", out, re.M):
            start, count = int(m.group(1)), int(m.group(2) or "1")
            shown.update(range(start, start + count))
        return shown

    # -- the API ---------------------------------------------------------------------------------

    def _pull_json(self, p: FakePull) -> dict[str, Any]:
        html = f"https://github.example/{self.owner}/{self.name}/pull/{p.number}"
        return {
            "number": p.number,
            "html_url": html,
            "state": p.state,
            "title": p.title,
            "body": p.body,
            "user": {"login": p.author},
            "head": {"ref": p.head, "sha": p.head_sha, "label": f"{self.owner}:{p.head}"},
            "base": {"ref": p.base, "sha": self.tip(p.base) or ""},
            "merged": p.merged,
            "merge_commit_sha": p.merge_commit,
            "mergeable": p.state == "open",
        }

    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            if self._failures:
                status, headers, message = self._failures.pop(0)
                return status, {"message": message}, headers
            prefix = f"/repos/{self.owner}/{self.name}"
            if path == "/user" and method == "GET":
                return 200, {"login": self.login, "type": "User"}, {}
            if not path.startswith(prefix):
                return 404, {"message": "Not Found"}, {}
            rest = path[len(prefix) :]
            for pattern, verb, act in self._routes():
                m = re.fullmatch(pattern, rest)
                if m and verb == method:
                    return act(query, body, *m.groups())
            return 404, {"message": "Not Found"}, {}

    def _routes(self) -> list[tuple[str, str, Callable[..., tuple[int, Any, dict[str, str]]]]]:
        return [
            ("", "GET", self._repo),
            ("/pulls", "GET", self._list),
            ("/pulls", "POST", self._create),
            (r"/pulls/(\d+)", "GET", self._get),
            (r"/pulls/(\d+)", "PATCH", self._update),
            (r"/pulls/(\d+)/reviews", "GET", self._reviews),
            (r"/pulls/(\d+)/reviews", "POST", self._review),
            (r"/pulls/(\d+)/comments", "GET", self._review_comments),
            (r"/pulls/(\d+)/merge", "PUT", self._merge),
            (r"/issues/(\d+)/comments", "GET", self._comments),
            (r"/issues/(\d+)/comments", "POST", self._comment),
            (r"/commits/([^/]+)/check-runs", "GET", self._check_runs),
            (r"/commits/([^/]+)/status", "GET", self._status),
            (r"/branches/(.+)", "GET", self._branch),
            (r"/rules/branches/(.+)", "GET", self._rules),
            (r"/actions/jobs/(\d+)", "GET", self._job),
            (r"/actions/jobs/(\d+)/logs", "GET", self._job_log),
        ]

    def _branch(self, query: dict[str, str], body: Any, branch: str) -> tuple[int, Any, dict[str, str]]:
        tip = self.tip(branch)
        if tip is None:
            return 404, {"message": "Branch not found"}, {}
        checks = self.protected.get(branch)
        protection = {"enabled": checks is not None, "required_status_checks": {"contexts": checks or []}}
        return (
            200,
            {"name": branch, "commit": {"sha": tip}, "protected": checks is not None, "protection": protection},
            {},
        )

    def _rules(self, query: dict[str, str], body: Any, branch: str) -> tuple[int, Any, dict[str, str]]:
        return 200, [{"type": kind, "ruleset_id": i + 1} for i, kind in enumerate(self.rules.get(branch, []))], {}

    def _job(self, query: dict[str, str], body: Any, job: str) -> tuple[int, Any, dict[str, str]]:
        found = self.jobs.get(int(job))
        if found is None:
            return 404, {"message": "Not Found"}, {}
        return 200, {k: v for k, v in found.items() if k != "log"}, {}

    def _job_log(self, query: dict[str, str], body: Any, job: str) -> tuple[int, Any, dict[str, str]]:
        # GitHub answers with a short-lived link to the log elsewhere (no token needed there).
        if int(job) not in self.jobs:
            return 404, {"message": "Not Found"}, {}
        return 302, None, {"Location": f"{self.url}/_logs/{job}"}

    def _repo(self, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        full = f"{self.owner}/{self.name}"
        return 200, {"full_name": full, "default_branch": "main", "permissions": {"pull": True, "push": True}}, {}

    def _list(self, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        state, head, base = query.get("state", "open"), query.get("head"), query.get("base")
        found = []
        for p in self.pulls.values():
            self._follow(p)
            if state != "all" and p.state != state:
                continue
            if head is not None and f"{self.owner}:{p.head}" != head:
                continue
            if base is not None and p.base != base:
                continue
            found.append(self._pull_json(p))
        return 200, found, {}

    def _create(self, query: dict[str, str], body: Any) -> tuple[int, Any, dict[str, str]]:
        head, base = str(body.get("head", "")), str(body.get("base", ""))
        if not body.get("title") or not head or not base:
            return 422, {"message": "Validation Failed", "errors": [{"code": "missing_field"}]}, {}
        if self.tip(head) is None or self.tip(base) is None:
            return 422, {"message": "Validation Failed", "errors": [{"field": "head", "code": "invalid"}]}, {}
        for p in self.pulls.values():
            self._follow(p)
            if p.state == "open" and p.head == head and p.base == base:
                message = f"A pull request already exists for {self.owner}:{head}."
                return 422, {"message": "Validation Failed", "errors": [{"message": message}]}, {}
        number = max(self.pulls, default=0) + 1
        pull = FakePull(number, str(body["title"]), str(body.get("body") or ""), head, base, self.login)
        self.pulls[number] = pull
        self._follow(pull)
        return 201, self._pull_json(pull), {}

    def _pull(self, number: str) -> FakePull | None:
        pull = self.pulls.get(int(number))
        if pull is not None:
            self._follow(pull)
        return pull

    def _get(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(number)
        return (200, self._pull_json(pull), {}) if pull else (404, {"message": "Not Found"}, {})

    def _update(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(number)
        if pull is None:
            return 404, {"message": "Not Found"}, {}
        if body.get("state") == "open" and pull.state == "closed":
            if pull.merged:
                return 422, {"message": "Validation Failed", "errors": [{"message": "merged"}]}, {}
            if self.tip(pull.head) != pull.head_sha:  # GitHub: the branch was force-pushed or deleted
                return 422, {"message": "Validation Failed", "errors": [{"message": "state cannot be changed"}]}, {}
            pull.state = "open"
        elif body.get("state") == "closed":
            pull.state = "closed"
        pull.title = str(body.get("title", pull.title))
        pull.body = str(body.get("body", pull.body))
        return 200, self._pull_json(pull), {}

    def _reviews(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(number)
        return (200, pull.reviews, {}) if pull else (404, {"message": "Not Found"}, {})

    def _review(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(number)
        if pull is None:
            return 404, {"message": "Not Found"}, {}
        event = body.get("event")
        if event in ("APPROVE", "REQUEST_CHANGES") and pull.author == self.login:
            verb = "approve" if event == "APPROVE" else "request changes on"
            return 422, {"message": "Unprocessable Entity", "errors": [f"Can not {verb} your own pull request"]}, {}
        if event == "REQUEST_CHANGES" and not body.get("body"):
            return 422, {"message": "Unprocessable Entity", "errors": ["Body is required"]}, {}
        for c in body.get("comments") or []:
            if int(c.get("line", 0)) not in self._lines_shown(pull, str(c.get("path"))):
                return 422, {"message": "Unprocessable Entity", "errors": ["Line could not be resolved"]}, {}
        state = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED"}.get(str(event), "COMMENTED")
        review = {
            "id": len(pull.reviews) + 1,
            "user": {"login": self.login},
            "body": body.get("body") or "",
            "state": state,
            "commit_id": body.get("commit_id") or pull.head_sha,
        }
        pull.reviews.append(review)
        for c in body.get("comments") or []:
            pull.review_comments.append({**c, "id": len(pull.review_comments) + 1, "user": {"login": self.login}})
        return 200, review, {}

    def _review_comments(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(number)
        return (200, pull.review_comments, {}) if pull else (404, {"message": "Not Found"}, {})

    def _comments(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(number)
        return (200, pull.comments, {}) if pull else (404, {"message": "Not Found"}, {})

    def _comment(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(number)
        if pull is None:
            return 404, {"message": "Not Found"}, {}
        comment = {"id": len(pull.comments) + 1, "user": {"login": self.login}, "body": str(body.get("body", ""))}
        pull.comments.append(comment)
        return 201, comment, {}

    def _merge(self, query: dict[str, str], body: Any, number: str) -> tuple[int, Any, dict[str, str]]:
        pull = self._pull(number)
        if pull is None:
            return 404, {"message": "Not Found"}, {}
        if pull.state != "open":
            return 405, {"message": "Pull Request is not mergeable"}, {}
        if self.refuse_merges:
            return 405, {"message": self.refuse_merges}, {}
        if body.get("sha") and body["sha"] != pull.head_sha:
            return 409, {"message": "Head branch was modified. Review and try the merge again."}, {}
        base = self.tip(pull.base)
        assert base is not None
        tree = self._git("merge-tree", "--write-tree", base, pull.head_sha)
        if not tree.ok:
            return 405, {"message": "Pull Request is not mergeable"}, {}
        title = f"Merge pull request #{pull.number} from {self.owner}/{pull.head}"
        made = self._git("commit-tree", tree.output.split()[0], "-p", base, "-p", pull.head_sha, "-m", title)
        commit = made.output.strip()
        self._git("update-ref", f"refs/heads/{pull.base}", commit, base)
        pull.state, pull.merged, pull.merge_commit = "closed", True, commit
        return 200, {"sha": commit, "merged": True, "message": "Pull Request successfully merged"}, {}

    def _check_runs(self, query: dict[str, str], body: Any, ref: str) -> tuple[int, Any, dict[str, str]]:
        runs = self.check_runs.get(ref, [])
        return 200, {"total_count": len(runs), "check_runs": runs}, {}

    def _status(self, query: dict[str, str], body: Any, ref: str) -> tuple[int, Any, dict[str, str]]:
        statuses = self.statuses.get(ref, [])
        states = {s["state"] for s in statuses}
        overall = "failure" if states & {"failure", "error"} else "pending" if "pending" in states else "success"
        return 200, {"state": overall, "sha": ref, "total_count": len(statuses), "statuses": statuses}, {}


def _stamp() -> str:
    """GitHub's time stamps, to the microsecond (so that they order remarks made in one second)."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


class _Handler(http.server.BaseHTTPRequestHandler):
    github: FakeGitHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # a test's output stays quiet
        return

    def _serve(self, method: str) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        size = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(size) if size else b""
        body: Any = json.loads(raw) if raw else {}
        auth = self.headers.get("Authorization", "")
        headers: dict[str, str] = {}
        if split.path.startswith("/_logs/"):  # the log's storage: the link is the permission
            job = self.github.jobs.get(int(split.path.rsplit("/", 1)[1]))
            text = str(job["log"]).encode() if job else b"gone"
            self.send_response(200 if job else 404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
            return
        if auth not in (f"Bearer {self.github.token}", f"token {self.github.token}"):
            status, data, headers = 401, {"message": "Bad credentials"}, {}
        else:
            status, data, headers = self.github.handle(method, split.path, query, body)
        payload = json.dumps(data).encode() if data is not None else b""
        etag = f'"{hashlib.sha256(payload).hexdigest()[:20]}"'
        if method == "GET" and status == 200 and self.headers.get("If-None-Match") == etag:
            status, payload = 304, b""
        with self.github._lock:
            self.github.requests.append(Seen(method, split.path, split.query, body, status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("ETag", etag)
        self.send_header("x-ratelimit-limit", "5000")
        self.send_header("x-ratelimit-remaining", headers.pop("x-ratelimit-remaining", "4999"))
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
