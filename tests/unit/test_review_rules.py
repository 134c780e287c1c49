"""What a reviewer may answer, what follows, who reviews what, and what a reviewer may run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from czar.agents.sim_script import extract, parse
from czar.core import reviewer_policy
from czar.core.decide import Assign, Review, Reviewed, Snapshot, TaskView, WorkerView, decide
from czar.core.forge import Finding, Verdict
from czar.core.policy import Request
from czar.core.review import (
    Approved,
    ChangesRequested,
    OutOfRounds,
    ReviewState,
    after_review,
    finding_problem,
    verdict_of,
    verdict_problem,
)
from czar.core.states import TaskState, WorkerRole, WorkerState
from czar.core.verdicts import Decision

BLOCKING = Finding("a.py", 2, "blocking", "an empty list raises IndexError in every caller")
NOTE = Finding("a.py", 1, "note", "")


# -- answers -------------------------------------------------------------------------------


def test_a_finding_names_a_line_of_the_commit_and_a_blocking_one_its_failure() -> None:
    assert finding_problem(BLOCKING, lines=2) is None
    assert finding_problem(NOTE, lines=2) is None  # a note needs no failure
    assert "no line 3" in str(finding_problem(Finding("a.py", 3, "note", ""), lines=2))
    assert "no line 0" in str(finding_problem(Finding("a.py", 0, "note", ""), lines=2))
    assert "not a file" in str(finding_problem(BLOCKING, lines=None))
    assert "says the failure" in str(finding_problem(Finding("a.py", 1, "blocking", "bad"), lines=2))
    assert "severity is" in str(finding_problem(Finding("a.py", 1, "nit", "x"), lines=2))


def test_approve_allows_no_blocking_finding_and_request_changes_needs_one() -> None:
    assert verdict_problem(Verdict.APPROVE, ()) is None  # zero findings is a valid answer
    assert verdict_problem(Verdict.APPROVE, (NOTE,)) is None
    assert "blocking" in str(verdict_problem(Verdict.APPROVE, (BLOCKING,)))
    assert "blocking" in str(verdict_problem(Verdict.REQUEST_CHANGES, (NOTE,)))
    assert verdict_problem(Verdict.REQUEST_CHANGES, (BLOCKING, NOTE)) is None


@pytest.mark.parametrize(
    ("said", "verdict"),
    [
        ("approve", Verdict.APPROVE),
        ("request-changes", Verdict.REQUEST_CHANGES),
        ("Request changes", Verdict.REQUEST_CHANGES),
    ],
)
def test_a_verdict_is_read_as_people_and_agents_write_it(said: str, verdict: Verdict) -> None:
    assert verdict_of(said) is verdict


def test_anything_else_is_no_verdict() -> None:
    assert verdict_of("lgtm") is None and verdict_of("") is None


@given(st.integers(0, 10), st.integers(0, 10))
def test_changes_go_back_at_most_max_review_rounds_times(before: int, limit: int) -> None:
    assert after_review(Verdict.APPROVE, before, limit) == Approved()
    out = after_review(Verdict.REQUEST_CHANGES, before, limit)
    assert out == (OutOfRounds(before + 1) if before + 1 > limit else ChangesRequested(before + 1))


# -- who reviews what ------------------------------------------------------------------------


def _snap(*, review: ReviewState | None = None, reviewers: dict[str, str], author: str = "claude") -> Snapshot:
    tasks = {
        "t": TaskView("t", TaskState.REVIEWING, (), (), 0, 0, author, worker="w1", review=review),
        "u": TaskView("u", TaskState.READY, (), (), 0, 1, "*"),
    }
    workers = {"w1": WorkerView("w1", author, WorkerState.WORKING, task="t")}
    for wid, kind in reviewers.items():
        workers[wid] = WorkerView(wid, kind, WorkerState.IDLE, role=WorkerRole.REVIEWER)
    return Snapshot(tasks=tasks, workers=workers)


def test_a_task_waiting_for_review_goes_to_a_reviewer_of_another_kind_first() -> None:
    out = decide(_snap(reviewers={"r1": "claude", "r2": "codex"}))
    assert [o for o in out if isinstance(o, Review)] == [Review("t", "r2")]
    # No reviewer of another kind free: any reviewer; prefer_other off: the first.
    assert [o for o in decide(_snap(reviewers={"r1": "claude"})) if isinstance(o, Review)] == [Review("t", "r1")]


def test_a_reviewer_whose_review_of_the_task_was_lost_is_given_it_last() -> None:
    """Its agent crashed or answered nothing on this task (a diff too big for its model, say): the
    same reviewer again would likely end the same, and three lost reviews fail the task."""
    snap = _snap(reviewers={"r1": "claude", "r2": "codex"})
    lost = replace(snap, lost_with={"t": frozenset({"r2"})})
    assert [o for o in decide(lost) if isinstance(o, Review)] == [Review("t", "r1")]  # before another kind
    everyone = replace(snap, lost_with={"t": frozenset({"r1", "r2"})})
    assert [o for o in decide(everyone) if isinstance(o, Review)] == [Review("t", "r2")]  # then as ever
    elsewhere = replace(snap, lost_with={"u": frozenset({"r2"})})
    assert [o for o in decide(elsewhere) if isinstance(o, Review)] == [Review("t", "r2")]  # its own only


def test_reviews_queue_by_priority_then_the_longest_chain_waiting_then_the_plans_order() -> None:
    # One reviewer, four tasks handed in at once (the demo's first level): the one that most work
    # waits on is read first, not the first in the plan; a task of higher priority before both.
    def waiting(tid: str, order: int, rank: float, priority: int = 0) -> TaskView:
        return TaskView(tid, TaskState.REVIEWING, (), (), priority, order, "sim", worker="w1", rank=rank)

    def first_review(*tasks: TaskView) -> str:
        snap = Snapshot(
            tasks={t.id: t for t in tasks},
            workers={
                "w1": WorkerView("w1", "sim", WorkerState.IDLE),
                "r1": WorkerView("r1", "sim", WorkerState.IDLE, role=WorkerRole.REVIEWER),
            },
        )
        (review,) = [o for o in decide(snap) if isinstance(o, Review)]
        return review.task

    side, critical = waiting("sentences", 1, rank=5.0), waiting("tokenize", 3, rank=6.0)
    assert first_review(side, critical) == "tokenize"
    assert first_review(side, critical, waiting("hotfix", 9, rank=1.0, priority=1)) == "hotfix"
    assert first_review(side, waiting("stopwords", 2, rank=5.0)) == "sentences"  # the same chain: the plan's order


def test_a_reviewer_takes_no_task_and_an_author_no_review() -> None:
    out = decide(_snap(reviewers={"r1": "codex"}))
    assert not [o for o in out if isinstance(o, Assign)]  # the ready task waits for an author
    snap = _snap(reviewers={})
    assert not [o for o in decide(snap) if isinstance(o, Review)]


@pytest.mark.parametrize("state", [ReviewState.OPEN])
def test_a_task_being_reviewed_gets_no_second_reviewer(state: ReviewState) -> None:
    assert not [o for o in decide(_snap(review=state, reviewers={"r1": "codex"})) if isinstance(o, Review)]


@pytest.mark.parametrize("state", [ReviewState.APPROVED, ReviewState.CHANGES_REQUESTED])
def test_a_verdict_not_acted_on_is_acted_on(state: ReviewState) -> None:
    out = decide(_snap(review=state, reviewers={"r1": "codex"}))
    assert Reviewed("t") in out and not [o for o in out if isinstance(o, Review)]


# -- what a reviewer may run ---------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "git diff abc def | head -50",
        "git log --oneline -5",
        "cat a.py && grep -rn foo src 2>/dev/null",
        "czar verdict approve --commit abcdef1",
        "git show HEAD:a.py",
    ],
)
def test_a_reviewer_reads(command: str) -> None:
    assert reviewer_policy.decide(Request("Bash", command)).decision is Decision.ALLOW


@pytest.mark.parametrize(
    ("tool", "target"),
    [
        ("Bash", "python -m pytest"),  # running the project's code
        ("Bash", "git commit -am x"),
        ("Bash", "git -c core.pager=sh log"),
        ("Bash", "cat a.py > b.py"),
        ("Bash", "echo $(rm -rf /)"),
        ("Bash", "$CMD"),
        ("Bash", "czar done finished"),
        # Readers whose options or environment run a program or write a file:
        ("Bash", "GIT_EXTERNAL_DIFF=./evil.sh git diff HEAD~1"),
        ("Bash", "LESSOPEN='|sh %s' less x"),
        ("Bash", "rg --pre ./evil.sh foo"),
        ("Bash", "git grep -O./evil.sh foo"),
        ("Bash", "git grep --open-files-in-pager=./evil.sh foo"),
        ("Bash", "git diff --ext-diff"),
        ("Bash", "git log --textconv -p"),
        ("Bash", "git diff --output=/tmp/x"),
        ("Bash", "sort -o /tmp/x a"),
        ("Bash", "uniq a /tmp/b"),
        ("Bash", "tree -o /tmp/t"),
        ("Edit", "a.py"),
        ("Write", "/tmp/x"),
        ("WebFetch", "https://example.com"),
    ],
)
def test_a_reviewer_changes_nothing_and_runs_nothing(tool: str, target: str) -> None:
    verdict = reviewer_policy.decide(Request(tool, target))
    assert verdict.decision is Decision.DENY, verdict


def test_read_tools_and_czars_own_are_a_reviewers() -> None:
    for tool in ("Read", "Grep", "mcp__czar__finding", "mcp__czar__verdict"):
        assert reviewer_policy.decide(Request(tool, "a.py")).decision is Decision.ALLOW


# -- the sim's review script -----------------------------------------------------------------


def test_a_review_script_lives_in_its_own_block_beside_the_authors() -> None:
    review = "finding a.py 2 blocking it breaks\nrequest-changes fix it\non review\napprove\n"
    body = f"Do it.\n\n```czar-sim\nfinish done\n```\n\n```czar-review\n{review}```\n"
    assert extract(body) == "finish done\n"
    script = parse(str(extract(body, review=True)))
    assert [s.verb for s in script.main] == ["finding", "request-changes"]
    assert [s.verb for s in script.sections["review"][0]] == ["approve"]


# -- the plan --------------------------------------------------------------------------------


def test_the_plans_reviewers_are_workers_r1_and_on_and_aider_cannot_review(tmp_path: Path) -> None:
    import subprocess

    from czar.errors import PlanError
    from czar.plan.load import load_plan

    subprocess.run(["git", "init", "-q", "-b", "main", str(tmp_path / "repo")], check=True)
    plan = tmp_path / "czar.toml"
    body = '[project]\nname = "p"\nrepo = "repo"\n[workers]\ncount = 2\n{review}\n[[tasks]]\nid = "a"\nbody = "x"\n'
    plan.write_text(body.format(review="[review]\nagents = { sim = 1, claude = 1 }\n"))
    loaded = load_plan(plan)
    assert loaded.reviewers == {"r1": "sim", "r2": "claude"}
    assert loaded.worker_kinds == {"w1": "sim", "w2": "sim", "r1": "sim", "r2": "claude"}
    plan.write_text(body.format(review=""))
    assert load_plan(plan).reviewers == {} and not load_plan(plan).review.enabled
    plan.write_text(body.format(review="[review]\nagents = { aider = 1 }\n"))
    with pytest.raises(PlanError, match="aider cannot review"):
        load_plan(plan)
