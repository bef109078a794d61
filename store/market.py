"""Outside market series (^VIX, yields) and the context each cycle's calls saw.

A series value is history: stored once its session has closed and never overwritten, so a
later answer from the source (a revision) cannot change what a past call saw. The caller
owns the transaction for `save_context`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, TypedDict, cast

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


def describe(ctx: Mapping[str, Any], h: int | None = None, dates: bool = True) -> str:
    """One line for a stored (or computed) context: "VIX 18.2 (pct 64 of 1y); FOMC
    in 2 sessions (2026-12-09); CPI in 5 sessions (est. 2026-12-14); 3 headlines, sentiment
    +0.20". With `h`, says whether an event falls within the call's horizon; without
    `dates`, the events' dates are left out (a narrow title)."""
    parts = []
    if ctx.get("vix") is not None:
        pct = ctx.get("vix_pct")
        parts.append(
            f"VIX {ctx['vix']:.1f}" + ("" if pct is None else f" (pct {100 * pct:.0f} of 1y)")
        )
    n = ctx.get("event_sessions")
    if n is not None:
        text = f"{ctx['next_event']} in {n} session{'s' if n != 1 else ''}" + (
            f" ({ctx['next_event_date']})" if dates else ""
        )
        parts.append(text + (" — within the horizon" if h is not None and n <= h else ""))
    elif ctx.get("calendar_ends"):
        parts.append(f"event calendar ends {ctx['calendar_ends']}")
    c = ctx.get("cpi_sessions")
    if c is not None:  # the CPI's date is a rule's estimate (models.events)
        when = f" {ctx['cpi_date']}" if dates else ""
        text = f"CPI in {c} session{'s' if c != 1 else ''} (est.{when})"
        parts.append(text + (" — within the horizon" if h is not None and c <= h else ""))
    if ctx.get("news_n"):
        parts.append(f"{ctx['news_n']} headlines, sentiment {ctx['news_sentiment']:+.2f}")
    return "; ".join(parts)
