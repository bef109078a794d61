"""Technical indicators as small vectorized functions. Each value at t uses bars up to t only.

Every function takes a Series (one symbol) or a wide DataFrame (one column per symbol, all
on the same sessions) and works column by column: a panel of 500 symbols costs one call.
"""

from __future__ import annotations

from typing import TypeVar, cast

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

Frame = TypeVar("Frame", pd.Series, pd.DataFrame)


class _Stacked(BaseIndexer):
    """Window bounds of a trailing `window_size` window over `columns` series of `rows`
    values laid end to end: each series' windows start at its own first value."""

    def __init__(self, window_size: int, rows: int, columns: int) -> None:
        super().__init__(window_size=window_size)
        self.size, self.rows, self.columns = window_size, rows, columns

    def get_window_bounds(
        self,
        num_values: int = 0,
        min_periods: int | None = None,
        center: bool | None = None,
        closed: str | None = None,
        step: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        # pandas' own bounds for one series (FixedWindowIndexer), shifted for each
        end = np.arange(1, self.rows + 1, dtype="int64")
        start = np.clip(end - self.size, 0, self.rows)
        offsets = np.arange(self.columns, dtype="int64")[:, None] * self.rows
        return (start + offsets).ravel(), (end + offsets).ravel()


class _Runs(BaseIndexer):
    """Window bounds of a trailing `window_size` window over series of any lengths laid end
    to end (`starts`: per row, where its series begins): each series' windows start at its
    own first value, as pandas' own bounds for that series alone."""

    def __init__(self, window_size: int, starts: np.ndarray) -> None:
        super().__init__(window_size=window_size)
        self.size, self.starts = window_size, starts

    def get_window_bounds(
        self,
        num_values: int = 0,
        min_periods: int | None = None,
        center: bool | None = None,
        closed: str | None = None,
        step: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        end = np.arange(1, len(self.starts) + 1, dtype="int64")
        return np.maximum(end - self.size, self.starts).astype("int64"), end


def run_stops(starts: np.ndarray) -> np.ndarray:
    """Per row of series laid end to end (`starts`: per row, its series' first row): where
    its series ends (the next series' first row)."""
    firsts = np.unique(starts)
    stops: np.ndarray = np.r_[firsts[1:], len(starts)][np.searchsorted(firsts, starts)]
    return stops.astype(np.int64)


def rolling_runs(
    values: np.ndarray, starts: np.ndarray, n: int, how: str, min_periods: int
) -> np.ndarray:
    """`rolling` of each series of `values` laid end to end (`starts`: per row, its series'
    first row), bit for bit what pandas gives each series alone, in one kernel call: at a
    series' first row the window starts at or after the previous one's end, where pandas'
    kernels start afresh exactly as at a series' first value."""
    window = pd.Series(values, dtype=float).rolling(_Runs(n, starts), min_periods=min_periods)
    return cast(pd.Series, getattr(window, how)()).to_numpy()


def rolling(x: Frame, n: int, how: str, min_periods: int, **kwargs: object) -> Frame:
    """`x.rolling(n, min_periods=min_periods).<how>(**kwargs)` (how: sum, mean, std, var),
    bit for bit. A wide float frame is rolled as ONE series, its columns laid end to end with
    window bounds that restart at each column: pandas runs the same kernel over the same
    values from the same fresh state at each column's start, once instead of once per
    column (and its window bounds once instead of once per column)."""
    if isinstance(x, pd.Series) or x.shape[1] < 2 or not all(d == "float64" for d in x.dtypes):
        return cast(Frame, getattr(x.rolling(n, min_periods=min_periods), how)(**kwargs))
    rows, columns = x.shape
    flat = pd.Series(x.to_numpy().T.ravel())
    window = flat.rolling(_Stacked(n, rows, columns), min_periods=min_periods)
    out = getattr(window, how)(**kwargs).to_numpy().reshape(columns, rows).T
    return pd.DataFrame(out, index=x.index, columns=x.columns)


def sma(x: Frame, n: int) -> Frame:
    return rolling(x, n, "mean", n)


def columns_of(frame: pd.DataFrame, names: list[str]) -> list[np.ndarray]:
    """`frame[name].to_numpy(dtype=float)` for each of `names`, read from one conversion of
    the frame (a bars frame: every column numeric) instead of a Series per column (a cycle
    reads ~5,000 columns of 500 frames); a frame that will not convert is read per column."""
    columns = frame.columns.tolist()
    if len(set(columns)) < len(columns) or not set(names) <= set(columns):
        return [frame[n].to_numpy(dtype=float) for n in names]
    try:
        values = frame.to_numpy(dtype=float)
    except (TypeError, ValueError):
        return [frame[n].to_numpy(dtype=float) for n in names]
    return [values[:, columns.index(n)] for n in names]


def ema(x: Frame, n: int) -> Frame:
    return x.ewm(span=n, adjust=False, min_periods=n).mean()


def rsi(close: Frame, n: int = 14) -> Frame:
    """Wilder's RSI (smoothing alpha = 1/n), 0..100."""
    delta = close.diff()
    gain = delta.clip(lower=0).ewm(alpha=1 / n, adjust=False, min_periods=n).mean()
    loss = (-delta.clip(upper=0)).ewm(alpha=1 / n, adjust=False, min_periods=n).mean()
    rs = gain / loss
    out = 100 - 100 / (1 + rs)
    return out.where(loss != 0, 100.0).where(gain.notna())


def macd_hist(close: Frame, fast: int = 12, slow: int = 26, signal: int = 9) -> Frame:
    """MACD line minus its signal line."""
    line = ema(close, fast) - ema(close, slow)
    return line - line.ewm(span=signal, adjust=False, min_periods=signal).mean()


def bollinger_pct_b(close: Frame, n: int = 20, k: float = 2.0) -> Frame:
    """Where the close sits in its Bollinger band: 0 at the lower band, 1 at the upper."""
    mid = sma(close, n)
    sd = rolling(close, n, "std", n, ddof=0)
    upper, lower = mid + k * sd, mid - k * sd
    return (close - lower) / (upper - lower)


def atr(high: Frame, low: Frame, close: Frame, n: int = 14) -> Frame:
    prev = close.shift(1)
    # the largest of the three that is known (the first session has no previous close)
    tr = cast(Frame, np.fmax(np.fmax(high - low, (high - prev).abs()), (low - prev).abs()))
    return tr.ewm(alpha=1 / n, adjust=False, min_periods=n).mean()


def log_returns(close: Frame) -> Frame:
    return cast(Frame, np.log(close)).diff()


def realized_vol(close: Frame, n: int = 20, annualize: bool = True) -> Frame:
    vol = rolling(log_returns(close), n, "std", n)
    return vol * np.sqrt(252) if annualize else vol


def zscore(x: Frame, n: int = 20) -> Frame:
    mean = rolling(x, n, "mean", n)
    sd = rolling(x, n, "std", n)
    return (x - mean) / sd.replace(0, np.nan)
