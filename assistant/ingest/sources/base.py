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
