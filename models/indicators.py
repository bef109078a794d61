"""Technical indicators as small vectorized functions. Each value at t uses bars up to t only.

Every function takes a Series (one symbol) or a wide DataFrame (one column per symbol, all
on the same sessions) and works column by column: a panel of 500 symbols costs one call.
"""

from __future__ import annotations

from typing import TypeVar, cast

import numpy as np
import pandas as pd

Frame = TypeVar("Frame", pd.Series, pd.DataFrame)


def sma(x: Frame, n: int) -> Frame:
    return x.rolling(n, min_periods=n).mean()


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
    sd = close.rolling(n, min_periods=n).std(ddof=0)
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
    vol = log_returns(close).rolling(n, min_periods=n).std()
    return vol * np.sqrt(252) if annualize else vol


def zscore(x: Frame, n: int = 20) -> Frame:
    mean = x.rolling(n, min_periods=n).mean()
    sd = x.rolling(n, min_periods=n).std()
    return (x - mean) / sd.replace(0, np.nan)
