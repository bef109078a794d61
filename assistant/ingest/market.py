"""Collect the outside market series (^VIX, Treasury yields) into their own stored series.

Each series has its own source: Yahoo (through the same yfinance adapter as bars) when the
home collects from Yahoo; offline, the CBOE VIX history that ships with `arch`
(`arch.data.vix`, 2014-01-03 … 2019-01-03) for tests and benchmarks. Point in time: a
value dated D is stored only once D's session is over for that series (the VIX settles at
16:15 New York time, a quarter hour after the stock close, so Yahoo's answer is read with
a clock 15 minutes behind), never for a session after `until` (replay), and a stored value
is never overwritten (a revision cannot change what a past call saw).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date

import pandas as pd
import sqlite_utils

from assistant import calendar
from assistant.config import Settings
from assistant.errors import NoDataError, TemporaryError
from assistant.ingest.sources.base import Clocked, SeriesSource, Source
from store import market
from vocab.dates import session_date

SERIES: dict[str, str] = {
    "^VIX": "CBOE Volatility Index",
    "^TNX": "10-year Treasury yield (%)",
    "^IRX": "13-week Treasury bill yield (%)",
}
SETTLE_DELAY = pd.Timedelta(minutes=15)  # the VIX's settlement after the stock close


@dataclass
class SeriesResult:
    series: str
    status: str  # added | current | failed | no-data
    added: int = 0
    kept: int = 0  # values the source sent again for dates already stored (never rewritten)
    message: str = ""

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


class ArchVix:
    """The offline VIX: CBOE's daily VIX shipped with `arch` (2014-01-03 … 2019-01-03)."""

    name = "arch"
    serves: tuple[str, ...] = ("^VIX",)

    def history(self, series: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        if series not in self.serves:
            raise NoDataError(f"the offline source has no {series}")
        closes = _arch_vix().loc[pd.Timestamp(start) : pd.Timestamp(end)]
        if closes.empty:
            raise NoDataError(f"the offline source has no {series} in that range")
        return closes


@functools.cache
def _arch_vix() -> pd.Series:
    import arch.data.vix

    frame = arch.data.vix.load()
    closes = frame["vix"].astype(float).dropna()
    closes.index = pd.DatetimeIndex(closes.index).normalize()
    return closes.sort_index()


class YahooSeries:
    """A series through the Yahoo bar adapter: its final closes (a session still open, or
    within SETTLE_DELAY of its close, is left for the next run)."""

    name = "yahoo"
    serves: tuple[str, ...] = tuple(SERIES)

    def __init__(self, source: Clocked):
        self.source = source

    def history(self, series: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        clock = self.source.clock
        self.source.clock = lambda: clock() - SETTLE_DELAY
        try:
            frame = self.source.history(series, start, end)
        finally:
            self.source.clock = clock
        return frame.loc[frame["provisional"] == 0, "raw_close"].astype(float)


def source_for(source: Source | str) -> SeriesSource | None:
    """The series source that goes with a bar source (None: this source has no series)."""
    name = getattr(source, "name", source)
    if name == "yahoo":
        if not isinstance(source, Clocked):
            raise ValueError("pass the Yahoo bar source itself")
        return YahooSeries(source)
    if name == "sample":
        return ArchVix()
    return None


def collect_series(
    db: sqlite_utils.Database,
    settings: Settings,
    source: SeriesSource,
    *,
    until: date | None = None,
    now: pd.Timestamp | None = None,
    log: Callable[[str], None] | None = None,
) -> list[SeriesResult]:
    """Bring every series `source` serves up to date (one result per series). Failures are
    results, never exceptions: the bars' collection does not depend on these series."""
    now = now or pd.Timestamp.now(tz="UTC")
    exchange = settings.calendar.exchange
    end = pd.Timestamp(until).normalize() if until else calendar.local_today(exchange, now)
    out = []
    for series in source.serves:
        last = market.last_date(db, series)
        if last is not None and session_date(last) >= session_date(end):
            out.append(SeriesResult(series, "current", message=f"last value {last}"))
            continue
        start = (
            pd.Timestamp(last) + pd.Timedelta(days=1)
            if last
            else end - pd.DateOffset(years=int(settings.collect.history_years))
        )
        try:
            closes = source.history(series, pd.Timestamp(start), end)
        except TemporaryError as exc:
            out.append(SeriesResult(series, "failed", message=str(exc)))
            continue
        except NoDataError as exc:
            out.append(SeriesResult(series, "no-data", message=str(exc)))
            continue
        closes = closes[(closes.index <= end) & closes.notna()]
        rows = [(session_date(d), float(v)) for d, v in zip(closes.index, closes, strict=True)]
        added, kept = market.add_values(db, series, rows, source.name)
        out.append(SeriesResult(series, "added" if added else "current", added, kept))
        if log and added:
            log(f"{series}: {added} values added from {source.name}")
    return out


def series_frame(db: sqlite_utils.Database, series: str, end: str | None = None) -> pd.Series:
    """The stored values of `series` dated on or before `end`, as a date-indexed Series."""
    rows = market.values(db, series, end=end)
    if not rows:
        return pd.Series(dtype=float)
    dates, vals = zip(*rows, strict=True)
    return pd.Series(vals, index=pd.DatetimeIndex(dates), dtype=float)
