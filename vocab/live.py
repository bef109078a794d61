"""A live price read against the day's call: the move since the last close, that move in
units of the day's forecast sigma, and where the price stands against the day's 80% and
95% ranges.

The day's call is the one-session call whose target is today's session (made at the
previous close): its base price is the last close, its `vol_sigma` the forecast standard
deviation of today's log return, its bounds the 80% and 95% ranges of today's close. The
move in sigmas is ln(price / last close) / sigma: the raw move, not the move beyond the
call's expected one (a call expects a few basis points; the range's bounds carry it).
Those ranges are for the close: partway through the session less time has passed, so a
price outside the 95% range before the close is, if anything, rarer than the range says.
"""

from __future__ import annotations

import math
from typing import Literal

Band = Literal["inside80", "inside95", "outside95"]
BANDS: tuple[Band, ...] = ("inside80", "inside95", "outside95")


def move_pct(price: float, last_close: float | None) -> float | None:
    """The move since the last close, in percent (None without a usable close)."""
    if last_close is None or not last_close > 0 or not price > 0:
        return None
    return (price / last_close - 1.0) * 100.0


def sigmas(price: float, last_close: float | None, sigma: float | None) -> float | None:
    """ln(price / last close) in units of the day's forecast sigma (None without one)."""
    if last_close is None or sigma is None or not last_close > 0 or not price > 0:
        return None
    if not (math.isfinite(sigma) and sigma > 0):
        return None
    return math.log(price / last_close) / sigma


def band(
    price: float,
    range80: tuple[float | None, float | None],
    range95: tuple[float | None, float | None],
) -> Band | None:
    """Where `price` stands: inside the 80% range, inside the 95% range only, or outside
    the 95% range (bounds inclusive). None when the day has no 95% range (an 80% range
    alone still says inside80 / not; outside it is then unknown: None)."""
    lo80, hi80 = range80
    lo95, hi95 = range95
    if lo80 is not None and hi80 is not None and lo80 <= price <= hi80:
        return "inside80"
    if lo95 is None or hi95 is None:
        return None
    return "inside95" if lo95 <= price <= hi95 else "outside95"
