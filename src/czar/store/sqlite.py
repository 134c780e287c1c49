"""The store's database as one SQLite file in WAL mode, shared by the supervisor, the worker
hosts and the views of one project.

Writes take the write lock up front (``BEGIN IMMEDIATE``) and stay short; no transaction is held
across I/O.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DatabaseError, OperationalError

from czar.errors import StoreError
from czar.store.schema import current, migrate

LOCK_WAIT_SECONDS = 30.0  # how long a write waits for the lock before it fails


class SqliteDatabase:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.location = str(path)
        _owner_only(path)
        try:
            self.engine = _engine(path)
            # Read first: a store already at this schema opens without the write lock, so a
            # process holding it (a long write, a person's sqlite3 shell) does not hold up
            # `czar status` or a view, which only read.
            with self.read() as conn:
                ready = current(conn)
            if not ready:
                with self.write() as conn:
                    migrate(conn)
        except StoreError as exc:
            raise StoreError(f"cannot open {exc}") from exc
        except RuntimeError as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._unusable(), self.engine.connect() as conn:
            conn.execution_options(czar_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._unusable(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _unusable(self) -> Iterator[None]:
        """SQLite's refusals (a removed -wal file, a read-only file or folder, a damaged file) as
        one line for a person, in SQLite's own words: SQLAlchemy's text adds a second line."""
        try:
            yield
        except OperationalError as exc:
            raise StoreError(f"the store at {self.path}: {exc.orig or exc}") from exc
        except DatabaseError as exc:
            if type(exc) is not DatabaseError:  # integrity and programming errors are czar's bugs
                raise
            raise StoreError(f"the store at {self.path}: {exc.orig or exc}") from exc


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves; pysqlite's implicit transactions would defer the lock.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_SECONDS * 1000)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("czar_write", False):
            _begin_immediate(conn)
        else:
            conn.exec_driver_sql("BEGIN")

    return engine


def _begin_immediate(conn: Connection) -> None:
    """Take the write lock, retrying every millisecond or so while another process holds it.

    SQLite's own busy handler backs off to sleeps of up to 100 ms: with a hundred worker hosts
    writing short transactions, that costs the supervisor whole tenths of a second per decision.
    """
    conn.exec_driver_sql("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        pause = 0.0005
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 1.5, 0.004)
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout={int(LOCK_WAIT_SECONDS * 1000)}")


def _owner_only(path: Path) -> None:
    """The store readable and writable by its owner only (0600), its -wal and -shm too.

    Created with that mode before SQLite opens it (SQLite gives its -wal and -shm the database's
    mode), and an older store's files put right; a file czar may not change is left as it is.
    """
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        with contextlib.suppress(OSError):
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
