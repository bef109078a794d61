"""The offline sample: real daily history that the `arch` package ships, served as a source.

`arch.data.sp500` and `arch.data.nasdaq` carry S&P 500 and NASDAQ Composite OHLCV for
1999-01-04 … 2018-12-31 (Adj Close equals Close for these indices). They are loaded
and validated once per process: the replay daemon asks for one more session per step.
"""

from __future__ import annotations

import functools
import importlib

import pandas as pd

from assistant.errors import NoDataError
from assistant.ingest.sources.validate import validate

SERIES = {
    "^GSPC": ("arch.data.sp500", "S&P 500"),
    "^IXIC": ("arch.data.nasdaq", "NASDAQ Composite"),
}


@functools.cache
def _frame(symbol: str, jump_threshold: float) -> pd.DataFrame:
    module, _ = SERIES[symbol]
    data = importlib.import_module(module).load()
    raw = data.rename(
        columns={
            "Open": "open",
            "High": "high",
            "Low": "low",
            "Close": "close",
            "Adj Close": "adj_close",
            "Volume": "volume",
        }
    )
    return validate(raw, jump_threshold=jump_threshold)


def carried() -> str:
    return ", ".join(f"{sym} ({label})" for sym, (_, label) in SERIES.items())


class SampleSource:
    """^GSPC and ^IXIC from arch.data; any other symbol is NoDataError."""

    name = "sample"

    def __init__(self, *, jump_threshold: float = 0.25):
        self.jump_threshold = float(jump_threshold)

    def _series(self, symbol: str) -> pd.DataFrame:
        if symbol not in SERIES:
            raise NoDataError(
                f"the sample source has no {symbol}: it carries only {carried()}, "
                "1999-01-04 to 2018-12-31"
            )
        return _frame(symbol, self.jump_threshold)

    def coverage(self, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last session the source has for `symbol`."""
        frame = self._series(symbol)
        return frame.index[0], frame.index[-1]

    def history(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        frame = self._series(symbol)
        part = frame.loc[pd.Timestamp(start) : pd.Timestamp(end)]
        if part.empty:
            raise NoDataError(
                f"the sample source has no {symbol} bars between {pd.Timestamp(start):%Y-%m-%d} "
                f"and {pd.Timestamp(end):%Y-%m-%d} (it covers 1999-01-04 to 2018-12-31)"
            )
        return part.copy()
