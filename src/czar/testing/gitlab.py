"""A small GitLab for tests: the REST endpoints (``/api/v4``) czar's GitLab forge uses, shaped as
GitLab's documentation shows them, over a bare repository on disk that czar pushes to.

Stateful where GitLab is: merge requests numbered (``iid``) from 1 in the project, with notes,
discussions on lines and reviewers; one follows its source branch while open and is merged once
its target holds its head (as GitLab marks it when such a push arrives); a merge through the API
is pinned to ``sha`` (409 if the branch moved) and made in the bare repository. It refuses what
GitLab refuses: a token it does not know (401), a second open merge request for the same branches
(409), a discussion on a line the diff does not show (400), an approval by the author (401), a
merge the project's rules block (405). A test sets pipelines and their jobs on a commit, people's
notes and reviewers' states, and reads every request.

Every request czar makes is held to GitLab's documentation of its endpoint (``DOCUMENTED``: the
attributes each takes, the required ones, the values an enumerated one allows, written from
docs.gitlab.com/api): anything else is refused (400) and kept in ``violations`` for the test.
GitLab publishes an OpenAPI description only inside its monorepo, out of reach of a test run.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from czar.testing.bare_forge import Answer, BareForge, Route, stamp

FIRST = 41  # the first merge request's iid: a project with history (not czar's own numbering)
PAGES = frozenset({"page", "per_page", "pagination"})  # python-gitlab's, on every list
# A job's statuses, as GitLab's API documents them (its OpenAPI description lists the same).
JOB_STATUSES = frozenset(
    {
        "created",
        "waiting_for_resource",
        "preparing",
        "pending",
        "running",
        "success",
        "failed",
        "canceling",
        "canceled",
        "skipped",
        "manual",
        "scheduled",
        "waiting_for_callback",
    }
)


@dataclass(frozen=True)
class Documented:
    """What GitLab's documentation says an endpoint takes."""

    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    values: tuple[tuple[str, frozenset[str]], ...] = ()  # an attribute and the values it allows


def _doc(required: str = "", optional: str = "", **values: str) -> Documented:
    return Documented(
        frozenset(required.split()),
        frozenset(optional.split()),
        tuple((k, frozenset(v.split())) for k, v in values.items()),
    )


# docs.gitlab.com/api: merge_requests, notes, discussions, merge_request_approvals, pipelines,
# jobs, protected_branches, users. Keyed by method and the route's name below.
DOCUMENTED: dict[tuple[str, str], Documented] = {
    ("GET", "merge_requests"): _doc(
        optional="state order_by sort milestone view labels created_after created_before updated_after "
        "updated_before scope author_id author_username assignee_id reviewer_id reviewer_username my_reaction_emoji "
        "source_branch target_branch search wip draft not environment deployed_before deployed_after iids "
        "with_labels_details",
        state="opened closed locked merged all",
    ),
    ("POST", "merge_requests"): _doc(
        required="source_branch target_branch title",
        optional="allow_collaboration approvals_before_merge allow_maintainer_to_push assignee_id assignee_ids "
        "description labels merge_after milestone_id remove_source_branch reviewer_ids squash target_project_id",
    ),
    ("PUT", "merge_request"): _doc(
        optional="add_labels allow_collaboration allow_maintainer_to_push assignee_id assignee_ids description "
        "discussion_locked labels merge_after milestone_id remove_labels remove_source_branch reviewer_ids squash "
        "state_event target_branch title",
        state_event="close reopen",
    ),
    ("GET", "notes"): _doc(optional="sort order_by", sort="asc desc", order_by="created_at updated_at"),
    ("POST", "notes"): _doc(required="body", optional="created_at internal merge_request_diff_head_sha"),
    ("POST", "discussions"): _doc(required="body", optional="commit_id created_at position"),
    ("POST", "approve"): _doc(optional="sha approval_password"),
    ("PUT", "merge"): _doc(
        optional="merge_commit_message squash_commit_message squash should_remove_source_branch "
        "merge_when_pipeline_succeeds auto_merge sha"
    ),
    ("GET", "mr_pipelines"): _doc(),
    ("GET", "jobs"): _doc(optional="scope include_retried"),
}
# A diff note's position (discussions): what it must and may hold.
POSITION = _doc(
    required="base_sha start_sha head_sha position_type",
    optional="new_path old_path new_line old_line line_range width height x y",
    position_type="text image file",
)


def problems(doc: Documented, given: dict[str, Any]) -> list[str]:
    """What of ``given`` the documentation does not describe, or misses."""
    found = [f"missing {k}" for k in sorted(doc.required - given.keys())]
    found += [f"unknown {k}" for k in sorted(given.keys() - doc.required - doc.optional - PAGES)]
    found += [f"{k}={given[k]!r}" for k, allowed in doc.values if k in given and str(given[k]) not in allowed]
    return found


@dataclass
class FakeMergeRequest:
    iid: int
    title: str
    description: str
    source: str
    target: str
    author: str
    state: str = "opened"  # opened, closed, merged
    sha: str = ""
    merge_commit: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)
    reviewers: list[dict[str, Any]] = field(default_factory=list)
    approved_by: list[str] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)  # every commit it has had as its head


class FakeGitLab(BareForge):
    prefix = "/api/v4"

    def __init__(self, bare: Path, path: str = "acme/tools/app", token: str = "glpat-t0ken") -> None:
        super().__init__(bare, token)
        self.path = path  # the project's path_with_namespace
        self.login = "czar-bot"
        self.mrs: dict[int, FakeMergeRequest] = {}
        self.pipelines: dict[str, list[dict[str, Any]]] = {}  # commit -> jobs of its newest pipeline
        self.pipeline_ids: dict[str, int] = {}  # commit -> its newest pipeline's id
        self.traces: dict[int, str] = {}  # job -> its log
        self.protected: dict[str, dict[str, Any]] = {}
        self.refuse_merges: str | None = None
        # The project merges by fast-forward only (its merge method): GitLab merges a merge request
        # whose source holds the target by moving the target to its head, and answers no
        # ``merge_commit_sha``; one that does not hold it cannot be merged (406).
        self.fast_forward = False
        self.members: dict[str, int] = {"alice": 30, "bob": 40}  # username -> access level in the project
        self.violations: list[str] = []  # requests GitLab's documentation does not describe
        self._ids = 0

    # -- for the tests --------------------------------------------------------------------------

    def authorized(self, headers: Any) -> bool:
        given = str(headers.get("PRIVATE-TOKEN", ""))
        return given == self.token or str(headers.get("Authorization")) == f"Bearer {self.token}"

    def mr_of(self, branch: str) -> FakeMergeRequest | None:
        with self._lock:
            found = [m for m in self.mrs.values() if m.source == branch]
        return found[-1] if found else None

    def set_pipeline(self, commit: str, jobs: list[tuple[str, str, str]], traces: dict[str, str] | None = None) -> None:
        """The newest pipeline of ``commit``: its jobs (stage, name, status), a failed one's log."""
        unknown = {status for _, _, status in jobs} - JOB_STATUSES
        assert not unknown, f"GitLab's jobs have no status {sorted(unknown)}"
        with self._lock:
            made = []
            for stage, name, status in jobs:
                self._ids += 1
                made.append(
                    {
                        "id": self._ids,
                        "stage": stage,
                        "name": name,
                        "status": status,
                        "allow_failure": False,
                        "web_url": f"https://gitlab.example/{self.path}/-/jobs/{self._ids}",
                    }
                )
                if traces and name in traces:
                    self.traces[self._ids] = traces[name]
            self.pipelines[commit] = made
            self._ids += 1
            self.pipeline_ids[commit] = self._ids

    def person_note(
        self, iid: int, username: str, body: str, *, path: str | None = None, line: int | None = None
    ) -> None:
        with self._lock:
            mr = self._mr(str(iid))
            assert mr is not None
            position = {"new_path": path, "new_line": line, "head_sha": mr.sha} if path else None
            self._note(mr, username, body, position=position)

    def person_closes(self, iid: int, *, reopen: bool = False) -> None:
        """A person closes the merge request on GitLab (or, ``reopen``, opens it again)."""
        with self._lock:
            mr = self.mrs[iid]
            mr.state = "opened" if reopen else "closed"
            if reopen:
                self._follow(mr)

    def person_requests_changes(self, iid: int, username: str) -> None:
        with self._lock:
            self.mrs[iid].reviewers.append(
                {
                    "user": {"username": username, "id": _uid(username)},
                    "state": "requested_changes",
                    "created_at": stamp(),
                }
            )

    # -- GitLab's semantics ---------------------------------------------------------------------

    def _follow(self, mr: FakeMergeRequest) -> None:
        if mr.state != "opened":
            return
        head = self.tip(mr.source)
        if head is None:
            mr.state = "closed"
            return
        mr.sha = head
        if head not in mr.heads:
            mr.heads.append(head)
        if self.contains(mr.target, head):
            mr.state = "merged"

    def merged_from(self, branch: str) -> bool:
        mr = self.mr_of(branch)
        if mr is not None:
            self._follow(mr)
        return mr is not None and mr.state == "merged"

    def _mr(self, iid: str) -> FakeMergeRequest | None:
        mr = self.mrs.get(int(iid))
        if mr is not None:
            self._follow(mr)
        return mr

    def _json(self, mr: FakeMergeRequest) -> dict[str, Any]:
        base = self.tip(mr.target) or ""
        start = self.git("merge-base", base, mr.sha).output.strip() if base and mr.sha else base
        return {
            "iid": mr.iid,
            "id": 1000 + mr.iid,
            "title": mr.title,
            "description": mr.description,
            "state": mr.state,
            "source_branch": mr.source,
            "target_branch": mr.target,
            "sha": mr.sha,
            "merge_commit_sha": mr.merge_commit,
            "detailed_merge_status": "ci_must_pass" if self.refuse_merges else "mergeable",
            "author": {"username": mr.author},
            "web_url": f"https://gitlab.example/{self.path}/-/merge_requests/{mr.iid}",
            "diff_refs": {"base_sha": start, "start_sha": base, "head_sha": mr.sha},
        }

    def _note(self, mr: FakeMergeRequest, username: str, body: str, *, position: Any = None) -> dict[str, Any]:
        self._ids += 1
        note = {
            "id": self._ids,
            "body": body,
            "author": {"username": username, "id": _uid(username)},
            "system": False,
            "created_at": stamp(),
            "position": position,
        }
        mr.notes.append(note)
        return note

    # -- the API --------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        here = re.escape(f"/projects/{quote(self.path, safe='')}")
        mrs = f"{here}/merge_requests"
        named: list[tuple[str, str, str, Callable[..., Answer]]] = [
            ("/user", "GET", "user", self._user),
            (here, "GET", "project", self._project),
            (f"{mrs}", "GET", "merge_requests", self._list),
            (f"{mrs}", "POST", "merge_requests", self._create),
            (rf"{mrs}/(\d+)", "GET", "merge_request", self._get),
            (rf"{mrs}/(\d+)", "PUT", "merge_request", self._update),
            (rf"{mrs}/(\d+)/notes", "GET", "notes", self._notes),
            (rf"{mrs}/(\d+)/notes", "POST", "notes", self._add_note),
            (rf"{mrs}/(\d+)/discussions", "POST", "discussions", self._discussion),
            (rf"{mrs}/(\d+)/reviewers", "GET", "reviewers", self._reviewers),
            (rf"{mrs}/(\d+)/approve", "POST", "approve", self._approve),
            (rf"{mrs}/(\d+)/merge", "PUT", "merge", self._merge),
            (rf"{mrs}/(\d+)/pipelines", "GET", "mr_pipelines", self._mr_pipelines),
            (rf"{here}/pipelines/(\d+)/jobs", "GET", "jobs", self._jobs),
            (rf"{here}/jobs/(\d+)/trace", "GET", "trace", self._trace),
            (rf"{here}/protected_branches/(.+)", "GET", "protected_branch", self._protected),
            (rf"{here}/members/all/(\d+)", "GET", "member", self._member),
        ]
        return [(pattern, verb, self._checked(verb, name, act)) for pattern, verb, name, act in named]

    def _checked(self, verb: str, name: str, act: Callable[..., Answer]) -> Callable[..., Answer]:
        """``act``, once the request is one GitLab's documentation describes."""

        def answer(query: dict[str, str], body: Any, *args: str) -> Answer:
            given = body if verb in ("POST", "PUT") else query
            doc = DOCUMENTED.get((verb, name), Documented())
            found = problems(doc, given)
            if name == "discussions" and isinstance(body.get("position"), dict):
                found += [f"position: {p}" for p in problems(POSITION, body["position"])]
            if found:
                said = f"{verb} {name}: {', '.join(found)}"
                self.violations.append(said)
                return 400, {"message": f"400 Bad request - {said}"}, {}
            return act(query, body, *args)

        return answer

    def _user(self, query: dict[str, str], body: Any) -> Answer:
        return 200, {"username": self.login, "id": 1}, {}

    def _project(self, query: dict[str, str], body: Any) -> Answer:
        access = {"project_access": {"access_level": 30}, "group_access": None}
        return 200, {"id": 7, "path_with_namespace": self.path, "permissions": access}, {}

    def _list(self, query: dict[str, str], body: Any) -> Answer:
        found = []
        for mr in self.mrs.values():
            self._follow(mr)
            if query.get("state") not in (None, "all", mr.state):
                continue
            if query.get("source_branch") not in (None, mr.source) or query.get("target_branch") not in (
                None,
                mr.target,
            ):
                continue
            found.append(self._json(mr))
        return 200, found, {}

    def _create(self, query: dict[str, str], body: Any) -> Answer:
        source, target = str(body.get("source_branch", "")), str(body.get("target_branch", ""))
        if not body.get("title") or self.tip(source) is None or self.tip(target) is None:
            return 400, {"message": {"source_branch": ["is invalid"]}}, {}
        for mr in self.mrs.values():
            self._follow(mr)
            if mr.state == "opened" and mr.source == source and mr.target == target:
                return (
                    409,
                    {"message": [f"Another open merge request already exists for this source branch: !{mr.iid}"]},
                    {},
                )
        iid = max(self.mrs, default=FIRST - 1) + 1
        mr = FakeMergeRequest(iid, str(body["title"]), str(body.get("description") or ""), source, target, self.login)
        self.mrs[iid] = mr
        self._follow(mr)
        return 201, self._json(mr), {}

    def _get(self, query: dict[str, str], body: Any, iid: str) -> Answer:
        mr = self._mr(iid)
        return (200, self._json(mr), {}) if mr else (404, {"message": "404 Not found"}, {})

    def _update(self, query: dict[str, str], body: Any, iid: str) -> Answer:
        mr = self._mr(iid)
        if mr is None:
            return 404, {"message": "404 Not found"}, {}
        event = body.get("state_event")
        if event == "close" and mr.state == "opened":
            mr.state = "closed"
        elif event == "reopen" and mr.state == "closed" and self.tip(mr.source) is not None:
            mr.state = "opened"
            self._follow(mr)
        mr.title = str(body.get("title", mr.title))
        mr.description = str(body.get("description", mr.description))
        return 200, self._json(mr), {}

    def _notes(self, query: dict[str, str], body: Any, iid: str) -> Answer:
        mr = self._mr(iid)
        return (200, list(mr.notes), {}) if mr else (404, {"message": "404 Not found"}, {})

    def _add_note(self, query: dict[str, str], body: Any, iid: str) -> Answer:
        mr = self._mr(iid)
        if mr is None:
            return 404, {"message": "404 Not found"}, {}
        return 201, self._note(mr, self.login, str(body.get("body", ""))), {}

    def _discussion(self, query: dict[str, str], body: Any, iid: str) -> Answer:
        mr = self._mr(iid)
        if mr is None:
            return 404, {"message": "404 Not found"}, {}
        where = body.get("position") or {}
        line, path = where.get("new_line"), str(where.get("new_path"))
        if line is None or int(line) not in self.lines_shown(mr.target, mr.sha, mr.state == "merged", path):
            return (
                400,
                {"message": '400 Bad request - Note {:line_code=>["can\'t be blank", "must be a valid line code"]}'},
                {},
            )
        note = self._note(mr, self.login, str(body.get("body", "")), position=where)
        return 201, {"id": f"d{note['id']}", "notes": [note]}, {}

    def _reviewers(self, query: dict[str, str], body: Any, iid: str) -> Answer:
        mr = self._mr(iid)
        return (200, list(mr.reviewers), {}) if mr else (404, {"message": "404 Not found"}, {})

    def _approve(self, query: dict[str, str], body: Any, iid: str) -> Answer:
        mr = self._mr(iid)
        if mr is None:
            return 404, {"message": "404 Not found"}, {}
        if mr.author == self.login or self.login in mr.approved_by:  # GitLab: own, or approved already
            return 401, {"message": "401 Unauthorized"}, {}
        if body.get("sha") and body["sha"] != mr.sha:
            return 409, {"message": "SHA does not match HEAD of source branch"}, {}
        mr.approved_by.append(self.login)
        return 201, {"approved_by": [{"user": {"username": u}} for u in mr.approved_by]}, {}

    def _merge(self, query: dict[str, str], body: Any, iid: str) -> Answer:
        mr = self._mr(iid)
        if mr is None:
            return 404, {"message": "404 Not found"}, {}
        if mr.state != "opened" or self.refuse_merges:
            return 405, {"message": self.refuse_merges or "405 Method Not Allowed"}, {}
        if body.get("sha") and body["sha"] != mr.sha:
            return 409, {"message": "SHA does not match HEAD of source branch"}, {}
        if self.fast_forward:
            target = self.tip(mr.target)
            if target is None or not self.git("merge-base", "--is-ancestor", target, mr.sha).ok:
                return 406, {"message": "Branch cannot be merged"}, {}
            self.git("update-ref", f"refs/heads/{mr.target}", mr.sha, target)
            mr.state = "merged"  # (no merge commit: ``merge_commit_sha`` stays null)
            return 200, self._json(mr), {}
        commit = self.merge_into(
            mr.target, mr.sha, str(body.get("merge_commit_message") or f"Merge branch '{mr.source}'")
        )
        if commit is None:
            return 406, {"message": "Branch cannot be merged"}, {}
        mr.state, mr.merge_commit = "merged", commit
        return 200, self._json(mr), {}

    def _mr_pipelines(self, query: dict[str, str], body: Any, iid: str) -> Answer:
        """The merge request's pipelines, newest first: those of every commit it has had as its head."""
        mr = self._mr(iid)
        if mr is None:
            return 404, {"message": "404 Not found"}, {}
        found = []
        for sha in mr.heads:
            jobs = self.pipelines.get(sha)
            if jobs is not None:
                failed = any(j["status"] == "failed" for j in jobs)
                status = "failed" if failed else "success"
                ref = f"refs/merge-requests/{mr.iid}/head"
                found.append({"id": self.pipeline_ids[sha], "sha": sha, "ref": ref, "status": status})
        return 200, sorted(found, key=lambda p: -int(p["id"])), {}

    def _jobs(self, query: dict[str, str], body: Any, pipeline: str) -> Answer:
        for sha, jobs in self.pipelines.items():
            if self.pipeline_ids[sha] == int(pipeline):
                return 200, jobs, {}
        return 404, {"message": "404 Not found"}, {}

    def _trace(self, query: dict[str, str], body: Any, job: str) -> Answer:
        text = self.traces.get(int(job))
        return (200, text, {}) if text is not None else (404, {"message": "404 Not found"}, {})

    def _member(self, query: dict[str, str], body: Any, uid: str) -> Answer:
        name = next((n for n in self.members if _uid(n) == int(uid)), None)
        if name is None:
            return 404, {"message": "404 Not found"}, {}
        return 200, {"id": int(uid), "username": name, "access_level": self.members[name]}, {}

    def _protected(self, query: dict[str, str], body: Any, branch: str) -> Answer:
        found = self.protected.get(branch)
        if found is None:
            return 404, {"message": "404 Not found"}, {}
        return 200, {"name": branch, **found}, {}


def _uid(username: str) -> int:
    """A user's id, the same for the same name."""
    return 1000 + int.from_bytes(username.encode()[:6].ljust(6, b"\0"), "big") % 900_000
