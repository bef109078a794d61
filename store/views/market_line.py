"""The dashboard's market line: the newest cycle's market-wide context (VIX, the next
scheduled event), which the regimes panel's title says (tui.widgets.regimes)."""

from __future__ import annotations

from typing import TypedDict

import sqlite_utils

from store.views.read import rows


class MarketContext(TypedDict):
    """The newest cycle's market-wide context."""

    as_of: str
    vix: float | None
    vix_pct: float | None
    next_event: str | None
    next_event_date: str | None
    event_sessions: int | None
    cpi_date: str | None  # the next CPI release, estimated (models.events)
    cpi_sessions: int | None


def market_context(db: sqlite_utils.Database) -> MarketContext | None:
    """The newest cycle's market-wide context: VIX, the next FOMC decision and the next
    estimated CPI release (None before the first cycle)."""
    newest = rows(
        db,
        MarketContext,
        "SELECT as_of, vix, vix_pct, next_event, next_event_date, event_sessions, cpi_date, "
        "cpi_sessions FROM call_context ORDER BY as_of DESC LIMIT 1",
    )
    return newest[0] if newest else None
