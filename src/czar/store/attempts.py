"""Queries on attempts: one delivery of a task to a worker, with what it used and cost."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, case, func, insert, select, update

from czar.core.states import AttemptOutcome
from czar.errors import StoreError
from czar.store.columns import rows_of
from czar.store.records import Attempt, Costs
from czar.store.schema import attempts, workers

# The counters a repair adds one to (see ``Store.count_repair``).
REPAIRS = ("nudges", "restarts")
_COST_COLUMNS = (func.sum(attempts.c.cost_usd), func.sum(attempts.c.input_tokens), func.sum(attempts.c.output_tokens))


class Attempts:
    @staticmethod
    def attempt(conn: Connection, attempt_id: int) -> Attempt:
        row = conn.execute(select(attempts).where(attempts.c.id == attempt_id)).first()
        if row is None:
            raise StoreError(f"unknown attempt {attempt_id}")
        return Attempt.from_row(row)

    @staticmethod
    def all_attempts(conn: Connection) -> list[Attempt]:
        """Every attempt of the run, oldest first."""
        columns = [c for c in attempts.c if c.name != "prompt"]  # prompts are long, and not wanted here
        rows = rows_of(conn.execute(select(*columns).order_by(attempts.c.id)))
        return [Attempt.from_row(r) for r in rows]

    @staticmethod
    def prompt(conn: Connection, attempt_id: int) -> str:
        """Exactly what the attempt delivered."""
        value = conn.execute(select(attempts.c.prompt).where(attempts.c.id == attempt_id)).scalar()
        if value is None:
            raise StoreError(f"unknown attempt {attempt_id}")
        return str(value)

    @staticmethod
    def tries(conn: Connection, task_id: str) -> int:
        """How many attempts the task has had (this one included, once made)."""
        return int(conn.execute(select(func.count()).where(attempts.c.task_id == task_id)).scalar_one())

    @staticmethod
    def new_attempt(
        conn: Connection,
        *,
        task_id: str,
        worker_id: str,
        branch: str,
        worktree: str,
        base_commit: str,
        prompt: str,
        prompt_sha256: str,
        after_launch: int,
    ) -> int:
        """A new attempt of the worker's. Its agent's starts are numbered on from ``after_launch``,
        the worker's last (``launches_by``): what an agent the worker ran before still says as it
        ends (a hook, a last report) is refused, not taken for this attempt's."""
        result = conn.execute(
            insert(attempts).values(
                task_id=task_id,
                worker_id=worker_id,
                branch=branch,
                worktree=worktree,
                base_commit=base_commit,
                prompt=prompt,
                prompt_sha256=prompt_sha256,
                stale_launch=after_launch,
                outcome=AttemptOutcome.OPEN.value,
                started_at=time.time(),
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    @staticmethod
    def set_attempt(conn: Connection, attempt_id: int, **values: Any) -> None:
        if isinstance(values.get("outcome"), AttemptOutcome):
            values["outcome"] = values["outcome"].value
        conn.execute(update(attempts).where(attempts.c.id == attempt_id).values(**values))

    @staticmethod
    def add_usage(
        conn: Connection,
        attempt_id: int,
        *,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        cache_write_tokens: int,
        cost_usd: float,
    ) -> None:
        """Add what one more stretch of the attempt used."""
        c = attempts.c
        conn.execute(
            update(attempts)
            .where(c.id == attempt_id)
            .values(
                input_tokens=c.input_tokens + input_tokens,
                output_tokens=c.output_tokens + output_tokens,
                cache_read_tokens=c.cache_read_tokens + cache_read_tokens,
                cache_write_tokens=c.cache_write_tokens + cache_write_tokens,
                cost_usd=c.cost_usd + cost_usd,
            )
        )

    @staticmethod
    def count_repair(conn: Connection, attempt_id: int, repair: str, now: float) -> None:
        """One more ``repair`` (one of ``REPAIRS``) of the attempt, made ``now``."""
        if repair not in REPAIRS:
            raise ValueError(f"not a repair counter: {repair}")
        column = attempts.c[repair]
        conn.execute(update(attempts).where(attempts.c.id == attempt_id).values({repair: column + 1, "healed_at": now}))

    @staticmethod
    def supersede(conn: Connection, attempt_id: int, *, unrecorded: bool = False) -> None:
        """From now on, ignore what the agent processes started so far for the attempt still report
        (none started yet: the worker's earlier ones stay refused). ``unrecorded``: also the start
        a host that died may have made without recording it (outside a sandbox, its agent lives on)."""
        a = attempts.c
        last = case((a.launches > a.stale_launch, a.launches), else_=a.stale_launch) + 1 if unrecorded else a.launches
        Attempts._refuse_to(conn, attempt_id, last)

    @staticmethod
    def refuse_before(conn: Connection, attempt_id: int, launch: int) -> None:
        """What starts numbered below ``launch`` still say is refused for the attempt."""
        Attempts._refuse_to(conn, attempt_id, launch - 1)

    @staticmethod
    def _refuse_to(conn: Connection, attempt_id: int, last: Any) -> None:
        """The attempt's starts up to ``last`` (a number, or an expression of its row) refused; it
        never lowers what is refused already."""
        a = attempts.c
        conn.execute(update(attempts).where(a.id == attempt_id, a.stale_launch < last).values(stale_launch=last))

    @staticmethod
    def first_base(conn: Connection, task_id: str) -> str | None:
        """Where the task's branch started: its first attempt's base commit (None: never started)."""
        query = (
            select(attempts.c.base_commit)
            .where(attempts.c.task_id == task_id, attempts.c.branch != "")
            .order_by(attempts.c.id)
            .limit(1)
        )
        found = conn.execute(query).scalar_one_or_none()
        return str(found) if found else None

    @staticmethod
    def started_before(conn: Connection, task_id: str, *, review: bool) -> bool:
        """Whether an agent started on the task in one of its attempts so far: an author's, or
        where ``review``, a reviewer's."""
        kind = attempts.c.branch == "" if review else attempts.c.branch != ""
        query = select(attempts.c.id).where(attempts.c.task_id == task_id, kind, attempts.c.launches > 0).limit(1)
        return conn.execute(query).first() is not None

    @staticmethod
    def launches_by(conn: Connection, worker_id: str) -> int:
        """The last number of an agent start of the worker's attempts, or one refused before it
        was recorded (a new attempt's starts are numbered on from there, so that no earlier one
        is taken for it)."""
        query = select(func.max(attempts.c.launches), func.max(attempts.c.stale_launch)).where(
            attempts.c.worker_id == worker_id
        )
        launched, refused = conn.execute(query).one()
        return max(launched or 0, refused or 0)

    @staticmethod
    def last_attempt_id(conn: Connection) -> int:
        return int(conn.execute(select(func.coalesce(func.max(attempts.c.id), 0))).scalar_one())

    @staticmethod
    def reached_a_model(conn: Connection, agent: str, after: int = 0) -> bool:
        """Whether any worker's agent of kind ``agent`` took a task on or heard from its model in
        an attempt above ``after`` (its program and settings work, then: as they are since
        ``after``, the last attempt of an earlier supervisor, whose settings may have been others)."""
        reached = (attempts.c.acked_at.is_not(None)) | (attempts.c.input_tokens + attempts.c.output_tokens > 0)
        query = (
            select(attempts.c.id)
            .join(workers, workers.c.id == attempts.c.worker_id)
            .where(workers.c.agent == agent, attempts.c.id > after, reached)
            .limit(1)
        )
        return conn.execute(query).first() is not None

    @staticmethod
    def spent(conn: Connection) -> float:
        """What the whole run has cost so far."""
        return float(conn.execute(select(func.coalesce(func.sum(attempts.c.cost_usd), 0.0))).scalar_one())

    @staticmethod
    def costs_by_task(conn: Connection, only: Collection[str] | None = None) -> dict[str, Costs]:
        """Tokens and cost per task (of the tasks ``only`` names, if given)."""
        query = select(attempts.c.task_id, *_COST_COLUMNS).group_by(attempts.c.task_id)
        if only is not None:
            query = query.where(attempts.c.task_id.in_(list(only)))
        rows = conn.execute(query).all()
        return {key: _costs(c, i, o) for key, c, i, o in rows}

    @staticmethod
    def workers_by_task(conn: Connection) -> dict[str, list[str]]:
        """Who worked on each task, in the order of its attempts (each worker once; its reviewers,
        whose attempts have no branch, not)."""
        out: dict[str, list[str]] = {}
        query = select(attempts.c.task_id, attempts.c.worker_id).where(attempts.c.branch != "").order_by(attempts.c.id)
        for task, worker in conn.execute(query):
            if worker not in out.setdefault(task, []):
                out[task].append(worker)
        return out

    @staticmethod
    def costs_by_worker(conn: Connection, only: Collection[str] | None = None) -> dict[str, Costs]:
        """Tokens and cost per worker (of the workers ``only`` names, if given)."""
        query = select(attempts.c.worker_id, *_COST_COLUMNS).group_by(attempts.c.worker_id)
        if only is not None:
            query = query.where(attempts.c.worker_id.in_(list(only)))
        rows = conn.execute(query).all()
        return {key: _costs(c, i, o) for key, c, i, o in rows}


def _costs(cost: Any, inputs: Any, outputs: Any) -> Costs:
    return Costs(cost_usd=float(cost or 0), input_tokens=int(inputs or 0), output_tokens=int(outputs or 0))
