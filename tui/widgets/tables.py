"""Update a DataTable in place from keyed rows instead of rebuilding it.

Rebuilding a big table on every refresh costs ~1 s per 10k rows and loses the cursor;
changing only the cells that differ costs milliseconds. The table is rebuilt only when
the row order itself changed (a symbol added in the middle of the list).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Generic, TypeVar

from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import CursorType

R = TypeVar("R")  # a row as the store's views give it


class RowsTable(DataTable[object], Generic[R]):
    """A table of fixed-width COLUMNS, fed whole row lists through `rows_data` (attributes
    down) and updated in place. Subclasses say only how a row becomes (key, cells)."""

    COLUMNS: ClassVar[tuple[tuple[str, int], ...]] = ()
    CURSOR: ClassVar[CursorType] = "row"
    ZEBRA: ClassVar[bool] = False
    rows_data: reactive[list[R]] = reactive(list, always_update=True)

    def on_mount(self) -> None:  # (Textual calls every class's on_mount: subclasses define none)
        self.cursor_type = self.CURSOR
        self.zebra_stripes = self.ZEBRA
        for name, width in self.COLUMNS:
            # Fixed widths: no re-measuring on updates, and stable layout for snapshots.
            self.add_column(name, key=name, width=width)

    def watch_rows_data(self, rows: list[R]) -> None:
        if self.columns:
            sync_rows(self, [self.row(r) for r in rows])

    def row(self, r: R) -> tuple[str, Sequence[object]]:
        raise NotImplementedError


def sync_rows(table: DataTable, rows: Sequence[tuple[str, Sequence[object]]]) -> None:
    """Make `table` show `rows` ((key, cells) in display order), touching only what changed."""
    wanted = {key for key, _ in rows}
    for gone in [k for k in list(table.rows) if k.value not in wanted]:
        table.remove_row(gone)
    columns = [c.key for c in table.ordered_columns]
    present = {k.value for k in table.rows}
    for key, cells in rows:
        if key in present:
            old = table.get_row(key)
            for col, before, after in zip(columns, old, cells, strict=True):
                if before != after:
                    table.update_cell(key, col, after)
        else:
            table.add_row(*cells, key=key)
    order = [k for k, _ in rows]
    current = [r.key.value for r in table.ordered_rows]
    if current != order:
        selected = _cursor_key(table)
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if selected in wanted:
            table.move_cursor(row=table.get_row_index(selected))


def _cursor_key(table: DataTable) -> str | None:
    if not table.row_count:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:  # cursor outside the table after rows went away
        return None


def selected_key(table: DataTable) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    return _cursor_key(table)
