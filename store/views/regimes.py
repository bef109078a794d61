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


def regime_states(
    db: sqlite_utils.Database, lookback: int = 60, as_of: date | None = None
) -> list[RegimeLine]:
    """Latest regime per watched symbol (up to `as_of`), how many stored sessions it has
    lasted, trend, vol."""
    out = []
    for (symbol,) in db.execute(
        "SELECT symbol FROM symbols WHERE active = 1 ORDER BY symbol"
    ).fetchall():
        state = regime_state(db, symbol, lookback, as_of)
        if state is not None:
            out.append(state)
    return out


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
