"""Update a DataTable in place from keyed rows instead of rebuilding it.

Rebuilding a big table on every refresh costs ~1 s per 10k rows and loses the cursor;
changing only the cells that differ costs milliseconds. The table is rebuilt only when
the row order itself changed (a symbol added in the middle of the list). A row whose data
is what is on screen is not formatted again, and a changed row repaints only itself.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import ClassVar, Generic, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.events import Resize
from textual.geometry import Size
from textual.reactive import reactive
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, CursorType, RowKey

R = TypeVar("R")  # a row as the store's views give it
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RowsTable(DataTable[object], Generic[R]):
    """A table of fixed-width COLUMNS, fed whole row lists through `rows_data` (attributes
    down) and updated in place. Subclasses say only how a row becomes (key, cells).

    Columns by priority (like btop or ticker): a table narrower than all its COLUMNS shows
    the ones named first in KEEP that fit, in COLUMNS order; `hidden` names the rest (its
    screen says where they are), instead of cutting the last ones off unseen. Empty KEEP:
    every column, whatever the width."""

    COLUMNS: ClassVar[tuple[tuple[str, int], ...]] = ()
    KEEP: ClassVar[tuple[str, ...]] = ()  # every column name, the most wanted first
    CURSOR: ClassVar[CursorType] = "row"
    ZEBRA: ClassVar[bool] = False
    FOLLOW_TOP: ClassVar[bool] = False  # newest first: a cursor on the top row stays on top
    BINDINGS = [
        Binding("home", "scroll_top", "Top", show=False),
        Binding("end", "scroll_bottom", "Bottom", show=False),
    ]
    rows_data: reactive[list[R]] = reactive(list, always_update=True)
    hidden: reactive[tuple[str, ...]] = reactive((), init=False)

    def on_mount(self) -> None:  # (Textual calls every class's on_mount: subclasses define none)
        self.cursor_type = self.CURSOR
        self.zebra_stripes = self.ZEBRA
        self.hidden = self.absent()  # (no columns yet: nothing is rebuilt)
        self._add_columns()

    def _add_columns(self) -> None:
        for name, width in self.COLUMNS:
            if name not in self.hidden:
                # Fixed widths: no re-measuring on updates, and stable layout for snapshots.
                self.add_column(name, key=name, width=width)

    def absent(self) -> tuple[str, ...]:
        """Columns left out whatever the width (nothing to show in them yet)."""
        return ()

    def fit(self, width: int) -> tuple[str, ...]:
        """The columns left out at `width` cells: KEEP's order decides who stays."""
        absent = self.absent()
        if not self.KEEP or width <= 0:
            return absent
        room = width - self.styles.scrollbar_size_vertical  # a scroll bar may come
        widths = dict(self.COLUMNS)
        hidden = list(absent)
        for name in self.KEEP:
            if name in absent:
                continue
            need = widths[name] + 2 * self.cell_padding
            if need <= room:
                room -= need
            else:
                hidden.append(name)
        return tuple(name for name, _ in self.COLUMNS if name in hidden)

    def on_resize(self, event: Resize) -> None:
        self.refit(event.size.width)

    def refit(self, width: int | None = None) -> None:
        """Choose the columns again (a resize, or a column that now has something to show)."""
        hidden = self.fit(self.size.width if width is None else width)
        if hidden != self.hidden:
            self.hidden = hidden

    def watch_hidden(self) -> None:
        if not self.columns:
            return
        selected = _cursor_key(self)
        self.clear(columns=True)
        self._add_columns()
        self._formatted: dict[int, tuple[R, tuple[str, Sequence[object]]]] = {}
        self.watch_rows_data(self.rows_data)
        if selected is not None and selected in self.rows:
            self.move_cursor(row=self.get_row_index(selected), animate=False)

    def watch_rows_data(self, rows: list[R]) -> None:
        if not self.columns:
            return
        # A long table's first fill (500 symbols): the rows a screen can show now, for the
        # first frame, and the rest right after it (the scroll bar already sized for all).
        screenful = max(self.app.size.height, 1)
        if not self.row_count and len(rows) > screenful:
            self._rest = len(rows) - screenful
            self._sync(rows[:screenful])
            self.call_after_refresh(self._fill_rest)
            return
        self._rest = 0
        self._sync(rows)

    def _fill_rest(self) -> None:
        if getattr(self, "_rest", 0):  # (a newer rows_data may have filled it already)
            self._rest = 0
            self._sync(self.rows_data)

    def _sync(self, rows: list[R]) -> None:
        # A row equal to the one behind its cells on screen keeps them: formatting every
        # cell of every row again on each refresh is most of a refresh's UI-thread work.
        before: dict[int, tuple[R, tuple[str, Sequence[object]]]] = getattr(self, "_formatted", {})
        now: dict[int, tuple[R, tuple[str, Sequence[object]]]] = {}
        out = []
        for i, r in enumerate(rows):
            cached = before.get(i)
            keyed = cached[1] if cached is not None and cached[0] == r else self.row(r)
            now[i] = (r, keyed)
            out.append(keyed)
        self._formatted = now
        if self.hidden:
            shown = [i for i, (name, _) in enumerate(self.COLUMNS) if name not in self.hidden]
            out = [(key, [cells[i] for i in shown]) for key, cells in out]
        sync_rows(self, out, follow_top=self.FOLLOW_TOP)
        # The scrollable size now, not on idle: the layout this update needs anyway then
        # includes the scroll bars, instead of a second layout and full repaint after it.
        self._update_dimensions(())

    def row(self, r: R) -> tuple[str, Sequence[object]]:
        raise NotImplementedError

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> list[list[Segment]]:
        # DataTable renders every cell through rich's generic layout (Styled(Padding(cell))
        # measured, wrapped, cropped and padded): most of a full paint. A one-line Text
        # that fits its fixed-width column is laid out here directly, to the same segments'
        # text and styles (tests/test_tui_app.py compares the two); anything else, and the
        # header, goes the generic way. The result is cached under DataTable's own key.
        generic = (row_index, column_index, base_style, width, cursor, hover)
        if min(row_index, column_index) < 0 or self.fixed_columns or row_index < self.fixed_rows:
            return super()._render_cell(*generic)  # the header, a label, fixed cells
        key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        row = None if key is None else self.rows.get(key)
        if key is None or row is None or column_key is None or row.height != 1:
            return super()._render_cell(*generic)
        cache_key = (
            key,
            column_key,
            base_style,
            cursor,
            hover,
            self._show_hover_cursor,
            self._update_count,
            self._pseudo_class_state,
        )
        cached = self._cell_render_cache.get(cache_key)
        if cached is not None:
            return cached
        cell = self._get_row_renderables(row_index).cells[column_index]
        pad = self.cell_padding
        room = width - 2 * pad
        if (
            not isinstance(cell, Text)
            or cell.justify not in (None, "default", "left")
            or "\n" in cell.plain
            or "\t" in cell.plain
            or cell.cell_len > room
        ):
            return super()._render_cell(*generic)
        component, post = self._get_styles_to_render_cell(
            False,
            False,
            False,
            hover,
            cursor,
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index})
        pre += component
        blank = Segment(" " * pad)
        line = [
            blank,
            *Text("\n").join([cell]).render(self.app.console),
            Segment(" " * (room - cell.cell_len)),
            blank,
        ]
        lines = [list(Segment.apply_style(line, style=pre, post_style=post))]
        self._cell_render_cache[cache_key] = lines
        return lines

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        # DataTable measures every cell of every new row to size auto-width columns (~3,000
        # cells on a 100-symbol dashboard's first load); here every column has a fixed
        # width and every row one line, so only the scrollable size needs setting.
        header = self.header_height if self.show_header else 0
        width = sum(c.get_render_width(self) for c in self.columns.values())
        rest = getattr(self, "_rest", 0)  # rows still to come after the first frame
        self.virtual_size = Size(
            width + self._row_label_column_width, self._total_row_height + rest + header
        )


def sync_rows(
    table: DataTable[object],
    rows: Sequence[tuple[str, Sequence[object]]],
    *,
    follow_top: bool = False,
) -> None:
    """Make `table` show `rows` ((key, cells) in display order), touching only what changed.

    The cursor stays on its row; with `follow_top` a cursor on the top row stays on the top
    row instead (a newest-first table then shows the newest rows as they come, where it
    would otherwise scroll them away to follow the row the cursor was on)."""
    top = follow_top and table.cursor_row == 0
    wanted = {key for key, _ in rows}
    for gone in [k for k in list(table.rows) if k.value not in wanted]:
        table.remove_row(gone)
    columns = [c.key for c in table.ordered_columns]
    present = {k.value for k in table.rows}
    changed: dict[str, list[tuple[ColumnKey, object]]] = {}
    for key, cells in rows:
        if key in present:
            old = table.get_row(key)
            diff = [
                (col, after)
                for col, before, after in zip(columns, old, cells, strict=True)
                if before != after
            ]
            if diff:
                changed[key] = diff
        else:
            table.add_row(*cells, key=key)
    if changed:
        _update_rows(table, changed)
    order = [k for k, _ in rows]
    current = [r.key.value for r in table.ordered_rows]
    if current != order:
        selected = _cursor_key(table)
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if top and rows:
            table.move_cursor(row=0)
        elif selected in wanted:
            table.move_cursor(row=table.get_row_index(selected))


def _update_rows(
    table: DataTable[object], changed: dict[str, list[tuple[ColumnKey, object]]]
) -> None:
    """Put changed cells in place and repaint only their rows.

    `DataTable.update_cell` counts every update in one table-wide number that keys all of
    its render caches, so one changed cell re-renders every visible cell of the table
    (most of a refresh's repaint, for one changed price). Here the cells are set and only the
    changed rows' cached renders are dropped. This reaches into DataTable's private caches
    (textual is pinned in constraints.txt); the Pilot tests that read changed cells off
    the screen fail if a textual upgrade changes them.
    """
    for key, cells in changed.items():
        row = table._data[RowKey(key)]
        for col, value in cells:
            row[col] = value
    indexes = {table.get_row_index(key) for key in changed}
    # cell and row-line renders are keyed by (row key, ...); row renderables by (count, index)
    _forget(table._cell_render_cache, lambda k: k[0] in changed)
    _forget(table._row_render_cache, lambda k: k[0] in changed)
    _forget(table._row_renderable_cache, lambda k: k[1] in indexes)
    table._line_cache.clear()  # keyed by screen line; rebuilt from the row caches
    for index in indexes:
        table.refresh_row(index)


def _forget(cache: LRUCache[K, V], stale: Callable[[K], bool]) -> None:
    for key in [k for k in cache.keys() if stale(k)]:
        cache.discard(key)


def _cursor_key(table: DataTable[object]) -> str | None:
    if not table.row_count:
        return None
    try:
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
    except Exception:  # cursor outside the table after rows went away
        return None


def selected_key(table: DataTable[object]) -> str | None:
    """The key of the row under the cursor, or None for an empty table."""
    return _cursor_key(table)
