"""Reading records of several tables from one joined query: each table's columns get a prefix."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Result

from czar.store.columns import Columns


def prefixed(table: FromClause, prefix: str, *, skip: tuple[str, ...] = ()) -> list[ColumnElement[Any]]:
    return [c.label(prefix + c.name) for c in table.c if c.name not in skip]


class Part(Columns):
    """One table's columns of a joined row, by their own names (what ``from_row`` reads)."""

    __slots__ = ()

    def present(self) -> bool:
        """False for the missing side of an outer join."""
        return self["id"] is not None


def parts(result: Result[Any], *prefixes: str) -> list[tuple[Part, ...]]:
    """Each row of a joined query as one ``Part`` per prefix, in the order of ``prefixes``; which
    column goes where is worked out once for the whole result."""
    names = tuple(result.keys())
    layout = []
    for prefix in prefixes:
        at = [i for i, name in enumerate(names) if name.startswith(prefix)]
        if not at:
            raise ValueError(f"no column of the query has the prefix {prefix!r}")
        # itemgetter of one index gives the item, not a 1-tuple: a table has an id and more.
        layout.append((tuple(names[i][len(prefix) :] for i in at), itemgetter(*at)))
    return [tuple(Part(zip(own, pick(row), strict=True)) for own, pick in layout) for row in result.all()]
