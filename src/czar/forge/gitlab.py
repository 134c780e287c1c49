"""Merge requests on GitLab (``[forge] kind = "gitlab"``), gitlab.com or self-hosted: czar's pull
requests mirrored there (``czar.forge.mirror``), in GitLab's words.

A reviewer's verdict is a note pinned to the commit read (an approval too, at that commit, when
GitLab allows it: not on the token's own merge request), each finding a discussion on its line
(in the note when the diff does not show the line). Checks are the jobs of the newest pipeline for
the head commit (a failed one: its stage and name and the end of its log). Remarks are people's
notes and their requests for changes (reviewers' state). A merge is pinned to a commit (``sha``:
GitLab refuses if the source branch moved), under the project's rules.

Through python-gitlab: the token (``GITLAB_TOKEN``), retries of GitLab's own errors, waiting when
told to (429), a time limit on every request. The token is kept in memory only.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from czar.core.forge import CheckRun, Forge, PullDraft, Remark, Review, Verdict
from czar.errors import ForgeDenied, ForgeError, ForgeUnanswered
from czar.forge.local import ForgeRefused
from czar.forge.mirror import MirroredForge, finding_text, findings_listed
from czar.runtime.withheld import GITLAB_TOKENS, first_token
from czar.store.store import Store

if TYPE_CHECKING:
    import gitlab

API_URL = "https://gitlab.com"
TIMEOUT = 30.0
# Tries of one request: GitLab's own errors, a dropped connection, a 429 (waited out as told).
# python-gitlab's default of ten, with its growing pauses, held a request two minutes on a GitLab
# that never answered; the next look tries again anyway.
RETRIES = 2
LOG_TAIL = 4000
# A job's statuses before it ends (GitLab's OpenAPI description lists them all; a status not here
# nor in PASSED is an end that failed): waiting for an external system's callback, being cancelled.
RUNNING = frozenset(
    {
        "created",
        "pending",
        "running",
        "waiting_for_resource",
        "preparing",
        "scheduled",
        "waiting_for_callback",
        "canceling",
    }
)
PASSED = frozenset({"success", "skipped", "manual"})
# What GitLab's detailed_merge_status says while it waits for something other than czar.
WAITING = frozenset(
    {"ci_must_pass", "ci_still_running", "not_approved", "discussions_not_resolved", "blocked_status", "draft_status"}
)
DEVELOPER = 30  # GitLab's access level from which a person's remarks reach an agent


def find_token(env: dict[str, str] | None = None) -> tuple[str, str] | None:
    """The token and where it came from (``GITLAB_TOKEN``)."""
    return first_token(os.environ if env is None else env, GITLAB_TOKENS)


def client(token: str, url: str = API_URL, timeout: float = TIMEOUT) -> gitlab.Gitlab:
    import gitlab

    return gitlab.Gitlab(
        url,
        private_token=token,
        timeout=timeout,
        retry_transient_errors=True,  # GitLab's 5xx and dropped connections, a few times
        user_agent="czar",
    )


def said(exc: Exception, doing: str) -> ForgeError:
    """What GitLab answered to ``doing``, as one line fit for a person."""
    import requests
    from gitlab.exceptions import GitlabError

    if isinstance(exc, requests.Timeout):
        return ForgeUnanswered(f"GitLab: no answer in time to {doing} (tried again at the next look)")
    if isinstance(exc, requests.RequestException):
        return ForgeUnanswered(f"GitLab: could not be reached to {doing}: {type(exc).__name__}")
    if isinstance(exc, GitlabError):
        status = exc.response_code
        hint = {
            401: "the token is missing, expired or revoked (GITLAB_TOKEN)",
            403: "the token lacks the permission (api scope; Developer on the project)",
            404: "the project does not exist here, or the token cannot see it",
            409: "the merge request or its branch moved meanwhile",
        }.get(status or 0)
        text = str(exc.error_message).strip() or "no message"
        kind = ForgeDenied if status == 401 else ForgeError
        if (status or 0) >= 500 or status == 429:  # (429: rate limited)
            kind = ForgeUnanswered
        return kind(f"GitLab: {status} {text} to {doing}" + (f": {hint}" if hint else ""))
    return ForgeError(f"GitLab: {doing} failed: {exc}")


class GitLabForge(MirroredForge):
    """The local forge's pull requests, as merge requests of one GitLab project."""

    forge_name = "GitLab"
    pull_label = "merge request !"

    def __init__(self, store: Store, gl: gitlab.Gitlab, project: str) -> None:
        super().__init__(store)
        self.gl = gl
        self.repo = project  # "group/name", as GitLab's path_with_namespace
        self.base = f"/projects/{quote(project, safe='')}"
        self._login: str | None = None
        self._members: dict[Any, bool] = {}  # user id -> Developer or above in the project

    @contextmanager
    def _asking(self, doing: str) -> Iterator[None]:
        import requests
        from gitlab.exceptions import GitlabError

        try:
            yield
        except (GitlabError, requests.RequestException) as exc:
            raise said(exc, doing) from exc

    def _get(self, doing: str, path: str, **query: Any) -> Any:
        with self._asking(doing):
            return self.gl.http_get(f"{self.base}{path}", query_data=query or None, max_retries=RETRIES)

    def _all(self, doing: str, path: str, **query: Any) -> list[Any]:
        with self._asking(doing):
            found = self.gl.http_list(f"{self.base}{path}", query_data=query or None, get_all=True, max_retries=RETRIES)
            return list(found)

    def _send(self, doing: str, verb: Callable[..., Any], path: str, data: dict[str, Any]) -> Any:
        with self._asking(doing):
            return verb(f"{self.base}{path}", post_data=data, max_retries=RETRIES)

    def login(self) -> str:
        if self._login is None:
            with self._asking("read the token's account"):
                user = self.gl.http_get("/user", max_retries=RETRIES)
            assert isinstance(user, dict)
            self._login = str(user["username"])
        return self._login

    def repository(self) -> dict[str, Any]:
        data: dict[str, Any] = self._get(f"read {self.repo}", "")
        return data

    def may_write(self) -> bool:
        """Whether the token may push and open merge requests (Developer or above)."""
        may = self.repository().get("permissions") or {}
        levels = [int((may.get(k) or {}).get("access_level") or 0) for k in ("project_access", "group_access")]
        return max(levels) >= DEVELOPER

    def protection(self, branch: str) -> str:
        with self._asking(f"read the protection of {branch}"):
            import gitlab.exceptions

            try:
                data = self.gl.http_get(f"{self.base}/protected_branches/{quote(branch, safe='')}", max_retries=RETRIES)
            except gitlab.exceptions.GitlabHttpError as exc:
                if exc.response_code == 404:
                    return "not protected"
                raise
        assert isinstance(data, dict)
        levels = {
            "push": [str(a.get("access_level_description")) for a in data.get("push_access_levels") or []],
            "merge": [str(a.get("access_level_description")) for a in data.get("merge_access_levels") or []],
        }
        who = "; ".join(f"{k}: {', '.join(v)}" for k, v in levels.items() if v)
        return "protected" + (f" ({who})" if who else "")

    # -- the mirror's primitives ------------------------------------------------------------------

    def find_open(self, draft: PullDraft) -> int | None:
        found = self._all(
            f"look for a merge request from {draft.head_branch}",
            "/merge_requests",
            state="opened",
            source_branch=draft.head_branch,
            target_branch=draft.base_branch,
        )
        return int(found[0]["iid"]) if found else None

    def open_remote(self, draft: PullDraft) -> tuple[int, str]:
        made = self._send(
            f"open a merge request from {draft.head_branch} into {draft.base_branch}",
            self.gl.http_post,
            "/merge_requests",
            {
                "source_branch": draft.head_branch,
                "target_branch": draft.base_branch,
                "title": draft.title,
                "description": draft.body,
            },
        )
        return int(made["iid"]), str(made.get("web_url") or "")

    def update_remote(self, number: int, draft: PullDraft, *, reopen: bool) -> tuple[int, str]:
        data: dict[str, Any] = {"title": draft.title, "description": draft.body}
        if reopen and not self.is_open(number):
            data["state_event"] = "reopen"
        made = self._send(f"update merge request !{number}", self.gl.http_put, f"/merge_requests/{number}", data)
        if reopen and made.get("state") != "opened":
            raise ForgeError(f"GitLab: merge request !{number} could not be reopened")
        return int(made["iid"]), str(made.get("web_url") or "")

    def _mr(self, number: int) -> dict[str, Any]:
        data: dict[str, Any] = self._get(f"read merge request !{number}", f"/merge_requests/{number}")
        return data

    def is_open(self, number: int) -> bool:
        return self._mr(number).get("state") == "opened"

    def author(self, number: int) -> str:
        return str((self._mr(number).get("author") or {}).get("username"))

    def review_posted(self, number: int, mark: str) -> bool:
        notes = self._all(f"read the notes of merge request !{number}", f"/merge_requests/{number}/notes")
        return any(mark in str(n.get("body") or "") for n in notes)

    def send_review(self, number: int, review: Review, text: list[str], mark: str, *, own: bool) -> None:
        """The findings as discussions on their lines, the approval, then the note that holds the
        mark: a retry after a failure part way skips what is there (each finding tagged with the
        mark), and a review is only ever found posted once it is whole."""
        refs = self._mr(number).get("diff_refs") or {}
        there = [str(n.get("body") or "") for n in self._all("read its notes", f"/merge_requests/{number}/notes")]
        unplaced = []
        for i, f in enumerate(review.findings):
            tag = mark.replace(" -->", f" finding {i} -->")
            if any(tag in body for body in there):
                continue  # posted before a failure
            position = {
                "position_type": "text",
                "base_sha": refs.get("base_sha"),
                "start_sha": refs.get("start_sha"),
                "head_sha": review.commit,
                "new_path": f.path,
                "old_path": f.path,
                "new_line": f.line,
            }
            try:
                self._send(
                    f"comment on a line of merge request !{number}",
                    self.gl.http_post,
                    f"/merge_requests/{number}/discussions",
                    {
                        "body": f"{finding_text(f)}\n\n{tag}",
                        "position": position,
                        "commit_id": review.commit,
                    },
                )
            except ForgeError as exc:
                if " 400 " not in str(exc):
                    raise
                unplaced.append(f)  # a line the diff does not show: in the note
        if review.verdict is Verdict.APPROVE and not own:
            try:
                self._send(
                    f"approve merge request !{number}",
                    self.gl.http_post,
                    f"/merge_requests/{number}/approve",
                    {"sha": review.commit},
                )
            except ForgeError as exc:
                if " 401 " not in str(exc):  # approved already, before a failure: GitLab says 401
                    raise
        body = [*text]
        if unplaced:
            body += ["", "Findings:", *findings_listed(replace(review, findings=tuple(unplaced)))]
        self._send(
            f"post a review note on merge request !{number}",
            self.gl.http_post,
            f"/merge_requests/{number}/notes",
            {"body": "\n".join([*body, "", mark])},
        )

    def close_remote(self, number: int, reason: str) -> None:
        self._send(
            f"comment on merge request !{number}",
            self.gl.http_post,
            f"/merge_requests/{number}/notes",
            {"body": f"Closed by czar: {reason}."},
        )
        self._send(
            f"close merge request !{number}", self.gl.http_put, f"/merge_requests/{number}", {"state_event": "close"}
        )

    # -- the port, GitLab's part --------------------------------------------------------------

    def checks(self, number: int) -> tuple[CheckRun, ...]:
        """The jobs of the merge request's newest pipeline, if it ran for its head commit (or, a
        merged-results pipeline, for the merge of it: its own sha is that merge's)."""
        pull = self._pull(number)
        remote, sha = self.remote_number(pull), pull.head_commit
        pipelines = self._all(f"read the pipelines of merge request !{remote}", f"/merge_requests/{remote}/pipelines")
        if not pipelines:
            return ()
        newest = max(pipelines, key=lambda p: int(p.get("id") or 0))
        if newest.get("sha") != sha and not str(newest.get("ref") or "").endswith("/merge"):
            return ()  # the newest ran for an older head: this one's has not started
        jobs = self._all(f"read the jobs of pipeline {newest['id']}", f"/pipelines/{newest['id']}/jobs")
        found = []
        for job in jobs:
            status = str(job.get("status"))
            name = f"{job.get('stage')}/{job.get('name')}"
            passed = status in PASSED or (status == "failed" and bool(job.get("allow_failure")))
            output = ""
            if status == "failed" and not passed:
                output = self._trace(int(job["id"]), name)
            found.append(CheckRun(name, passed, output, pending=status in RUNNING, url=str(job.get("web_url") or "")))
        return tuple(found)

    def _trace(self, job: int, name: str) -> str:
        try:
            with self._asking(f"read the log of job {job}"):
                raw = self.gl.http_get(f"{self.base}/jobs/{job}/trace", raw=True, max_retries=RETRIES)
        except ForgeError:
            return ""
        text = getattr(raw, "text", "")
        return f"Failing job: {name}\n\nThe end of its log:\n{text[-LOG_TAIL:]}"

    def remarks(self, number: int) -> tuple[Remark, ...]:
        """People's notes (not system notes, not czar's account, not bots), oldest first, and
        their requests for changes (a reviewer's state)."""
        pull = self._pull(number)
        remote, me = self.remote_number(pull), self.login()
        notes = self._all(f"read the notes of merge request !{remote}", f"/merge_requests/{remote}/notes", sort="asc")
        found: list[tuple[str, Remark]] = []
        for n in notes:
            who = n.get("author") or {}
            if n.get("system") or who.get("username") in (None, me) or who.get("bot") or not self._member(who):
                continue
            where = n.get("position") or {}
            line = where.get("new_line")
            remark = Remark(
                f"note-{n['id']}",
                str(who["username"]),
                str(n.get("body") or ""),
                commit=where.get("head_sha"),
                path=where.get("new_path"),
                line=int(line) if line else None,
            )
            found.append((str(n.get("created_at") or ""), remark))
        reviewers = self._all(f"read the reviewers of merge request !{remote}", f"/merge_requests/{remote}/reviewers")
        head = pull.head_commit
        last_note = {str((n.get("author") or {}).get("username")): int(n.get("id") or 0) for n in notes}
        for r in reviewers:
            who = r.get("user") or {}
            if r.get("state") == "requested_changes" and who.get("username") not in (None, me) and self._member(who):
                name = str(who["username"])
                body = f"{name} asked for changes on GitLab (their comments say what)."
                # GitLab keeps a reviewer's state across pushes: it counts again only with words
                # of theirs written since (their newest note), not at every new head.
                remark = Remark(f"changes-{name}-{last_note.get(name, 0)}", name, body, True, head)
                found.append((str(r.get("created_at") or ""), remark))
        return tuple(r for _, r in sorted(found, key=lambda pair: pair[0]))

    def _member(self, user: dict[str, Any]) -> bool:
        """Whether ``user`` may change the project (Developer or above): on a public project
        anyone may write, and what is passed on reaches an agent's session (read once each)."""
        uid = user.get("id")
        if uid is None:
            return False
        if uid not in self._members:
            import gitlab.exceptions

            try:
                with self._asking(f"read whether {user.get('username')} is a member of {self.repo}"):
                    found = self.gl.http_get(f"{self.base}/members/all/{int(uid)}", max_retries=RETRIES)
                level = int(found.get("access_level") or 0) if isinstance(found, dict) else 0
            except ForgeError as exc:
                cause = exc.__cause__
                if not (isinstance(cause, gitlab.exceptions.GitlabError) and cause.response_code == 404):
                    raise
                level = 0  # not a member
            self._members[uid] = level >= DEVELOPER
        return self._members[uid]

    def closed_unmerged(self, number: int) -> bool:
        return self._mr(number).get("state") == "closed"

    def blocked(self, number: int) -> str | None:
        """``detailed_merge_status`` saying what GitLab waits for (a pipeline, approvals, threads)."""
        remote = self.remote_number(self._pull(number))
        status = str(self._mr(remote).get("detailed_merge_status") or "")
        if status in WAITING:
            return f"GitLab holds merge request !{remote}: {status.replace('_', ' ')}"
        return None

    def land(self, number: int, head_commit: str) -> str:
        """A merge made by GitLab, only if the source branch is still at ``head_commit``."""
        import gitlab.exceptions

        pull = self._pull(number)
        remote = self.remote_number(pull)
        try:
            with self._asking(f"merge merge request !{remote}"):
                made = self.gl.http_put(
                    f"{self.base}/merge_requests/{remote}/merge",
                    post_data={"sha": head_commit, "merge_commit_message": f"czar: merge {pull.title}"},
                    max_retries=RETRIES,
                )
        except ForgeError as exc:
            cause = exc.__cause__
            if isinstance(cause, gitlab.exceptions.GitlabError) and cause.response_code in (405, 406, 409, 422):
                # Merged already, at this very commit (its answer lost: czar killed or timed out
                # after GitLab merged it), else not mergeable, a rule, or its head moved.
                there = self._mr(remote)
                if there.get("state") == "merged" and there.get("sha") == head_commit and _merged_as(there):
                    return _merged_as(there)
                raise ForgeRefused(str(exc)) from exc
            raise
        assert isinstance(made, dict)
        if made.get("state") != "merged" or not _merged_as(made):
            # Accepted but not merged (merged later by GitLab itself, or its merge failed).
            raise ForgeRefused(f"GitLab did not merge !{remote} now (it is {made.get('state')}): asked again later")
        return _merged_as(made)


def _merged_as(mr: dict[str, Any]) -> str:
    """The commit a merged merge request made its target: its merge commit; its squashed commit
    (a squash with no merge commit); its head (a fast-forward: GitLab names no commit of its own)."""
    return str(mr.get("merge_commit_sha") or mr.get("squash_commit_sha") or mr.get("sha") or "")


if TYPE_CHECKING:  # mypy proves it fills the port

    def _fills(store: Store, gl: gitlab.Gitlab) -> Forge:
        return GitLabForge(store, gl, "group/app")
