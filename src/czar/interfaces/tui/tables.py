"""Keeping a ``DataTable`` in step with fresh rows without losing a person's place in it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable

from czar.interfaces.tui.rows import Row


def selected_key(table: DataTable[Text]) -> str | None:
    """The key of the row under the cursor (None: the table is empty)."""
    if table.row_count == 0:
        return None
    row = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key
    return row.value


def show_rows(table: DataTable[Text], rows: Sequence[Row], *, follow_end: bool = False) -> None:
    """The table holds ``rows``, in their order. The same rows in the same order are updated
    cell by cell (the cursor and the scroll stay put: a hundred workers' heartbeats must not make
    the table jump); otherwise the table is filled again and the cursor finds its row by key.
    ``follow_end``: a cursor on the last row stays on the last row (a log's newest line)."""
    keys = [key for key, _ in rows]
    present = [str(r.key.value) for r in table.ordered_rows]
    if keys == present:
        columns = table.ordered_columns
        for key, cells in rows:
            for column, before, after in zip(columns, table.get_row(key), cells, strict=True):
                if before != after:
                    # The column widens when the cell outgrows it, and is not measured again
                    # otherwise: Textual measures every row of a column again for a cell that
                    # does not widen it, and a hundred workers' ages change at every look.
                    wider = after.cell_len > column.content_width
                    table.update_cell(key, column.key, after, update_width=wider)
        return
    selected = selected_key(table)
    at_end = bool(present) and selected == present[-1]
    table.clear()
    for key, cells in rows:
        table.add_row(*cells, key=key)
    if follow_end and (at_end or not present) and keys:
        table.move_cursor(row=len(keys) - 1, animate=False)
    elif selected in keys:
        table.move_cursor(row=keys.index(selected), animate=False)
