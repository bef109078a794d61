"""Live quotes: while a symbol's exchange is open the daemon asks its source for the latest
price every `[live] poll_minutes` and keeps the newest per symbol (store.quotes), read
against the day's call on the dashboard and in `assistant status`.

Nothing is asked while the exchange is closed: each symbol's own exchange calendar
(assistant.calendar.exchange_for) decides, holidays, early closes and lunch breaks
included. A poll that brings nothing newer (an empty answer, a rate limit, a network
error, the same quote again) counts a miss; after `[live] stale_polls` misses in a row the
quote is stale, and it says so with its age. A rate limit stops the rest of that poll
(the source refuses to ask again for a while): the next poll tries again. A source with no
quotes (the offline sample, CSV files) is never polled.

A replay has no live source: it steps through each replayed session hour by hour and
quotes the stored hourly bars' closes (`replay_hour`), so the same read moves during a
replayed day.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import sqlite_utils

from assistant import calendar
from assistant.config import Settings
from assistant.errors import NoDataError, TemporaryError
from assistant.ingest.sources.base import Quoting, Source
from store import quotes as store
from store import symbols as watch
from store.db import immediate

log = logging.getLogger("assistant.daemon")

YAHOO_PER_HOUR = 2000  # requests an hour Yahoo answers from one address (unofficial)


@dataclass
class PollResult:
    asked: list[str] = field(default_factory=list)  # symbols the source was asked for
    new: int = 0  # newer quotes stored
    missed: list[str] = field(default_factory=list)
    rate_limited: bool = False


def poll_every(settings: Settings) -> timedelta | None:
    minutes = int(settings.live.poll_minutes)
    return timedelta(minutes=minutes) if minutes > 0 else None


class QuotePoller:
    """Polls at `[live] poll_minutes` while an exchange of the watchlist is open.

    `run_due()` polls when a poll is due at `now()` (the loop calls it every pass); the
    first poll comes at the first pass with an exchange open."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        settings: Settings,
        source: Callable[[], Source | None],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self.db, self.settings, self.source, self.now = db, settings, source, now
        self.next_at: datetime | None = None  # None: due at once
        self._said_no_quotes = False
        self._said_too_many = False

    def run_due(self) -> PollResult | None:
        """One poll if one is due now (None when not due, or polling is off)."""
        every = poll_every(self.settings)
        if every is None:
            return None
        now = self.now()
        if self.next_at is not None and now < self.next_at:
            return None
        self.next_at = now + every
        return self.poll(now, every)

    def seconds_to_next(self) -> float:
        if poll_every(self.settings) is None:
            return float("inf")
        if self.next_at is None:
            return 0.0
        return max(0.0, (self.next_at - self.now()).total_seconds())

    def open_symbols(self, now: datetime) -> dict[str, tuple[date, pd.Timestamp, pd.Timestamp]]:
        """{symbol: (session, open, close)} of the watched symbols whose exchange trades now."""
        ts = pd.Timestamp(now)
        default = self.settings.calendar.exchange
        by_exchange: dict[str, tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp] | None] = {}
        out = {}
        for symbol in watch.active_symbols(self.db):
            exchange = calendar.exchange_for(symbol, default)
            if exchange not in by_exchange:
                by_exchange[exchange] = calendar.open_session(exchange, ts)
            trading = by_exchange[exchange]
            if trading is not None:
                day, opens, closes = trading
                out[symbol] = (day.date(), opens, closes)
        return out

    def poll(self, now: datetime, every: timedelta) -> PollResult:
        result = PollResult()
        trading = self.open_symbols(now)
        if not trading:
            return result  # every exchange closed: nothing asked
        source = self.source()
        if not isinstance(source, Quoting):
            if not self._said_no_quotes:
                name = getattr(source, "name", "none")
                log.debug("live quotes: the source (%s) has none; not polling", name)
                self._said_no_quotes = True
            return result
        stale_polls = int(self.settings.live.stale_polls)
        per_hour = len(trading) * 3600 / every.total_seconds()
        if per_hour > YAHOO_PER_HOUR and not self._said_too_many:
            log.warning(
                "live quotes: %d symbols every %s is %.0f requests an hour, more than the "
                "about %d Yahoo answers from one address: raise [live] poll_minutes",
                len(trading),
                every,
                per_hour,
                YAHOO_PER_HOUR,
            )
            self._said_too_many = True
        for symbol, (session, opens, closes) in trading.items():
            if result.rate_limited:
                store.miss(self.db, symbol, now, stale_polls, "rate limited: not asked")
                result.missed.append(symbol)
                continue
            result.asked.append(symbol)
            try:
                q = source.quote(symbol)
            except (TemporaryError, NoDataError) as exc:
                result.rate_limited = "rate limit" in str(exc).lower()
                store.miss(self.db, symbol, now, stale_polls, str(exc)[:200])
                result.missed.append(symbol)
                continue
            at = pd.Timestamp(q.at).tz_convert("UTC")
            if at < opens:  # the previous session's last minute: nothing traded today yet
                store.miss(self.db, symbol, now, stale_polls, "no trade yet this session")
                result.missed.append(symbol)
                continue
            with immediate(self.db):
                done = store.record(
                    self.db,
                    symbol,
                    session=session,
                    price=q.price,
                    at=at.to_pydatetime(),
                    polled_at=now,
                    source=source.name,
                    closes_at=closes.to_pydatetime(),
                    fresh_for=every * stale_polls,
                    stale_polls=stale_polls,
                )
            result.new += done.new
            if not done.new:
                result.missed.append(symbol)
        if result.rate_limited:
            log.warning("live quotes: Yahoo's rate limit; the next poll tries again")
        return result


def replay_hour(db: sqlite_utils.Database, settings: Settings, session: date, slot: int) -> int:
    """Quote the close of hourly bar `slot` of `session` for each watched symbol that has
    it, as if polled at the bar's end (the replay's clock), in one write; how many."""
    default = settings.calendar.exchange
    every = max(poll_every(settings) or timedelta(hours=1), timedelta(hours=1))
    stale_polls = int(settings.live.stale_polls)
    closes: dict[str, pd.Timestamp] = {}
    rows = store.hour_closes(db, session, slot)
    with immediate(db):
        for symbol, ts, price in rows:
            exchange = calendar.exchange_for(symbol, default)
            if exchange not in closes:
                closes[exchange] = calendar.session_close(exchange, session)
            end = min(pd.Timestamp(ts).tz_convert("UTC") + pd.Timedelta(hours=1), closes[exchange])
            store.record(
                db,
                symbol,
                session=session,
                price=price,
                at=end.to_pydatetime(),
                polled_at=end.to_pydatetime(),
                source="replay",
                closes_at=closes[exchange].to_pydatetime(),
                fresh_for=every * stale_polls,  # a replayed hour is one poll
                stale_polls=stale_polls,
            )
    return len(rows)
