"""Technical indicators as small vectorized functions. Each value at t uses bars up to t only.

Every function takes a Series (one symbol) or a wide DataFrame (one column per symbol, all
on the same sessions) and works column by column: a panel of 500 symbols costs one call.
"""

from __future__ import annotations

from typing import TypeVar, cast

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

try:  # pandas' EWM kernel (private: `ewm_mean` falls back to pandas' own call without it)
    from pandas._libs.window.aggregations import ewm as _ewm_kernel  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover
    _ewm_kernel = None

Frame = TypeVar("Frame", pd.Series, pd.DataFrame)
F = TypeVar("F", pd.Series, pd.DataFrame, np.ndarray)


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
    starts = np.repeat(np.arange(columns, dtype="int64") * rows, rows)  # each column's first
    window = flat.rolling(_Runs(n, starts), min_periods=min_periods)
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


def ewm_mean(
    x: Frame, min_periods: int, *, span: float | None = None, alpha: float | None = None
) -> Frame:
    """`x.ewm(span=span, alpha=alpha, adjust=False, min_periods=min_periods).mean()`, bit for
    bit. pandas runs its EWM kernel once per column of a wide frame, each time over that
    column alone (bounds [0, rows)); a wide float frame here is ONE kernel call over its
    columns laid end to end with bounds that restart at each column: the kernel starts its
    recurrence afresh at each bound's first value (weights, count of observations), so each
    column gets the same values from the same state (inf as NaN first, as pandas does)."""
    window = x.ewm(span=span, alpha=alpha, adjust=False, min_periods=min_periods)
    if (
        _ewm_kernel is None
        or isinstance(x, pd.Series)
        or x.shape[0] == 0
        or x.shape[1] < 2
        or not all(d == "float64" for d in x.dtypes)
    ):
        return window.mean()
    rows, columns = x.shape
    flat = x.to_numpy().T.ravel()  # a copy, C-ordered: column after column
    inf = np.isinf(flat)
    if inf.any():
        flat = np.where(inf, np.nan, flat)
    starts = np.arange(columns, dtype=np.int64) * rows
    try:
        with np.errstate(all="ignore"):
            out = _ewm_kernel(
                flat,
                starts,
                starts + rows,
                window.min_periods,
                window._com,
                False,
                False,
                None,
                True,
            )
    except (TypeError, AttributeError):  # pragma: no cover - another pandas' private kernel
        return window.mean()
    return pd.DataFrame(out.reshape(columns, rows).T, index=x.index, columns=x.columns)


def ema(x: Frame, n: int) -> Frame:
    return ewm_mean(x, n, span=n)


def rsi(close: Frame, n: int = 14) -> Frame:
    """Wilder's RSI (smoothing alpha = 1/n), 0..100."""
    delta = close.diff()
    gain = ewm_mean(delta.clip(lower=0), n, alpha=1 / n)
    loss = ewm_mean(-delta.clip(upper=0), n, alpha=1 / n)
    rs = gain / loss
    out = 100 - 100 / (1 + rs)
    return out.where(loss != 0, 100.0).where(gain.notna())


def macd_hist(close: Frame, fast: int = 12, slow: int = 26, signal: int = 9) -> Frame:
    """MACD line minus its signal line."""
    line = ema(close, fast) - ema(close, slow)
    return line - ewm_mean(line, signal, span=signal)


def bollinger_pct_b(close: Frame, n: int = 20, k: float = 2.0) -> Frame:
    """Where the close sits in its Bollinger band: 0 at the lower band, 1 at the upper."""
    return pct_b(close, sma(close, n), rolling(close, n, "std", n, ddof=0), k)


def pct_b(close: F, mid: F, sd: F, k: float = 2.0) -> F:
    """`bollinger_pct_b` from its middle band (the n-session SMA) and the n-session std
    (ddof 0): frames or the arrays of their rows."""
    upper, lower = mid + k * sd, mid - k * sd
    return (close - lower) / (upper - lower)


def atr(high: Frame, low: Frame, close: Frame, n: int = 14) -> Frame:
    prev = close.shift(1)
    # the largest of the three that is known (the first session has no previous close)
    tr = cast(Frame, np.fmax(np.fmax(high - low, (high - prev).abs()), (low - prev).abs()))
    return ewm_mean(tr, n, alpha=1 / n)


def log_returns(close: Frame) -> Frame:
    return cast(Frame, np.log(close)).diff()


def realized_vol(close: Frame, n: int = 20, annualize: bool = True) -> Frame:
    vol = rolling(log_returns(close), n, "std", n)
    return vol * np.sqrt(252) if annualize else vol


def zscore(x: Frame, n: int = 20) -> Frame:
    mean, sd = zscore_parts(x, n)
    return (x - mean) / sd.replace(0, np.nan)


def zscore_parts(x: Frame, n: int = 20) -> tuple[Frame, Frame]:
    """`zscore`'s trailing mean and standard deviation."""
    return rolling(x, n, "mean", n), rolling(x, n, "std", n)


def zscore_of(x: np.ndarray, mean: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """`zscore` from its parts, on arrays (e.g. the last rows of each)."""
    return np.asarray((x - mean) / np.where(sd == 0, np.nan, sd))
