"""A run whose pull requests live on GitHub (``[forge] kind = "github"``): sim agents and reviewers,
real git and tmux, a bare repository on disk as the remote, and a small GitHub
(``czar.testing.github``) over it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from czar.testing.github import FakeGitHub
from helpers import czar, git, make_repo, sim_task, write_plan

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
    repo = make_repo(tmp_path / "repo")
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "push", "-q", "origin", "main")
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

    shown = json.loads(czar("prs", str(plan), "--json", check=True).stdout)
    urls = {p["task"]: p.get("url") for p in shown}
    assert urls["a"] == f"https://github.example/acme/app/pull/{by_head['czar/a'].number}", shown
    assert git(repo, "rev-parse", "czar/integration") == fake.tip("czar/integration")
    # The token is the supervisor's alone: no agent sees it.
    # (Written where the agent's /tmp is: the sandbox gives it one of its own, under czar's home.)
    [written] = [p for p in tmp_path.rglob(seen.name)]
    assert b"CZAR_TASK=a" in written.read_bytes() and fake.token.encode() not in written.read_bytes()


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
