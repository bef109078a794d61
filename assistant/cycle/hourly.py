"""The hour-ahead cycle: after each hourly bar closes, a call per symbol and hourly horizon;
and the verification of hourly calls whose target bar has closed.

A call made at time `at` is made as of the newest session hour of the exchange calendar
that closed by `at` (its `as_of` is that bar's start); it reads the symbol's hourly bars up
to that bar and nothing later, forecasts with `models.intraday` (the per-hour-of-session
variance profile times the recent level; conformal 80% and 95% ranges; the stated trend
rule for the direction) and targets the bar `h` session hours on
(`assistant.calendar.add_hours`: overnight, weekends and holidays are no hours). A symbol
without that bar stored gets no call (an hour-ahead call from an older bar would be a call
about the past). Calls go to their own ledger (`store.hourly_calls`), idempotent on
(symbol, as_of, horizon, model_version).

Verification scores a pending call once its target bar has closed and is stored, with the
daily ledger's own scoring (`assistant.cycle.learn.score`: realized return, class, hit,
the always-up and causal-majority baselines, range coverage); a call whose bar has not come
`expire_after_sessions` sessions after its target session is expired, never a miss. The
hourly calls adapt no weights and no calibration: they carry no confidence.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
import sqlite_utils

from assistant import calendar
from assistant.config import Settings
from assistant.cycle.learn import score
from models import intraday
from store import hourly as hourly_bars
from store import hourly_calls as ledger
from store import symbols as symbol_store
from store.db import immediate, utcnow
from vocab.jsontypes import Json

HISTORY_DAYS = 150  # calendar days of hourly bars a call reads (about 100 sessions)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HourlyCall:
    symbol: str
    as_of: str  # the start of the bar at whose close the call is made
    horizon: int  # session hours
    target: str  # the start of the bar whose close it is scored on
    target_session: date
    target_slot: int
    base_price: float
    direction: str
    change_pct: float
    target_price: float
    lower: float  # the 80% range of the target close
    upper: float
    lower95: float
    upper95: float
    vol_sigma: float
    p_down: float
    p_flat: float
    p_up: float
    model_version: str
    session: date  # the as_of bar's session and slot
    slot: int
    flat_band: float  # the FLAT band of its h-hour move (log return)
    majority: int  # the causal majority of h-hour moves finished by the call (+1/-1)
    last_move: int  # the sign of the last h-hour move
    new: bool = True

    def to_dict(self) -> dict[str, Json]:
        return asdict(self)


@dataclass
class HourlyVerifyReport:
    at: str
    verified: int = 0
    hits: int = 0
    flat: int = 0
    pending: int = 0
    expired: int = 0

    def to_dict(self) -> dict[str, Json]:
        return asdict(self)


def horizons(settings: Settings) -> list[int]:
    return [int(h) for h in settings.cycle.hourly_horizons]


def latest_bar(exchange: str, at: pd.Timestamp) -> pd.Timestamp | None:
    """The start of the newest session hour that closed by `at` (None: none in 10 days)."""
    at = _aware(at)
    day = at.tz_convert(calendar.exchange_tz(exchange)).tz_localize(None).normalize()
    grid = _grid(exchange, day - pd.Timedelta(days=10), day)
    if grid.empty:  # no session in those days (before the calendar's first date)
        return None
    closed = grid[grid["close"] <= at]
    return None if closed.empty else pd.Timestamp(closed.index[-1])


def run_hourly(
    db: sqlite_utils.Database,
    settings: Settings,
    symbols: list[str] | None = None,
    *,
    at: datetime | str | None = None,
) -> list[HourlyCall]:
    """The hourly calls made at `at` (default: now) for the watchlist (or `symbols`), written
    to the hourly ledger in one transaction. Nothing when no hourly horizon is set."""
    hs = horizons(settings)
    if not hs:
        return []
    when = _aware(pd.Timestamp.now(tz="UTC") if at is None else pd.Timestamp(at))
    wanted = symbols or symbol_store.active_symbols(db)
    calls: list[HourlyCall] = []
    for sym in wanted:
        exchange = calendar.exchange_for(sym, settings.calendar.exchange)
        if exchange in ("24/7", "24/5"):
            continue  # hour-ahead calls follow exchange sessions (docs/intraday.md)
        bar = latest_bar(exchange, when)
        if bar is None:
            continue
        try:
            got = calls_as_of(db, sym, exchange, bar, hs)
        except ValueError as exc:  # bars off the calendar's hours: this symbol only
            log.warning("no hourly call for %s: %s", sym, exc)
            continue
        if not got:
            log.info("no hourly call for %s: no hourly bar for %s stored", sym, bar.isoformat())
        calls += got
    made_at = utcnow()
    with immediate(db):
        known = ledger.keys(db, sorted({c.as_of for c in calls}))
        ledger.insert_many(db, (_row(c, made_at) for c in calls))
    return [
        c
        if (c.symbol, c.as_of, c.horizon, c.model_version) not in known
        else HourlyCall(**{**asdict(c), "new": False})
        for c in calls
    ]


def calls_as_of(
    db: sqlite_utils.Database, symbol: str, exchange: str, bar: pd.Timestamp, hs: list[int]
) -> list[HourlyCall]:
    """The calls of `symbol` made at the close of the bar starting at `bar` (none when that
    bar is not stored, or its session is flagged as not rolling up to its daily bar): read
    from bars up to it only."""
    tz = calendar.exchange_tz(exchange)
    bar = _aware(bar).tz_convert(tz)
    day = bar.tz_localize(None).normalize()
    start = day - pd.Timedelta(days=HISTORY_DAYS)
    frame = hourly_bars.load(db, symbol, tz, start=_day(start), end=_day(day))
    frame = frame[frame.index <= bar]
    if frame.empty or frame.index[-1] != bar:
        return []
    if frame["flagged"].iloc[-1]:
        return []  # its session's hours do not roll up to its daily bar: not a price to call from
    grid = _grid(exchange, start, day + pd.Timedelta(days=max(hs) // 4 + 10))
    grid = grid[grid.index >= frame.index[0]]
    out = []
    for h in hs:
        f = intraday.forecasts(frame, grid, h, last_only=True)
        last = f.iloc[-1]
        if not math.isfinite(float(last["sigma"])):
            continue  # too little history for a variance level yet
        b = {k: float(v[-1]) for k, v in intraday.bounds(f.iloc[-1:]).items()}
        base = float(frame["close"].iloc[-1])
        mu = float(last["mu"])
        out.append(
            HourlyCall(
                symbol=symbol,
                as_of=bar.isoformat(),
                horizon=h,
                target=pd.Timestamp(last["target"]).isoformat(),
                target_session=_day(pd.Timestamp(last["target_session"])),
                target_slot=int(last["target_slot"]),
                base_price=base,
                direction=str(last["call"]),
                change_pct=100.0 * math.expm1(mu),
                target_price=base * math.exp(mu),
                lower=base * math.exp(b["lower"]),
                upper=base * math.exp(b["upper"]),
                lower95=base * math.exp(b["lower95"]),
                upper95=base * math.exp(b["upper95"]),
                vol_sigma=float(last["sigma"]),
                p_down=float(last["p_down"]),
                p_flat=float(last["p_flat"]),
                p_up=float(last["p_up"]),
                model_version=intraday.MODEL_VERSION,
                session=_day(day),
                slot=int(frame["slot"].iloc[-1]),
                flat_band=float(last["band"]),
                majority=int(last["majority"]),
                last_move=int(last["last_move"]),
            )
        )
    return out


def verify_hourly(
    db: sqlite_utils.Database, settings: Settings, *, at: datetime | str | None = None
) -> HourlyVerifyReport:
    """Score every pending hourly call whose target bar closed by `at` (default: now) and is
    stored; expire those whose bar never came (see the module docstring)."""
    when = _aware(pd.Timestamp.now(tz="UTC") if at is None else pd.Timestamp(at))
    exchange = settings.calendar.exchange
    report = HourlyVerifyReport(at=when.isoformat())
    today = _day(calendar.local_today(exchange, when))
    now = utcnow()
    after = int(settings.cycle.expire_after_sessions)
    with immediate(db):
        rows = ledger.maturing(db, today)
        if not rows:
            return report
        frame = pd.DataFrame(rows, columns=list(ledger.MATURING_COLUMNS))
        closes = [
            _bar_close(calendar.exchange_for(s, exchange), t)
            for s, t in zip(frame["symbol"], frame["target"], strict=True)
        ]
        closed = np.array([c <= when for c in closes], dtype=bool)
        done = frame[closed & frame["close"].notna().to_numpy()]
        waiting = frame[closed & frame["close"].isna().to_numpy()]
        expired = [
            int(i)
            for i, s, day in zip(
                waiting["id"], waiting["symbol"], waiting["target_session"], strict=True
            )
            if calendar.sessions_between(calendar.exchange_for(s, exchange), day, today) >= after
        ]
        report.expired = len(expired)
        report.pending = int((~closed).sum()) + len(waiting) - len(expired)
        if len(done):
            realized, scored = score(done, now)
            ledger.mark_verified(db, scored)
            hit = np.array([r[2] for r in scored], dtype=float)
            report.verified = len(done)
            report.hits = int(np.nansum(hit))
            report.flat = int(np.isnan(hit).sum())
        ledger.mark_expired(db, expired, now)
    return report


def _bar_close(exchange: str, start: str) -> pd.Timestamp:
    t = pd.Timestamp(start)
    day = t.tz_convert(calendar.exchange_tz(exchange)).tz_localize(None).normalize()
    close = calendar.session_close(exchange, day)
    return min(t + pd.Timedelta(hours=1), close)


def _row(c: HourlyCall, made_at: str) -> ledger.HourlyCallRow:
    return ledger.HourlyCallRow(
        symbol=c.symbol,
        as_of=c.as_of,
        horizon=c.horizon,
        model_version=c.model_version,
        made_at=made_at,
        session=c.session,
        slot=c.slot,
        target=c.target,
        target_session=c.target_session,
        target_slot=c.target_slot,
        base_price=c.base_price,
        pred_change_pct=c.change_pct,
        pred_price=c.target_price,
        lower=c.lower,
        upper=c.upper,
        lower95=c.lower95,
        upper95=c.upper95,
        vol_sigma=c.vol_sigma,
        p_up=c.p_up,
        p_flat=c.p_flat,
        p_down=c.p_down,
        direction=c.direction,
        flat_band=c.flat_band,
        majority=c.majority,
        last_move=c.last_move,
    )


@functools.lru_cache(maxsize=32)
def _grid_cached(exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return calendar.bar_grid(exchange, start, end)


def _grid(exchange: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return _grid_cached(exchange, pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize())


def _aware(t: pd.Timestamp) -> pd.Timestamp:
    return t.tz_localize("UTC") if t.tzinfo is None else t


def _day(t: pd.Timestamp) -> date:
    return pd.Timestamp(t).date()
