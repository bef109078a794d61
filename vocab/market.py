"""How a market context reads: the VIX, the next scheduled event (FOMC, the estimated
CPI release) and the news a call saw, in one line (`assistant report`, the symbol
screen, the dashboard's regimes title)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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
