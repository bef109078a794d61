"""The dashboard's regimes panel (and the symbol screen's regime): each watched symbol's
latest regime, how many stored sessions it has held, its trend and volatility."""

from __future__ import annotations

from datetime import date
from typing import TypedDict

import sqlite_utils

from store.views.read import MAX_DATE


class RegimeLine(TypedDict):
    """A symbol's regime now and how long it has held."""

    symbol: str
    date: str
    regime: str
    trend: float | None
    volatility: float | None
    sessions: int  # how many stored sessions the regime has held
    at_least: bool  # it held through the whole look-back


# Every watched symbol's regime line in ONE statement (the per-symbol regime_state read
# each symbol's last `lookback` rows through Python, about a third of the dashboard's read
# at 500 symbols): per symbol, index seeks for its newest row, the oldest row of the
# look-back (`first`), the newest different regime inside it (`change`) and a count of the
# rows after that (tests/test_dashboard_set_based.py compares it with regime_state).
REGIMES_SQL = """
WITH f AS MATERIALIZED (
  SELECT s.symbol,
    (SELECT MAX(date) FROM regimes WHERE symbol = s.symbol AND date <= :until) AS newest,
    (SELECT date FROM regimes WHERE symbol = s.symbol AND date <= :until
     ORDER BY date DESC LIMIT 1 OFFSET :lookback - 1) AS first
  FROM symbols s WHERE s.active = 1
), t AS MATERIALIZED (
  SELECT r.symbol, r.date, r.regime, r.trend, r.volatility, f.first,
    (SELECT x.date FROM regimes x WHERE x.symbol = r.symbol AND x.date <= r.date
     AND x.date >= COALESCE(f.first, '') AND x.regime != r.regime
     ORDER BY x.date DESC LIMIT 1) AS change
  FROM f CROSS JOIN regimes r ON r.symbol = f.symbol AND r.date = f.newest
)
SELECT symbol, date, regime, trend, volatility, change IS NULL,
  (SELECT COUNT(*) FROM regimes x WHERE x.symbol = t.symbol AND x.date <= t.date
   AND x.date > COALESCE(t.change, '') AND x.date >= COALESCE(t.first, ''))
FROM t ORDER BY symbol
"""


def regime_states(
    db: sqlite_utils.Database, lookback: int = 60, as_of: date | None = None
) -> list[RegimeLine]:
    """Latest regime per watched symbol (up to `as_of`), how many stored sessions it has
    lasted, trend, vol: what regime_state says of each, read for all in one statement."""
    until = as_of.isoformat() if as_of else MAX_DATE
    return [
        RegimeLine(
            {
                "symbol": symbol,
                "date": day,
                "regime": regime,
                "trend": trend,
                "volatility": vol,
                "sessions": run,
                "at_least": bool(held),
            }
        )
        for symbol, day, regime, trend, vol, held, run in db.execute(
            REGIMES_SQL, {"until": until, "lookback": lookback}
        )
    ]


def regime_state(
    db: sqlite_utils.Database, symbol: str, lookback: int = 60, as_of: date | None = None
) -> RegimeLine | None:
    """One symbol's latest regime up to `as_of` and how many stored sessions it has lasted."""
    recent = db.execute(
        "SELECT date, regime, trend, volatility FROM regimes WHERE symbol = ? "
        "AND date <= ? ORDER BY date DESC LIMIT ?",
        [symbol, as_of.isoformat() if as_of else MAX_DATE, lookback],
    )
    latest = recent.fetchone()
    if latest is None:
        return None
    run, held = 1, True  # held: the regime lasts through the whole look-back
    for _date, regime, _trend, _vol in recent:  # stepped only up to the first change
        if regime != latest[1]:
            held = False
            break
        run += 1
    return RegimeLine(
        {
            "symbol": symbol,
            "date": latest[0],
            "regime": latest[1],
            "trend": latest[2],
            "volatility": latest[3],
            "sessions": run,
            "at_least": held,
        }
    )
