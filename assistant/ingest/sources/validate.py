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

from assistant import calendar
from assistant.errors import AssistantError
from assistant.ingest.sources.base import NORMALIZED_COLUMNS
from vocab.dates import session_text

PRICES = ["open", "high", "low", "close"]
# Sources round to a cent: a high a hair below the close is rounding, not bad data.
TOLERANCE = 1e-4
# Sane bounds: the cheapest crypto tokens trade near 1e-8, the dearest shares near 1e6;
# a price or volume outside them is a broken row (1e308 overflows the models' float32).
MIN_PRICE, MAX_PRICE = 1e-8, 1e9
MAX_VOLUME = 1e15


class ValidationError(AssistantError):
    """Raw bars that cannot be stored (named date and reason in the message)."""


def _day(ts: pd.Timestamp) -> str:
    return session_text(pd.Timestamp(ts))


def _first_bad(frame: pd.DataFrame, mask: pd.Series | np.ndarray, what: str) -> ValidationError:
    """The first offending row by its file line when the frame has one (a CSV), else its date."""
    mask = np.asarray(mask)
    n = int(mask.sum())
    i = int(np.argmax(mask))
    more = f" (and {n - 1} more rows)" if n > 1 else ""
    if "line" in frame.columns:
        return ValidationError(
            f"line {int(frame['line'].iloc[i])}: {what} on {_day(frame.index[i])}{more}"
        )
    return ValidationError(f"{what} on {_day(frame.index[i])}{more}")


def _sane(frame: pd.DataFrame, col: str, values: np.ndarray, low: float, high: float) -> None:
    """Refuse values that are not finite or lie outside [low, high] (NaN is checked by the caller)."""
    with np.errstate(invalid="ignore"):
        bad = np.isinf(values) | (values < low) | (values > high)
    if bad.any():
        v = values[bad][0]
        what = "not a finite number" if np.isinf(v) else f"outside {low:g} … {high:g}"
        raise _first_bad(frame, bad, f"{col} {v:g} is {what}")


def _collapse_duplicates(frame: pd.DataFrame, duplicates: str) -> pd.DataFrame:
    dup = frame.index.duplicated(keep=False)
    if not dup.any():
        return frame
    if duplicates == "last":
        return frame[~frame.index.duplicated(keep="last")]
    rows = frame[dup].drop(columns="line", errors="ignore")  # same values on two lines: one row
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
    volume = frame["volume"].fillna(0.0)
    usable = (prices >= MIN_PRICE).all(axis=1) & (prices <= MAX_PRICE).all(axis=1)
    usable &= (volume >= 0) & (volume <= MAX_VOLUME)
    frame = frame[usable].copy()
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
    latest: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Return the normalized frame (see sources/base.py) or raise ValidationError.

    duplicates: "error" refuses conflicting rows for one date ("last" keeps the latest,
    for live feeds that re-send today's bar). adjusted: the prices are already adjusted
    and no raw close is known. repair: drop/widen bad rows of a live feed instead of refusing.
    latest: refuse a bar dated after it (a bar from the future stops collection for good).

    Every price must be finite and within MIN_PRICE … MAX_PRICE, every volume finite and
    within 0 … MAX_VOLUME. An open or close outside low … high (vendors emit these) widens
    the range and is flagged like a jump; a high below the low is refused.
    """
    if raw is None or len(raw) == 0:
        raise ValidationError("no rows")
    missing = [c for c in PRICES if c not in raw.columns]
    if missing:
        raise ValidationError(f"missing column(s): {', '.join(missing)}")
    if duplicates == "error" and not repair:
        clean = _clean(raw, jump_threshold, adjusted, latest)
        if clean is not None:
            return clean
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
    if latest is not None and len(frame) and frame.index[-1] > latest:
        future = np.asarray(frame.index > latest)
        raise _first_bad(frame, future, f"a bar from the future (after {_day(latest)})")
    prices = frame[PRICES].to_numpy()
    for i, col in enumerate(PRICES):
        if np.isnan(prices[:, i]).any():
            raise _first_bad(frame, np.isnan(prices[:, i]), f"missing {col} price")
        if (prices[:, i] <= 0).any():
            bad = prices[:, i] <= 0
            raise _first_bad(frame, bad, f"non-positive {col} price ({prices[:, i][bad][0]:g})")
        _sane(frame, f"{col} price", prices[:, i], MIN_PRICE, MAX_PRICE)
    volume = frame["volume"].fillna(0.0).to_numpy()
    if (volume < 0).any():
        raise _first_bad(frame, volume < 0, "negative volume")
    _sane(frame, "volume", volume, 0.0, MAX_VOLUME)
    o, h, lo, c = prices.T
    if (h < lo).any():
        raise _first_bad(frame, h < lo, "high below low")
    out = _normalized(
        (o, h, lo, c, volume),
        _factor(frame, c, adjusted),
        frame["provisional"].fillna(0).astype(int).to_numpy(),
        fixed,
        frame.index,
        jump_threshold,
    )
    return out[NORMALIZED_COLUMNS]


def _normalized(
    ohlcv: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    factor: np.ndarray,
    provisional: np.ndarray,
    fixed: np.ndarray,
    index: pd.Index,
    jump_threshold: float,
) -> pd.DataFrame:
    """The checked raw bars as stored: adjusted by `factor`, flagged where repaired (`fixed`),
    widened where the open or close lies outside the day's range, or jumping."""
    o, h, lo, c, volume = ohlcv
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    # Beyond rounding, an open or close outside the day's range is a vendor slip: widen, flag.
    fixed = fixed | (h < top * (1 - TOLERANCE)) | (lo > bottom * (1 + TOLERANCE))
    h, lo = np.maximum(h, top), np.minimum(lo, bottom)
    adj_close = c * factor
    return pd.DataFrame(
        {
            "open": o * factor,
            "high": h * factor,
            "low": lo * factor,
            "close": adj_close,
            "volume": volume,
            "raw_close": c,
            "adj_factor": factor,
            "provisional": provisional,
            "flagged": (_jumps(adj_close, jump_threshold) | fixed).astype(int),
        },
        index=pd.DatetimeIndex(index, name="date"),
    )


def _clean(
    raw: pd.DataFrame, jump_threshold: float, adjusted: bool, latest: pd.Timestamp | None
) -> pd.DataFrame | None:
    """`validate`'s frame for raw bars that need nothing but the arithmetic: dates in
    order without repeats, every check passed, no dividend or split to adjust for. None
    for anything else, which `validate` then takes the long way (and words its refusal):
    the same result in numpy alone, without the ~5 ms of pandas per call that a file of
    400 tickers paid 400 times."""
    index = pd.DatetimeIndex(raw.index)
    if index.tz is not None or index.hasnans:
        return None
    stamps = index.to_numpy()
    if (stamps != stamps.astype("datetime64[D]")).any():  # a time of day: normalize
        index = index.normalize()
    if (np.diff(index.asi8) <= 0).any():  # out of order or repeated
        return None
    if latest is not None and index[-1] > latest:
        return None
    n = len(raw)
    nothing = np.full(n, np.nan)
    try:
        o, h, lo, c, volume, adj, dividend, split = (
            raw[col].to_numpy(dtype=float) if col in raw.columns else nothing
            for col in (*PRICES, "volume", "adj_close", "dividend", "split")
        )
    except (TypeError, ValueError):
        return None
    volume = np.where(np.isnan(volume), 0.0, volume)
    with np.errstate(invalid="ignore"):
        for p in (o, h, lo, c):
            if not ((p >= MIN_PRICE) & (p <= MAX_PRICE)).all():  # NaN and inf fail too
                return None
        if not ((volume >= 0) & (volume <= MAX_VOLUME)).all() or (h < lo).any():
            return None
    if adjusted:
        factor = np.ones(n)
    elif not np.isnan(adj).all():
        with np.errstate(invalid="ignore"):
            if not ((adj >= MIN_PRICE) & (adj <= MAX_PRICE)).all():
                return None
        factor = adj / c
    else:
        dividend = np.where(np.isnan(dividend), 0.0, dividend)
        split = np.where(np.isnan(split), 0.0, split)
        if ((dividend != 0) | ((split != 0) & (split != 1.0))).any():
            return None  # events to adjust for (or to refuse): the long way
        factor = np.ones(n)
    if "provisional" in raw.columns:
        provisional = raw["provisional"].fillna(0).astype(int).to_numpy()
    else:
        provisional = np.zeros(n, dtype=int)
    return _normalized(
        (o, h, lo, c, volume), factor, provisional, np.zeros(n, dtype=bool), index, jump_threshold
    )


def _factor(frame: pd.DataFrame, close: np.ndarray, adjusted: bool) -> np.ndarray:
    if adjusted:
        return np.ones(len(close))
    adj = frame["adj_close"].to_numpy()
    if not np.isnan(adj).all():
        if np.isnan(adj).any():
            raise _first_bad(frame, np.isnan(adj), "missing adjusted close")
        if (adj <= 0).any():
            raise _first_bad(frame, adj <= 0, "non-positive adjusted close")
        _sane(frame, "adjusted close", adj, MIN_PRICE, MAX_PRICE)
        factor: np.ndarray = adj / close
        return factor
    dividend = frame["dividend"].fillna(0.0).to_numpy()
    split = frame["split"].fillna(0.0).to_numpy()
    if (dividend < 0).any():
        raise _first_bad(frame, dividend < 0, "negative dividend")
    if (split < 0).any():
        raise _first_bad(frame, split < 0, "negative split ratio")
    _sane(frame, "dividend", dividend, 0.0, MAX_PRICE)
    _sane(frame, "split ratio", split, 0.0, 1e6)
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


HOUR = pd.Timedelta(hours=1)


def _at_hour(frame: pd.DataFrame, mask: np.ndarray, what: str) -> ValidationError:
    """The first offending hourly row, by its file line when it has one, else its start."""
    mask = np.asarray(mask, dtype=bool)
    n, i = int(mask.sum()), int(np.argmax(mask))
    more = f" (and {n - 1} more rows)" if n > 1 else ""
    when = f"{frame.index[i]:%Y-%m-%d %H:%M%z}"
    where = f"line {int(frame['line'].iloc[i])}: " if "line" in frame.columns else ""
    return ValidationError(f"{where}{what} (bar of {when}){more}")


def validate_hourly(
    raw: pd.DataFrame, exchange: str, *, now: pd.Timestamp, repair: bool = False
) -> pd.DataFrame:
    """Raw one-hour bars (a tz-aware DatetimeIndex of bar starts; open, high, low, close,
    optionally volume and line) as the `store.hourly` frame, or ValidationError.

    The refusals of daily bars apply (a missing, non-positive, non-finite or absurd price
    or volume, a high below the low), and an hour's own: a bar starting after `now` (from
    the future), one outside its session's hours (`calendar.session_bounds`: before the
    open, at or after the close, early closes included, or on a day without a session),
    two different bars in one hour of a session, and a bar whose hour has not ended at
    `now` (still forming). `repair` (a live feed) drops such rows instead and counts the
    forming ones in `attrs["forming"]`, the others in `attrs["dropped"]`; an open or close
    outside the bar's range is then widened (refused otherwise, beyond rounding).
    Prices are kept as given: the caller says on what basis (Yahoo's are as traded).
    """
    if raw is None or len(raw) == 0:
        raise ValidationError("no rows")
    missing = [c for c in PRICES if c not in raw.columns]
    if missing:
        raise ValidationError(f"missing column(s): {', '.join(missing)}")
    index = pd.DatetimeIndex(raw.index)
    if index.tz is None:
        raise ValidationError("hourly bar times must say their time zone")
    if index.hasnans:
        raise ValidationError("a row has no time")
    now = pd.Timestamp(now)
    now = now.tz_localize("UTC") if now.tz is None else now
    frame = raw.copy()
    if "volume" not in frame.columns:
        frame["volume"] = np.nan
    frame[PRICES + ["volume"]] = frame[PRICES + ["volume"]].astype(float)
    bounds = calendar.session_bounds(
        exchange,
        index.min().tz_convert("UTC").tz_localize(None) - pd.Timedelta(days=2),
        index.max().tz_convert("UTC").tz_localize(None) + pd.Timedelta(days=2),
    )
    tz = str(bounds["open"].dt.tz) if len(bounds) else calendar.exchange_tz(exchange)
    frame.index = index.tz_convert(tz)
    frame = frame.sort_index(kind="stable")
    dropped = 0

    def refuse(mask: np.ndarray, what: str) -> pd.DataFrame:
        nonlocal dropped
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return frame
        if not repair:
            raise _at_hour(frame, mask, what)
        dropped += int(mask.sum())
        return frame[~mask]

    # Exact repeats (the same bar on two lines) are one bar.
    same = frame.drop(columns="line", errors="ignore").reset_index().duplicated().to_numpy()
    frame = frame[~same]
    frame = refuse(np.asarray(frame.index > now), "a bar from the future")

    def starts() -> pd.DatetimeIndex:
        return pd.DatetimeIndex(frame.index)

    day = starts().tz_localize(None).normalize()
    opens = bounds["open"].reindex(day)
    frame = refuse(opens.isna().to_numpy(), f"not a {exchange} trading day")
    day = starts().tz_localize(None).normalize()
    opens, closes = bounds["open"].reindex(day), bounds["close"].reindex(day)
    outside = (starts() < pd.DatetimeIndex(opens)) | (starts() >= pd.DatetimeIndex(closes))
    if outside.any():
        i = int(np.argmax(outside))
        hours = f"{opens.iloc[i]:%H:%M}-{closes.iloc[i]:%H:%M}"
        frame = refuse(outside, f"outside the {exchange} session's hours ({hours})")
    day = starts().tz_localize(None).normalize()
    opens, closes = bounds["open"].reindex(day), bounds["close"].reindex(day)
    slot = np.asarray((starts() - pd.DatetimeIndex(opens)) // HOUR, dtype=int)
    keys = pd.MultiIndex.from_arrays([day, slot])
    twice = keys.duplicated(keep="first")
    if twice.any():
        frame = refuse(twice, "a second bar in the same hour of the session (not one-hour bars)")
        keep = ~np.asarray(twice)
        day, slot, closes = day[keep], slot[keep], closes[keep]
    ends = np.minimum(starts() + HOUR, pd.DatetimeIndex(closes))
    forming = np.asarray(ends > now)
    if forming.any():
        if not repair:
            raise _at_hour(frame, forming, "a bar whose hour has not ended yet (still forming)")
        frame, day, slot = frame[~forming], day[~forming], slot[~forming]
    usable = np.ones(len(frame), dtype=bool)
    prices = frame[PRICES].to_numpy()
    volume = frame["volume"].fillna(0.0).to_numpy()
    for i, col in enumerate(PRICES):
        p = prices[:, i]
        with np.errstate(invalid="ignore"):
            checks = [
                (np.isnan(p), f"missing {col} price"),
                (p <= 0, f"non-positive {col} price"),
                (
                    np.isinf(p) | (p < MIN_PRICE) | (p > MAX_PRICE),
                    f"{col} price not finite or outside {MIN_PRICE:g} … {MAX_PRICE:g}",
                ),
            ]
        for bad, what in checks:
            if bad.any() and not repair:
                raise _at_hour(frame, bad, what)
            usable &= ~bad
    with np.errstate(invalid="ignore"):
        bad_volume = np.isinf(volume) | (volume < 0) | (volume > MAX_VOLUME)
    if bad_volume.any() and not repair:
        raise _at_hour(frame, bad_volume, f"volume negative, not finite or above {MAX_VOLUME:g}")
    usable &= ~bad_volume
    o, h, lo, c = (prices[:, i] for i in range(4))
    if not repair:
        with np.errstate(invalid="ignore"):
            if (h < lo).any():
                raise _at_hour(frame, h < lo, "high below low")
            top, bottom = np.maximum(o, c), np.minimum(o, c)
            wide = (h < top * (1 - TOLERANCE)) | (lo > bottom * (1 + TOLERANCE))
            if wide.any():
                raise _at_hour(frame, wide, "open or close outside the bar's low … high")
    dropped += int((~usable).sum())
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    out = pd.DataFrame(
        {
            "session": day,
            "slot": slot,
            "open": o,
            "high": np.maximum(h, top),
            "low": np.minimum(lo, bottom),
            "close": c,
            "volume": volume,
            "flagged": 0,
        },
        index=pd.DatetimeIndex(frame.index, name="ts"),
    )[usable]
    if out.empty and not repair:
        raise ValidationError("no usable rows")
    out.attrs.update(forming=int(forming.sum()), dropped=dropped)
    return out
