"""A run whose pull requests live on GitHub (``[forge] kind = "github"``): sim agents and reviewers,
real git and tmux, a bare repository on disk as the remote, and a small GitHub
(``czar.testing.github``) over it."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from czar.core.events import EventKind
from czar.testing.github import FakeGitHub
from helpers import czar, git, project_events, repo_with_remote, sim_task, write_plan

REVIEW = """[review]
agents = { sim = 1 }
max_review_rounds = 1
"""


def _reviewed(tid: str, review: str, **kw: object) -> str:
    entry = sim_task(tid, **kw)  # type: ignore[arg-type]
    head, _, _ = entry.rpartition("```\n'''")
    return f"{head}```\n\n```czar-review\n{review}\n```\n'''\n"


@pytest.fixture
def github(tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, FakeGitHub]]:
    repo, bare = repo_with_remote(tmp_path)
    fake = FakeGitHub(bare)
    fake.start()
    monkeypatch.setenv("GITHUB_TOKEN", fake.token)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    yield repo, fake
    fake.stop()


def _plan(tmp_path: Path, name: str, fake: FakeGitHub, tasks: list[str]) -> Path:
    plan = write_plan(tmp_path, name, tasks, project_extra='remote = "origin"\npush = true\n')
    forge = f'[forge]\nkind = "github"\napi_url = "{fake.url}"\nrepository = "{fake.owner}/{fake.name}"\n\n'
    plan.write_text(plan.read_text().replace("[[tasks]]", REVIEW + forge + "[[tasks]]", 1))
    return plan


def test_pull_requests_and_reviews_on_github_merged_by_czars_pushes_and_the_omnibus_opened(
    tmp_path: Path, github: tuple[Path, FakeGitHub]
) -> None:
    repo, fake = github
    review = "finding b.txt 1 note fine as it is\napprove reads well"
    seen = tmp_path / "agent-env.txt"
    a = _reviewed("a", "approve ok", extra=f"run cp /proc/self/environ {seen}")
    plan = _plan(tmp_path, "gh", fake, [a, _reviewed("b", review, deps=("a",))])
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 2, summary

    by_head = {p.head: p for p in fake.pulls.values()}
    assert set(by_head) == {"czar/a", "czar/b", "czar/integration"}
    for task in ("a", "b"):
        pull = by_head[f"czar/{task}"]
        assert pull.base == "czar/integration" and pull.merged, task  # czar's push merged it
        assert pull.title.startswith(f"{task}: ") and f"Task **{task}**" in pull.body
        [review] = pull.reviews  # one each, on the commit read, as a comment: the token opened it
        assert review["state"] == "COMMENTED" and "approves" in review["body"]
        assert review["commit_id"] == pull.head_sha
    assert [(c["path"], c["line"]) for c in by_head["czar/b"].review_comments] == [("b.txt", 1)]
    omnibus = by_head["czar/integration"]
    assert omnibus.base == "main" and omnibus.state == "open"  # for a person to merge (land = pull-request)

    status = json.loads(czar("status", str(plan), "--json", check=True).stdout)
    assert status["forge"] == {
        "kind": "github",
        "repository": "acme/app",
        "api_url": fake.url,
        "merge_via": "czar",
        "wait_for_ci": False,
    }
    shown = json.loads(czar("prs", str(plan), "--json", check=True).stdout)
    urls = {p["task"]: p.get("url") for p in shown}
    assert urls["a"] == f"https://github.example/acme/app/pull/{by_head['czar/a'].number}", shown
    assert git(repo, "rev-parse", "czar/integration") == fake.tip("czar/integration")
    # The token is the supervisor's alone: no agent sees it.
    # (Written where the agent's /tmp is: the sandbox gives it one of its own, under czar's home.)
    [written] = [p for p in tmp_path.rglob(seen.name)]
    assert b"CZAR_TASK=a" in written.read_bytes() and fake.token.encode() not in written.read_bytes()


def test_czar_merges_a_task_only_once_its_pull_request_is_on_github(
    tmp_path: Path, github: tuple[Path, FakeGitHub]
) -> None:
    """Found by the chaos benchmark on a GitHub: with no reviewer, a task verified and merged before
    its pull request was opened (GitHub slow to answer, here a 502 twice) was merged and pushed
    first, and GitHub then refused the pull request ("No commits between"): the task had none there.
    Its merge waits for its pull request now, which GitHub marks merged when the push arrives."""
    _, fake = github
    fake.opening_fails = 2
    plan = write_plan(
        tmp_path, "opening", [sim_task("a"), sim_task("b")], project_extra='remote = "origin"\npush = true\n'
    )
    forge = f'[forge]\nkind = "github"\napi_url = "{fake.url}"\nrepository = "acme/app"\npoll_seconds = 1\n\n'
    plan.write_text(plan.read_text().replace("[[tasks]]", forge + "[[tasks]]", 1))
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2
    for task in ("a", "b"):
        pull = fake.pull_from(f"czar/{task}")
        assert pull is not None and pull.merged and pull.base == "czar/integration", task
    refused = [e for e in project_events("opening", EventKind.FORGE_ERROR) if "No commits" in str(e.get("message"))]
    assert not refused


def test_a_pull_request_a_person_closes_on_github_holds_its_task_until_they_reopen_it(
    tmp_path: Path, github: tuple[Path, FakeGitHub]
) -> None:
    """A person closed task a's pull request on GitHub: czar does not merge it (nor reopen it on its
    own) while task b merges; reopened, a merges through the same pull request."""
    _, fake = github
    plan = write_plan(
        tmp_path, "closing", [sim_task("a"), sim_task("b")], project_extra='remote = "origin"\npush = true\n'
    )
    forge = f'[forge]\nkind = "github"\napi_url = "{fake.url}"\nrepository = "acme/app"\npoll_seconds = 1\n'
    plan.write_text(plan.read_text().replace("[[tasks]]", forge + "wait_for_ci = true\n\n[[tasks]]", 1))
    seen: dict[str, object] = {}
    problems: list[str] = []

    def person() -> None:
        """Closes a's pull request once it is open; CI passes on both; once czar has said a waits
        for a person (and b merged meanwhile), looks at what the remote holds, then reopens it."""
        try:
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                a, b = fake.pull_from("czar/a"), fake.pull_from("czar/b")
                if a is not None and b is not None and a.head_sha and b.head_sha:
                    break
                time.sleep(0.05)
            assert a is not None and b is not None
            fake.person_closes(a.number)
            fake.set_check(a.head_sha, "tests", "success")
            fake.set_check(b.head_sha, "tests", "success")
            while time.monotonic() < deadline:
                said = project_events("closing", EventKind.FORGE_CLOSED)
                if said and project_events("closing", EventKind.TASK_MERGED):
                    break
                time.sleep(0.1)
            time.sleep(2)  # a while more: czar asked again meanwhile, and still holds it
            seen["closed"] = said
            seen["a_merged_before"] = fake.contains("czar/integration", a.head_sha)
            seen["a_state"] = a.state
            fake.person_closes(a.number, reopen=True)
        except Exception as exc:  # seen by the test, not lost on this thread
            problems.append(repr(exc))

    side = threading.Thread(target=person, daemon=True)
    side.start()
    result = czar("run", str(plan), "--json", timeout=240)
    side.join(timeout=10)
    assert not problems, problems
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2
    assert seen, "the run ended without holding task a: it merged a pull request a person closed"
    [closed] = seen["closed"]  # type: ignore[misc]
    assert closed["task"] == "a" and "closed on GitHub by a person" in str(closed["message"])
    assert seen["a_merged_before"] is False and seen["a_state"] == "closed"  # neither merged nor reopened by czar
    # `czar run` says so once, not at each look of czar's (every second here).
    held = [line for line in result.stderr.splitlines() if "merging -> approved (pull request #" in line]
    assert len(held) == 1, result.stderr
    # Held approved until it is reopened, not merging and approved again at each look of czar's.
    back = [e for e in project_events("closing", EventKind.TASK_STATE) if e["task"] == "a" and e["new"] == "approved"]
    assert len(back) == 2, back  # verified, then held once
    [merged_first, _] = project_events("closing", EventKind.TASK_MERGED)
    assert merged_first["task"] == "b"
    assert [e["task"] for e in project_events("closing", EventKind.FORGE_REOPENED)] == ["a"]
    pulls = [p for p in fake.pulls.values() if p.head == "czar/a"]
    assert len(pulls) == 1 and pulls[0].merged  # the same pull request, merged by czar's push


def test_without_a_token_the_run_does_not_start_and_says_why(
    tmp_path: Path, github: tuple[Path, FakeGitHub], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, fake = github
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # and no gh to ask
    plan = _plan(tmp_path, "tokenless", fake, [sim_task("a")])
    for command in (("run", str(plan)), ("up", str(plan))):
        result = czar(*command, timeout=60)
        assert result.returncode != 0 and "Traceback" not in result.stderr, command
        assert "GitHub needs a token: set GITHUB_TOKEN" in result.stderr, result.stderr
    assert not fake.requests


def _task_with_sections(tid: str, sections: dict[str, list[str]]) -> str:
    """A sim task that writes ``tid``.txt and finishes, then answers each kind of message."""
    script = ["write a.txt <<END", "one", "END", f"commit add {tid}", f"finish {tid} done"]
    for kind, lines in sections.items():
        script += [f"on {kind}", *lines]
    body = "\n".join(script)
    # The reviewer takes its time: CI and a person have their say while the author still holds
    # the task (its session hears what they said).
    review = "sleep 4\napprove fine\non every review\nsleep 4\napprove fine"
    return (
        f'[[tasks]]\nid = "{tid}"\ntitle = "task {tid}"\nscope = ["a.txt"]\n'
        f"body = '''\nDo {tid}.\n\n```czar-sim\n{body}\n```\n\n```czar-review\n{review}\n```\n'''\n"
    )


def test_ci_failing_on_github_and_a_persons_review_go_back_to_the_author_and_merges_wait_for_green(
    tmp_path: Path, github: tuple[Path, FakeGitHub]
) -> None:
    repo, fake = github
    fix = ["write a.txt <<END", "one", "two", "END", "commit fix the test", "finish fixed"]
    asked = ["write a.txt <<END", "one", "two", "three", "END", "commit as asked", "finish as asked"]
    plan = _plan(tmp_path, "ci", fake, [_task_with_sections("a", {"feedback": fix, "review": asked})])
    plan.write_text(
        plan.read_text()
        .replace("max_review_rounds = 1", "max_review_rounds = 3")
        .replace('kind = "github"', 'kind = "github"\nwait_for_ci = true\npoll_seconds = 1')
    )
    heads: list[str] = []
    problems: list[str] = []

    def forge_side() -> None:
        """GitHub's CI and a person, as the pull request goes: CI fails on the first commit, a
        person asks for a change on the second, CI passes on the third."""
        try:
            deadline = time.monotonic() + 150
            while len(heads) < 3 and time.monotonic() < deadline:
                pull = fake.pull_of("czar/a")
                head = pull.head_sha if pull is not None else ""
                if head and head not in heads:
                    heads.append(head)
                    if len(heads) == 1:
                        log = "collected 3 items\n\ntest_a.py F\nE   AssertionError: expected 2 lines, got 1\n"
                        fake.set_check(head, "tests", "failure", log=log, failing_step="Run pytest")
                    elif len(heads) == 2:
                        assert pull is not None
                        fake.set_check(head, "tests", "success")
                        fake.person_comment(pull.number, "ci-bot", "coverage 80%", bot=True)
                        fake.person_review(
                            pull.number,
                            "alice",
                            "CHANGES_REQUESTED",
                            "Please add the third line.",
                            (("a.txt", 2, "three after this"),),
                        )
                    else:
                        fake.set_check(head, "tests", "success")
                time.sleep(0.1)
        except Exception as exc:  # seen by the test, not lost on this thread
            problems.append(repr(exc))

    side = threading.Thread(target=forge_side, daemon=True)
    side.start()
    result = czar("run", str(plan), "--json", timeout=240)
    side.join(timeout=10)
    assert not problems, problems
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 1
    assert len(heads) == 3, heads

    [ci] = project_events("ci", EventKind.FORGE_CI_FAILED)
    assert ci["commit"] == heads[0] and ci["checks"][0]["name"] == "tests"
    told = {str(e["about"]): str(e["text"]) for e in project_events("ci", EventKind.WORKER_TOLD)}
    assert "Failing step: Run pytest" in told["feedback"] and "AssertionError: expected 2 lines" in told["feedback"]
    assert f"/pull/{fake.pull_of('czar/a').number}" in told["feedback"]  # type: ignore[union-attr]
    remarks = project_events("ci", EventKind.FORGE_REMARK)
    # (One look may read the line comment before the review it came with: the agent hears both at once.)
    assert sorted((r["author"], r["changes_requested"]) for r in remarks) == [("alice", False), ("alice", True)]
    assert "alice asked for changes" in told["review"] and "Please add the third line." in told["review"]
    assert "alice wrote on a.txt:2" in told["review"] and "coverage" not in told["review"]  # a bot's is no remark
    # It merged at the third commit, the one CI passed and nobody asked changes of, and only there.
    [merged] = project_events("ci", EventKind.TASK_MERGED)
    assert git(repo, "merge-base", "--is-ancestor", heads[2], str(merged["commit"])) == ""
    assert (repo / "a.txt").exists() is False  # the user's checkout untouched
    assert git(repo, "show", "czar/integration:a.txt") == "one\ntwo\nthree"
    home = Path(os.environ["CZAR_HOME"])
    for path in home.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            assert fake.token.encode() not in path.read_bytes(), path


def test_merged_through_github_pinned_to_the_reviewed_commit_after_its_rules_allow_and_the_omnibus_landed(
    tmp_path: Path, github: tuple[Path, FakeGitHub]
) -> None:
    repo, fake = github
    plan = _plan(tmp_path, "via", fake, [_reviewed("a", "approve ok"), _reviewed("b", "approve ok", deps=("a",))])
    plan.write_text(
        plan.read_text()
        .replace("push = true\n", 'push = true\nland = "merge"\n', 1)
        .replace('kind = "github"', 'kind = "github"\nmerge_via = "pull-request"\npoll_seconds = 1')
    )
    rule = 'Required status check "tests" is expected.'
    fake.refuse_merges = rule  # GitHub shows the pull request "blocked" meanwhile
    held = "rules (required checks or reviews) are not met yet"
    puts_while_held: list[int] = []

    def lift_the_rule() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
            held in str(a.get("message")) for a in project_events("via", EventKind.ALERT)
        ):
            time.sleep(0.2)
        puts_while_held.append(sum(1 for r in fake.requests if r.method == "PUT"))
        fake.refuse_merges = None

    side = threading.Thread(target=lift_the_rule, daemon=True)
    side.start()
    result = czar("run", str(plan), "--json", timeout=240)
    side.join(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2

    by_head = {p.head: p for p in fake.pulls.values()}
    for task in ("a", "b"):
        pull = by_head[f"czar/{task}"]
        assert pull.merged and pull.merge_commit, task  # GitHub made the merge
        puts = [r for r in fake.requests if r.method == "PUT" and r.path.endswith(f"/pulls/{pull.number}/merge")]
        assert puts[-1].body["sha"] == pull.head_sha and puts[-1].status == 200  # pinned to the commit reviewed
    assert puts_while_held == [0]  # held by GitHub's rule: not asked to merge (nor merged and checked here)
    merged = {e["task"]: e["commit"] for e in project_events("via", EventKind.TASK_MERGED)}
    assert merged == {"a": by_head["czar/a"].merge_commit, "b": by_head["czar/b"].merge_commit}
    assert git(repo, "rev-parse", "czar/integration") == fake.tip("czar/integration") == merged["b"]
    # The omnibus, merged by GitHub into main there; the user's main here is left as it was.
    omnibus = by_head["czar/integration"]
    assert omnibus.merged and fake.tip("main") == omnibus.merge_commit
    assert git(repo, "rev-parse", "main") != fake.tip("main")


def test_where_github_requires_its_merge_queue_czar_queues_each_pull_request_and_follows_it_in(
    tmp_path: Path, github: tuple[Path, FakeGitHub]
) -> None:
    repo, fake = github
    plan = _plan(tmp_path, "queue", fake, [_reviewed("a", "approve ok"), _reviewed("b", "approve ok", deps=("a",))])
    plan.write_text(
        plan.read_text().replace('kind = "github"', 'kind = "github"\nmerge_via = "pull-request"\npoll_seconds = 1')
    )
    fake.merge_queue = True
    stop = threading.Event()

    def github_merge_queue() -> None:  # GitHub's queue runs its checks, then merges, on its own time
        while not stop.wait(0.7):
            fake.process_queue()

    side = threading.Thread(target=github_merge_queue, daemon=True)
    side.start()
    try:
        result = czar("run", str(plan), "--json", timeout=240)
    finally:
        stop.set()
        side.join(timeout=10)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2
    merged = {e["task"]: e["commit"] for e in project_events("queue", EventKind.TASK_MERGED)}
    for task in ("a", "b"):
        pull = fake.pull_of(f"czar/{task}")
        assert pull is not None and pull.merged and pull.merge_commit == merged[task], task
        assert f"Merge pull request #{pull.number} (merge queue)" in git(repo, "log", "-1", "--format=%s", merged[task])
    assert git(repo, "rev-parse", "czar/integration") == fake.tip("czar/integration") == merged["b"]
    assert not [a for a in project_events("queue", EventKind.ALERT) if "merge queue" in str(a["message"])]  # no trouble


def test_where_github_merges_only_branches_up_to_date_a_task_behind_brings_the_integration_branch_in(
    tmp_path: Path, github: tuple[Path, FakeGitHub]
) -> None:
    repo, fake = github
    # The agents bring the integration branch in at each start (a real one does when told to).
    catch_up = "run git merge -q czar/integration"
    tasks = [_reviewed("a", "approve ok", extra=catch_up), _reviewed("c", "approve ok", extra=catch_up)]
    plan = _plan(tmp_path, "uptodate", fake, tasks)
    plan.write_text(
        plan.read_text().replace('kind = "github"', 'kind = "github"\nmerge_via = "pull-request"\npoll_seconds = 1')
    )
    fake.up_to_date = True
    result = czar("run", str(plan), "--json", timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["tasks_merged"] == 2
    merged = {e["task"]: e["commit"] for e in project_events("uptodate", EventKind.TASK_MERGED)}
    failed = project_events("uptodate", EventKind.MERGE_FAILED)
    behind = [f for f in failed if "the forge merges only a branch that holds it" in str(f["evidence"])]
    assert behind and not any(f["charged"] for f in behind)  # sent back to bring it in, no round used
    first, second = sorted(merged, key=lambda t: git(repo, "rev-list", "--count", merged[t]))
    head = fake.pull_of(f"czar/{second}").head_sha  # type: ignore[union-attr]
    assert git(repo, "merge-base", "--is-ancestor", merged[first], head) == ""  # it held the first's merge
    assert not [a for a in project_events("uptodate", EventKind.ALERT) if "out of date" in str(a["message"])]
