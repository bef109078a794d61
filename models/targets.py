"""Targets per horizon h: the forward log return over h sessions and a class DOWN/FLAT/UP.

The FLAT band scales with the symbol's own trailing volatility (known at t):
|r| <= FLAT_K * sigma_daily(t) * sqrt(h) is FLAT. Targets look forward by design;
they are only ever used as labels, never as inputs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FLAT_K = 0.25
VOL_WINDOW = 20
DOWN, FLAT, UP = 0, 1, 2


def band(close: pd.Series, h: int) -> pd.Series:
    sigma = np.log(close).diff().rolling(VOL_WINDOW, min_periods=VOL_WINDOW).std()
    return FLAT_K * sigma * np.sqrt(h)


def classify(ret: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Class per row; -1 where the return is unknown. A missing band counts as zero width."""
    width = np.nan_to_num(width, nan=0.0)
    cls = np.where(ret > width, UP, np.where(ret < -width, DOWN, FLAT))
    return np.where(np.isfinite(ret), cls, -1).astype(np.int64)


def build(bars: pd.DataFrame, horizons: tuple[int, ...]) -> pd.DataFrame:
    """Columns ret_h{h} (float, NaN near the end) and cls_h{h} (int, -1 where unknown)."""
    close = bars["close"]
    logc = np.log(close)
    cols: dict[str, np.ndarray] = {}
    for h in horizons:
        ret = (logc.shift(-h) - logc).to_numpy()
        cols[f"ret_h{h}"] = ret
        cols[f"cls_h{h}"] = classify(ret, band(close, h).to_numpy())
    return pd.DataFrame(cols, index=bars.index)


def build_panel(bars: dict[str, pd.DataFrame], horizons: tuple[int, ...]) -> pd.DataFrame:
    parts = {sym: build(b, horizons) for sym, b in sorted(bars.items()) if len(b)}
    return pd.concat(parts, names=["symbol", "date"])
