"""The source protocol and the normalized bar frame every source returns.

A normalized frame has a tz-naive DatetimeIndex of exchange-local session dates (sorted,
unique) and float columns open, high, low, close, volume (split- and dividend-adjusted
prices), raw_close (as traded), adj_factor (close / raw_close) and int columns
provisional (1 for a bar whose session has not closed) and flagged (1 for an
unexplained jump). `validate.py` turns raw input into this shape or refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pandas as pd

from store.bars import BAR_COLUMNS

NORMALIZED_COLUMNS = BAR_COLUMNS  # what the store keeps per bar, in its order


class Source(Protocol):
    name: str

    def history(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Normalized bars for sessions in [start, end] (both inclusive).

        Raises NoDataError when the source has nothing for the symbol/range and
        TemporaryError for rate limits, timeouts and network failures.
        """
        ...


@runtime_checkable
class Covered(Source, Protocol):
    """A source that knows which sessions it has (the offline sample)."""

    def coverage(self, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp]: ...


@runtime_checkable
class Batched(Source, Protocol):
    """A source that fetches many symbols in one request (Yahoo): a frame or the error
    per symbol."""

    def history_many(
        self, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> dict[str, pd.DataFrame | Exception]: ...


@runtime_checkable
class Clocked(Source, Protocol):
    """A live source: its clock says which sessions have closed (tests move it)."""

    clock: Callable[[], pd.Timestamp]


@dataclass(frozen=True)
class Quote:
    """The latest price of a symbol and when it was quoted (tz-aware UTC)."""

    price: float
    at: pd.Timestamp


@runtime_checkable
class Quoting(Source, Protocol):
    """A source of live quotes (Yahoo): the latest price of today's session.

    Raises NoDataError when it has none (an empty answer) and TemporaryError for rate
    limits, timeouts and network failures, as `history` does."""

    def quote(self, symbol: str) -> Quote: ...


@runtime_checkable
class NewsSource(Source, Protocol):
    """A source with headlines: the provider's raw news items (JSON objects) per symbol."""

    def news(self, symbol: str) -> list[object]: ...


class SeriesSource(Protocol):
    """A source of market-wide daily series (^VIX, yields): closes by session date."""

    name: str
    serves: tuple[str, ...]

    def history(self, series: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series: ...


@runtime_checkable
class HourlySource(Source, Protocol):
    """A source of one-hour bars (Yahoo): the `store.hourly` frame per symbol, one symbol
    or many in batches."""

    def hourly(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...

    def hourly_many(
        self, symbols: list[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> dict[str, pd.DataFrame | Exception]: ...
