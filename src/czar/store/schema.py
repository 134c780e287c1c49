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
    Column("checkpoint", Integer, nullable=False, server_default="0"),  # last checkpoint reported
    Column("last_note", Text),  # the agent's last report, for the board
    Column("blocked_on", String),  # a task this one waits for (reported blocked, or told to stand off)
    Column("confusions", Integer, nullable=False, server_default="0"),  # times its agent named another task
    Column("fresh", Integer, nullable=False, server_default="0"),  # 1: restart its branch from scratch
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("approved_window", Integer),  # the merge window it was approved in: it ages by those since
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
    Column("token", String),  # the secret its agent's tools prove who they are with
    Column("state_since", Float),  # when ``state`` last changed
    Column("last_output", Float),  # the agent's last output of any kind
    Column("last_progress", Float),  # the agent's last commit or checkpoint
    Column("wait_until", Float),  # rate-limited until then
    Column("detail", Text),  # what it waits for (a question, a permission request), for people
    Column("repeats", Integer, nullable=False, server_default="0"),  # the same output, this many times in a row
    Column("role", String, nullable=False, server_default="author"),  # author or reviewer
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
    Column("session_id", String),  # the agent's own session, to resume it after a crash
    Column("launches", Integer, nullable=False, server_default="0"),  # its agent's last start (numbered per worker)
    Column("nudges", Integer, nullable=False, server_default="0"),
    Column("restarts", Integer, nullable=False, server_default="0"),
    Column("named_task", String),  # the task id the agent named in its first report
    Column("goal", Text),  # how the agent restated its goal in that report
    Column("healed_at", Float),  # the last repair (nudge, restart, correction) of this attempt
    Column("stale_launch", Integer, nullable=False, server_default="0"),  # agent starts up to this one are replaced
    Column("input_tokens", Integer, nullable=False, server_default="0"),  # each API message counted once
    Column("output_tokens", Integer, nullable=False, server_default="0"),
    Column("cache_read_tokens", Integer, nullable=False, server_default="0"),
    Column("cache_write_tokens", Integer, nullable=False, server_default="0"),
    Column("cost_usd", Float, nullable=False, server_default="0"),
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

claims = Table(
    "claims",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String, nullable=False),
    Column("worker_id", String),
    Column("pattern", String, nullable=False),  # a scope glob
    Column("origin", String, nullable=False),  # "scope" (claimed on assignment) or "extra" (czar claim)
    Column("created_at", Float, nullable=False),
)

# What the conflict radar and the duplicate detector see now; rows are replaced as branches move.
radar = Table(
    "radar",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String, nullable=False),  # "conflict" or "duplicate"
    Column("task_id", String, nullable=False),  # the task told to act (the later one)
    Column("other", String),  # the other task, or NULL for the integration branch
    Column("files", Text, nullable=False),  # JSON list of paths
    Column("since", Float, nullable=False),
)

# The run's settings that processes without the plan need (agent tools, the MCP server).
meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),  # JSON
)

# The local forge's pull requests (``czar.forge.local``): one per task.
pulls = Table(
    "pulls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # its number
    Column("task_id", String, nullable=False, unique=True),
    Column("head_branch", String, nullable=False),
    Column("base_branch", String, nullable=False),
    Column("head_commit", String, nullable=False),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String, nullable=False),  # open, merged, closed
    Column("files", Text, nullable=False),  # JSON: [[path, added, removed], ...] at the head
    Column("rounds", Integer, nullable=False),
    Column("cost_usd", Float, nullable=False),
    Column("merged_as", String),  # the integration branch's commit that merged it
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # On a remote forge (GitHub): its number there, where a person sees it, and a digest of what
    # czar last sent it (title, body, state), so an unchanged pull request costs no request.
    Column("remote_number", Integer),
    Column("url", String),
    Column("synced", String),
)

# What happened to each pull request, in order: opened, updated, checks, review, merged, closed.
pull_history = Table(
    "pull_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pull_id", Integer, ForeignKey("pulls.id"), nullable=False),
    Column("ts", Float, nullable=False),
    Column("kind", String, nullable=False),
    Column("commit", String),  # the head commit it is about
    Column("detail", Text, nullable=False),  # JSON
)

# Each review of a task's commit: who reads it, and its verdict and findings once given.
reviews = Table(
    "reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("task_id", String, nullable=False),
    Column("worker_id", String, nullable=False),  # the reviewer
    Column("attempt_id", Integer, nullable=False),  # the reviewer's agent's attempt (its costs, its launches)
    Column("agent", String, nullable=False),  # the reviewer's agent kind
    Column("commit", String, nullable=False),  # the commit it reads: its verdict is on this one only
    Column("state", String, nullable=False),  # open, approved, changes_requested, lost
    Column("summary", Text),
    Column("findings", Text, nullable=False, server_default="[]"),  # JSON: [{path, line, severity, failure}]
    Column("reason", Text),  # why it was lost
    Column("posted", Integer, nullable=False, server_default="0"),  # 1: on the pull request
    Column("applied", Integer, nullable=False, server_default="0"),  # 1: its task acted on it (or it was lost)
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
)

Index("inbox_open", inbox.c.worker_id, inbox.c.done_at)
Index("reviews_task", reviews.c.task_id)
Index("pull_history_pull", pull_history.c.pull_id)
Index("events_task", events.c.task_id)
Index("events_kind", events.c.kind)
Index("claims_task", claims.c.task_id)


# Each migration is frozen once released: it states its own DDL instead of reading ``metadata``,
# so that a store made by any earlier version arrives at exactly the tables above.

_V1 = """
CREATE TABLE events (
    id INTEGER NOT NULL, ts FLOAT NOT NULL, kind VARCHAR NOT NULL, actor VARCHAR NOT NULL,
    task_id VARCHAR, worker_id VARCHAR, attempt_id INTEGER, payload TEXT NOT NULL, PRIMARY KEY (id));
CREATE INDEX events_task ON events (task_id);
CREATE TABLE inbox (
    id INTEGER NOT NULL, worker_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, payload TEXT NOT NULL,
    created_at FLOAT NOT NULL, done_at FLOAT, PRIMARY KEY (id));
CREATE INDEX inbox_open ON inbox (worker_id, done_at);
CREATE TABLE tasks (
    id VARCHAR NOT NULL, ord INTEGER NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, spec TEXT NOT NULL,
    state VARCHAR NOT NULL, worker_id VARCHAR, attempt_id INTEGER, rounds INTEGER DEFAULT '0' NOT NULL,
    note TEXT, merge_from VARCHAR, created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (id));
CREATE TABLE workers (
    id VARCHAR NOT NULL, agent VARCHAR NOT NULL, state VARCHAR NOT NULL, task_id VARCHAR, pid INTEGER,
    agent_pid INTEGER, last_seen FLOAT, updated_at FLOAT NOT NULL, PRIMARY KEY (id));
CREATE TABLE attempts (
    id INTEGER NOT NULL, task_id VARCHAR NOT NULL, worker_id VARCHAR NOT NULL, branch VARCHAR NOT NULL,
    worktree VARCHAR NOT NULL, base_commit VARCHAR NOT NULL, prompt TEXT NOT NULL, prompt_sha256 VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL, started_at FLOAT NOT NULL, acked_at FLOAT, finished_at FLOAT, agent_exited_at FLOAT,
    summary TEXT, PRIMARY KEY (id), FOREIGN KEY(task_id) REFERENCES tasks (id));
"""

_V2 = """
ALTER TABLE tasks ADD COLUMN checkpoint INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE tasks ADD COLUMN last_note TEXT;
ALTER TABLE tasks ADD COLUMN blocked_on VARCHAR;
ALTER TABLE tasks ADD COLUMN confusions INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE tasks ADD COLUMN fresh INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE workers ADD COLUMN token VARCHAR;
ALTER TABLE workers ADD COLUMN state_since FLOAT;
ALTER TABLE workers ADD COLUMN last_output FLOAT;
ALTER TABLE workers ADD COLUMN last_progress FLOAT;
ALTER TABLE workers ADD COLUMN wait_until FLOAT;
ALTER TABLE workers ADD COLUMN detail TEXT;
ALTER TABLE attempts ADD COLUMN session_id VARCHAR;
ALTER TABLE attempts ADD COLUMN launches INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE attempts ADD COLUMN nudges INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE attempts ADD COLUMN restarts INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE attempts ADD COLUMN named_task VARCHAR;
ALTER TABLE attempts ADD COLUMN goal TEXT;
ALTER TABLE attempts ADD COLUMN healed_at FLOAT;
ALTER TABLE attempts ADD COLUMN stale_launch INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE attempts ADD COLUMN input_tokens INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE attempts ADD COLUMN output_tokens INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE attempts ADD COLUMN cache_read_tokens INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE attempts ADD COLUMN cache_write_tokens INTEGER DEFAULT '0' NOT NULL;
ALTER TABLE attempts ADD COLUMN cost_usd FLOAT DEFAULT '0' NOT NULL;
ALTER TABLE workers ADD COLUMN repeats INTEGER DEFAULT '0' NOT NULL;
CREATE TABLE claims (
    id INTEGER NOT NULL, task_id VARCHAR NOT NULL, worker_id VARCHAR, pattern VARCHAR NOT NULL,
    origin VARCHAR NOT NULL, created_at FLOAT NOT NULL, PRIMARY KEY (id));
CREATE INDEX claims_task ON claims (task_id);
CREATE TABLE radar (
    id INTEGER NOT NULL, kind VARCHAR NOT NULL, task_id VARCHAR NOT NULL, other VARCHAR, files TEXT NOT NULL,
    since FLOAT NOT NULL, PRIMARY KEY (id));
CREATE INDEX events_kind ON events (kind);
CREATE TABLE meta (key VARCHAR NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key));
"""


def _script(ddl: str) -> Callable[[Connection], None]:
    def step(conn: Connection) -> None:
        for statement in ddl.split(";"):
            if statement.strip():
                conn.exec_driver_sql(statement)

    return step


_V3 = """
CREATE TABLE pulls (
    id INTEGER NOT NULL, task_id VARCHAR NOT NULL, head_branch VARCHAR NOT NULL, base_branch VARCHAR NOT NULL,
    head_commit VARCHAR NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL, state VARCHAR NOT NULL,
    files TEXT NOT NULL, rounds INTEGER NOT NULL, cost_usd FLOAT NOT NULL, merged_as VARCHAR,
    created_at FLOAT NOT NULL, updated_at FLOAT NOT NULL, PRIMARY KEY (id), UNIQUE (task_id));
CREATE TABLE pull_history (
    id INTEGER NOT NULL, pull_id INTEGER NOT NULL, ts FLOAT NOT NULL, kind VARCHAR NOT NULL, "commit" VARCHAR,
    detail TEXT NOT NULL, PRIMARY KEY (id), FOREIGN KEY(pull_id) REFERENCES pulls (id));
CREATE INDEX pull_history_pull ON pull_history (pull_id);
"""

_V4 = """
ALTER TABLE tasks ADD COLUMN approved_window INTEGER;
"""

_V5 = """
ALTER TABLE workers ADD COLUMN role VARCHAR DEFAULT 'author' NOT NULL;
CREATE TABLE reviews (
    id INTEGER NOT NULL, task_id VARCHAR NOT NULL, worker_id VARCHAR NOT NULL, attempt_id INTEGER NOT NULL,
    agent VARCHAR NOT NULL, "commit" VARCHAR NOT NULL, state VARCHAR NOT NULL, summary TEXT,
    findings TEXT DEFAULT '[]' NOT NULL, reason TEXT, posted INTEGER DEFAULT '0' NOT NULL,
    applied INTEGER DEFAULT '0' NOT NULL, started_at FLOAT NOT NULL, finished_at FLOAT, PRIMARY KEY (id));
CREATE INDEX reviews_task ON reviews (task_id);
"""

_V6 = """
ALTER TABLE pulls ADD COLUMN remote_number INTEGER;
ALTER TABLE pulls ADD COLUMN url VARCHAR;
ALTER TABLE pulls ADD COLUMN synced VARCHAR;
"""

MIGRATIONS: list[Callable[[Connection], None]] = [
    _script(_V1),
    _script(_V2),
    _script(_V3),
    _script(_V4),
    _script(_V5),
    _script(_V6),
]


def current(conn: Connection) -> bool:
    """Whether the store's schema is this czar's: nothing to migrate, so no write to open it."""
    return int(conn.execute(text("PRAGMA user_version")).scalar_one()) == len(MIGRATIONS)


def migrate(conn: Connection) -> int:
    """Apply the migrations not applied yet; return the schema version now in force."""
    version = int(conn.execute(text("PRAGMA user_version")).scalar_one())
    if version > len(MIGRATIONS):
        raise RuntimeError(f"store schema version {version} is newer than this czar knows ({len(MIGRATIONS)})")
    for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
        step(conn)
        conn.execute(text(f"PRAGMA user_version = {number}"))
    return len(MIGRATIONS)
