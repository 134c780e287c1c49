"""How ``czar bench review`` scores a reviewer: a defect is found by a blocking finding near its
line in its file, with changes requested; precision and recall over the first verdicts."""

from __future__ import annotations

from typing import Any

from czar.bench.review import Case, corpus, plan_text, score
from czar.core.events import EventKind
from czar.plan.model import PlanFile
from czar.store.events import Event

BUG = Case("a", "a.py", "do a", "x = 1\n", defect_line=4, defect="breaks")
FINE = Case("b", "b.py", "do b", "y = 2\n")


def _event(kind: EventKind, task: str, ts: float = 0.0, **payload: Any) -> Event:
    return Event(0, ts, kind, "r1", task, "r1", 1, payload)


def test_a_blocking_finding_near_the_seeded_line_with_changes_requested_finds_it() -> None:
    events = [
        _event(EventKind.REVIEW_STARTED, "a", 1.0),
        _event(EventKind.REVIEW_FINDING, "a", path="a.py", line=6, severity="blocking"),
        _event(EventKind.REVIEW_VERDICT, "a", 3.0, verdict="request_changes"),
        _event(EventKind.REVIEW_STARTED, "b", 1.0),
        _event(EventKind.REVIEW_VERDICT, "b", 2.0, verdict="approve"),
    ]
    got = score([BUG, FINE], events)
    assert (got["precision"], got["recall"], got["reviewed"]) == (1.0, 1.0, 2)
    assert got["review_seconds_median"] == 1.5


def test_a_finding_far_from_the_defect_a_note_or_a_blocked_clean_task_counts_against_it() -> None:
    events = [
        _event(EventKind.REVIEW_FINDING, "a", path="a.py", line=9, severity="blocking"),
        _event(EventKind.REVIEW_FINDING, "a", path="a.py", line=4, severity="note"),
        _event(EventKind.REVIEW_VERDICT, "a", verdict="request_changes"),
        _event(EventKind.REVIEW_FINDING, "b", path="b.py", line=1, severity="blocking"),
        _event(EventKind.REVIEW_VERDICT, "b", verdict="request_changes"),
    ]
    got = score([BUG, FINE], events)
    assert (got["precision"], got["recall"]) == (0.0, 0.0)
    assert got["wrongly_blocked"] == ["a", "b"] and got["missed"] == []


def test_only_the_first_verdict_of_a_task_counts() -> None:
    events = [
        _event(EventKind.REVIEW_VERDICT, "a", verdict="approve"),
        _event(EventKind.REVIEW_FINDING, "a", path="a.py", line=4, severity="blocking"),
        _event(EventKind.REVIEW_VERDICT, "a", verdict="request_changes"),
    ]
    got = score([BUG], events)
    assert got["recall"] == 0.0 and got["missed"] == ["a"] and got["precision"] is None


def test_the_corpus_is_half_seeded_and_its_plan_reads() -> None:
    cases = corpus()
    assert len(cases) >= 8 and sum(c.defect_line is not None for c in cases) * 2 == len(cases)
    for case in cases:
        if case.defect_line is not None:
            assert 1 <= case.defect_line <= len(case.code.splitlines()), case.id
    import tomllib

    for reviewer in ("sim", "claude"):
        PlanFile.model_validate(tomllib.loads(plan_text(cases, reviewer)))
