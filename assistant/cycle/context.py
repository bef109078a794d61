"""The world around the calls: what a cycle as of D knew at D's close besides the bars.

- the VIX: its level on D (or the last value known by D), its percentile among the
  trailing year's levels, from the stored ^VIX series (`models.vix`);
- the next scheduled event (an FOMC decision, `models.events`) and how many sessions after D
  it falls on the symbol's exchange calendar, so "event within the horizon" is known per
  call ("FOMC in 2 sessions"); the same for the next CPI release, whose date is a rule's
  estimate ("CPI in 5 sessions (est. 2016-03-16)");
- news: how many stored headlines were published in the NEWS_DAYS days up to D's close
  (and collected by the evening after it) and their mean lexicon sentiment (shown, not a
  model input).

Nothing dated after D enters D's context. One context per (symbol, as_of), stored with the
calls (`store.market.call_context`) so `report` and the dashboard show what a call saw.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from typing import TypedDict

import numpy as np
import pandas as pd
import sqlite_utils

from assistant import calendar
from models import events, vix
from store import market
from store import news as news_store
from vocab.market import describe

VIX_SERIES = "^VIX"
VIX_HISTORY_DAYS = 400  # calendar days of VIX behind the percentile (252 sessions + room)
EVENT_LOOKAHEAD_DAYS = 120  # calendar days of sessions searched for the next event
NEWS_DAYS = 7
# A headline counts for D's calls only if collected by then: the daemon collects after the
# close; one collected later (e.g. on a backfill weeks after) was not known at D's close.
NEWS_KNOWN_BY = pd.Timedelta(hours=12)


@dataclass(frozen=True)
class WorldContext:
    symbol: str
    as_of: date
    vix: float | None = None
    vix_pct: float | None = None  # 0..1 among the trailing year's levels
    vix_date: date | None = None  # the date of the value used (D, or the last before it)
    next_event: str | None = None  # e.g. "FOMC"
    next_event_date: date | None = None
    event_sessions: int | None = None  # sessions after as_of; None: the calendar cannot say
    calendar_ends: str | None = None  # set when as_of + lookahead runs past the table
    news_n: int | None = None
    news_sentiment: float | None = None
    cpi_date: date | None = None  # the next CPI release (estimated, models.events)
    cpi_sessions: int | None = None

    def event_within(self, h: int) -> bool | None:
        """Whether a scheduled event (FOMC, or the estimated CPI release) falls on one of
        the h sessions after as_of (None: the table does not reach that far)."""
        if self.cpi_sessions is not None and self.cpi_sessions <= h:
            return True
        if self.event_sessions is not None:
            return self.event_sessions <= h
        return None if self.calendar_ends else False

    def line(self, h: int | None = None) -> str:
        # the fields as `asdict` gives them, without its deep copy of each (all are scalars)
        return describe({name: getattr(self, name) for name in _CONTEXT_FIELDS}, h)

    def row(self) -> tuple[object, ...]:
        return (
            self.symbol,
            self.as_of,
            self.vix,
            self.vix_pct,
            self.vix_date,
            self.next_event,
            self.next_event_date,
            self.event_sessions,
            self.news_n,
            self.news_sentiment,
            self.cpi_date,
            self.cpi_sessions,
        )


class VixAt(TypedDict, total=False):
    vix: float
    vix_pct: float | None
    vix_date: date


class EventAhead(TypedDict, total=False):
    next_event: str
    next_event_date: date
    event_sessions: int
    calendar_ends: str
    cpi_date: date
    cpi_sessions: int


_CONTEXT_FIELDS = tuple(f.name for f in fields(WorldContext))  # `line` makes 1,500 a cycle


def _vix_at(db: sqlite_utils.Database, exchange: str, as_of: date) -> VixAt:
    day = pd.Timestamp(as_of)
    rows = market.values(
        db,
        VIX_SERIES,
        start=day - pd.Timedelta(days=VIX_HISTORY_DAYS + 30),
        end=as_of,
    )
    if not rows:
        return {}
    values = pd.Series([v for _, v in rows], index=pd.DatetimeIndex([d for d, _ in rows]))
    sessions = calendar.sessions(exchange, day - pd.Timedelta(days=VIX_HISTORY_DAYS), day)
    if not len(sessions) or sessions[-1] != day:
        sessions = pd.DatetimeIndex(sessions.append(pd.DatetimeIndex([day])))
    last = vix.features(values, sessions).iloc[-1]
    if not np.isfinite(last["vix"]):
        return {}
    known = values.index[values.index <= day][-1]
    return {
        "vix": float(last["vix"]),
        "vix_pct": float(last["vix_pct"]) if np.isfinite(last["vix_pct"]) else None,
        "vix_date": known.date(),
    }


def vix_values(db: sqlite_utils.Database, bars: dict[str, pd.DataFrame]) -> pd.Series | None:
    """The stored ^VIX over the sessions of `bars` (nothing dated after their last session),
    for the variance forecast's regressor; None when none is stored there."""
    frames = [f for f in bars.values() if len(f)]
    if not frames:
        return None
    start = min(f.index[0] for f in frames)
    end = max(f.index[-1] for f in frames)
    rows = market.values(db, VIX_SERIES, start=start, end=end)
    if not rows:
        return None
    return pd.Series([v for _, v in rows], index=pd.DatetimeIndex([d for d, _ in rows]))


def _event_after(exchange: str, as_of: date, extra_fomc: tuple[str, ...] = ()) -> EventAhead:
    day = pd.Timestamp(as_of)
    ahead = calendar.sessions(exchange, day, day + pd.Timedelta(days=EVENT_LOOKAHEAD_DAYS))
    if not len(ahead) or ahead[0] != day:
        ahead = pd.DatetimeIndex(pd.DatetimeIndex([day]).append(ahead[ahead > day]))
    out: EventAhead = {}
    best: tuple[int, str, date] | None = None  # (sessions, kind, date) of the nearest event
    for kind in events.EVENTS:
        dist, when = events.sessions_to_next(ahead, kind, extra_fomc)
        if not np.isfinite(dist[0]):
            continue
        if kind in events.ESTIMATED:  # said apart, with "est.": never as the scheduled one
            out["cpi_date"] = pd.Timestamp(when[0]).date()
            out["cpi_sessions"] = int(dist[0])
        elif best is None or int(dist[0]) < best[0]:
            best = (int(dist[0]), kind, pd.Timestamp(when[0]).date())
    if best is not None:
        out["next_event"], out["next_event_date"], out["event_sessions"] = best[1], best[2], best[0]
    elif ahead[-1] > pd.Timestamp(end := events.calendar_end(extra_fomc)):
        out["calendar_ends"] = end
    return out


def _news_before(
    db: sqlite_utils.Database, symbols: list[str], exchange: str, as_of: date
) -> dict[str, tuple[int, float | None]]:
    """Per symbol: headlines published in the NEWS_DAYS days before the session's close and
    collected by NEWS_KNOWN_BY after it (the evening's collection, not a later one)."""
    close = calendar.session_close(exchange, as_of)
    start = close - pd.Timedelta(days=NEWS_DAYS)
    known_by = close + NEWS_KNOWN_BY
    return news_store.stats(
        db, symbols, *(t.isoformat(timespec="seconds") for t in (start, close, known_by))
    )


def world_context(
    db: sqlite_utils.Database,
    as_of: dict[str, date],
    default_exchange: str,
    extra_fomc: tuple[str, ...] = (),
) -> dict[str, WorldContext]:
    """{symbol: its WorldContext} for each symbol's as-of session (one computation per
    exchange and session: a watchlist of 500 costs a few queries); `extra_fomc`: FOMC dates
    the user added past the table's end (`[events] fomc`)."""
    groups: dict[tuple[str, date], list[str]] = {}
    for sym, day in as_of.items():
        groups.setdefault((calendar.exchange_for(sym, default_exchange), day), []).append(sym)
    out = {}
    for (exchange, day), syms in groups.items():
        v, e = _vix_at(db, exchange, day), _event_after(exchange, day, extra_fomc)
        news = _news_before(db, syms, exchange, day)
        for sym in syms:
            n, s = news.get(sym, (0, None))
            out[sym] = WorldContext(sym, day, **v, **e, news_n=n, news_sentiment=s)
    return {s: out[s] for s in as_of}
