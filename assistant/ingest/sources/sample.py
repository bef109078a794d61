"""The offline sample: real daily history of indices and stocks, served as a source.

- `arch.data.sp500` / `arch.data.nasdaq`: S&P 500 and NASDAQ Composite OHLCV,
  1999-01-04 … 2018-12-31 (Adj Close equals Close for these indices).
- `bokeh_sampledata` `stocks.csv.gz`: public-domain daily OHLCV of AAPL, GOOG, IBM and
  MSFT, 2000-03-01 (GOOG 2004-08-19) … 2013-03-01, with an Adj Close: `validate`
  scales OHLC by Adj Close / Close, so prices are split- and dividend-adjusted.

Every series is served over the span they all share (2004-08-19 … 2013-03-01), so a
replay of the whole sample ends on the same session for every symbol. Series are loaded
and validated once per process: the replay daemon asks for one more session per step.
"""

from __future__ import annotations

import functools
import importlib
from pathlib import Path

import pandas as pd

from assistant.errors import NoDataError
from assistant.ingest.sources.validate import validate

INDICES = {
    "^GSPC": ("arch.data.sp500", "S&P 500"),
    "^IXIC": ("arch.data.nasdaq", "NASDAQ Composite"),
}
STOCKS = {"AAPL": "Apple", "GOOG": "Google", "IBM": "IBM", "MSFT": "Microsoft"}
SERIES = {**{s: label for s, (_, label) in INDICES.items()}, **STOCKS}
COLUMNS = {
    "Open": "open",
    "High": "high",
    "Low": "low",
    "Close": "close",
    "Adj Close": "adj_close",
    "Volume": "volume",
}


@functools.cache
def _stocks() -> pd.DataFrame:
    import bokeh_sampledata

    path = Path(bokeh_sampledata.__file__).parent / "_data" / "stocks.csv.gz"
    return pd.read_csv(path, parse_dates=["Date"])


def _raw(symbol: str) -> pd.DataFrame:
    if symbol in INDICES:
        frame: pd.DataFrame = importlib.import_module(INDICES[symbol][0]).load()
        return frame
    rows = _stocks()
    rows = rows[rows["Ticker"] == symbol].drop(columns="Ticker").set_index("Date")
    rows.index.name = None
    return rows.sort_index()


@functools.cache
def _full(symbol: str, jump_threshold: float) -> pd.DataFrame:
    return validate(_raw(symbol).rename(columns=COLUMNS), jump_threshold=jump_threshold)


# The sessions every series covers (GOOG's first, the stocks' last); a constant, so one
# symbol's bars never load the others. tests/test_data_collect.py checks it against the data.
SPAN = (pd.Timestamp("2004-08-19"), pd.Timestamp("2013-03-01"))


def span(jump_threshold: float = 0.25) -> tuple[pd.Timestamp, pd.Timestamp]:
    return SPAN


def common_span(jump_threshold: float = 0.25) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Computed from the data: (latest first date, earliest last date) over every series."""
    frames = [_full(s, jump_threshold) for s in SERIES]
    return max(f.index[0] for f in frames), min(f.index[-1] for f in frames)


@functools.cache
def _frame(symbol: str, jump_threshold: float) -> pd.DataFrame:
    first, last = SPAN
    return _full(symbol, jump_threshold).loc[first:last]


def carried() -> str:
    return ", ".join(f"{sym} ({label})" for sym, label in SERIES.items())


class SampleSource:
    """Indices from arch.data and stocks from bokeh_sampledata; other symbols: NoDataError."""

    name = "sample"

    def __init__(self, *, jump_threshold: float = 0.25):
        self.jump_threshold = float(jump_threshold)

    def _covers(self) -> str:
        first, last = span(self.jump_threshold)
        return f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"

    def _series(self, symbol: str) -> pd.DataFrame:
        if symbol not in SERIES:
            raise NoDataError(
                f"the sample source has no {symbol}: it carries only {carried()}, " + self._covers()
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
                f"and {pd.Timestamp(end):%Y-%m-%d} (it covers {self._covers()})"
            )
        return part.copy()
