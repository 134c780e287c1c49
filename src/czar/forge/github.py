"""Pull requests on GitHub (``[forge] kind = "github"``), github.com or GitHub Enterprise Server:
czar's records mirrored there (``czar.forge.mirror`` says how), in GitHub's words. A reviewer's
verdict is a review pinned to the commit read, with a comment on each finding's line (in the body
when the diff does not show the line); a comment review when czar's token opened the pull request,
as GitHub lets no account approve its own. Checks are its check runs and commit statuses (a GitHub
Actions job: its failing step and the end of its log); remarks are what people wrote; a merge is
pinned to a commit (``land``).

The API is reached through githubkit: typed requests checked before they leave, and a retry when
GitHub says to wait; over czar's own transport (``czar.forge.http``): conditional requests (ETags)
so a pull request read again unchanged costs no rate limit, a time limit on every request. Each
refusal becomes one ``ForgeError`` line saying what GitHub said and what to do. The token is read
from the environment or from ``gh`` when the forge is opened and kept in memory: in no log, event
or file czar keeps.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from czar.core.forge import CheckRun, Forge, PullDraft, Remark, Review, Verdict
from czar.errors import ForgeDenied, ForgeError, ForgeUnanswered
from czar.forge.local import ForgeRefused, InMergeQueue
from czar.forge.mirror import MirroredForge, finding_text, findings_listed
from czar.runtime import proc
from czar.runtime.withheld import GITHUB_TOKENS, first_token
from czar.store.store import Store

if TYPE_CHECKING:
    import httpx
    from githubkit import GitHub, Response
    from githubkit.exception import GitHubException
    from githubkit.typing import RetryOption

API_URL = "https://api.github.com"
LOG_TAIL = 4000  # characters of a failed GitHub Actions job's log kept for its author
PAGE, PAGES = 100, 20  # items a page (GitHub's most), pages read of one list at most
TRUSTED = frozenset({"OWNER", "MEMBER", "COLLABORATOR"})  # whose remarks reach an agent
TIMEOUT = 30.0  # seconds a request may take
MAX_WAIT = 60.0  # seconds czar waits, when GitHub says to, before giving up until the next look

# GitHub's merge queue is GraphQL's alone (tests/integration/test_github_openapi.py holds these to
# GitHub's published schema).
QUEUE_STATE = """
query QueueState($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      id
      headRefOid
      merged
      mergeCommit { oid }
      isInMergeQueue
      mergeQueueEntry { state position }
    }
  }
}
"""
ENQUEUE = """
mutation Enqueue($id: ID!, $head: GitObjectID!) {
  enqueuePullRequest(input: {pullRequestId: $id, expectedHeadOid: $head}) {
    mergeQueueEntry { state position }
  }
}
"""


@dataclass(frozen=True)
class Repository:
    owner: str
    name: str

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


def repository_of(url: str, *, nested: bool = False) -> Repository | None:
    """``owner/name`` from a remote's URL (``https://github.com/o/r.git``, ``git@github.com:o/r``,
    ``ssh://git@host:22/o/r``); None for a path on this machine, which names no repository there.
    ``nested``: the whole path is the name's (GitLab's ``group/subgroup/name``)."""
    if "://" in url:
        if url.startswith("file://"):
            return None
        path = url.split("://", 1)[1].partition("/")[2]
    elif re.match(r"^[^/\s]+@[^/\s]+:", url) or re.match(r"^[A-Za-z0-9.-]+\.[A-Za-z]+:", url):
        path = url.partition(":")[2]  # scp-like: [user@]host:owner/name
    else:
        return None
    parts = [p for p in path.removesuffix("/").removesuffix(".git").split("/") if p]
    if len(parts) < 2:
        return None
    if nested:
        return Repository("/".join(parts[:-1]), parts[-1])
    return Repository(parts[-2], parts[-1])


def host_of(api_url: str) -> str:
    """The host a person signs in to for this API (``gh auth token --hostname``)."""
    host = api_url.split("://", 1)[-1].split("/", 1)[0]
    return "github.com" if host == "api.github.com" else host


def find_token(api_url: str = API_URL, env: dict[str, str] | None = None) -> tuple[str, str] | None:
    """The token and where it came from: ``GITHUB_TOKEN``, ``GH_TOKEN``, or ``gh auth token``."""
    environ = os.environ if env is None else env
    if (found := first_token(environ, GITHUB_TOKENS)) is not None:
        return found
    if shutil.which("gh", path=environ.get("PATH")) is None:
        return None
    result = proc.run(
        ["gh", "auth", "token", "--hostname", host_of(api_url)], timeout=10, errors_too=False, env=dict(environ)
    )
    token = result.output.strip()
    return (token, "gh auth token") if result.ok and token and "\n" not in token else None


def _wait_when_told(exc: GitHubException, count: int) -> RetryOption:
    """Retry once when GitHub says to wait (rate limits) and the wait is short, and up to twice on
    its own errors (5xx); else the error goes up and the next look tries again."""
    from githubkit.exception import RateLimitExceeded, RequestFailed
    from githubkit.typing import RetryOption

    if isinstance(exc, RateLimitExceeded) and count < 1 and exc.retry_after <= timedelta(seconds=MAX_WAIT):
        return RetryOption(True, exc.retry_after)
    if isinstance(exc, RequestFailed) and exc.response.status_code >= 500 and count < 2:
        return RetryOption(True, timedelta(seconds=count + 1))
    return RetryOption(False)


def client(
    token: str, api_url: str = API_URL, transport: httpx.BaseTransport | None = None, timeout: float = TIMEOUT
) -> GitHub[Any]:
    """A GitHub API client: conditional requests, a time limit, retries when told to wait."""
    from githubkit import GitHub, TokenAuthStrategy

    from czar.forge.http import ForgeTransport

    return GitHub(
        TokenAuthStrategy(token),
        base_url=api_url,
        timeout=timeout,
        # Conditional requests, time limits and the proxy: czar's own transport (czar.forge.http).
        http_cache=False,
        trust_env=False,
        auto_retry=_wait_when_told,
        user_agent="czar",
        transport=ForgeTransport(api_url, timeout, transport),
    )


def said(exc: Exception, doing: str) -> ForgeError:
    """What GitHub answered to ``doing``, as one line fit for a person."""
    from githubkit.exception import RateLimitExceeded, RequestFailed, RequestTimeout

    if isinstance(exc, RequestTimeout):
        return ForgeUnanswered(f"GitHub: no answer in time to {doing} (tried again at the next look)")
    if isinstance(exc, RequestFailed):
        status = exc.response.status_code
        try:
            data: Any = exc.response.json()
        except ValueError:
            data = {}
        message = str(data.get("message") or exc.response.reason_phrase) if isinstance(data, dict) else ""
        details = [
            str(e.get("message") or e.get("code") or "")
            for e in (data.get("errors") or [] if isinstance(data, dict) else [])
            if isinstance(e, dict)
        ]
        text = "; ".join([message, *[d for d in details if d]])
        if isinstance(exc, RateLimitExceeded):  # nothing refused: asked again once it may be
            # ("to read the token's account": what was asked is said as the other errors say it)
            return ForgeUnanswered(f"GitHub: rate limited ({text}); asked again in {exc.retry_after} to {doing}")
        hint = {
            401: "the token is missing, expired or revoked (GITHUB_TOKEN, or `gh auth login`)",
            403: "the token lacks the permission (pull requests: write; contents: read)",
            404: "the repository does not exist here, or the token cannot see it",
            409: "the pull request or its branch moved meanwhile",
        }.get(status)
        kind = ForgeUnanswered if status >= 500 else ForgeDenied if status == 401 else ForgeError
        return kind(f"GitHub: {status} {text} to {doing}" + (f": {hint}" if hint else ""))
    return ForgeUnanswered(f"GitHub: {doing} failed: {exc}")


class GitHubForge(MirroredForge):
    """The local forge's pull requests, mirrored to one repository on GitHub."""

    forge_name = "GitHub"

    def __init__(self, store: Store, github: GitHub[Any], repository: Repository) -> None:
        super().__init__(store)
        self.gh = github
        self.repo = repository
        self._login: str | None = None

    @contextmanager
    def _asking(self, doing: str) -> Iterator[None]:
        from githubkit.exception import GitHubException

        try:
            yield
        except GitHubException as exc:
            raise said(exc, doing) from exc

    def _call(self, doing: str, request: Callable[[], Response[Any, Any]]) -> Any:
        """The JSON GitHub answered to ``request`` (read as plain data: czar takes a few fields,
        and a field GitHub adds or drops later must not break it)."""
        with self._asking(doing):
            return request().json()

    def _pages(self, doing: str, request: Callable[[int], Response[Any, Any]]) -> list[Any]:
        """Every item of a list GitHub gives page by page (``PAGE`` a page, up to ``PAGES``)."""
        found: list[Any] = []
        for page in range(1, PAGES + 1):
            items = self._call(doing, partial(request, page))
            found += items
            if len(items) < PAGE:
                break
        return found

    def login(self) -> str:
        """The account the token speaks for (read once)."""
        if self._login is None:
            user = self._call("read the token's account", lambda: self.gh.rest.users.get_authenticated())
            self._login = str(user["login"])
        return self._login

    def repository(self) -> dict[str, Any]:
        """The repository as GitHub shows it to the token (its permissions among it)."""
        o, n = self.repo.owner, self.repo.name
        data: dict[str, Any] = self._call(f"read {self.repo}", lambda: self.gh.rest.repos.get(o, n))
        return data

    def may_write(self) -> bool:
        """Whether the token may push and open pull requests in the repository."""
        return bool((self.repository().get("permissions") or {}).get("push"))

    def protection(self, branch: str) -> str:
        """What guards ``branch`` on GitHub, in a few words: branch protection (its required
        checks) and the rulesets that apply to it."""
        o, n = self.repo.owner, self.repo.name
        data = self._call(f"read branch {branch}", lambda: self.gh.rest.repos.get_branch(o, n, branch))
        rules = self._call(
            f"read the rules of {branch}", lambda: self.gh.rest.repos.get_branch_rules(o, n, branch, per_page=100)
        )
        said = ["protected" if data.get("protected") else "not protected"]
        required = ((data.get("protection") or {}).get("required_status_checks") or {}).get("contexts") or []
        if required:
            said.append(f"required checks: {', '.join(map(str, required))}")
        kinds = sorted({str(r.get("type")) for r in rules})
        said.append(f"rules: {', '.join(kinds)}" if kinds else "no rulesets")
        return "; ".join(said)

    # -- the port, GitHub's part ---------------------------------------------------------------

    def checks(self, number: int) -> tuple[CheckRun, ...]:
        """The checks GitHub has for the pull request's head commit: check runs (GitHub Actions and
        apps) and commit statuses (older CI services); one still running is ``pending``."""
        pull = self._pull(number)
        o, n, sha = self.repo.owner, self.repo.name, pull.head_commit
        runs: list[Any] = []
        for page in range(1, PAGES + 1):  # a page holds at most PAGE; total_count says how many
            listed = self._call(
                f"read the check runs of {sha[:10]}",
                partial(self.gh.rest.checks.list_for_ref, o, n, sha, per_page=PAGE, page=page),
            )
            runs += listed.get("check_runs") or []
            if len(runs) >= int(listed.get("total_count") or 0) or not listed.get("check_runs"):
                break
        statuses = self._call(
            f"read the statuses of {sha[:10]}",
            lambda: self.gh.rest.repos.get_combined_status_for_ref(o, n, sha, per_page=100),
        )
        found: list[CheckRun] = []
        for run in runs:
            done = run.get("status") == "completed"
            conclusion = run.get("conclusion")
            output = run.get("output") or {}
            text = "\n".join(str(output.get(k) or "") for k in ("title", "summary", "text")).strip()
            failed = done and conclusion in ("failure", "timed_out", "cancelled", "action_required")
            if failed and (run.get("app") or {}).get("slug") == "github-actions":
                text = self._job_failure(int(run["id"])) or text
            found.append(
                CheckRun(
                    str(run.get("name")),
                    done and conclusion in ("success", "neutral", "skipped"),
                    text,
                    timed_out=conclusion == "timed_out",
                    pending=not done,
                    url=str(run.get("details_url") or run.get("html_url") or ""),
                )
            )
        for status in statuses.get("statuses") or []:
            state = status.get("state")
            found.append(
                CheckRun(
                    str(status.get("context")),
                    state == "success",
                    str(status.get("description") or ""),
                    pending=state == "pending",
                    url=str(status.get("target_url") or ""),
                )
            )
        return tuple(found)

    def remarks(self, number: int) -> tuple[Remark, ...]:
        """Reviews, line comments and comments on the pull request by people of the repository
        (its owner, members, collaborators): not by czar's own account, nor by bots (a CI service's
        report is a check, not a remark), nor by anyone else (on a public repository, anyone)."""
        pull = self._pull(number)
        remote = self.remote_number(pull)
        o, n, me = self.repo.owner, self.repo.name, self.login()

        def by_person(item: dict[str, Any]) -> bool:
            # People of the repository only: on a public one anyone may write, and what is passed
            # on reaches an agent's session (and a request for changes sends its task back).
            user = item.get("user") or {}
            trusted = item.get("author_association") in TRUSTED
            return trusted and bool(user.get("login")) and user.get("login") != me and user.get("type") != "Bot"

        reviews = self._pages(
            f"read the reviews of pull request #{remote}",
            lambda page: self.gh.rest.pulls.list_reviews(o, n, remote, per_page=PAGE, page=page),
        )
        lines = self._pages(
            f"read the line comments of pull request #{remote}",
            lambda page: self.gh.rest.pulls.list_review_comments(o, n, remote, per_page=PAGE, page=page),
        )
        comments = self._pages(
            f"read the comments of pull request #{remote}",
            lambda page: self.gh.rest.issues.list_comments(o, n, remote, per_page=PAGE, page=page),
        )
        found: list[tuple[str, Remark]] = []
        for r in filter(by_person, reviews):
            asked = r.get("state") == "CHANGES_REQUESTED"
            if asked or str(r.get("body") or "").strip():
                remark = Remark(
                    f"review-{r['id']}", r["user"]["login"], str(r.get("body") or ""), asked, r.get("commit_id")
                )
                found.append((str(r.get("submitted_at") or ""), remark))
        for c in filter(by_person, lines):
            line = c.get("line") or c.get("original_line")
            remark = Remark(
                f"line-{c['id']}",
                c["user"]["login"],
                str(c.get("body") or ""),
                commit=c.get("commit_id"),
                path=c.get("path"),
                line=int(line) if line else None,
            )
            found.append((str(c.get("created_at") or ""), remark))
        for c in filter(by_person, comments):
            found.append(
                (
                    str(c.get("created_at") or ""),
                    Remark(f"comment-{c['id']}", c["user"]["login"], str(c.get("body") or "")),
                )
            )
        return tuple(r for _, r in sorted(found, key=lambda pair: pair[0]))

    def _job_failure(self, job: int) -> str:
        """A failed GitHub Actions job's failing step and the end of its log ("" if unreadable)."""
        o, n = self.repo.owner, self.repo.name
        try:
            steps = self._call(f"read job {job}", lambda: self.gh.rest.actions.get_job_for_workflow_run(o, n, job))
            with self._asking(f"read the log of job {job}"):
                log = self.gh.rest.actions.download_job_logs_for_workflow_run(o, n, job).text
        except ForgeError:
            return ""
        failing = [str(s.get("name")) for s in steps.get("steps") or [] if s.get("conclusion") == "failure"]
        head = f"Failing step: {failing[0]}" if failing else f"Job {steps.get('name') or job} failed"
        return f"{head}\n\nThe end of its log:\n{log[-LOG_TAIL:]}"

    def closed_unmerged(self, number: int) -> bool:
        """Conditional: asked again unchanged, it costs no rate limit."""
        pull = self._read_pull(number)
        return pull.get("state") == "closed" and not pull.get("merged")

    def blocked(self, number: int) -> str | None:
        """``mergeable_state`` "blocked": a rule of the branch (required checks or reviews) holds
        it. Conditional, so a pull request asked again unchanged costs no rate limit."""
        remote = self.remote_number(self._pull(number))
        if self._read_pull(remote).get("mergeable_state") == "blocked":
            return (
                f"GitHub holds pull request #{remote}: its branch's rules (required checks or reviews) are not met yet"
            )
        return None

    def land(self, number: int, head_commit: str) -> str:
        """A merge commit made by GitHub (``PUT .../merge`` with ``sha``: GitHub merges only if the
        pull request's head is still that commit), under the repository's rules. Where the branch
        requires GitHub's merge queue, the pull request joins it pinned to that commit
        (``expectedHeadOid``) and ``InMergeQueue`` says so; asked again, the merge commit once the
        queue merged it."""
        from githubkit.exception import RequestFailed

        pull = self._pull(number)
        remote = self.remote_number(pull)
        o, n = self.repo.owner, self.repo.name
        state = self._queue_state(remote)
        merged_as = (state.get("mergeCommit") or {}).get("oid")
        if state.get("merged") and state.get("headRefOid") == head_commit and merged_as:
            return str(merged_as)  # merged already (by the queue, or before a restart)
        if state.get("isInMergeQueue"):
            entry = state.get("mergeQueueEntry") or {}
            raise InMergeQueue(
                f"pull request #{remote} waits in GitHub's merge queue ({str(entry.get('state')).lower()})"
            )
        try:
            with self._asking(f"merge pull request #{remote}"):
                made = self.gh.rest.pulls.merge(
                    o, n, remote, sha=head_commit, merge_method="merge", commit_title=f"czar: merge {pull.title}"
                ).json()
        except ForgeError as exc:
            cause = exc.__cause__
            if isinstance(cause, RequestFailed) and "merge queue" in str(exc).lower():
                self._enqueue(str(state.get("id")), head_commit, remote)
                raise InMergeQueue(f"pull request #{remote} joined GitHub's merge queue") from exc
            if isinstance(cause, RequestFailed) and cause.response.status_code in (405, 409, 422):
                # Not mergeable (conflicts, required checks, rulesets), or its head moved.
                raise ForgeRefused(str(exc)) from exc
            raise
        return str(made["sha"])

    def _queue_state(self, remote: int) -> dict[str, Any]:
        """The pull request as GitHub's GraphQL API shows it to a merge queue (REST does not)."""
        o, n = self.repo.owner, self.repo.name
        with self._asking(f"read pull request #{remote}'s merge state"):
            data = self.gh.graphql.request(QUEUE_STATE, {"owner": o, "name": n, "number": remote})
        found: dict[str, Any] = ((data.get("repository") or {}).get("pullRequest")) or {}
        if not found:
            raise ForgeError(f"GitHub: no pull request #{remote} in {self.repo}")
        return found

    def _enqueue(self, node: str, head_commit: str, remote: int) -> None:
        with self._asking(f"add pull request #{remote} to the merge queue"):
            self.gh.graphql.request(ENQUEUE, {"id": node, "head": head_commit})

    # -- the mirror's primitives (czar.forge.mirror) -----------------------------------------

    def find_open(self, draft: PullDraft) -> int | None:
        o, n = self.repo.owner, self.repo.name
        found = self._call(
            f"look for a pull request from {draft.head_branch}",
            lambda: self.gh.rest.pulls.list(
                o, n, state="open", head=f"{o}:{draft.head_branch}", base=draft.base_branch
            ),
        )
        return int(found[0]["number"]) if found else None

    def open_remote(self, draft: PullDraft) -> tuple[int, str]:
        o, n = self.repo.owner, self.repo.name
        made = self._call(
            f"open a pull request from {draft.head_branch} into {draft.base_branch}",
            lambda: self.gh.rest.pulls.create(
                o, n, title=draft.title, head=draft.head_branch, base=draft.base_branch, body=draft.body
            ),
        )
        return int(made["number"]), str(made.get("html_url") or "")

    def update_remote(self, number: int, draft: PullDraft, *, reopen: bool) -> tuple[int, str]:
        o, n = self.repo.owner, self.repo.name
        fields: dict[str, Any] = {"title": draft.title, "body": draft.body}
        if reopen:
            fields["state"] = "open"
        made = self._call(f"update pull request #{number}", lambda: self.gh.rest.pulls.update(o, n, number, **fields))
        return int(made["number"]), str(made.get("html_url") or "")

    def is_open(self, number: int) -> bool:
        return self._read_pull(number).get("state") == "open"

    def _read_pull(self, remote: int) -> dict[str, Any]:
        o, n = self.repo.owner, self.repo.name
        return dict(self._call(f"read pull request #{remote}", lambda: self.gh.rest.pulls.get(o, n, remote)))

    def author(self, number: int) -> str:
        o, n = self.repo.owner, self.repo.name
        pull = self._call(f"read pull request #{number}", lambda: self.gh.rest.pulls.get(o, n, number))
        return str((pull.get("user") or {}).get("login"))

    def review_posted(self, number: int, mark: str) -> bool:
        o, n = self.repo.owner, self.repo.name
        posted = self._pages(
            f"read the reviews of pull request #{number}",
            lambda page: self.gh.rest.pulls.list_reviews(o, n, number, per_page=PAGE, page=page),
        )
        return any(mark in str(r.get("body") or "") for r in posted)

    def send_review(self, number: int, review: Review, text: list[str], mark: str, *, own: bool) -> None:
        o, n = self.repo.owner, self.repo.name
        approve = review.verdict is Verdict.APPROVE
        event: Literal["COMMENT", "APPROVE", "REQUEST_CHANGES"] = (
            "COMMENT" if own else "APPROVE" if approve else "REQUEST_CHANGES"
        )
        comments: list[Any] = [
            {"path": f.path, "line": f.line, "side": "RIGHT", "body": finding_text(f)}
            for f in review.findings
            if f.line > 0
        ]
        body = "\n".join([*text, "", mark])
        try:
            self._call(
                f"post a review on pull request #{number}",
                lambda: self.gh.rest.pulls.create_review(
                    o, n, number, commit_id=review.commit, body=body, event=event, comments=comments
                ),
            )
        except ForgeError as exc:
            if not comments or " 422 " not in str(exc):
                raise
            # A finding on a line the diff does not show cannot be a line comment: in the body.
            body = "\n".join([*text, "", "Findings:", *findings_listed(review), "", mark])
            self._call(
                f"post a review on pull request #{number}",
                lambda: self.gh.rest.pulls.create_review(o, n, number, commit_id=review.commit, body=body, event=event),
            )

    def close_remote(self, number: int, reason: str) -> None:
        o, n = self.repo.owner, self.repo.name
        self._call(
            f"comment on pull request #{number}",
            lambda: self.gh.rest.issues.create_comment(o, n, number, body=f"Closed by czar: {reason}."),
        )
        self._call(f"close pull request #{number}", lambda: self.gh.rest.pulls.update(o, n, number, state="closed"))


if TYPE_CHECKING:  # mypy proves it fills the port

    def _fills(store: Store, github: GitHub[Any], repository: Repository) -> Forge:
        return GitHubForge(store, github, repository)
