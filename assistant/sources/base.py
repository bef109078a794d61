"""The source protocol and the normalized bar frame every source returns.

A normalized frame has a tz-naive DatetimeIndex of exchange-local session dates (sorted,
unique) and float columns open, high, low, close, volume (split- and dividend-adjusted
prices), raw_close (as traded), adj_factor (close / raw_close) and int columns
provisional (1 for a bar whose session has not closed) and flagged (1 for an
unexplained jump). `validate.py` turns raw input into this shape or refuses it.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd

NORMALIZED_COLUMNS = [
    "open", "high", "low", "close", "volume", "raw_close", "adj_factor", "provisional", "flagged",
]


class Source(Protocol):
    name: str

    def history(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Normalized bars for sessions in [start, end] (both inclusive).

        Raises NoDataError when the source has nothing for the symbol/range and
        TemporaryError for rate limits, timeouts and network failures.
        """
        ...


def session_closed(exchange: str, day: pd.Timestamp, now: pd.Timestamp | None = None) -> bool:
    """Whether the session on `day` has closed at `now` (UTC): a bar before that is provisional.

    Crypto (24/7) and FX (24/5) sessions close at midnight UTC; others at their exchange's
    scheduled close (early closes included).
    """
    import exchange_calendars as xcals

    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    day = pd.Timestamp(day).tz_localize(None).normalize()
    if exchange in ("24/7", "24/5"):
        return now >= (day + pd.Timedelta(days=1)).tz_localize("UTC")
    cal = xcals.get_calendar(exchange)
    if not cal.is_session(day):
        return now >= (day + pd.Timedelta(days=1)).tz_localize(cal.tz)
    return now >= cal.session_close(day)


def local_today(exchange: str, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """Today's date where the exchange is (tz-naive)."""
    import exchange_calendars as xcals

    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    tz = "UTC" if exchange in ("24/7", "24/5") else xcals.get_calendar(exchange).tz
    return now.tz_convert(tz).tz_localize(None).normalize()
