"""A reviewer reads each verified commit before it may merge: the `czar` command, sim agents.

What a reviewer says is held to what it read: findings on lines of that commit, a verdict on
that commit; changes requested go back to the author's own session; a reviewer that ends with
no verdict is replaced, never taken for an approval.
"""

from __future__ import annotations

import json
from pathlib import Path

from czar.core.events import EventKind
from helpers import czar, make_repo, project_events, sim_task, write_plan

REVIEW = """[review]
agents = { sim = 1 }
max_review_rounds = 1
"""


def _task(tid: str, review: str, author_fix: str = "") -> str:
    files = {f"{tid}.py": "def f(x):\n    return x[0]\n"}
    entry = sim_task(tid, files=files)
    head, _, _ = entry.rpartition("```\n'''")
    fix = f"on review\n{author_fix}\n" if author_fix else ""
    return f"{head}{fix}```\n\n```czar-review\n{review}\n```\n'''\n"


def test_changes_requested_go_to_the_author_and_the_fixed_commit_is_approved_and_merged(
    tmp_path: Path, czar_home: Path
) -> None:
    make_repo(tmp_path / "repo")
    review = "\n".join(
        [
            "finding a.py 2 blocking an empty list raises IndexError in every caller",
            "request-changes handle the empty list",
            "on review",
            "approve the empty case is handled",
        ]
    )
    fix = "\n".join(
        [
            "write a.py <<END",
            "def f(x):",
            "    return x[0] if x else None",
            "END",
            "commit handle empty",
            "finish handled",
        ]
    )
    plan = write_plan(tmp_path, "reviewed", [_task("a", review, fix), _task("b", "approve fine")], workers=2)
    plan.write_text(plan.read_text().replace("[[tasks]]", REVIEW + "\n[[tasks]]", 1))

    result = czar("run", str(plan), "--json", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 2, summary
    assert summary["reviews"] == 3 and summary["changes_requested"] == 1, summary

    verdicts = project_events("reviewed", EventKind.REVIEW_VERDICT)
    on_a = [v for v in verdicts if v["task"] == "a"]
    assert [v["verdict"] for v in on_a] == ["request_changes", "approve"]
    assert on_a[0]["commit"] != on_a[1]["commit"]  # the second review read the fixed commit
    asked = project_events("reviewed", EventKind.REVIEW_CHANGES_REQUESTED)
    assert [a["task"] for a in asked] == ["a"]
    told = [e for e in project_events("reviewed", EventKind.WORKER_TOLD) if e["about"] == "review"]
    assert "a.py:2 [blocking] an empty list raises IndexError" in str(told[0]["text"])
    merged = {e["task"]: e["commit"] for e in project_events("reviewed", EventKind.TASK_MERGED)}
    assert set(merged) == {"a", "b"}

    pulls = json.loads(czar("prs", str(plan), "--json", check=True).stdout)
    number = next(p["number"] for p in pulls if p["task"] == "a")
    shown = json.loads(czar("pr", "show", str(number), str(plan), "--json", check=True).stdout)
    reviews = [h for h in shown["history"] if h["what"] == "review"]
    assert [r["verdict"] for r in reviews] == ["request_changes", "approve"]
    assert reviews[0]["findings"][0]["line"] == 2 and reviews[0]["reviewer"] == "r1 (sim)"
    assert shown["state"] == "merged"


def test_a_verdict_on_another_commit_or_a_finding_on_no_line_is_refused_and_never_approves(
    tmp_path: Path, czar_home: Path
) -> None:
    make_repo(tmp_path / "repo")
    review = "\n".join(
        [
            "finding a.py 99 blocking a line that is not there cannot be a finding",
            "finding nowhere.py 1 blocking a file that is not there cannot be either",
            "approve commit=0123456789abcdef0123456789abcdef01234567 looks fine",
        ]
    )
    plan = write_plan(tmp_path, "refused", [_task("a", review)], workers=1)
    plan.write_text(plan.read_text().replace("[[tasks]]", REVIEW + "timeout = 60\n\n[[tasks]]", 1))
    result = czar("run", str(plan), "--json", timeout=180)
    summary = json.loads(result.stdout)
    assert summary["tasks_merged"] == 0 and summary["tasks_failed"] == 1, summary
    refused = project_events("refused", EventKind.REVIEW_REFUSED)
    problems = " | ".join(str(r["problem"]) for r in refused)
    assert "no line 99" in problems and "nowhere.py is not a file" in problems and "not '0123456" in problems
    lost = project_events("refused", EventKind.REVIEW_LOST)
    assert len(lost) == 3  # each reviewer ended with no verdict taken: replaced, then the task failed
    assert not project_events("refused", EventKind.REVIEW_VERDICT)
