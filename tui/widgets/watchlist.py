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
    ("80% range", 11),
    ("In 80%", 8),
    ("Rank", 12),  # the ranking model: rank among the ranked symbols, expected relative move
    ("Hit rate", 11),  # after what the product knows (ranges, rank): direction rarely has edge
    ("Baseline", 9),  # the stronger of always-up and the causal majority on the same calls
    ("Model", 11),  # last: the first column to scroll off a narrow screen
)


class WatchlistTable(RowsTable):
    """Symbol, last close and change, regime, latest call with confidence and
    its 80% range of the target close, the realized 80% coverage, the ranking model's rank of
    the symbol with its expected move relative to the others, and hit rate vs baseline."""

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
            fmt.price_range((call or {}).get("lower"), (call or {}).get("upper")),
            fmt.coverage(r.get("coverage80"), r.get("n80", 0)),
            fmt.rank(r.get("ranking")),
            fmt.hit_vs_base(r.get("hit_rate"), r.get("baseline"), r.get("n", 0)),
            fmt.pct(r.get("baseline")),
            (call or {}).get("model_version") or "—",
        )

    @property
    def selected_symbol(self) -> str | None:
        return selected_key(self)
