"""The port the store stands on: where its tables live and how a transaction is had.

Everything above it (the queries of ``czar.store``) is SQLAlchemy Core that any SQL database
runs. What differs between databases is only here: opening, taking the write lock, and turning
the database's own refusals into one line for a person. SQLite is ``czar.store.sqlite``; a
PostgreSQL implementation is a second module of the same shape.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy import Connection

# What the store's callers hold during a transaction, and pass to ``Store``'s queries; opaque to
# them (only ``czar.store`` imports SQLAlchemy).
Tx = Connection


class Database(Protocol):
    location: str  # for messages: the file, or the server and database

    def write(self) -> AbstractContextManager[Tx]:
        """A short transaction that holds the write lock from its start and commits at its end."""
        ...

    def read(self) -> AbstractContextManager[Tx]:
        """A consistent read snapshot."""
        ...

    def close(self) -> None: ...
