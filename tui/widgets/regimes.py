"""Regime states: each watched symbol's current regime, how long it has held, trend and volatility."""

from __future__ import annotations

from typing import Any

from textual.reactive import reactive
from textual.widgets import DataTable

from tui.widgets import fmt
from tui.widgets.tables import sync_rows

COLUMNS = (("Symbol", 8), ("Regime", 8), ("For", 9), ("Trend", 6), ("Vol", 4))


class RegimeTable(DataTable):
    rows_data: reactive[list[dict[str, Any]]] = reactive(list, always_update=True)

    def on_mount(self) -> None:
        self.cursor_type = "none"
        for name, width in COLUMNS:
            # Fixed widths: no re-measuring on updates, and stable layout for snapshots.
            self.add_column(name, key=name, width=width)

    def watch_rows_data(self, rows: list[dict[str, Any]]) -> None:
        if not self.columns:
            return
        sync_rows(self, [(r["symbol"], (
            r["symbol"], fmt.regime(r["regime"]),
            f"{'≥' if r['at_least'] else ''}{r['sessions']} sess",
            fmt.signed(None if r["trend"] is None else r["trend"] * 100, 1),
            fmt.pct(r["volatility"]),
        )) for r in rows])
