"""Settings the run shares with processes that have no plan (agent tools, the MCP server)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, insert, select, update

from czar.store.schema import meta

MERGE_WINDOWS = "merge_windows"
CHECKS_PASSED = "checks_passed"
KEPT_PASSES = 16  # the last merges' are enough: the run's end asks about the last one


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
    def note_checks_passed(conn: Connection, tree: str, commands: Sequence[str], timeout: float, setting: str) -> None:
        """The project's checks ``commands`` passed in a clean checkout of ``tree`` (a merge's),
        in the sandbox ``setting`` describes."""
        passed = _checks_pass(tree, commands, timeout, setting)
        kept = [p for p in Meta.get_meta(conn, CHECKS_PASSED, []) if p != passed]
        Meta.set_meta(conn, CHECKS_PASSED, [*kept, passed][-KEPT_PASSES:])

    @staticmethod
    def checks_passed(conn: Connection, tree: str, commands: Sequence[str], timeout: float, setting: str) -> bool:
        """Whether ``commands`` passed in a clean checkout of these very files, the same way."""
        return _checks_pass(tree, commands, timeout, setting) in Meta.get_meta(conn, CHECKS_PASSED, [])

    @staticmethod
    def forget_checks_passed(conn: Connection) -> None:
        """A supervisor starts: what passed before it is not taken for granted (the dependencies
        you installed may have changed since)."""
        Meta.set_meta(conn, CHECKS_PASSED, [])

    @staticmethod
    def merge_window(conn: Connection) -> int:
        """How many merge batches the run has started: the clock approved tasks age by."""
        return int(Meta.get_meta(conn, MERGE_WINDOWS, 0))

    @staticmethod
    def next_merge_window(conn: Connection) -> None:
        Meta.set_meta(conn, MERGE_WINDOWS, Meta.merge_window(conn) + 1)


def _checks_pass(tree: str, commands: Sequence[str], timeout: float, setting: str) -> dict[str, Any]:
    """A pass of the checks as kept in the meta table (JSON: compared as it reads back)."""
    return {"tree": tree, "commands": list(commands), "timeout": timeout, "setting": setting}
