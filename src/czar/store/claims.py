"""Claims: the paths a task holds while it is in flight, so that no other task changes them.

A task's scope is claimed when it is assigned; its agent may claim more paths as it finds it
needs them, and is refused, with the holder named, when another task holds an overlapping one.
A task's claims go when it merges or leaves its worker.
"""

from __future__ import annotations

import time
from collections.abc import Collection

from sqlalchemy import Connection, delete, insert, select

from czar.core.claims import ClaimResult
from czar.core.scope import glob_problem, patterns_overlap
from czar.store.schema import claims

SCOPE = "scope"  # claimed on assignment, from the plan
EXTRA = "extra"  # claimed by the agent


MOST_CLAIMS = 64  # a task's claims, its scope included: each is compared with every other task's, and shown to all


class Claims:
    @staticmethod
    def claim_scope(conn: Connection, task_id: str, worker_id: str, scope: tuple[str, ...]) -> None:
        """Hold a newly assigned task's scope (and nothing it held before)."""
        conn.execute(delete(claims).where(claims.c.task_id == task_id))
        now = time.time()
        for pattern in scope:
            conn.execute(
                insert(claims).values(
                    task_id=task_id, worker_id=worker_id, pattern=pattern, origin=SCOPE, created_at=now
                )
            )

    @staticmethod
    def release_claims(conn: Connection, task_id: str) -> None:
        conn.execute(delete(claims).where(claims.c.task_id == task_id))

    @staticmethod
    def claims_of(conn: Connection, task_id: str) -> tuple[str, ...]:
        rows = conn.execute(select(claims.c.pattern).where(claims.c.task_id == task_id).order_by(claims.c.id)).all()
        return tuple(r.pattern for r in rows)

    @staticmethod
    def all_claims(conn: Connection, only: Collection[str] | None = None) -> dict[str, tuple[str, ...]]:
        """Each task's claims (of the tasks ``only`` names, if given)."""
        out: dict[str, list[str]] = {}
        query = select(claims.c.task_id, claims.c.pattern).order_by(claims.c.id)
        if only is not None:
            query = query.where(claims.c.task_id.in_(list(only)))
        for r in conn.execute(query).all():
            out.setdefault(r.task_id, []).append(r.pattern)
        return {k: tuple(v) for k, v in out.items()}

    @staticmethod
    def claim(conn: Connection, task_id: str, worker_id: str, patterns: list[str]) -> list[ClaimResult]:
        """Claim each pattern for ``task_id`` unless another task holds an overlapping one."""
        results = []
        others = conn.execute(select(claims).where(claims.c.task_id != task_id)).all()
        mine = set(Claims.claims_of(conn, task_id))
        for pattern in patterns:
            problem = glob_problem(pattern)
            if problem:
                results.append(ClaimResult(pattern, False, f"not a valid path glob: it {problem}"))
                continue
            if pattern in mine:
                results.append(ClaimResult(pattern, True, "already held by your task"))
                continue
            if len(mine) >= MOST_CLAIMS:
                why = f"your task holds {MOST_CLAIMS} claims already: claim folders (src/parser/) rather than files"
                results.append(ClaimResult(pattern, False, why))
                continue
            holder = next((o for o in others if patterns_overlap(pattern, o.pattern)), None)
            if holder is not None:
                who = f"task {holder.task_id}" + (f" (worker {holder.worker_id})" if holder.worker_id else "")
                results.append(ClaimResult(pattern, False, f"{holder.pattern} is held by {who}"))
                continue
            conn.execute(
                insert(claims).values(
                    task_id=task_id, worker_id=worker_id, pattern=pattern, origin=EXTRA, created_at=time.time()
                )
            )
            mine.add(pattern)
            results.append(ClaimResult(pattern, True, "now held by your task"))
        return results

    @staticmethod
    def release_extra(conn: Connection, task_id: str, patterns: list[str]) -> list[ClaimResult]:
        """Give back paths the agent claimed; the task's scope from the plan stays held."""
        rows = {r.pattern: r for r in conn.execute(select(claims).where(claims.c.task_id == task_id)).all()}
        results = []
        for pattern in patterns:
            row = rows.get(pattern)
            if row is None:
                results.append(ClaimResult(pattern, False, "your task does not hold it"))
            elif row.origin == SCOPE:
                results.append(ClaimResult(pattern, False, "it is part of your task's scope in the plan"))
            else:
                conn.execute(delete(claims).where(claims.c.id == row.id))
                results.append(ClaimResult(pattern, True, "released"))
        return results
