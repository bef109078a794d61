"""One-hour bars beside the daily ones: collected, simulated for the offline sample, and
checked against the daily bars.

Yahoo (yfinance `interval="1h"`) keeps about 730 days of hours: a new symbol gets them
all, later runs re-fetch from `REFETCH_SESSIONS` sessions before the newest stored one.
The offline sample has no real hours: `collect` writes SIMULATED hourly bars
(`intraday.synthetic_hours`, source `simulated`) for the sample's last `HOURLY_DAYS`
calendar days, built to roll up to the sample's daily bars.

The roll-up rule: a session's hours, first open / max high / min low / last close, must
match its final daily bar within `ROLLUP_TOLERANCE` (0.5%) on each price. Hourly bars
are stored as the vendor sends them for 1h (Yahoo: split-adjusted, not dividend-adjusted,
the basis of the daily raw close), so they are compared with the daily bar taken back to
that basis (each price / adj_factor). A session that does not roll up has its hours
flagged (`store.hourly.flag_sessions`); one without a final daily bar is not judged yet.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import sqlite_utils

from assistant import calendar
from assistant.config import Settings
from assistant.errors import NoDataError, TemporaryError
from assistant.ingest.sources.base import HourlySource, Source
from store import hourly as store_hourly
from store import symbols as store_symbols
from store.db import immediate
from vocab.dates import session_date

ROLLUP_TOLERANCE = 0.005  # 0.5% on each of open, high, low, close
HOURLY_DAYS = 730  # what Yahoo keeps; the sample's simulated hours cover as many days
REFETCH_SESSIONS = 2  # re-asked before the newest stored session (a late or missing hour)
SIMULATED = "simulated"  # the source name of the sample's simulated hours
CHECK_DAYS = 14  # calendar days of stored hours checked again on every run


def _days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)


def _last_session(db: sqlite_utils.Database, symbol: str) -> date | None:
    """The newest session with stored hours (the store's text, parsed once)."""
    last = store_hourly.last_session(db, symbol)
    return None if last is None else session_date(last)


@dataclass
class RollUp:
    checked: int = 0  # sessions with a final daily bar to compare with
    flagged: list[str] = field(default_factory=list)  # of those, the ones that do not roll up
    unchecked: int = 0  # sessions without a final daily bar (yet)


@dataclass
class HourlyResult:
    symbol: str
    status: str  # added | current | failed | no-data
    added: int = 0
    updated: int = 0
    flagged: int = 0  # sessions whose hours do not roll up to the daily bar
    message: str = ""

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


def check_rollup(
    db: sqlite_utils.Database,
    symbol: str,
    exchange: str,
    *,
    start: date | None = None,
    tolerance: float = ROLLUP_TOLERANCE,
) -> RollUp:
    """Compare every session of `symbol`'s hourly bars (from `start`, a date, when given)
    with its final daily bar; flag the sessions that do not roll up and clear the flag of
    those that do."""
    rolled = store_hourly.rollups(db, symbol, start)
    if rolled.empty:
        return RollUp()
    judged = rolled["d_close"].notna().to_numpy()
    both = rolled[judged]
    factor = both["adj_factor"].to_numpy(dtype=float)
    factor = np.where(np.isfinite(factor) & (factor > 0), factor, 1.0)
    bad = np.zeros(len(both), dtype=bool)
    for col in ("open", "high", "low", "close"):
        raw = both[f"d_{col}"].to_numpy(dtype=float) / factor  # the daily bar as traded
        with np.errstate(divide="ignore", invalid="ignore"):
            off = np.abs(both[col].to_numpy(dtype=float) / raw - 1.0)
        bad |= ~(off <= tolerance)
    days = [str(d) for d in both.index]
    flagged = [d for d, b in zip(days, bad, strict=True) if b]
    good = [d for d, b in zip(days, bad, strict=True) if not b]
    with immediate(db):
        store_hourly.flag_sessions(db, symbol, flagged, True)
        store_hourly.flag_sessions(db, symbol, good, False)
    return RollUp(checked=len(both), flagged=flagged, unchecked=int((~judged).sum()))


@functools.cache
def _sample_hours(symbol: str, jump_threshold: float) -> pd.DataFrame:
    """The sample's simulated hours of `symbol` over its last HOURLY_DAYS calendar days, as
    traded (the daily bars taken back by adj_factor), seeded by the symbol: the same hours
    every run, whatever part of them a run writes."""
    from assistant.ingest.sources.intraday import synthetic_hours
    from assistant.ingest.sources.sample import SPAN, SampleSource

    end = SPAN[1]
    start = end - pd.Timedelta(days=HOURLY_DAYS - 1)
    daily = SampleSource(jump_threshold=jump_threshold).history(symbol, start, end)
    factor = daily["adj_factor"].to_numpy(dtype=float)
    raw = daily[["open", "high", "low", "close", "volume"]].copy()
    for col in ("open", "high", "low", "close"):
        raw[col] = raw[col].to_numpy(dtype=float) / factor
    return synthetic_hours(raw, "XNYS", seed=zlib.crc32(symbol.encode()))


def sample_window() -> tuple[pd.Timestamp, pd.Timestamp]:
    """The sessions the sample's simulated hours cover (its last HOURLY_DAYS days)."""
    from assistant.ingest.sources.sample import SPAN

    return SPAN[1] - pd.Timedelta(days=HOURLY_DAYS - 1), SPAN[1]


def _done_through(
    db: sqlite_utils.Database, symbol: str, exchange: str, target: pd.Timestamp
) -> bool:
    """Whether the stored hours reach the close of the `target` session (or beyond it)."""
    last = _last_session(db, symbol)
    if last is None or last < target.date():
        return False
    if last > target.date():
        return True
    stored = store_hourly.load(db, symbol, calendar.exchange_tz(exchange), start=last, end=last)
    bounds = calendar.session_bounds(exchange, target, target)
    want = int(bounds["bars"].iloc[0]) if len(bounds) else 0
    return len(stored) > 0 and int(stored["slot"].iloc[-1]) >= want - 1


def _hours_over(exchange: str, day: pd.Timestamp, now: pd.Timestamp) -> int:
    """How many of the session's hours on `day` are over at `now` (0 outside it)."""
    bounds = calendar.session_bounds(exchange, day, day)
    if bounds.empty:
        return 0
    opens, closes = bounds["open"].iloc[0], bounds["close"].iloc[0]
    if now < opens:
        return 0
    if now >= closes:
        return int(bounds["bars"].iloc[0])
    return int((now - opens) // pd.Timedelta(hours=1))


def _stored_slots(db: sqlite_utils.Database, symbol: str, exchange: str, day: date) -> int:
    """1 + the last stored slot of the session on `day` (0 when it has none)."""
    stored = store_hourly.load(db, symbol, calendar.exchange_tz(exchange), start=day, end=day)
    return int(stored["slot"].iloc[-1]) + 1 if len(stored) else 0


def _last_closed(exchange: str, end: pd.Timestamp, live: bool, now: pd.Timestamp) -> pd.Timestamp:
    recent = calendar.sessions(exchange, end - pd.Timedelta(days=14), end)
    if live and len(recent) and not calendar.session_closed(exchange, recent[-1], now):
        recent = recent[:-1]
    return recent[-1] if len(recent) else end


def _said(
    frame: pd.DataFrame, flagged: list[str], written: store_hourly.HourlyUpsert, what: str
) -> str:
    parts = []
    if written.added or written.updated:
        span = f"{frame['session'].iloc[0]:%Y-%m-%d} … {frame['session'].iloc[-1]:%Y-%m-%d}"
        parts.append(f"{written.added} {what} added, {written.updated} updated ({span})")
    else:
        parts.append("already current")
    forming = int(frame.attrs.get("forming", 0))
    if forming:
        parts.append(f"{forming} bar of an hour not over yet left for the next run")
    return "; ".join(parts) + flag_note(flagged)


def flag_note(flagged: list[str]) -> str:
    """ "; 2 sessions flagged: ..." for a result line (empty when none is)."""
    if not flagged:
        return ""
    n, shown = len(flagged), ", ".join(flagged[:3]) + (" …" if len(flagged) > 3 else "")
    return (
        f"; {n} session{'s' if n != 1 else ''} flagged: their hours do not roll up to the "
        f"daily bar within {ROLLUP_TOLERANCE:.1%} ({shown})"
    )


def collect_hourly(
    db: sqlite_utils.Database,
    settings: Settings,
    symbols: list[str],
    source: Source,
    *,
    until: date | None = None,
    explicit: bool = False,
    readjusted: frozenset[str] = frozenset(),
    now: pd.Timestamp | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> list[HourlyResult]:
    """One-hour bars for `symbols` from `source`: Yahoo's (batched like the daily bars),
    the sample's simulated ones; other sources have none (an empty list). Symbols imported
    from CSV are left alone unless the source was named (`explicit`). Never past `until`.

    The roll-up is checked again for the sessions fetched and the last CHECK_DAYS days
    (where daily bars change: provisional ones made final). The symbols whose daily prices
    were `readjusted` (a split re-scales every raw price before it) have all their hours
    fetched again and every session checked."""
    name = getattr(source, "name", "")
    if name not in ("yahoo", "sample") or not settings.collect.hourly:
        return []
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    todo: list[tuple[str, str, pd.Timestamp, pd.Timestamp]] = []
    checks: dict[str, date] = {}  # where each symbol's roll-up check starts (absent: all)
    results: dict[str, HourlyResult] = {}
    for sym in symbols:
        row = store_symbols.get(db, sym)
        if not explicit and row is not None and row["source"] == "csv":
            continue
        if name == "sample":
            from assistant.ingest.sources.sample import SERIES

            if sym not in SERIES:
                continue  # the daily result already says the sample has no such symbol
        exchange = calendar.exchange_for(sym, settings.calendar.exchange)
        end = pd.Timestamp(until).normalize() if until else calendar.local_today(exchange, now)
        if name == "sample":
            if end < sample_window()[0]:
                continue  # before the simulated hours begin: nothing to say
            end = min(end, sample_window()[1])
        target = _last_closed(exchange, end, until is None and name != "sample", now)
        last = _last_session(db, sym)
        recent = None if sym in readjusted or last is None else _days_before(last, CHECK_DAYS)
        today = end.date()
        over = _hours_over(exchange, end, now) if until is None and name != "sample" else 0
        if over and last is not None and last >= target.date():
            # during a session: the hours already over are due, not only the closed days
            done = _stored_slots(db, sym, exchange, today) >= over
        else:
            done = _done_through(db, sym, exchange, target)
        if sym not in readjusted and done:
            check_rollup(db, sym, exchange, start=recent)
            flagged = store_hourly.flagged_sessions(db, sym)  # the earlier ones too
            results[sym] = HourlyResult(
                sym, "current", flagged=len(flagged), message="already current" + flag_note(flagged)
            )
            continue
        if last and sym not in readjusted:
            back = calendar.sessions(exchange, pd.Timestamp(last) - pd.Timedelta(days=20), last)
            start = back[-(REFETCH_SESSIONS + 1)] if len(back) > REFETCH_SESSIONS else back[0]
        else:
            start = end - pd.Timedelta(days=HOURLY_DAYS - 1)
        todo.append((sym, exchange, pd.Timestamp(start), end))
        if recent is not None:
            checks[sym] = min(recent, pd.Timestamp(start).date())
    fetched: dict[str, pd.DataFrame | Exception] = {}
    if name == "yahoo" and len(todo) > 1:
        assert isinstance(source, HourlySource)
        fetched = source.hourly_many(
            [t[0] for t in todo], min(t[2] for t in todo), max(t[3] for t in todo)
        )
    for i, (sym, exchange, start, end) in enumerate(todo):
        if progress:
            progress(i / max(len(todo), 1), f"{sym} hourly")
        one = _collect_one(
            db, settings, source, sym, exchange, start, end, fetched, checks.get(sym)
        )
        if one is not None:
            results[sym] = one
    if progress:
        progress(1.0, "done")
    return [results[s] for s in symbols if s in results]


def _collect_one(
    db: sqlite_utils.Database,
    settings: Settings,
    source: Source,
    sym: str,
    exchange: str,
    start: pd.Timestamp,
    end: pd.Timestamp,
    fetched: dict[str, pd.DataFrame | Exception],
    check_from: date | None = None,
) -> HourlyResult | None:
    name = getattr(source, "name", "")
    try:
        if name == "sample":
            frame = _sample_hours(sym, float(settings.collect.jump_threshold))
            first = max(start, sample_window()[0])
            if end < first:
                return None  # before the simulated hours begin: nothing to say
            frame = frame[(frame["session"] >= first) & (frame["session"] <= end)]
            what, label = "simulated hourly bars", SIMULATED
        else:
            got = fetched.get(sym)
            if isinstance(got, Exception):
                raise got
            if got is None:
                assert isinstance(source, HourlySource)
                got = source.hourly(sym, start, end)
            frame = got
            frame = frame[(frame["session"] >= start) & (frame["session"] <= end)]
            what, label = "hourly bars", name
    except TemporaryError as exc:
        return HourlyResult(sym, "failed", message=str(exc))
    except NoDataError as exc:
        return HourlyResult(sym, "no-data", message=str(exc))
    with immediate(db):
        written = store_hourly.upsert(db, sym, frame, label)
    check_rollup(db, sym, exchange, start=check_from)
    flagged = store_hourly.flagged_sessions(db, sym)  # the earlier ones too
    status = "added" if written.added else "current"
    return HourlyResult(
        sym,
        status,
        written.added,
        written.updated,
        len(flagged),
        _said(frame, flagged, written, what),
    )
