"""A small GitHub for tests: the REST endpoints czar's GitHub forge uses, with GitHub's semantics,
over a bare repository on disk that czar pushes to as its remote.

Stateful where GitHub is: pull requests are numbered from 1 and keep their reviews and comments; a
pull request's head is its branch's commit in the bare repository as it is now; one whose head the
base branch contains is merged, as GitHub marks it when such a push arrives; a merge through the
API is pinned to the head commit given (409 if the branch moved) and made in the bare repository.
It refuses what GitHub refuses: a token it does not know (401), a pull request from a branch that
is not there, one already open for the same branches, or one whose head the base holds already
("No commits between": 422), an approval or a rejection by the
account that opened the pull request (422), a line comment on a line the diff does not show (422).
Answers carry ETags, and a conditional request for an unchanged answer gets 304. A test can make
the next requests fail (``fail_next``: a status, or a rate limit with its headers), set check runs
and statuses on a commit, and read every request made (``requests``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from czar.testing.bare_forge import Answer, BareForge, Route, stamp


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


FIRST = 41  # the first pull request's number: a repository with history (not czar's own numbering)


class FakeGitHub(BareForge):
    prefix = ""

    def __init__(self, bare: Path, owner: str = "acme", name: str = "app", token: str = "t0ken") -> None:
        super().__init__(bare, token)
        self.owner = owner
        self.name = name
        self.login = "czar-bot"  # the account the token speaks for
        self.pulls: dict[int, FakePull] = {}
        self.check_runs: dict[str, list[dict[str, Any]]] = {}  # commit -> check runs
        self.statuses: dict[str, list[dict[str, Any]]] = {}  # commit -> statuses
        self.protected: dict[str, list[str]] = {}  # branch -> its required checks (protected)
        self.rules: dict[str, list[str]] = {}  # branch -> the kinds of rule its rulesets apply
        self.refuse_merges: str | None = None  # a rule of the repository's that blocks merges: its words
        self.opening_fails = 0  # how many more requests to open a pull request answer 502 (GitHub at times)
        self.merge_queue = False  # the base branches require GitHub's merge queue
        self.up_to_date = False  # branches must be up to date before merging (a branch protection rule)
        self.queue: list[int] = []  # pull requests in the merge queue, first first
        self.jobs: dict[int, dict[str, Any]] = {}  # GitHub Actions jobs: their steps and log
        self._jobs = 0

    # -- for the tests ---------------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        message: str = "",
        *,
        times: int = 1,
        headers: dict[str, str] | None = None,
        rate_limited: bool = False,
    ) -> None:
        """The next ``times`` requests answer ``status`` (a rate limit: with GitHub's headers)."""
        if rate_limited:
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 1), "retry-after": "1"}
        super().fail_next(status, message, times=times, headers=headers)

    def authorized(self, headers: Any) -> bool:
        return headers.get("Authorization", "") in (f"Bearer {self.token}", f"token {self.token}")

    def unauthorized(self) -> Answer:
        return 401, {"message": "Bad credentials"}, {}

    def outside(self, path: str) -> Answer | None:
        if not path.startswith("/_logs/"):
            return None
        job = self.jobs.get(int(path.rsplit("/", 1)[1]))  # the log's storage: the link is the permission
        return (200, str(job["log"]), {}) if job else (404, "gone", {})

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
        self,
        number: int,
        login: str,
        state: str,
        body: str,
        comments: tuple[tuple[str, int, str], ...] = (),
        *,
        association: str = "MEMBER",
    ) -> None:
        """A person's review (``CHANGES_REQUESTED``, ``COMMENTED``, ``APPROVED``) with comments on
        lines (path, line, text); ``association``: theirs with the repository, as GitHub says it
        (``NONE``: anyone on a public repository)."""
        with self._lock:
            pull = self.pulls[number]
            self._follow(pull)
            user = {"login": login, "type": "User"}
            when = stamp()
            pull.reviews.append(
                {
                    "id": 1000 + len(pull.reviews),
                    "user": user,
                    "author_association": association,
                    "body": body,
                    "state": state,
                    "commit_id": pull.head_sha,
                    "submitted_at": when,
                }
            )
            for path, line, text in comments:
                pull.review_comments.append(
                    {
                        "id": 2000 + len(pull.review_comments),
                        "user": user,
                        "author_association": association,
                        "body": text,
                        "path": path,
                        "line": line,
                        "commit_id": pull.head_sha,
                        "created_at": when,
                    }
                )

    def person_comment(
        self, number: int, login: str, body: str, *, bot: bool = False, association: str = "MEMBER"
    ) -> None:
        with self._lock:
            pull = self.pulls[number]
            user = {"login": login, "type": "Bot" if bot else "User"}
            comment = {"id": 3000 + len(pull.comments), "user": user, "body": body, "created_at": stamp()}
            pull.comments.append({**comment, "author_association": association})

    def person_closes(self, number: int, *, reopen: bool = False) -> None:
        """A person closes the pull request on GitHub (or, ``reopen``, opens it again)."""
        with self._lock:
            pull = self.pulls[number]
            self._follow(pull)
            pull.state = "open" if reopen else "closed"

    def pull_of(self, branch: str) -> FakePull | None:
        with self._lock:
            found = [p for p in self.pulls.values() if p.head == branch]
        return found[-1] if found else None

    # -- the repository --------------------------------------------------------------------------

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
        if self.contains(pull.base, head):
            pull.state, pull.merged = "closed", True

    def pull_from(self, branch: str) -> FakePull | None:
        """The last pull request from ``branch``, as GitHub shows it now."""
        found = [p for p in self.pulls.values() if p.head == branch]
        if found:
            self._follow(found[-1])
        return found[-1] if found else None

    def merged_from(self, branch: str) -> bool:
        pull = self.pull_from(branch)
        return pull is not None and pull.merged

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
            "mergeable_state": self._mergeable_state(p),
        }

    def routes(self) -> list[Route]:
        here = re.escape(f"/repos/{self.owner}/{self.name}")
        own = ("/user", "/graphql")
        return [(p if p.startswith(own) else here + p, verb, act) for p, verb, act in self._routes()]

    def _routes(self) -> list[Route]:
        return [
            ("/user", "GET", self._user),
            ("/graphql", "POST", self._graphql),
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

    def process_queue(self) -> list[int]:
        """GitHub's merge queue does its work: each queued pull request whose head has not moved
        is merged into its base (the others leave the queue). The ones merged."""
        merged = []
        with self._lock:
            for number in list(self.queue):
                self.queue.remove(number)
                pull = self.pulls[number]
                head = pull.head_sha
                self._follow(pull)
                if pull.state != "open" or pull.head_sha != head:
                    continue
                commit = self.merge_into(pull.base, head, f"Merge pull request #{number} (merge queue)")
                if commit is not None:
                    pull.state, pull.merged, pull.merge_commit = "closed", True, commit
                    merged.append(number)
        return merged

    def _graphql(self, query: dict[str, str], body: Any) -> Answer:
        """The two GraphQL operations czar sends (their text is held to GitHub's schema elsewhere)."""
        text, values = str(body.get("query", "")), body.get("variables") or {}
        if "enqueuePullRequest" in text:
            number = int(str(values.get("id", "PR_0")).removeprefix("PR_"))
            pull = self._pull(str(number))
            if pull is None or pull.state != "open" or values.get("head") != pull.head_sha:
                return 200, {"data": {"enqueuePullRequest": None}, "errors": [{"message": "head moved"}]}, {}
            if number not in self.queue:
                self.queue.append(number)
            entry = {"state": "QUEUED", "position": self.queue.index(number) + 1}
            return 200, {"data": {"enqueuePullRequest": {"mergeQueueEntry": entry}}}, {}
        pull = self._pull(str(values.get("number", 0)))
        if pull is None:
            return 200, {"data": {"repository": {"pullRequest": None}}}, {}
        queued = pull.number in self.queue
        found = {
            "id": f"PR_{pull.number}",
            "headRefOid": pull.head_sha,
            "merged": pull.merged,
            "mergeCommit": {"oid": pull.merge_commit} if pull.merge_commit else None,
            "isInMergeQueue": queued,
            "mergeQueueEntry": {"state": "QUEUED", "position": self.queue.index(pull.number) + 1} if queued else None,
        }
        return 200, {"data": {"repository": {"pullRequest": found}}}, {}

    def _mergeable_state(self, p: FakePull) -> str:
        base = self.tip(p.base)
        if self.refuse_merges:
            return "blocked"
        if base and p.head_sha and not self.git("merge-base", "--is-ancestor", base, p.head_sha).ok:
            return "behind"
        return "clean"

    def _user(self, query: dict[str, str], body: Any) -> Answer:
        return 200, {"login": self.login, "type": "User"}, {}

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
        if self.opening_fails > 0:
            self.opening_fails -= 1
            return 502, {"message": "Server Error"}, {}
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
        if self.contains(base, str(self.tip(head))):  # as GitHub: nothing to pull
            errors = [{"resource": "PullRequest", "message": f"No commits between {base} and {head}"}]
            return 422, {"message": "Validation Failed", "errors": errors}, {}
        number = max(self.pulls, default=FIRST - 1) + 1
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
            if int(c.get("line", 0)) not in self.lines_shown(pull.base, pull.head_sha, pull.merged, str(c.get("path"))):
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
        if self.merge_queue:
            return 405, {"message": "Changes must be made through the merge queue"}, {}
        base = self.tip(pull.base)
        if self.up_to_date and base is not None and not self.git("merge-base", "--is-ancestor", base, pull.head_sha).ok:
            return 405, {"message": "Head branch is out of date. Review and try the merge again."}, {}
        if body.get("sha") and body["sha"] != pull.head_sha:
            return 409, {"message": "Head branch was modified. Review and try the merge again."}, {}
        title = f"Merge pull request #{pull.number} from {self.owner}/{pull.head}"
        commit = self.merge_into(pull.base, pull.head_sha, title)
        if commit is None:
            return 405, {"message": "Pull Request is not mergeable"}, {}
        pull.state, pull.merged, pull.merge_commit = "closed", True, commit
        return 200, {"sha": commit, "merged": True, "message": "Pull Request successfully merged"}, {}

    def _check_runs(self, query: dict[str, str], body: Any, ref: str) -> tuple[int, Any, dict[str, str]]:
        runs = self.check_runs.get(ref, [])
        size, page = int(query.get("per_page") or 30), int(query.get("page") or 1)
        return 200, {"total_count": len(runs), "check_runs": runs[(page - 1) * size : page * size]}, {}

    def _status(self, query: dict[str, str], body: Any, ref: str) -> tuple[int, Any, dict[str, str]]:
        statuses = self.statuses.get(ref, [])
        states = {s["state"] for s in statuses}
        overall = "failure" if states & {"failure", "error"} else "pending" if "pending" in states else "success"
        return 200, {"state": overall, "sha": ref, "total_count": len(statuses), "statuses": statuses}, {}
