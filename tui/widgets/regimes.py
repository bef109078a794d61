"""Regime states: each watched symbol's current regime, how long it has held, trend and volatility."""

from __future__ import annotations

from store.views.regimes import RegimeLine
from tui.widgets import fmt
from tui.widgets.tables import RowsTable

COLUMNS = (("Symbol", 8), ("Regime", 8), ("For", 9), ("Trend", 6), ("Vol", 4))


class RegimeTable(RowsTable[RegimeLine]):
    COLUMNS = COLUMNS
    KEEP = tuple(name for name, _ in COLUMNS)
    CURSOR = "none"

    def row(self, r: RegimeLine) -> tuple[str, tuple[object, ...]]:
        return r["symbol"], (
            r["symbol"],
            fmt.regime(r["regime"]),
            f"{'≥' if r['at_least'] else ''}{r['sessions']} sess",
            fmt.signed(None if r["trend"] is None else r["trend"] * 100, 1),
            fmt.pct(r["volatility"]),
        )
