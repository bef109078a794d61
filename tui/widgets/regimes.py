"""Regime states: each watched symbol's current regime, how long it has held, trend and
volatility; the panel's title carries the market line."""

from __future__ import annotations

from store.views.market_line import MarketContext
from store.views.regimes import RegimeLine
from tui.widgets import fmt
from tui.widgets.tables import RowsTable
from vocab.market import describe

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


def market_line(ctx: MarketContext) -> str:
    """The newest cycle's market context in the panel's title: VIX and the nearer of the
    next FOMC decision and the next estimated CPI release, without its date (the title is
    narrow); "" when the context holds none of them."""
    shown = dict(ctx)
    fomc, cpi = ctx["event_sessions"], ctx["cpi_sessions"]
    if fomc is not None and cpi is not None:  # the title has room for one: the nearer
        shown["cpi_sessions" if fomc <= cpi else "event_sessions"] = None
    return describe(shown, dates=False)
