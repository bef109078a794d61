"""The watchlist: one row per watched symbol, updated in place when the store changes."""

from __future__ import annotations

from typing import Any

from textual.reactive import reactive
from textual.widgets import DataTable

from tui.widgets import fmt
from tui.widgets.tables import selected_key, sync_rows

COLUMNS = (("Symbol", 7), ("Close", 9), ("Chg", 7), ("Regime", 8), ("Latest call", 12), ("Conf", 4),
           ("Model", 11), ("Hit rate", 11), ("Always up", 9))


class WatchlistTable(DataTable):
    """Symbol, last close and change, regime, latest call with confidence, hit rate vs baseline."""

    rows_data: reactive[list[dict[str, Any]]] = reactive(list, always_update=True)

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.zebra_stripes = True
        for name, width in COLUMNS:
            # Fixed widths: no re-measuring on updates, and stable layout for snapshots.
            self.add_column(name, key=name, width=width)

    def watch_rows_data(self, rows: list[dict[str, Any]]) -> None:
        if not self.columns:
            return
        sync_rows(self, [(r["symbol"], self.cells(r)) for r in rows])

    @staticmethod
    def cells(r: dict[str, Any]) -> tuple:
        call = r.get("call")
        return (
            r["symbol"],
            fmt.num(r.get("close")),
            fmt.signed(r.get("change_pct")),
            fmt.regime(r.get("regime")),
            fmt.call(call),
            fmt.pct(call.get("confidence") if call else None),
            (call or {}).get("model_version") or "—",
            fmt.hit_vs_base(r.get("hit_rate"), r.get("baseline"), r.get("n", 0)),
            fmt.pct(r.get("baseline")),
        )

    @property
    def selected_symbol(self) -> str | None:
        return selected_key(self)
