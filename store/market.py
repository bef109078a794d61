"""Outside market series (^VIX, yields) and the context each cycle's calls saw.

A series value is history: stored once its session has closed and never overwritten, so a
later answer from the source (a revision) cannot change what a past call saw. The caller
owns the transaction for `save_context`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import TypedDict, cast

import sqlite_utils

from store.db import bound, date_range, day_text, immediate, utcnow

CONTEXT_COLUMNS = (
    "symbol",
    "as_of",
    "vix",
    "vix_pct",
    "vix_date",
    "next_event",
    "next_event_date",
    "event_sessions",
    "news_n",
    "news_sentiment",
    "cpi_date",
    "cpi_sessions",
)


class CallContext(TypedDict):
    """The context a symbol's calls saw as of a session, as stored (`context_of`)."""

    symbol: str
    as_of: str
    vix: float | None
    vix_pct: float | None  # 0..1 among the trailing year's levels
    vix_date: str | None
    next_event: str | None
    next_event_date: str | None
    event_sessions: int | None
    news_n: int | None
    news_sentiment: float | None
    cpi_date: str | None
    cpi_sessions: int | None


def add_values(
    db: sqlite_utils.Database,
    series: str,
    rows: Iterable[tuple[str | date, float]],
    source: str,
) -> tuple[int, int]:
    """Store (date, value) rows of `series` (a date goes to SQLite as its ISO text); dates
    already stored keep their value. Returns (added, kept)."""
    rows = list(rows)
    stamp = utcnow()
    with immediate(db):
        before = db.conn.total_changes
        db.conn.executemany(
            "INSERT OR IGNORE INTO market_series (series, date, value, source, collected_at) "
            "VALUES (?, ?, ?, ?, ?)",
            [(series, day_text(d), float(v), source, stamp) for d, v in rows],
        )
        added = db.conn.total_changes - before
    return added, len(rows) - added


def values(
    db: sqlite_utils.Database,
    series: str,
    *,
    start: str | date | None = None,
    end: str | date | None = None,
) -> list[tuple[str, float]]:
    """(date, value) of `series` within [start, end], oldest first."""
    bounds, params = date_range(start, end)
    cur = db.execute(
        "SELECT date, value FROM market_series WHERE series = ?" + bounds + " ORDER BY date",
        [series, *params],
    )
    return [(d, float(v)) for d, v in cur.fetchall()]


def last_date(db: sqlite_utils.Database, series: str) -> str | None:
    row = db.execute("SELECT MAX(date) FROM market_series WHERE series = ?", [series]).fetchone()
    return row[0] if row else None


def save_context(db: sqlite_utils.Database, rows: Iterable[Sequence[object]]) -> None:
    """rows in CONTEXT_COLUMNS order; one per (symbol, as_of), the latest cycle's wins. A date
    in a row (the session, the VIX's, the events') goes to SQLite as its ISO text."""
    cols = ", ".join(CONTEXT_COLUMNS)
    marks = ", ".join("?" for _ in CONTEXT_COLUMNS)
    db.conn.executemany(
        f"INSERT OR REPLACE INTO call_context ({cols}) VALUES ({marks})",
        [bound(r) for r in rows],
    )


def context_of(
    db: sqlite_utils.Database, symbols: Sequence[str] | None = None, as_of: date | None = None
) -> dict[str, CallContext]:
    """Per symbol, the context its calls saw: as of `as_of` when given, else its latest."""
    where, params = [], []
    if as_of is not None:
        where.append("c.as_of = ?")
        params.append(as_of.isoformat())
    else:
        where.append("c.as_of = (SELECT MAX(as_of) FROM call_context m WHERE m.symbol = c.symbol)")
    if symbols:
        where.append(f"c.symbol IN ({', '.join('?' for _ in symbols)})")
        params.extend(symbols)
    cur = db.execute(
        f"SELECT {', '.join('c.' + c for c in CONTEXT_COLUMNS)} FROM call_context c WHERE "
        + " AND ".join(where),
        params,
    )
    return {
        r[0]: cast(CallContext, dict(zip(CONTEXT_COLUMNS, r, strict=True))) for r in cur.fetchall()
    }
