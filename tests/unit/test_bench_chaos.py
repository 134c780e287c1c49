"""The chaos benchmark's plans (``czar bench chaos``): each one a valid plan of the shape it says,
with a reviewer and stacked chains when asked; and how it tells a merge of unreviewed work."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from czar.bench.chaos import (
    FORGES,
    READY_CHECK,
    REPOSITORY,
    RESTACK_CHECK,
    merged_tips,
    not_as_reviewed,
    plan_text,
    run,
    why_failed,
)
from czar.core.events import EventKind
from czar.errors import CzarError
from czar.plan.model import PlanFile
from czar.runtime import proc
from czar.store.events import Event


def _plan(kind: str = "sim", **flags: bool) -> PlanFile:
    url = None if kind == "sim" else "http://127.0.0.1:8999"
    return PlanFile.model_validate(tomllib.loads(plan_text(kind, 12, 3, url, **flags)))


def test_the_plain_plan_has_every_other_task_after_the_one_three_before_and_no_reviewer() -> None:
    plan = _plan()
    deps = {t.id: list(t.depends_on) for t in plan.tasks}
    assert deps["t3"] == ["t0"] and deps["t4"] == [] and deps["t11"] == ["t8"]
    assert not plan.review.agents and not plan.project.stack
    assert plan.project.accept == ["test -f README.md"]  # checks the kills reach


@pytest.mark.parametrize("kind", ["sim", "codex"])
def test_stacked_the_tasks_are_chains_of_three_each_reviewed_by_its_own_kind(kind: str) -> None:
    plan = _plan(kind, review=True, stack=True)
    deps = {t.id: list(t.depends_on) for t in plan.tasks}
    assert [deps[f"t{i}"] for i in range(6)] == [[], ["t0"], ["t1"], [], ["t3"], ["t4"]]
    assert plan.project.stack and plan.review.agents == {kind: 1} and plan.review.max_review_rounds == 2
    bodies = {t.id: t.body or "" for t in plan.tasks}
    if kind == "sim":  # every third task: changes asked once, and made
        assert "request-changes" in bodies["t0"] and "on review" in bodies["t0"]
        assert "request-changes" not in bodies["t1"]
    else:  # the scripted model's reviewer approves
        assert all("```czar-model-review\napprove" in body for body in bodies.values())


def test_stacked_simulated_chains_reach_restacking_and_their_checks_pass_only_the_second_version() -> None:
    plan = _plan(review=True, stack=True)
    tasks = {t.id: t for t in plan.tasks}
    assert plan.project.max_rounds >= 4  # a head's verification, its review's, its broken merge, the next
    assert all(t.accept == [READY_CHECK] for t in plan.tasks)  # the head's first version passes its own
    assert plan.project.accept == [READY_CHECK, RESTACK_CHECK]  # and breaks the checks after its merge
    assert "echo first" in (tasks["t0"].body or "") and "on feedback" in (tasks["t0"].body or "")
    dependent = tasks["t1"].body or ""
    assert "on restack\n" in dependent and "git merge --no-edit czar-stack/t1" in dependent
    # The scripted model's chains stack but are not sent back: its agents are not told to restack.
    model = _plan("codex", review=True, stack=True)
    assert model.project.accept == [READY_CHECK] and "on restack" not in "".join(t.body or "" for t in model.tasks)


@pytest.mark.parametrize("version", ["first", "first\nreviewed\n", "good\n"])
def test_the_check_after_a_merge_refuses_a_heads_first_version_only(tmp_path: Path, version: str) -> None:
    (tmp_path / "t0.txt").write_text(version, encoding="utf-8")
    (tmp_path / "t1.txt").write_text("t1\n", encoding="utf-8")
    ran = proc.run(shlex.split(RESTACK_CHECK), cwd=tmp_path)
    assert ran.ok is (version == "good\n")


@pytest.mark.parametrize("how", FORGES)
def test_on_a_forge_the_plan_pushes_to_the_remote_and_names_the_forge_it_runs(how: str) -> None:
    text = plan_text("sim", 6, 2, None, review=True, forge=(how, "http://127.0.0.1:8123"))
    plan = PlanFile.model_validate(tomllib.loads(text))
    assert plan.project.remote == "origin" and plan.project.push
    kind = how.split("-")[0]
    assert plan.forge is not None and plan.forge.kind == kind and plan.forge.api_url == "http://127.0.0.1:8123"
    assert plan.forge.repository == REPOSITORY[kind]
    assert (plan.forge.merge_via == "pull-request") is how.endswith("-merges")
    assert "[forge]" not in plan_text("sim", 6, 2, None)  # none unless asked


def test_an_unknown_forge_is_one_line_before_anything_starts(tmp_path: Path) -> None:
    with pytest.raises(CzarError, match="no forge 'bitbucket' for the chaos benchmark; choose one of: github"):
        run(forge="bitbucket", folder=tmp_path / "c")
    assert not (tmp_path / "c").exists()


def _event(kind: EventKind, task: str, **payload: Any) -> Event:
    return Event(0, 0.0, kind, "r1", task, "r1", 1, payload)


def test_a_merge_counts_as_reviewed_only_when_it_brings_in_the_last_approved_commit() -> None:
    log = "\n".join(
        [
            "m2 c1\tczar: merge task c: Write c.txt",  # (m3's parents)
            "m1 b2\tMerge pull request #42 from acme/czar/b",  # (GitHub merged it: merge_via = "pull-request")
            "m0 f1\tczar: merge f: Write f.txt",  # (GitLab merged it, as czar asked it to say)
            "base a2\tczar: merge task a: Write a.txt",
            "root\tthe first commit",
        ]
    )
    merged = merged_tips(log)
    assert merged == {"a": "a2", "b": "b2", "c": "c1", "f": "f1"}
    events = [
        _event(EventKind.REVIEW_VERDICT, "a", verdict="request_changes", commit="a1"),
        _event(EventKind.REVIEW_VERDICT, "a", verdict="approve", commit="a2"),
        # Recorded at the batch's tip (merged before an interruption): its merge commit says what.
        _event(EventKind.TASK_MERGED, "a", commit="m3"),
        _event(EventKind.REVIEW_VERDICT, "b", verdict="approve", commit="b1"),
        _event(EventKind.TASK_MERGED, "b", commit="m2"),  # its branch moved after the review
        _event(EventKind.TASK_MERGED, "c", commit="m3"),  # never reviewed
        _event(EventKind.REVIEW_VERDICT, "d", verdict="approve", commit="d1"),
        _event(EventKind.TASK_MERGED, "d", commit="d1"),  # no merge commit: fast-forwarded to it
        _event(EventKind.REVIEW_VERDICT, "e", verdict="approve", commit="e1"),
        _event(EventKind.REVIEW_VERDICT, "e", verdict="request_changes", commit="e2"),
        _event(EventKind.TASK_MERGED, "e", commit="e2"),  # its last verdict was not an approval
    ]
    assert not_as_reviewed(events, merged) == ["b", "c", "e"]


def test_why_tasks_failed_names_each_ones_own_reason_without_its_agents_last_words() -> None:
    def failed(task: str, reason: str) -> Event:
        return _event(EventKind.TASK_STATE, task, new="failed", old="running", reason=reason)

    events = [
        _event(EventKind.TASK_STATE, "t0", new="running", old="assigned", reason="acknowledged"),
        failed("t0", "agent_exited: the agent of w1 exited before finishing t0; it said last: x; y; no attempts left"),
        failed("t1", "dependency t0 failed or was cancelled"),
        failed("t3", "crashed: the worker host of w2 is gone; no attempts left"),
    ]
    assert why_failed(events) == (
        "t0: agent_exited: the agent of w1 exited before finishing t0; no attempts left; "
        "t3: crashed: the worker host of w2 is gone; no attempts left"
    )
    assert why_failed(events[:1]) == ""
