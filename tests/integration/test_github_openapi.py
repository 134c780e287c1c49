"""Every request czar's GitHub forge makes, held to GitHub's own published OpenAPI description
(``@octokit/openapi``, served by Prism, both pinned in ``forge-mocks/``): Prism checks each
request's path, query and body against the description and says what does not conform; the forge
reads the description's own example answers. No network: Prism runs on this machine."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from czar.core.forge import Finding, PullDraft, Review, Verdict
from czar.forge.github import GitHubForge, Repository, client
from czar.paths import ProjectPaths
from czar.store.store import Store

MOCKS = Path(__file__).resolve().parents[2] / "forge-mocks" / "node_modules"
PRISM = MOCKS / ".bin" / "prism"
SPEC = MOCKS / "@octokit" / "openapi" / "generated" / "api.github.com.json"
START_TIMEOUT = 240.0  # Prism reads the description first
# The parts of the description czar's forge uses, cut out of it whole with every component they
# refer to: Prism took 10 s of CPU to read all 13 MB of it, and takes 3 to read these. A request
# of the forge outside them is answered 404, which fails the test: add its part here.
USED = re.compile(r"/(user|zen)|/repos/\{owner\}/\{repo\}(/(pulls|commits|issues|branches|rules|actions/jobs)(/.*)?)?")


def used_parts(spec: dict[str, Any]) -> dict[str, Any]:
    """The description with only the paths czar's forge asks for, and what those refer to."""
    paths = {path: item for path, item in spec["paths"].items() if USED.fullmatch(path)}
    components: dict[str, dict[str, Any]] = {"securitySchemes": spec["components"].get("securitySchemes", {})}
    found: set[str] = set()

    def refer(node: object) -> None:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/components/") and ref not in found:
                found.add(ref)
                kind, name = ref.removeprefix("#/components/").split("/", 1)
                components.setdefault(kind, {})[name] = spec["components"][kind][name]
                refer(spec["components"][kind][name])
            for value in node.values():
                refer(value)
        elif isinstance(node, list):
            for value in node:
                refer(value)

    refer(paths)
    kept = {key: value for key, value in spec.items() if key not in ("paths", "components", "webhooks", "x-webhooks")}
    return {**kept, "paths": paths, "components": components}


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert PRISM.exists() and SPEC.exists(), "run `make test` (it installs forge-mocks/ with npm ci)"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = tmp_path_factory.mktemp("prism")
    log, used = folder / "prism.log", folder / "api.github.com.used.json"
    used.write_text(json.dumps(used_parts(json.loads(SPEC.read_bytes()))), encoding="utf-8")
    with open(log, "wb") as out:
        child = subprocess.Popen(
            [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(used)], stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                httpx.get(f"{url}/zen", headers={"Accept": "application/json"}, timeout=5)
                break
            except httpx.TransportError:
                assert child.poll() is None, f"prism ended: {log.read_text()[-2000:]}"
                assert time.monotonic() < deadline, f"prism did not start: {log.read_text()[-2000:]}"
                time.sleep(0.5)
        yield url
    finally:
        child.terminate()
        child.wait(timeout=30)


class Checked(httpx.HTTPTransport):
    """Sends each request to Prism and keeps what Prism found wrong with it. ``steer`` replaces
    Prism's example answer for a request (by method and path) to lead the forge down another
    path: no example is an empty list, or a refusal."""

    def __init__(self) -> None:
        super().__init__()
        self.violations: list[str] = []
        self.asked: list[tuple[str, str, int]] = []
        self.steer: dict[tuple[str, str], list[tuple[int, object]]] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # GitHub's media type: Prism serves the description's application/json for it.
        request.headers["Accept"] = "application/json"
        response = super().handle_request(request)
        response.read()
        for v in json.loads(response.headers.get("sl-violations", "[]")):
            if v["location"][0] == "request":
                self.violations.append(f"{request.method} {request.url.path}: {v['message']}")
        self.asked.append((request.method, request.url.path, response.status_code))
        answers = self.steer.get((request.method, request.url.path))
        if answers:
            status, body = answers.pop(0)
            if isinstance(body, str):
                return httpx.Response(status, text=body, request=request)
            return httpx.Response(status, json=body, request=request)
        return response


def test_every_request_of_the_github_forge_conforms_to_githubs_description(prism: str, czar_home: Path) -> None:
    checked = Checked()
    gh = client("a-token", prism, transport=checked)
    repo = Repository("octocat", "Hello-World")
    forge = GitHubForge(Store(ProjectPaths.for_project("contract")), gh, repo)
    head = "6dcb09b5b57875f334f61aebed695e2e4193db5e"
    draft = PullDraft("a", "czar/a", "czar/integration", head, "a: the task", "the body")
    pulls = "/repos/octocat/Hello-World/pulls"

    assert forge.login() == "octocat"
    assert forge.repository()["full_name"] == "octocat/Hello-World"
    checked.steer[("GET", pulls)] = [(200, [])]  # none open yet: it opens one
    ref = forge.open_or_update(draft)
    assert ref.url.startswith("https://github.com/octocat/Hello-World/pull/")
    forge.open_or_update(PullDraft("a", "czar/a", "czar/integration", head, "a: the task", "a new body"))

    finding = Finding("file1.txt", 2, "blocking", "the loop never ends on an empty list")
    number = ref.number
    remote = int(ref.url.rsplit("/", 1)[1])
    # Refused once for a line the diff does not show: posted again with the findings in the body.
    checked.steer[("POST", f"{pulls}/{remote}/reviews")] = [(422, {"message": "Line could not be resolved"})]
    forge.post_review(number, Review(Verdict.REQUEST_CHANGES, head, "r1 (sim)", "one problem", (finding,)))
    checks = forge.checks(number)
    assert checks and all(c.name for c in checks)
    # A failed GitHub Actions job: its steps and its log are read too.
    failed_job = {"id": 399444496, "name": "tests", "status": "completed", "conclusion": "failure"}
    runs = {"total_count": 1, "check_runs": [{**failed_job, "app": {"slug": "github-actions"}, "output": {}}]}
    checked.steer[("GET", f"/repos/octocat/Hello-World/commits/{head}/check-runs")] = [(200, runs)]
    log_path = f"/repos/octocat/Hello-World/actions/jobs/{failed_job['id']}/logs"
    checked.steer[("GET", log_path)] = [(200, "E   assert 1 == 2\n")]
    [failed] = [c for c in forge.checks(number) if c.name == "tests"]
    assert "The end of its log:" in failed.output and "assert 1 == 2" in failed.output
    assert forge.remarks(number) == ()  # every example is by octocat: the token's own account, no person's
    assert "protected" in forge.protection("main")
    # The merge state is GraphQL's (held to GitHub's schema below, not Prism's REST description).
    state = {"id": "PR_1", "headRefOid": head, "merged": False, "mergeCommit": None, "isInMergeQueue": False}
    checked.steer[("POST", "/graphql")] = [(200, {"data": {"repository": {"pullRequest": state}}})]
    assert forge.land(number, head)
    forge.close(number, "task a failed")
    # Another czar (its record lost) finds the open one and brings it up to date.
    other = GitHubForge(Store(ProjectPaths.for_project("contract2")), gh, repo)
    other.open_or_update(draft)

    assert checked.violations == []
    unsteered = [(m, p, s) for m, p, s in checked.asked if s >= 400 and (m, p) not in checked.steer]
    assert unsteered == []
    templates = {
        (m, re.sub(r"/(\d+|[0-9a-f]{40})(?=/|$)", "/{n}", p.removeprefix("/repos/octocat/Hello-World")))
        for m, p, _ in checked.asked
    }
    assert templates >= {
        ("GET", "/user"),
        ("GET", ""),
        ("GET", "/pulls"),
        ("POST", "/pulls"),
        ("PATCH", "/pulls/{n}"),
        ("GET", "/pulls/{n}"),
        ("GET", "/pulls/{n}/reviews"),
        ("POST", "/pulls/{n}/reviews"),
        ("GET", "/commits/{n}/check-runs"),
        ("GET", "/commits/{n}/status"),
        ("POST", "/issues/{n}/comments"),
        ("GET", "/issues/{n}/comments"),
        ("GET", "/pulls/{n}/comments"),
        ("GET", "/actions/jobs/{n}"),
        ("GET", "/actions/jobs/{n}/logs"),
        ("GET", "/branches/main"),
        ("GET", "/rules/branches/main"),
        ("PUT", "/pulls/{n}/merge"),
    }, templates


GRAPHQL_SCHEMA = MOCKS / "@octokit" / "graphql-schema" / "schema.graphql"


def test_the_github_forges_graphql_conforms_to_githubs_published_schema() -> None:
    """The merge queue is GraphQL's alone: czar's two documents, validated against GitHub's own
    schema (``@octokit/graphql-schema``) by graphql-core, as GitHub would before running them."""
    from graphql import build_schema, parse, validate

    from czar.forge.github import ENQUEUE, QUEUE_STATE

    # (GitHub's schema breaks a few of GraphQL's own rules on its enterprise and project types:
    # read as published, itself unchecked; the documents are checked against it.)
    schema = build_schema(GRAPHQL_SCHEMA.read_text(encoding="utf-8"), assume_valid=True, assume_valid_sdl=True)
    for document in (QUEUE_STATE, ENQUEUE):
        assert validate(schema, parse(document)) == [], document
    wrong = QUEUE_STATE.replace("isInMergeQueue", "inMergeQueue")
    assert validate(schema, parse(wrong))  # a field GitHub does not have is caught
