"""A row's columns by name, read once: what ``from_row`` reads.

A SQLAlchemy row's attribute is about ten times as dear as a dict's item, and the supervisor
reads many rows several times a second, so a result's rows are read into dicts with the result's
names looked up once; the records are built from their items.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # records read rows but need not load SQLAlchemy (what imports them may not)
    from sqlalchemy import Result, Row


class Columns(dict[str, Any]):
    """A row's columns by name, also as attributes (``row.id``, as on a SQLAlchemy row; no faster
    than a row's, and a column named as a dict's method, ``items`` say, is the method there)."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def rows_of(result: Result[Any]) -> list[Columns]:
    """Every row of ``result``, its names read once for all."""
    names = tuple(result.keys())
    return [Columns(zip(names, r, strict=True)) for r in result.all()]


def columns(row: Row[Any] | Columns) -> Columns:
    """One row's columns (a row read alone: its names are read from it)."""
    return row if isinstance(row, Columns) else Columns(zip(row._fields, row, strict=True))
