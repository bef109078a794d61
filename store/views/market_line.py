"""The dashboard's market line: the newest cycle's market-wide context (VIX, the next
scheduled event) and the line that says it in the regimes panel's title."""

from __future__ import annotations

from typing import TypedDict, cast

import sqlite_utils

from store import market


class MarketLine(TypedDict):
    """The newest cycle's market-wide context and the line that says it."""

    as_of: str
    vix: float | None
    vix_pct: float | None
    next_event: str | None
    next_event_date: str | None
    event_sessions: int | None
    cpi_date: str | None  # the next CPI release, estimated (models.events)
    cpi_sessions: int | None
    line: str


def market_context(db: sqlite_utils.Database) -> MarketLine | None:
    """The newest cycle's market-wide context (VIX, the next scheduled event) and its line
    (the nearer of the next FOMC decision and the next estimated CPI release, without its
    date: the dashboard's title is narrow)."""
    row = db.execute(
        "SELECT as_of, vix, vix_pct, next_event, next_event_date, event_sessions, cpi_date, "
        "cpi_sessions FROM call_context ORDER BY as_of DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    keys = (
        "as_of",
        "vix",
        "vix_pct",
        "next_event",
        "next_event_date",
        "event_sessions",
        "cpi_date",
        "cpi_sessions",
    )
    ctx = dict(zip(keys, row, strict=True))
    shown = dict(ctx)
    fomc, cpi = ctx["event_sessions"], ctx["cpi_sessions"]
    if fomc is not None and cpi is not None:  # the title has room for one: the nearer
        shown["cpi_sessions" if fomc <= cpi else "event_sessions"] = None
    line = market.describe(shown, dates=False)
    return cast(MarketLine, {**ctx, "line": line}) if line else None
