"""Settings the run shares with processes that have no plan (agent tools, the MCP server)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, insert, select, update

from czar.store.schema import meta

MERGE_WINDOWS = "merge_windows"


class Meta:
    @staticmethod
    def set_meta(conn: Connection, key: str, value: Any) -> None:
        text = json.dumps(value)
        # An update, else an insert: inside the write transaction nobody comes between the two.
        if conn.execute(update(meta).where(meta.c.key == key).values(value=text)).rowcount == 0:
            conn.execute(insert(meta).values(key=key, value=text))

    @staticmethod
    def get_meta(conn: Connection, key: str, default: Any = None) -> Any:
        row = conn.execute(select(meta.c.value).where(meta.c.key == key)).first()
        return default if row is None else json.loads(row.value)

    @staticmethod
    def merge_window(conn: Connection) -> int:
        """How many merge batches the run has started: the clock approved tasks age by."""
        return int(Meta.get_meta(conn, MERGE_WINDOWS, 0))

    @staticmethod
    def next_merge_window(conn: Connection) -> None:
        Meta.set_meta(conn, MERGE_WINDOWS, Meta.merge_window(conn) + 1)
