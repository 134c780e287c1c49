"""Another project's store, looked into without opening it as a store: nothing made, nothing
migrated, nothing written (the czar that runs it may be an older one, and its own). For a new
project's look at its neighbours in one repository (``czar.supervisor.project.check_neighbours``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import create_engine, select
from sqlalchemy.exc import SQLAlchemyError

from czar.store.schema import meta, tasks


@dataclass(frozen=True)
class Neighbour:
    repo: str | None  # the repository its runs are in
    integration_branch: str | None
    plan: str | None  # its plan file
    task_ids: frozenset[str]


def peek(db: Path) -> Neighbour | None:
    """What the store at ``db`` says of its project; None if it cannot be read (being made, of
    another czar's making, damaged)."""
    engine = create_engine(f"sqlite:///file:{quote(str(db))}?mode=ro&uri=true")
    # (SQLite may make the store's -wal and -shm files to read it: with the store's own mode.)
    try:
        with engine.connect() as conn:
            said = {
                row.key: json.loads(row.value)
                for row in conn.execute(
                    select(meta.c.key, meta.c.value).where(meta.c.key.in_(("repo", "integration_branch", "plan_path")))
                )
            }
            ids = frozenset(conn.execute(select(tasks.c.id)).scalars())
    except (SQLAlchemyError, ValueError):
        return None
    finally:
        engine.dispose()

    def text(key: str) -> str | None:
        value = said.get(key)
        return value if isinstance(value, str) else None

    return Neighbour(text("repo"), text("integration_branch"), text("plan_path"), ids)
