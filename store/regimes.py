"""Regime history: one label (bullish/bearish/volatile/sideways) per symbol and session.

A regime at t is computed from closes up to t only, so storing it is history, never a
revision; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import NamedTuple, TypedDict

import sqlite_utils

from store.db import bound, date_range


class RegimeRow(NamedTuple):
    """One symbol's regime at one session: the fields are the columns `upsert_many` fills."""

    symbol: str
    date: str | date  # a date goes to SQLite as its ISO text
    regime: str
    trend: float | None  # None where the closes so far do not define it
    volatility: float | None


_UPSERT = (
    f"INSERT INTO regimes ({', '.join(RegimeRow._fields)}) "
    f"VALUES ({', '.join('?' * len(RegimeRow._fields))}) "
    "ON CONFLICT (symbol, date) DO UPDATE SET regime = excluded.regime, "
    "trend = excluded.trend, volatility = excluded.volatility"
)


class RegimeAt(TypedDict):
    """One stored regime of a symbol (`history`, `latest`)."""

    date: str
    regime: str
    trend: float | None
    volatility: float | None


def upsert_many(db: sqlite_utils.Database, rows: Iterable[RegimeRow]) -> None:
    """Store regimes (one already stored for the symbol and session is replaced)."""
    db.conn.executemany(_UPSERT, [bound(r) for r in rows])


def last_dates(db: sqlite_utils.Database) -> dict[str, str]:
    """The newest stored session per symbol (so a cycle stores only what is new)."""
    return {s: d for s, d in db.execute("SELECT symbol, MAX(date) FROM regimes GROUP BY symbol")}


def history(
    db: sqlite_utils.Database, symbol: str, *, start: str | None = None, end: str | None = None
) -> list[RegimeAt]:
    bounds, params = date_range(start, end)
    cur = db.execute(
        "SELECT date, regime, trend, volatility FROM regimes WHERE symbol = ?"
        + bounds
        + " ORDER BY date",
        [symbol, *params],
    )
    return [{"date": d, "regime": g, "trend": t, "volatility": v} for d, g, t, v in cur]


def latest(db: sqlite_utils.Database) -> dict[str, RegimeAt]:
    """The current regime of every symbol that has one."""
    cur = db.execute(
        "SELECT r.symbol, r.date, r.regime, r.trend, r.volatility FROM regimes r "
        "JOIN (SELECT symbol, MAX(date) AS d FROM regimes GROUP BY symbol) m "
        "ON m.symbol = r.symbol AND m.d = r.date"
    )
    return {
        s: {"date": d, "regime": g, "trend": t, "volatility": v} for s, d, g, t, v in cur.fetchall()
    }
