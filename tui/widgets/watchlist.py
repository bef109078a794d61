"""The watchlist: one row per watched symbol, updated in place when the store changes."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.widgets import fmt
from tui.widgets.tables import RowsTable, selected_key

COLUMNS = (
    ("Symbol", 7),
    ("Close", 9),
    ("Chg", 7),
    ("Regime", 8),
    ("Latest call", 12),
    ("Conf", 4),
    ("Model", 11),
    ("Hit rate", 11),
    ("Always up", 9),
)


class WatchlistTable(RowsTable):
    """Symbol, last close and change, regime, latest call with confidence, hit rate vs baseline."""

    COLUMNS = COLUMNS
    ZEBRA = True

    def row(self, r: dict[str, Any]) -> tuple[str, tuple]:
        return r["symbol"], self.cells(r)

    @staticmethod
    def cells(r: dict[str, Any]) -> tuple:
        call = r.get("call")
        return (
            r["symbol"],
            fmt.num(r.get("close")),
            fmt.signed(r.get("change_pct")),
            fmt.regime(r.get("regime")),
            Text("—", style="dim") if r.get("call_muted") else fmt.call(call),
            fmt.confidence(call),
            (call or {}).get("model_version") or "—",
            fmt.hit_vs_base(r.get("hit_rate"), r.get("baseline"), r.get("n", 0)),
            fmt.pct(r.get("baseline")),
        )

    @property
    def selected_symbol(self) -> str | None:
        return selected_key(self)
