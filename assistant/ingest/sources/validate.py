"""The gate between raw bars and the store: a raw frame becomes a normalized one, or a one-line error.

A raw frame has a DatetimeIndex of session dates (any order, maybe duplicated) and
columns open, high, low, close (as traded), optionally volume, adj_close (an adjusted
close), dividend and split (per-session events). Prices are adjusted by one factor per
session: adj_close / close when an adjusted close is given, else derived from the
dividend and split columns (each event scales every earlier session), else 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from assistant.errors import AssistantError
from assistant.ingest.sources.base import NORMALIZED_COLUMNS

PRICES = ["open", "high", "low", "close"]
# Sources round to a cent: a high a hair below the close is rounding, not bad data.
TOLERANCE = 1e-4


class ValidationError(AssistantError):
    """Raw bars that cannot be stored (named date and reason in the message)."""


def _day(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _first_bad(frame: pd.DataFrame, mask: pd.Series | np.ndarray, what: str) -> ValidationError:
    mask = np.asarray(mask)
    n = int(mask.sum())
    first = frame.index[int(np.argmax(mask))]
    more = f" (and {n - 1} more rows)" if n > 1 else ""
    return ValidationError(f"{what} on {_day(first)}{more}")


def _collapse_duplicates(frame: pd.DataFrame, duplicates: str) -> pd.DataFrame:
    dup = frame.index.duplicated(keep=False)
    if not dup.any():
        return frame
    if duplicates == "last":
        return frame[~frame.index.duplicated(keep="last")]
    rows = frame[dup]
    distinct = rows.reset_index().drop_duplicates()
    conflicting = distinct.iloc[:, 0].duplicated(keep=False)
    if conflicting.any():
        day = _day(distinct.iloc[:, 0][conflicting].iloc[0])
        n = distinct.iloc[:, 0][conflicting].nunique()
        more = f" (and {n - 1} more dates)" if n > 1 else ""
        raise ValidationError(f"conflicting rows for the same date {day}{more}")
    return frame[~frame.index.duplicated(keep="first")]


def _event_factor(close: np.ndarray, dividend: np.ndarray, split: np.ndarray) -> np.ndarray:
    """Backward adjustment factor from per-session dividends and split ratios."""
    n = len(close)
    prev_close = np.empty(n)
    prev_close[0] = np.nan
    prev_close[1:] = close[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        div_mult = np.where(dividend > 0, 1.0 - dividend / prev_close, 1.0)
        split_mult = np.where(split > 0, 1.0 / split, 1.0)
    div_mult[0] = 1.0  # a dividend on the first row has no earlier session to adjust
    if (div_mult <= 0).any():
        raise ValidationError("a dividend is larger than the previous close")
    mult = div_mult * split_mult
    # factor_j = product of the multipliers of every event after session j.
    tail = np.cumprod(mult[::-1])[::-1]
    factor = np.ones(n)
    factor[:-1] = tail[1:]
    return factor


def _repair(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """For a live feed: drop unusable rows, widen inconsistent ranges and flag them."""
    prices = frame[PRICES]
    frame = frame[prices.notna().all(axis=1) & (prices > 0).all(axis=1)].copy()
    hi = frame[["open", "close", "high"]].max(axis=1)
    lo = frame[["open", "close", "low"]].min(axis=1)
    fixed = ((hi > frame["high"]) | (lo < frame["low"])).to_numpy()
    frame["high"], frame["low"] = hi, lo
    return frame, fixed


def validate(
    raw: pd.DataFrame,
    *,
    jump_threshold: float = 0.25,
    duplicates: str = "error",
    adjusted: bool = False,
    repair: bool = False,
) -> pd.DataFrame:
    """Return the normalized frame (see sources/base.py) or raise ValidationError.

    duplicates: "error" refuses conflicting rows for one date ("last" keeps the latest,
    for live feeds that re-send today's bar). adjusted: the prices are already adjusted
    and no raw close is known. repair: drop/widen bad rows of a live feed instead of refusing.
    """
    if raw is None or len(raw) == 0:
        raise ValidationError("no rows")
    missing = [c for c in PRICES if c not in raw.columns]
    if missing:
        raise ValidationError(f"missing column(s): {', '.join(missing)}")
    frame = raw.copy()
    frame.index = pd.DatetimeIndex(frame.index).tz_localize(None).normalize()
    if frame.index.hasnans:
        raise ValidationError("a row has no date")
    for col in ("volume", "adj_close", "dividend", "split", "provisional"):
        if col not in frame.columns:
            frame[col] = np.nan
    numeric = PRICES + ["volume", "adj_close", "dividend", "split"]
    frame[numeric] = frame[numeric].astype(float)
    frame = frame.sort_index(kind="stable")
    frame = _collapse_duplicates(frame, duplicates)
    fixed = np.zeros(len(frame), dtype=bool)
    if repair:
        frame, fixed = _repair(frame)
        if frame.empty:
            raise ValidationError("no usable rows")
    prices = frame[PRICES].to_numpy()
    for i, col in enumerate(PRICES):
        if np.isnan(prices[:, i]).any():
            raise _first_bad(frame, np.isnan(prices[:, i]), f"missing {col} price")
        if (prices[:, i] <= 0).any():
            bad = prices[:, i] <= 0
            raise _first_bad(frame, bad, f"non-positive {col} price ({prices[:, i][bad][0]:g})")
    o, h, lo, c = prices.T
    if (h < lo).any():
        raise _first_bad(frame, h < lo, "high below low")
    top = np.maximum(o, c)
    if (h < top * (1 - TOLERANCE)).any():
        raise _first_bad(frame, h < top * (1 - TOLERANCE), "high below open/close")
    bottom = np.minimum(o, c)
    if (lo > bottom * (1 + TOLERANCE)).any():
        raise _first_bad(frame, lo > bottom * (1 + TOLERANCE), "low above open/close")
    h, lo = np.maximum(h, top), np.minimum(lo, bottom)  # within tolerance: make consistent
    volume = frame["volume"].fillna(0.0).to_numpy()
    if (volume < 0).any():
        raise _first_bad(frame, volume < 0, "negative volume")
    factor = _factor(frame, c, adjusted)
    adj_close = c * factor
    out = pd.DataFrame(
        {
            "open": o * factor,
            "high": h * factor,
            "low": lo * factor,
            "close": adj_close,
            "volume": volume,
            "raw_close": c,
            "adj_factor": factor,
            "provisional": frame["provisional"].fillna(0).astype(int).to_numpy(),
            "flagged": (_jumps(adj_close, jump_threshold) | fixed).astype(int),
        },
        index=pd.DatetimeIndex(frame.index, name="date"),
    )
    return out[NORMALIZED_COLUMNS]


def _factor(frame: pd.DataFrame, close: np.ndarray, adjusted: bool) -> np.ndarray:
    if adjusted:
        return np.ones(len(close))
    adj = frame["adj_close"].to_numpy()
    if not np.isnan(adj).all():
        if np.isnan(adj).any():
            raise _first_bad(frame, np.isnan(adj), "missing adjusted close")
        if (adj <= 0).any():
            raise _first_bad(frame, adj <= 0, "non-positive adjusted close")
        return adj / close
    dividend = frame["dividend"].fillna(0.0).to_numpy()
    split = frame["split"].fillna(0.0).to_numpy()
    if (dividend < 0).any():
        raise _first_bad(frame, dividend < 0, "negative dividend")
    if (split < 0).any():
        raise _first_bad(frame, split < 0, "negative split ratio")
    split = np.where(split == 1.0, 0.0, split)
    if not dividend.any() and not split.any():
        return np.ones(len(close))
    return _event_factor(close, dividend, split)


def _jumps(close: np.ndarray, threshold: float) -> np.ndarray:
    """A day-over-day move of the adjusted close beyond `threshold` that no split explains."""
    flagged = np.zeros(len(close), dtype=bool)
    if len(close) > 1 and threshold > 0:
        flagged[1:] = np.abs(close[1:] / close[:-1] - 1.0) > threshold
    return flagged
