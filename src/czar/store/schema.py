"""Tables of the store and the migrations that build them, numbered from the first version.

``PRAGMA user_version`` holds the number of migrations applied; each migration runs once, in
order, inside one transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

tasks = Table(
    "tasks",
    metadata,
    Column("id", String, primary_key=True),
    Column("ord", Integer, nullable=False),  # position in the plan's topological order
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("spec", Text, nullable=False),  # JSON: depends_on, after, scope, accept, priority, ...
    Column("state", String, nullable=False),
    Column("worker_id", String),
    Column("attempt_id", Integer),
    Column("rounds", Integer, nullable=False, server_default="0"),  # verifications used
    Column("note", Text),  # evidence of the last failure, carried into the next prompt
    Column("merge_from", String),  # integration tip before the merge in progress, to undo it
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

workers = Table(
    "workers",
    metadata,
    Column("id", String, primary_key=True),
    Column("agent", String, nullable=False),
    Column("state", String, nullable=False),
    Column("task_id", String),
    Column("pid", Integer),  # the worker host's process
    Column("agent_pid", Integer),  # the agent's process group, while one runs
    Column("last_seen", Float),
    Column("updated_at", Float, nullable=False),
)

attempts = Table(
    "attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String, ForeignKey("tasks.id"), nullable=False),
    Column("worker_id", String, nullable=False),
    Column("branch", String, nullable=False),
    Column("worktree", String, nullable=False),
    Column("base_commit", String, nullable=False),
    Column("prompt", Text, nullable=False),  # exactly what was delivered
    Column("prompt_sha256", String, nullable=False),
    Column("outcome", String, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("acked_at", Float),
    Column("finished_at", Float),
    Column("agent_exited_at", Float),  # the agent process ended while the attempt was open
    Column("summary", Text),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("kind", String, nullable=False),
    Column("actor", String, nullable=False),  # supervisor, worker host, person, ...
    Column("task_id", String),
    Column("worker_id", String),
    Column("attempt_id", Integer),
    Column("payload", Text, nullable=False),
)

inbox = Table(
    "inbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("worker_id", String, nullable=False),
    Column("kind", String, nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("done_at", Float),
)

Index("inbox_open", inbox.c.worker_id, inbox.c.done_at)
Index("events_task", events.c.task_id)


def _v1(conn: Connection) -> None:
    metadata.create_all(conn)


MIGRATIONS: list[Callable[[Connection], None]] = [_v1]


def migrate(conn: Connection) -> int:
    """Apply the migrations not applied yet; return the schema version now in force."""
    version = int(conn.execute(text("PRAGMA user_version")).scalar_one())
    if version > len(MIGRATIONS):
        raise RuntimeError(f"store schema version {version} is newer than this czar knows ({len(MIGRATIONS)})")
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        step(conn)
        conn.execute(text(f"PRAGMA user_version = {number}"))
    return len(MIGRATIONS)
