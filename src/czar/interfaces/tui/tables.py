"""The dashboard's tables: rows of fields kept in step with fresh rows without losing a person's
place in them.

A row is shown as one line of its fields, padded into columns, in the one cell of a ``DataTable``
row: Textual renders every visible cell again whenever one changes, and under a hundred workers
some row changes at nearly every look, so a row of one cell costs a quarter of what a row of
eleven does to paint.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from czar.interfaces.tui.rows import Row

SEPARATOR = "  "  # between two fields: what a DataTable puts between two cells
LINE = "line"  # the one column's key


class Grid(DataTable[Text]):
    """A table whose rows are fields under ``headers``, each row one line. A column is as wide
    as its widest field so far: it widens when a field outgrows it, and does not narrow while the
    table lives (rows would shift at every look)."""

    def __init__(self, headers: Sequence[str], **options: Any) -> None:
        super().__init__(cursor_type="row", **options)
        self.headers = tuple(Text(h) for h in headers)
        self.widths = [h.cell_len for h in self.headers]
        self._fields: dict[str, tuple[Text, ...]] = {}  # each row's fields, as shown

    def on_mount(self) -> None:
        self.add_column(self.line(self.headers), key=LINE)

    def line(self, fields: Sequence[Text]) -> Text:
        out = Text()
        for i, (value, width) in enumerate(zip(fields, self.widths, strict=True)):
            if i:
                out.append(SEPARATOR)
            out.append_text(value)
            out.append(" " * (width - value.cell_len))
        return out

    def fields(self, key: str) -> list[str]:
        """The row's fields as its line shows them."""
        shown = self.get_row(key)[0].plain
        out: list[str] = []
        at = 0
        for value, width in zip(self._fields[key], self.widths, strict=True):
            size = len(value.plain) + width - value.cell_len
            out.append(shown[at : at + size].rstrip())
            at += size + len(SEPARATOR)
        return out

    def fit(self, rows: Sequence[Row]) -> bool:
        """Widen the columns for ``rows``; True if one widened."""
        wider = False
        for _, fields in rows:
            for i, value in enumerate(fields):
                if value.cell_len > self.widths[i]:
                    self.widths[i] = value.cell_len
                    wider = True
        return wider

    def fill(self, rows: Sequence[Row]) -> None:
        """Every row made again (the header too: the columns may have widened)."""
        self.clear(columns=True)
        self.add_column(self.line(self.headers), key=LINE)
        self._fields = {}
        for key, fields in rows:
            self._fields[key] = fields
            self.add_row(self.line(fields), key=key)

    def widen(self, rows: Sequence[Row]) -> None:
        """Every line made again at the columns' new widths, in place: the cursor and the scroll
        stay where a person left them (filling the table again would put them back at the top)."""
        column = self.columns[ColumnKey(LINE)]
        column.label = self.line(self.headers)
        for key, fields in rows:
            self._fields[key] = fields
            self.update_cell(key, LINE, self.line(fields), update_width=True)

    def reset(self) -> None:
        """Empty, with columns as narrow as their headers (another project's rows to come)."""
        self.widths = [h.cell_len for h in self.headers]
        self.fill([])

    def show_row(self, key: str, fields: tuple[Text, ...]) -> None:
        """The row shows ``fields`` (its line made again only if one of them changed)."""
        if self._fields.get(key) != fields:
            self._fields[key] = fields
            self.update_cell(key, LINE, self.line(fields))


def selected_key(table: DataTable[Text]) -> str | None:
    """The key of the row under the cursor (None: the table is empty)."""
    if table.row_count == 0:
        return None
    row = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key
    return row.value


def show_rows(table: Grid, rows: Sequence[Row], *, follow_end: bool = False) -> None:
    """The table holds ``rows``, in their order. The same rows in the same order are updated line
    by line, in columns widened if a field outgrew one (the cursor and the scroll stay put: a
    hundred workers' heartbeats must not make the table jump); otherwise the table is filled again
    and the cursor finds its row by key. ``follow_end``: a cursor on the last row stays on the last row (a
    log's newest line)."""
    keys = [key for key, _ in rows]
    present = [str(r.key.value) for r in table.ordered_rows]
    wider = table.fit(rows)
    if keys == present:
        if wider:
            table.widen(rows)
        else:
            for key, fields in rows:
                table.show_row(key, fields)
        return
    selected = selected_key(table)
    at_end = bool(present) and selected == present[-1]
    table.fill(rows)
    if follow_end and (at_end or not present) and keys:
        table.move_cursor(row=len(keys) - 1, animate=False)
    elif selected in keys:
        table.move_cursor(row=keys.index(selected), animate=False)
