"""Reading records of several tables from one joined query: each table's columns get a prefix."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, FromClause


def prefixed(table: FromClause, prefix: str, *, skip: tuple[str, ...] = ()) -> list[ColumnElement[Any]]:
    return [c.label(prefix + c.name) for c in table.c if c.name not in skip]


class Part:
    """One table's columns of a joined row, by their own names (what ``from_row`` reads)."""

    __slots__ = ("_mapping", "_prefix")

    def __init__(self, row: Any, prefix: str) -> None:
        self._mapping = row._mapping
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        return self._mapping[self._prefix + name]

    def present(self) -> bool:
        """False for the missing side of an outer join."""
        return self._mapping[self._prefix + "id"] is not None
