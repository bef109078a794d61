"""Causal, symbol-normalized features: every value at session t uses bars up to t only.

Prices enter only as ratios and returns, so one global model can learn across the
whole watchlist. Wavelet features come from a `wavedec` of the trailing window of log
returns that ENDS at t (never the whole series: whole-series transforms leak the
future). `feature_hash()` names the schema (columns and parameters); a model stores
it and refuses to load against a different one.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pywt

from models import context, signals
from models import indicators as ind

VERSION = 2  # 2: market context (the index, or the watchlist's equal-weight mean)
MARKET_INDEX = "^GSPC"  # the market when it is in the panel; else the panel's own mean
RETURN_LAGS = (1, 2, 3, 5, 10, 20)
SMA_WINDOWS = (20, 50, 200)
VOL_WINDOW = 20
WAVELET = "haar"
WAVELET_WINDOW = 32
WAVELET_LEVEL = 3

FEATURES: tuple[str, ...] = (
    *(f"ret_{k}" for k in RETURN_LAGS),
    "ret_1_z",
    "rsi_14",
    "macd_hist",
    *(f"sma_{n}_ratio" for n in SMA_WINDOWS),
    "bb_pct_b",
    "atr_14",
    "vol_20",
    "vol_ratio",
    "volume_z",
    *(f"wv_energy_{i}" for i in range(1, WAVELET_LEVEL + 1)),
    "wv_trend",
    *(f"sig_{s}" for s in signals.SIGNALS),
)
CONTEXT: tuple[str, ...] = (
    *(f"mkt_ret_{w}" for w in context.RETURN_WINDOWS),
    f"mkt_vol_{context.VOL_WINDOW}",
    *(f"rel_ret_{w}" for w in context.RETURN_WINDOWS),
    f"beta_{context.BETA_WINDOW}",
)
ALL_FEATURES: tuple[str, ...] = (*FEATURES, *CONTEXT)


def feature_hash() -> str:
    spec = {
        "version": VERSION,
        "features": ALL_FEATURES,
        "market": MARKET_INDEX,
        "lags": RETURN_LAGS,
        "sma": SMA_WINDOWS,
        "vol": VOL_WINDOW,
        "wavelet": [WAVELET, WAVELET_WINDOW, WAVELET_LEVEL],
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def wavelet_features(logret: np.ndarray) -> np.ndarray:
    """(n, WAVELET_LEVEL + 1): detail energy shares per level and a normalized trend, per t.

    Row t uses logret[t - WAVELET_WINDOW + 1 .. t] only; rows without a full window are NaN.
    """
    n, w = len(logret), WAVELET_WINDOW
    out = np.full((n, WAVELET_LEVEL + 1), np.nan)
    if n < w:
        return out
    windows = np.lib.stride_tricks.sliding_window_view(logret, w)  # row j ends at t = j + w - 1
    ok = np.isfinite(windows).all(axis=1)
    coeffs = pywt.wavedec(np.nan_to_num(windows), WAVELET, level=WAVELET_LEVEL, axis=1)
    energy = [np.sum(c**2, axis=1) for c in coeffs]  # [approx, detail_L, ..., detail_1]
    total = np.sum(energy, axis=0)
    total = np.where(total > 0, total, np.nan)
    details = energy[1:][::-1]  # detail_1 (finest) first
    feats = [d / total for d in details]
    # The last approximation coefficient relative to the window's energy: the local trend.
    feats.append(coeffs[0][:, -1] / np.sqrt(total))
    block = np.column_stack(feats)
    block[~ok] = np.nan
    out[w - 1 :] = block
    return out


def build(bars: pd.DataFrame) -> pd.DataFrame:
    """Feature frame for one symbol's bars (index: dates). NaN where history is too short."""
    close, high, low = bars["close"], bars["high"], bars["low"]
    logc = np.log(close)
    r1 = logc.diff()
    vol = r1.rolling(VOL_WINDOW, min_periods=VOL_WINDOW).std()
    cols: dict[str, pd.Series | np.ndarray] = {}
    for k in RETURN_LAGS:
        cols[f"ret_{k}"] = logc - logc.shift(k)
    cols["ret_1_z"] = r1 / vol.replace(0, np.nan)
    cols["rsi_14"] = ind.rsi(close) / 100 - 0.5
    cols["macd_hist"] = ind.macd(close)["hist"] / close
    for n in SMA_WINDOWS:
        cols[f"sma_{n}_ratio"] = close / ind.sma(close, n) - 1
    cols["bb_pct_b"] = ind.bollinger(close)["pct_b"]
    cols["atr_14"] = ind.atr(high, low, close) / close
    cols["vol_20"] = vol
    cols["vol_ratio"] = r1.rolling(5, min_periods=5).std() / vol.replace(0, np.nan)
    volume = bars["volume"].astype(float)
    cols["volume_z"] = ind.zscore(np.log1p(volume.clip(lower=0)), 20)  # type: ignore[arg-type]  # numpy stubs type a ufunc on pandas as ndarray
    wv = wavelet_features(r1.to_numpy())
    for i in range(WAVELET_LEVEL):
        cols[f"wv_energy_{i + 1}"] = wv[:, i]
    cols["wv_trend"] = wv[:, WAVELET_LEVEL]
    votes = signals.evaluate(bars)
    for s in signals.SIGNALS:
        cols[f"sig_{s}"] = votes[s]
    frame = pd.DataFrame(cols, index=bars.index)
    frame = frame.replace([np.inf, -np.inf], np.nan)
    return frame[list(FEATURES)].astype("float64")


def build_panel(bars: dict[str, pd.DataFrame], tail: int | None = None) -> pd.DataFrame:
    """Features for several symbols, indexed by (symbol, date), sorted: each symbol's own
    (`build`) and the market context it trades in (models.context): the market's recent
    returns and volatility, the symbol's return relative to it and its 60-session beta. The
    market is MARKET_INDEX when the panel holds it, else the equal-weight mean of the
    panel's daily log returns. Every column at t uses closes up to t only. With `tail`, only
    each symbol's last `tail` rows are returned (serving: the same values, less work)."""
    parts = {sym: build(b) for sym, b in sorted(bars.items()) if len(b)}
    if tail is not None:
        parts = {sym: f.iloc[-tail:] for sym, f in parts.items()}
    if not parts:
        return pd.DataFrame(columns=list(ALL_FEATURES), index=_empty_index())
    frame = pd.concat(parts, names=["symbol", "date"])
    closes = pd.DataFrame({s: bars[s]["close"].astype(float) for s in parts}).sort_index()
    index = closes[MARKET_INDEX] if MARKET_INDEX in closes else None
    if tail is not None:  # the context's longest window (60-session beta) plus a margin
        closes = closes.iloc[-(tail + 2 * context.BETA_WINDOW) :]
    ctx = context.context_features(closes, index).swaplevel().sort_index()
    ctx.index.names = ["symbol", "date"]
    frame = frame.join(ctx[list(CONTEXT)], how="left")
    return frame[list(ALL_FEATURES)].replace([np.inf, -np.inf], np.nan).astype("float64")


def _empty_index() -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([[], pd.DatetimeIndex([])], names=["symbol", "date"])
