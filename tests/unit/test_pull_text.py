"""A pull request's body: the task's text fenced so that nothing in it can close the fence, and
the figures added up; diff sizes from a diff's hunks."""

from __future__ import annotations

from czar.core import hunks
from czar.core.forge import CheckRun, FileStat, describe, file_stats


def test_the_tasks_text_cannot_close_its_fence() -> None:
    text = "Do it.\n~~~~\n# not a heading of the body\n~~~~~~\n"
    body = describe(
        task="t",
        title="T",
        text=text,
        summary=None,
        checks=(CheckRun("pytest -q", False, timed_out=True),),
        log_tail="~~~~~~~~\nFAILED",
        files=(FileStat("a.py", 3, 1), FileStat("logo.png", -1, -1)),
        rounds=2,
        cost_usd=0.125,
    )
    fence = "~" * 9  # one more than the longest run of tildes
    assert body.count(f"\n{fence}\n") == 6 and "(nothing said)" in body
    assert "- `pytest -q`: timed out" in body
    assert "## Files: 2 changed, +3 -1" in body and "Rounds: 2. Cost: $0.1250." in body


def test_sizes_come_from_the_hunks() -> None:
    diff = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -2,2 +2,3 @@\n-a\n-b\n+c\n+d\n+e\n@@ -9 +10,0 @@\n-f\n"
    assert file_stats(hunks.parse(diff)) == (FileStat("x.py", 3, 3),)
