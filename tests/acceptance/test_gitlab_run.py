"""A run whose merge requests live on GitLab (``[forge] kind = "gitlab"``): sim agents and a sim
reviewer, real git and tmux, a bare repository on disk as the remote, and a small GitLab
(``czar.testing.gitlab``) over it."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from czar.core.events import EventKind
from czar.testing.gitlab import FakeGitLab
from helpers import czar, git, project_events, repo_with_remote, write_plan


def _task(tid: str, deps: tuple[str, ...] = ()) -> str:
    script = "\n".join(
        [
            f"write {tid}.txt <<END",
            "one",
            "END",
            f"commit add {tid}",
            f"finish {tid} done",
            "on feedback",
            f"write {tid}.txt <<END",
            "one",
            "two",
            "END",
            "commit fix the pipeline",
            "finish fixed",
        ]
    )
    review = "sleep 3\napprove fine\non every review\napprove fine"
    return (
        f'[[tasks]]\nid = "{tid}"\ntitle = "task {tid}"\nscope = ["{tid}.txt"]\ndepends_on = {json.dumps(list(deps))}\n'
        f"body = '''\nDo {tid}.\n\n```czar-sim\n{script}\n```\n\n```czar-review\n{review}\n```\n'''\n"
    )


def test_merge_requests_on_gitlab_a_failed_pipeline_goes_back_and_gitlab_merges_them_pinned(
    tmp_path: Path, czar_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, bare = repo_with_remote(tmp_path)
    fake = FakeGitLab(bare)
    fake.start()
    monkeypatch.setenv("GITLAB_TOKEN", fake.token)
    try:
        plan = write_plan(
            tmp_path,
            "gl",
            [_task("a"), _task("b", ("a",))],
            project_extra='remote = "origin"\npush = true\nland = "merge"\n',
        )
        forge = (
            "[review]\nagents = { sim = 1 }\nmax_review_rounds = 2\n\n"
            f'[forge]\nkind = "gitlab"\napi_url = "{fake.url}"\n'
            f'repository = "{fake.path}"\nmerge_via = "pull-request"\nwait_for_ci = true\npoll_seconds = 1\n\n'
        )
        plan.write_text(plan.read_text().replace("[[tasks]]", forge + "[[tasks]]", 1))
        heads: list[str] = []

        def pipelines() -> None:
            """GitLab CI: the first commit of a fails its tests; every other commit passes."""
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                for mr in list(fake.mrs.values()):
                    if mr.sha and mr.sha not in fake.pipelines:
                        fails = mr.source == "czar/a" and not heads
                        status = "failed" if fails else "success"
                        log = "$ pytest\nE   AssertionError: a.txt needs a second line\n"
                        fake.set_pipeline(mr.sha, [("test", "pytest", status)], {"pytest": log})
                        heads.append(mr.sha)
                time.sleep(0.1)

        threading.Thread(target=pipelines, daemon=True).start()
        result = czar("run", str(plan), "--json", timeout=240)
        assert result.returncode == 0, result.stdout + result.stderr
        assert json.loads(result.stdout)["tasks_merged"] == 2

        by_source = {m.source: m for m in fake.mrs.values()}
        [failed] = project_events("gl", EventKind.FORGE_CI_FAILED)
        assert failed["task"] == "a" and failed["checks"][0]["name"] == "test/pytest"
        told = [str(e["text"]) for e in project_events("gl", EventKind.WORKER_TOLD) if e["about"] == "feedback"]
        assert any("Failing job: test/pytest" in t and "a.txt needs a second line" in t for t in told)
        merged = {e["task"]: e["commit"] for e in project_events("gl", EventKind.TASK_MERGED)}
        for task in ("a", "b"):
            mr = by_source[f"czar/{task}"]
            assert mr.state == "merged" and mr.merge_commit == merged[task], task  # GitLab merged it
            assert any("czar review" in n["body"] for n in mr.notes)  # the verdict, as a note
        assert git(repo, "show", f"{merged['a']}:a.txt") == "one\ntwo"  # the fixed commit merged
        omnibus = by_source["czar/integration"]
        assert omnibus.target == "main" and omnibus.state == "merged" and fake.tip("main") == omnibus.merge_commit
        assert fake.violations == []  # every request as GitLab's documentation describes it
    finally:
        fake.stop()
