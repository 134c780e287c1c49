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
    owners = [[p for p in prefixes if name.startswith(p)] for name in names]
    if any(len(o) != 1 for o in owners):
        raise ValueError(f"each column must have one of the prefixes {prefixes}: {names}")
    layout = []
    for prefix in prefixes:
        at = [i for i, owner in enumerate(owners) if owner == [prefix]]
        if len(at) < 2:  # itemgetter of one index gives the item itself, not a tuple of one
            raise ValueError(f"a part needs an id and more: {prefix!r} has {len(at)} column(s)")
        layout.append((tuple(names[i][len(prefix) :] for i in at), itemgetter(*at)))
    return [tuple(Part(zip(own, pick(row), strict=True)) for own, pick in layout) for row in result.all()]
