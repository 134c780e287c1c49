"""Reviews of tasks' commits (``czar.core.review``): one row per reviewer's go at one commit."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from czar.core.forge import Finding
from czar.core.review import ReviewState
from czar.errors import StoreError
from czar.store.columns import rows_of
from czar.store.records import Review
from czar.store.schema import reviews


class Reviews:
    @staticmethod
    def new_review(conn: Connection, *, task_id: str, worker_id: str, attempt_id: int, agent: str, commit: str) -> int:
        row = conn.execute(
            insert(reviews).values(
                task_id=task_id,
                worker_id=worker_id,
                attempt_id=attempt_id,
                agent=agent,
                commit=commit,
                state=ReviewState.OPEN.value,
                started_at=time.time(),
            )
        ).inserted_primary_key
        assert row is not None
        return int(row[0])

    @staticmethod
    def review(conn: Connection, review_id: int) -> Review:
        row = conn.execute(select(reviews).where(reviews.c.id == review_id)).first()
        if row is None:
            raise StoreError(f"no review {review_id}")
        return Review.from_row(row)

    @staticmethod
    def reviewing(conn: Connection, worker_id: str) -> Review | None:
        """The review the worker has open, if any."""
        row = conn.execute(
            select(reviews)
            .where(reviews.c.worker_id == worker_id, reviews.c.state == ReviewState.OPEN.value)
            .order_by(reviews.c.id.desc())
        ).first()
        return Review.from_row(row) if row is not None else None

    @staticmethod
    def reviews_of(conn: Connection, task_id: str) -> list[Review]:
        rows = conn.execute(select(reviews).where(reviews.c.task_id == task_id).order_by(reviews.c.id)).all()
        return [Review.from_row(r) for r in rows]

    @staticmethod
    def approved_commit(conn: Connection, task_id: str) -> str | None:
        """The commit the task's last review it acted on approved (None: none approved yet)."""
        row = conn.execute(
            select(reviews.c.commit)
            .where(reviews.c.task_id == task_id, reviews.c.state == ReviewState.APPROVED.value, reviews.c.applied == 1)
            .order_by(reviews.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        return str(row) if row is not None else None

    @staticmethod
    def pending_reviews(conn: Connection) -> dict[str, ReviewState]:
        """Each task's last review its task has not acted on yet (open, or with a verdict)."""
        rows = conn.execute(
            select(reviews.c.task_id, reviews.c.state).where(reviews.c.applied == 0).order_by(reviews.c.id)
        )
        return {str(task): ReviewState(state) for task, state in rows}

    @staticmethod
    def all_reviews(conn: Connection) -> list[Review]:
        """Every review of the run, oldest first."""
        return [Review.from_row(r) for r in rows_of(conn.execute(select(reviews).order_by(reviews.c.id)))]

    @staticmethod
    def reviews_in(conn: Connection, states: tuple[ReviewState, ...]) -> list[Review]:
        rows = rows_of(
            conn.execute(select(reviews).where(reviews.c.state.in_([s.value for s in states])).order_by(reviews.c.id))
        )
        return [Review.from_row(r) for r in rows]

    @staticmethod
    def unposted_reviews(conn: Connection) -> list[Review]:
        """Reviews with a verdict that are not on their pull request yet."""
        done = (ReviewState.APPROVED.value, ReviewState.CHANGES_REQUESTED.value)
        rows = rows_of(
            conn.execute(select(reviews).where(reviews.c.state.in_(done), reviews.c.posted == 0).order_by(reviews.c.id))
        )
        return [Review.from_row(r) for r in rows]

    @staticmethod
    def review_counts(conn: Connection) -> dict[str, int]:
        """Reviews by state, over the run."""
        rows = conn.execute(select(reviews.c.state, func.count()).group_by(reviews.c.state)).all()
        return {str(state): int(n) for state, n in rows}

    @staticmethod
    def add_finding(conn: Connection, review_id: int, finding: Finding) -> int:
        """Adds the finding to the open review; returns how many it has now."""
        row = conn.execute(select(reviews.c.findings).where(reviews.c.id == review_id)).scalar_one()
        findings = [*json.loads(row), asdict(finding)]
        conn.execute(update(reviews).where(reviews.c.id == review_id).values(findings=json.dumps(findings)))
        return len(findings)

    @staticmethod
    def set_review(conn: Connection, review_id: int, **fields: Any) -> None:
        if "state" in fields:
            fields["state"] = ReviewState(fields["state"]).value
            if fields["state"] != ReviewState.OPEN.value:
                fields.setdefault("finished_at", time.time())
            if fields["state"] == ReviewState.LOST.value:
                fields.setdefault("applied", 1)  # nothing to act on: another reviewer reads it
        conn.execute(update(reviews).where(reviews.c.id == review_id).values(**fields))
