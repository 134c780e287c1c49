"""The local forge's pull requests and their history (``czar.forge.local`` is the forge)."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from czar.core.forge import FileStat, PullState
from czar.errors import StoreError
from czar.store.columns import rows_of
from czar.store.records import Pull, PullEntry, pull_state
from czar.store.schema import pull_history, pulls


class Pulls:
    @staticmethod
    def put_pull(
        conn: Connection,
        *,
        task_id: str,
        head_branch: str,
        base_branch: str,
        head_commit: str,
        title: str,
        body: str,
        files: Sequence[FileStat],
        rounds: int,
        cost_usd: float,
    ) -> tuple[Pull, bool]:
        """The task's pull request at this head: opened, or updated (and opened again if it was
        closed; a merged one is left as it merged). Returns it, and whether anything changed (a
        new head, text or figures)."""
        now = time.time()
        values: dict[str, Any] = {
            "head_branch": head_branch,
            "base_branch": base_branch,
            "head_commit": head_commit,
            "title": title,
            "body": body,
            "files": json.dumps([[f.path, f.added, f.removed] for f in files]),
            "rounds": rounds,
            "cost_usd": cost_usd,
        }
        row = conn.execute(select(pulls).where(pulls.c.task_id == task_id)).first()
        if row is None:
            number = conn.execute(
                insert(pulls).values(
                    task_id=task_id, state=PullState.OPEN.value, created_at=now, updated_at=now, **values
                )
            ).inserted_primary_key
            assert number is not None
            Pulls.add_pull_entry(conn, int(number[0]), "opened", head_commit, title=title)
            return Pulls.pull(conn, int(number[0])), True
        before = Pull.from_row(row)
        if before.state is PullState.MERGED:
            return before, False  # what merged stays as it merged (a late look changes nothing)
        changed = {k: v for k, v in values.items() if getattr(row, k) != v}
        if not changed and before.state is PullState.OPEN:
            return before, False
        conn.execute(
            update(pulls)
            .where(pulls.c.id == before.id)
            .values(state=PullState.OPEN.value, merged_as=None, updated_at=now, **values)
        )
        detail: dict[str, Any] = {"fields": sorted(changed)}
        if head_commit != before.head_commit:
            detail["from"] = before.head_commit
        if before.state is not PullState.OPEN:
            detail["reopened"] = before.state.value
        Pulls.add_pull_entry(conn, before.id, "updated", head_commit, **detail)
        return Pulls.pull(conn, before.id), True

    @staticmethod
    def set_pull_state(conn: Connection, number: int, state: PullState, merged_as: str | None = None) -> None:
        conn.execute(
            update(pulls)
            .where(pulls.c.id == number)
            .values(state=state.value, merged_as=merged_as, updated_at=time.time())
        )

    @staticmethod
    def set_pull_remote(conn: Connection, number: int, *, remote_number: int, url: str, synced: str) -> None:
        """Where the pull request is on a remote forge, and what czar last sent there."""
        conn.execute(
            update(pulls).where(pulls.c.id == number).values(remote_number=remote_number, url=url, synced=synced)
        )

    @staticmethod
    def unsync_pull(conn: Connection, number: int, mark: str | None = None) -> None:
        """The remote forge may not show what czar has for this pull request: send it again
        (``mark``: what the forge's side wants to remember meanwhile, instead of a digest)."""
        conn.execute(update(pulls).where(pulls.c.id == number).values(synced=mark))

    @staticmethod
    def add_pull_entry(conn: Connection, number: int, kind: str, commit: str | None, **detail: Any) -> None:
        conn.execute(
            insert(pull_history).values(
                pull_id=number, ts=time.time(), kind=kind, commit=commit, detail=json.dumps(detail)
            )
        )

    @staticmethod
    def pull(conn: Connection, number: int) -> Pull:
        row = conn.execute(select(pulls).where(pulls.c.id == number)).first()
        if row is None:
            raise StoreError(f"no pull request #{number}")
        return Pull.from_row(row)

    @staticmethod
    def pull_of_task(conn: Connection, task_id: str) -> Pull | None:
        row = conn.execute(select(pulls).where(pulls.c.task_id == task_id)).first()
        return None if row is None else Pull.from_row(row)

    @staticmethod
    def pull_states(conn: Connection) -> dict[str, PullState]:
        """Each task's pull request's state (of the tasks that have one)."""
        rows = conn.execute(select(pulls.c.task_id, pulls.c.state))
        return {str(task): pull_state(state) for task, state in rows}

    @staticmethod
    def pulls_of_tasks(conn: Connection, task_ids: Sequence[str]) -> list[Pull]:
        """The pull requests of these tasks (those that have one)."""
        if not task_ids:
            return []
        query = select(pulls).where(pulls.c.task_id.in_(list(task_ids))).order_by(pulls.c.id)
        return [Pull.from_row(r) for r in rows_of(conn.execute(query))]

    @staticmethod
    def all_pulls(conn: Connection) -> list[Pull]:
        return [Pull.from_row(r) for r in rows_of(conn.execute(select(pulls).order_by(pulls.c.id)))]

    @staticmethod
    def pull_changes(conn: Connection, after_entry: int, since: float) -> tuple[set[int], int]:
        """The pull requests changed since: with a history entry past ``after_entry``, or updated
        at ``since`` or later; and the newest history entry's id."""
        newest = int(conn.execute(select(func.max(pull_history.c.id))).scalar() or 0)
        touched = {
            int(r[0]) for r in conn.execute(select(pull_history.c.pull_id).where(pull_history.c.id > after_entry))
        }
        touched |= {int(r[0]) for r in conn.execute(select(pulls.c.id).where(pulls.c.updated_at >= since))}
        return touched, newest

    @staticmethod
    def pulls_named(conn: Connection, numbers: Collection[int]) -> list[Pull]:
        query = select(pulls).where(pulls.c.id.in_(list(numbers))).order_by(pulls.c.id)
        return [Pull.from_row(r) for r in rows_of(conn.execute(query))]

    @staticmethod
    def all_pull_entries(conn: Connection, only: Collection[int] | None = None) -> dict[int, list[PullEntry]]:
        """Every pull request's history (of the pull requests ``only`` names, if given), oldest
        first, in one query."""
        out: dict[int, list[PullEntry]] = {}
        query = select(pull_history).order_by(pull_history.c.id)
        if only is not None:
            query = query.where(pull_history.c.pull_id.in_(list(only)))
        for r in conn.execute(query):
            entry = PullEntry.from_row(r)
            out.setdefault(r.pull_id, []).append(entry)
        return out

    @staticmethod
    def pull_entries(conn: Connection, number: int, kind: str | None = None) -> list[PullEntry]:
        query = select(pull_history).where(pull_history.c.pull_id == number)
        if kind is not None:
            query = query.where(pull_history.c.kind == kind)
        return [PullEntry.from_row(r) for r in rows_of(conn.execute(query.order_by(pull_history.c.id)))]
