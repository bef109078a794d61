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
from typing import cast

import numpy as np
import pandas as pd
import pywt

from models import indicators as ind
from models import market_features, signals

VERSION = 3  # 2: market context (the index, or the watchlist's equal-weight mean)
# 3: beta over the panel's trailing sessions (was: the symbol's last 60 paired returns)
MARKET_INDEX = "^GSPC"  # the market when it is in the panel; else the panel's own mean
RETURN_LAGS = (1, 2, 3, 5, 10, 20)
SMA_WINDOWS = (20, 50, 200)
VOL_WINDOW = 20
WAVELET = "haar"
WAVELET_WINDOW = 32
WAVELET_LEVEL = 3
WAVELET_CHUNK = 64  # columns transformed at a time

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
    *(f"mkt_ret_{w}" for w in market_features.RETURN_WINDOWS),
    f"mkt_vol_{market_features.VOL_WINDOW}",
    *(f"rel_ret_{w}" for w in market_features.RETURN_WINDOWS),
    f"beta_{market_features.BETA_WINDOW}",
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
    """(n, WAVELET_LEVEL + 1) for a 1-D series of log returns, or (n, k, WAVELET_LEVEL + 1)
    for k columns: detail energy shares per level and a normalized trend, per t.

    Row t uses logret[t - WAVELET_WINDOW + 1 .. t] only; rows without a full window are NaN.
    """
    if logret.ndim == 1:
        return wavelet_features(logret[:, None])[:, 0, :]
    n, k = logret.shape
    w = WAVELET_WINDOW
    out = np.full((n, k, WAVELET_LEVEL + 1), np.nan)
    if n < w:
        return out
    for lo in range(0, k, WAVELET_CHUNK):  # bounded memory: windows are w times the data
        cols = logret[:, lo : lo + WAVELET_CHUNK]
        # (n - w + 1, columns, w): row j ends at t = j + w - 1
        windows = np.lib.stride_tricks.sliding_window_view(cols, w, axis=0)
        ok = np.isfinite(windows).all(axis=-1)
        coeffs = pywt.wavedec(np.nan_to_num(windows), WAVELET, level=WAVELET_LEVEL, axis=-1)
        energy = [np.sum(c**2, axis=-1) for c in coeffs]  # [approx, detail_L, ..., detail_1]
        total = np.sum(energy, axis=0)
        total = np.where(total > 0, total, np.nan)
        details = energy[1:][::-1]  # detail_1 (finest) first
        feats = [d / total for d in details]
        # The last approximation coefficient relative to the window's energy: the local trend.
        feats.append(coeffs[0][..., -1] / np.sqrt(total))
        block = np.stack(feats, axis=-1)
        block[~ok] = np.nan
        out[w - 1 :, lo : lo + WAVELET_CHUNK] = block
    return out


def build(bars: pd.DataFrame) -> pd.DataFrame:
    """Feature frame for one symbol's bars (index: dates). NaN where history is too short."""
    values = _build_wide(bars.index, {"": bars})[:, 0, :].T
    return pd.DataFrame(values, index=bars.index, columns=list(FEATURES))


def _build_wide(
    index: pd.Index,
    bars: dict[str, pd.DataFrame],
    out: np.ndarray | None = None,
    tail: int | None = None,
) -> np.ndarray:
    """(FEATURES, symbols, sessions) for symbols whose bars all have exactly `index`: every
    indicator runs once over the wide panel, column by column (the same values as one
    symbol at a time, at a fraction of the cost). Each feature is written into `out` (or a
    new array) as soon as it is computed: a 500-symbol panel never holds every feature
    twice. With `tail`, only the last `tail` sessions are written (each computed from the
    whole history, as without it)."""
    n = len(index)
    keep = n if tail is None else min(tail, n)
    if out is None:
        out = np.empty((len(FEATURES), len(bars), keep))
    column = {name: j for j, name in enumerate(FEATURES)}

    def put(name: str, value: object) -> None:
        values, rows = out[column[name]], np.asarray(value, dtype="float64")
        values[...] = rows[len(rows) - keep :].T  # the last `keep` sessions
        values[np.isinf(values)] = np.nan

    names = ["close", "high", "low", "volume"]
    arrays = [ind.columns_of(b, names) for b in bars.values()]  # one conversion a frame

    def wide(col: str) -> pd.DataFrame:
        k = names.index(col)
        data = np.column_stack([a[k] for a in arrays])
        return pd.DataFrame(data, index=index)

    close, high, low = wide("close"), wide("high"), wide("low")
    logc = cast(pd.DataFrame, np.log(close))
    r1 = logc.diff()
    vol = ind.rolling(r1, VOL_WINDOW, "std", VOL_WINDOW)
    # The running windows and recursions (rolling, EWM) run over every session, as their
    # last rows depend on all of them; what is element by element after them is computed
    # on the rows written only (`last`: the same operations on the same values there).
    first = n - keep

    def last(frame: pd.DataFrame) -> np.ndarray:
        return frame.to_numpy()[first:]

    c, v = last(close), last(vol)
    nonzero = np.where(v != 0, v, np.nan)  # vol.where(vol != 0)
    lc = logc.to_numpy()
    for k in RETURN_LAGS:
        put(f"ret_{k}", _minus_lag(lc, k, first))  # logc - logc.shift(k)
    put("ret_1_z", last(r1) / nonzero)
    # what the signals' votes and regimes use too (the same calls, computed once)
    full = {"rsi": ind.rsi(close), "macd_hist": ind.macd_hist(close)}
    full |= {f"sma_{w}": ind.sma(close, w) for w in dict.fromkeys((20, *SMA_WINDOWS))}
    known = {name: pd.DataFrame(last(frame)) for name, frame in full.items()}
    sma20 = known["sma_20"].to_numpy()
    known["realized_vol"] = pd.DataFrame(v * np.sqrt(252))  # ind.realized_vol(close, 20)
    put("rsi_14", known["rsi"].to_numpy() / 100 - 0.5)
    put("macd_hist", known["macd_hist"].to_numpy() / c)
    for w in SMA_WINDOWS:
        put(f"sma_{w}_ratio", c / known[f"sma_{w}"].to_numpy() - 1)
    # ind.bollinger_pct_b(close): its SMA is sma_20's
    put("bb_pct_b", ind.pct_b(c, sma20, last(ind.rolling(close, 20, "std", 20, ddof=0))))
    put("atr_14", last(ind.atr(high, low, close)) / c)
    put("vol_20", v)
    put("vol_ratio", last(ind.rolling(r1, 5, "std", 5)) / nonzero)
    volume = cast(pd.DataFrame, np.log1p(wide("volume").clip(lower=0)))
    put("volume_z", ind.zscore_of(last(volume), *(last(f) for f in ind.zscore_parts(volume, 20))))
    # a row's wavelet features use its own window of returns only
    wv = wavelet_features(r1.to_numpy()[max(0, n - keep - (WAVELET_WINDOW - 1)) :])
    for i in range(WAVELET_LEVEL):
        put(f"wv_energy_{i + 1}", wv[:, :, i])
    put("wv_trend", wv[:, :, WAVELET_LEVEL])
    del wv
    votes = signals.votes(pd.DataFrame(c), known=known)
    for s in signals.SIGNALS:
        put(f"sig_{s}", votes[s])
    return out


def _minus_lag(x: np.ndarray, k: int, first: int) -> np.ndarray:
    """`x - x.shift(k)` (x a frame's values) on its rows from `first` on: NaN where a row
    has no row k before it."""
    out = np.full((len(x) - first, x.shape[1]), np.nan)
    start = max(first, k)
    if start < len(x):
        out[start - first :] = x[start:] - x[start - k : len(x) - k]
    return out


def same_sessions(bars: dict[str, pd.DataFrame]) -> list[tuple[pd.Index, list[str]]]:
    """Symbols grouped by identical session index (each group computes as one wide panel),
    symbols sorted within each group."""
    groups: dict[tuple[object, ...], tuple[pd.Index, list[str]]] = {}
    for sym in sorted(bars):
        idx = bars[sym].index
        values = idx.asi8 if isinstance(idx, pd.DatetimeIndex) else idx.to_numpy()
        key = (len(idx), hashlib.sha1(np.ascontiguousarray(values).tobytes()).hexdigest())
        groups.setdefault(key, (idx, []))[1].append(sym)
    return list(groups.values())


def build_panel(bars: dict[str, pd.DataFrame], tail: int | None = None) -> pd.DataFrame:
    """Features for several symbols, indexed by (symbol, date), sorted: each symbol's own
    (`build`) and the market context it trades in (models.market_features): the market's recent
    returns and volatility, the symbol's return relative to it and its 60-session beta. The
    market is MARKET_INDEX when the panel holds it, else the equal-weight mean of the
    panel's daily log returns. Every column at t uses closes up to t only. With `tail`, only
    each symbol's last `tail` rows are returned (serving: the same values, less work)."""
    bars = {sym: b for sym, b in bars.items() if len(b)}
    if not bars:
        return pd.DataFrame(columns=list(ALL_FEATURES), index=_empty_index())
    groups = same_sessions(bars)
    sizes = [
        len(syms) * (len(idx) if tail is None else min(tail, len(idx))) for idx, syms in groups
    ]
    # One array holds the result, features by row (the layout the frame keeps): each group's
    # features are written into it, and the context beside them, without the copies a
    # concat, a join and a replace would make of a 500-symbol panel.
    buf = np.empty((len(ALL_FEATURES), sum(sizes)))
    keys, at = [], 0
    for (idx, syms), size in zip(groups, sizes, strict=True):
        mine = buf[: len(FEATURES), at : at + size]
        if tail is None:  # rows ordered by symbol, then date
            _build_wide(
                idx, {s: bars[s] for s in syms}, mine.reshape(-1, len(syms), len(idx), copy=False)
            )
        else:
            shape = (-1, len(syms), min(tail, len(idx)))
            _build_wide(idx, {s: bars[s] for s in syms}, mine.reshape(shape, copy=False), tail)
            idx = idx[-tail:]
        keys.append(
            pd.MultiIndex.from_arrays(
                [np.repeat(syms, len(idx)), np.tile(idx.to_numpy(), len(syms))],
                names=["symbol", "date"],
            )
        )
        at += size
    rows = keys[0].append(keys[1:])
    if len(groups) > 1:
        rows, order = rows.sort_values(return_indexer=True)
        buf = np.ascontiguousarray(buf[:, order])
    closes = market_features.wide_closes(bars)
    index = closes[MARKET_INDEX] if MARKET_INDEX in closes else None
    if tail is not None:  # the context's longest window (60-session beta) plus a margin
        closes = closes.iloc[-(tail + 2 * market_features.BETA_WINDOW) :]
    ctx = market_features.build(closes, index).swaplevel().sort_index()
    ctx.index.names = ["symbol", "date"]
    # the rows' context, NaN where it has none (a left join)
    ctx_values = buf[len(FEATURES) :].T
    ctx_values[...] = ctx[list(CONTEXT)].reindex(rows).to_numpy(dtype="float64")
    ctx_values[np.isinf(ctx_values)] = np.nan
    return pd.DataFrame(buf.T, index=rows, columns=list(ALL_FEATURES), copy=False)


def _empty_index() -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([[], pd.DatetimeIndex([])], names=["symbol", "date"])
