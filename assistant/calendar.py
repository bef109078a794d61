"""Trading sessions from an exchange calendar: a 5-session horizon skips weekends and holidays."""

from __future__ import annotations

import functools
from datetime import date
from typing import TYPE_CHECKING

import exchange_calendars as xcals
import numpy as np
import pandas as pd

from assistant.errors import AssistantError

if TYPE_CHECKING:
    import sqlite_utils

_START = "1990-01-01"


def _calendar(exchange: str, until: pd.Timestamp) -> xcals.ExchangeCalendar:
    """A calendar that covers `until` (built per year needed, so a long-running daemon
    never walks off the end of a calendar built when it started)."""
    return _calendar_to(exchange, max(until.year, pd.Timestamp.today().year) + 1)


@functools.lru_cache(maxsize=16)
def _calendar_to(exchange: str, end_year: int) -> xcals.ExchangeCalendar:
    """The calendar from 1990 (or the first date it knows: XTKS from 1997, XSAU from 2021)
    through `end_year` (or the last year its holidays are recorded for: `sessions` counts
    weekdays past that). One that exchange_calendars cannot build is one error line."""
    start, end = pd.Timestamp(_START), pd.Timestamp(f"{end_year}-12-31")
    # the factory's bounds (a class method: no calendar is built to read them)
    factory = xcals.calendar_utils._default_calendar_factories.get(xcals.resolve_alias(exchange))
    if factory is not None:
        low, high = factory.bound_min(), factory.bound_max()
        start = max(start, pd.Timestamp(low)) if low is not None else start
        end = min(end, pd.Timestamp(high)) if high is not None else end
    try:
        return xcals.get_calendar(exchange, start=start, end=end)
    except Exception as exc:  # a calendar the installed pandas breaks (ASEX, XTAE, ...)
        why = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise AssistantError(
            f"exchange calendar {exchange} cannot be built by exchange_calendars "
            f"{xcals.__version__} ({why}); set [calendar] exchange to another one"
        ) from None


def _past_end(cal: xcals.ExchangeCalendar, day: pd.Timestamp) -> bool:
    """Whether `day` is after the last date the calendar's holidays are recorded for."""
    return day > pd.Timestamp(cal.last_session).tz_localize(None)


def _outside(cal: xcals.ExchangeCalendar, day: pd.Timestamp) -> bool:
    """Whether the calendar cannot say if `day` is a session (it raises DateOutOfBounds):
    before its first date or past its recorded holidays; such a day closes at midnight."""
    return _past_end(cal, day) or day < pd.Timestamp(cal.first_session).tz_localize(None)


def _weekdays(
    cal: xcals.ExchangeCalendar, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DatetimeIndex:
    """The calendar's trading weekdays in [start, end] (past its recorded holidays)."""
    return pd.bdate_range(start, end, freq="C", weekmask=cal.weekmask)


_CRYPTO = frozenset({"BTC", "ETH", "SOL", "DOGE", "XRP", "ADA"})
_SUFFIXES = {
    ".T": "XTKS",
    ".L": "XLON",
    ".NS": "XBOM",
    ".BO": "XBOM",
    ".DE": "XETR",
    ".PA": "XPAR",
    ".HK": "XHKG",
    ".TO": "XTSE",
    ".AX": "XASX",
}


@functools.lru_cache(maxsize=8192)  # a cycle asks it of each symbol once a call (1,500)
def exchange_for(symbol: str, default: str = "XNYS") -> str:
    """The calendar a symbol trades on: crypto every day, FX on weekdays, else by suffix."""
    if symbol.endswith("-USD") and symbol.split("-")[0] in _CRYPTO:
        return "24/7"
    if symbol.endswith("=X"):
        return "24/5"
    for suffix, exchange in _SUFFIXES.items():
        if symbol.endswith(suffix):
            return exchange
    return default


def sessions(
    exchange: str, start: str | date | pd.Timestamp, end: str | date | pd.Timestamp
) -> pd.DatetimeIndex:
    """Session dates in [start, end], tz-naive."""
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if exchange == "24/7":
        return pd.date_range(start, end, freq="D")
    if exchange == "24/5":
        return pd.bdate_range(start, end)
    cal = _calendar(exchange, end)
    lo, hi = max(start, cal.first_session), min(end, cal.last_session)
    known = (
        pd.DatetimeIndex([])
        if lo > hi
        else pd.DatetimeIndex(cal.sessions_in_range(lo, hi)).tz_localize(None)
    )
    if not _past_end(cal, end):
        return known
    # past the last year exchange_calendars records holidays for (XBOM, XSES: 2026)
    after = pd.Timestamp(cal.last_session).tz_localize(None) + pd.Timedelta(days=1)
    return pd.DatetimeIndex(known.append(_weekdays(cal, max(start, after), end)))


def add_sessions(exchange: str, day: str | date | pd.Timestamp, n: int) -> pd.Timestamp:
    """The session `n` sessions after `day` (it need not be a session itself)."""
    return _add_sessions(exchange, pd.Timestamp(day).normalize(), n)


@functools.lru_cache(maxsize=4096)  # a cycle asks the same (exchange, day, n) per symbol
def _add_sessions(exchange: str, date: pd.Timestamp, n: int) -> pd.Timestamp:
    ahead = sessions(exchange, date + pd.Timedelta(days=1), date + pd.Timedelta(days=n * 3 + 20))
    if len(ahead) < n:
        raise ValueError(f"calendar {exchange} has no session {n} sessions after {date.date()}")
    return ahead[n - 1]


def sessions_between(
    exchange: str, start: str | date | pd.Timestamp, end: str | date | pd.Timestamp
) -> int:
    """Number of sessions after `start` up to and including `end`."""
    start = pd.Timestamp(start)
    return len(sessions(exchange, start + pd.Timedelta(days=1), end))


def is_session(exchange: str, date: str | pd.Timestamp) -> bool:
    d = pd.Timestamp(date).normalize()
    return len(sessions(exchange, d, d)) == 1


def exchange_tz(exchange: str) -> str:
    """The exchange's time zone (UTC for crypto and FX)."""
    return (
        "UTC" if exchange in ("24/7", "24/5") else str(_calendar(exchange, pd.Timestamp.today()).tz)
    )


def local_today(exchange: str, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """Today's date where the exchange is (tz-naive)."""
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    return now.tz_convert(exchange_tz(exchange)).tz_localize(None).normalize()


def session_closed(exchange: str, day: pd.Timestamp, now: pd.Timestamp | None = None) -> bool:
    """Whether the session on `day` has closed at `now` (UTC): a bar before that is provisional.

    Crypto (24/7) and FX (24/5) sessions close at midnight UTC; others at their exchange's
    scheduled close (early closes included).
    """
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now).tz_convert("UTC")
    day = pd.Timestamp(day).tz_localize(None).normalize()
    if exchange in ("24/7", "24/5"):
        return now >= (day + pd.Timedelta(days=1)).tz_localize("UTC")
    cal = _calendar(exchange, day)
    if _outside(cal, day) or not cal.is_session(day):
        return now >= (day + pd.Timedelta(days=1)).tz_localize(cal.tz)
    close: pd.Timestamp = cal.session_close(day)  # exchange_calendars is untyped
    return now >= close


def session_close(exchange: str, day: str | date | pd.Timestamp) -> pd.Timestamp:
    """When the session on `day` closes, in UTC (midnight UTC after the day for crypto and
    FX; the end of the day where the exchange is when `day` is not a session)."""
    day = pd.Timestamp(day).tz_localize(None).normalize()
    if exchange in ("24/7", "24/5"):
        return (day + pd.Timedelta(days=1)).tz_localize("UTC")
    cal = _calendar(exchange, day)
    if _outside(cal, day) or not cal.is_session(day):
        return (day + pd.Timedelta(days=1)).tz_localize(cal.tz).tz_convert("UTC")
    return pd.Timestamp(cal.session_close(day)).tz_convert("UTC")


def session_hours(exchange: str, day: str | pd.Timestamp) -> pd.DatetimeIndex:
    """Starts of the one-hour bars of the session on `day`, tz-aware in the exchange's zone:
    from the open, every hour while before the close (a 9:30-16:00 session has 7, the last
    one half an hour; an early close has fewer). Empty when `day` is not a session.
    Crypto and FX sessions run midnight to midnight UTC (24 bars)."""
    day = pd.Timestamp(day).tz_localize(None).normalize()
    if exchange in ("24/7", "24/5"):
        if not is_session(exchange, day):
            return pd.DatetimeIndex([], tz="UTC")
        return pd.date_range(day.tz_localize("UTC"), periods=24, freq="h")
    cal = _calendar(exchange, day)
    if _outside(cal, day) or not cal.is_session(day):
        return pd.DatetimeIndex([], tz=str(cal.tz))
    opens = pd.Timestamp(cal.session_open(day)).tz_convert(cal.tz)
    closes = pd.Timestamp(cal.session_close(day)).tz_convert(cal.tz)
    n = int(np.ceil((closes - opens) / pd.Timedelta(hours=1)))
    return pd.date_range(opens, periods=n, freq="h")


def session_bounds(
    exchange: str, start: str | pd.Timestamp, end: str | pd.Timestamp
) -> pd.DataFrame:
    """Open and close (tz-aware, the exchange's zone) of every session in [start, end],
    indexed by tz-naive session date, with `bars`: how many one-hour bars it has (those
    `session_hours` lists). Crypto and FX run midnight to midnight UTC. Sessions past the
    last year the calendar records holidays for have no known hours and are left out."""
    start, end = pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize()
    if exchange in ("24/7", "24/5"):
        days = sessions(exchange, start, end)
        opens = pd.DatetimeIndex(days).tz_localize("UTC")
        frame = pd.DataFrame({"open": opens, "close": opens + pd.Timedelta(days=1)}, index=days)
    else:
        cal = _calendar(exchange, end)
        lo, hi = max(start, cal.first_session), min(end, cal.last_session)
        sched = cal.schedule.loc[lo:hi] if lo <= hi else cal.schedule.iloc[:0]
        frame = pd.DataFrame(
            {
                "open": pd.DatetimeIndex(sched["open"]).tz_convert(cal.tz),
                "close": pd.DatetimeIndex(sched["close"]).tz_convert(cal.tz),
            },
            index=pd.DatetimeIndex(sched.index).tz_localize(None),
        )
    span = pd.DatetimeIndex(frame["close"]) - pd.DatetimeIndex(frame["open"])
    frame["bars"] = np.ceil(np.asarray(span / pd.Timedelta(hours=1), dtype=float)).astype(int)
    frame.index.name = "session"
    return frame


def latest_session(exchange: str, now: pd.Timestamp | None = None) -> pd.Timestamp:
    """The last session a stored bar may be dated: the one after today's (one session of
    slack for time zones), so a bar from the future is refused."""
    return add_sessions(exchange, local_today(exchange, now), 1)


def record_sessions(
    db: sqlite_utils.Database, default_exchange: str, today: str | None = None
) -> None:
    """Record what the dashboard needs to count sessions as this module does (it has no
    exchange calendar of its own): each watched symbol's exchange, and that exchange's
    holidays through the end of next year (`store.freshness`). Cheap when nothing is
    missing."""
    from store import freshness
    from store.symbols import active_symbols

    day = pd.Timestamp(today or pd.Timestamp.today()).normalize()
    if not freshness.calendar_needed(db, day.date()):
        return
    exchanges = {s: exchange_for(s, default_exchange) for s in active_symbols(db)}
    holidays: dict[str, tuple[date, date, list[date]]] = {}
    for ex in sorted(set(exchanges.values()) - {"24/7", "24/5"}):
        try:
            cal = _calendar_to(ex, day.year + 1)
        except AssistantError:  # the dashboard counts weekdays for it; `sessions` says why
            continue
        first = pd.Timestamp(cal.first_session).tz_localize(None)
        last = pd.Timestamp(cal.last_session).tz_localize(None)
        closed = pd.bdate_range(first, last).difference(sessions(ex, first, last))
        holidays[ex] = (first.date(), last.date(), [d.date() for d in closed])
    freshness.record_calendar(db, exchanges, holidays)


def open_session(
    exchange: str, now: pd.Timestamp
) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp] | None:
    """(session date, open, close) of the session trading at `now` (tz-aware; open and
    close in UTC), or None while the exchange is closed: outside its hours, on a holiday,
    after an early close, during a lunch break. Crypto (24/7) and FX (24/5) trade midnight
    to midnight UTC on their session days."""
    now = pd.Timestamp(now).tz_convert("UTC")
    if exchange in ("24/7", "24/5"):
        day = now.tz_localize(None).normalize()
        if not is_session(exchange, day):
            return None
        start = day.tz_localize("UTC")
        return day, start, start + pd.Timedelta(days=1)
    tz = _zone_of(exchange)
    day = now.tz_convert(tz).tz_localize(None).normalize()
    times = _session_times(exchange, day)
    if times is None:
        return None
    opens, closes, brk_start, brk_end = times
    if not opens <= now < closes:
        return None
    if brk_start is not None and brk_end is not None and brk_start <= now < brk_end:
        return None
    return day, opens, closes


@functools.lru_cache(maxsize=64)
def _zone_of(exchange: str) -> str:
    return str(_calendar(exchange, pd.Timestamp.today()).tz)


Times = tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp | None, pd.Timestamp | None]


@functools.lru_cache(maxsize=512)  # a poller asks the same day every few minutes
def _session_times(exchange: str, day: pd.Timestamp) -> Times | None:
    """(open, close, break start, break end) in UTC of the session on `day`; None if none."""
    cal = _calendar(exchange, day)
    if _outside(cal, day) or not cal.is_session(day):
        return None

    def utc(t: pd.Timestamp) -> pd.Timestamp | None:
        return None if pd.isna(t) else pd.Timestamp(t).tz_convert("UTC")

    opens, closes = utc(cal.session_open(day)), utc(cal.session_close(day))
    assert opens is not None and closes is not None
    return opens, closes, utc(cal.session_break_start(day)), utc(cal.session_break_end(day))


def bar_grid(
    exchange: str, start: str | date | pd.Timestamp, end: str | date | pd.Timestamp
) -> pd.DataFrame:
    """Every one-hour bar of the sessions in [start, end], in time order: index = bar start
    (tz-aware, exchange-local), columns `session` (tz-naive date), `slot` (0-based hour of
    its session) and `close` (when the bar ends: an hour later, or the session's close for
    the last, shorter bar). The sequence session-hour horizons count along."""
    days = sessions(exchange, start, end)
    if exchange in ("24/7", "24/5"):
        tz = "UTC"
        opens = pd.DatetimeIndex(days).tz_localize("UTC")
        closes = opens + pd.Timedelta(days=1)
    else:
        cal = _calendar(exchange, pd.Timestamp(end))
        tz = str(cal.tz)
        days = days[days <= pd.Timestamp(cal.last_session).tz_localize(None)]
        opens = pd.DatetimeIndex(cal.opens.reindex(days)).tz_convert(tz)
        closes = pd.DatetimeIndex(cal.closes.reindex(days)).tz_convert(tz)
        # a lunch break (Tokyo 11:30-12:30) splits the session: the afternoon's bars start
        # at its end (12:30, 13:30, ...), as the vendors' do and as `import` slots them
        pause = pd.DatetimeIndex(cal.break_starts.reindex(days)).tz_convert(tz)
        resume = pd.DatetimeIndex(cal.break_ends.reindex(days)).tz_convert(tz)
        split = ~(np.asarray(pause.isna()) | np.asarray(resume.isna()))
        if split.any():
            days = pd.DatetimeIndex(days.append(days[split]))
            opens = pd.DatetimeIndex(opens.append(resume[split]))
            closes = pd.DatetimeIndex(closes.where(~split, pause).append(closes[split]))
            order = np.lexsort((np.asarray(opens.asi8), np.asarray(days.asi8)))
            days, opens, closes = days[order], opens[order], closes[order]
    n = np.ceil(((closes - opens) / pd.Timedelta(hours=1)).to_numpy(float)).astype(int)
    step = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)  # hour of its part
    first = pd.Series(np.cumsum(n) - n).groupby(np.asarray(days)).transform("min")
    slot = np.arange(int(n.sum())) - np.repeat(first.to_numpy(), n)  # hour of its session
    starts = opens.repeat(n) + pd.to_timedelta(step, unit="h")
    ends = pd.DatetimeIndex(np.minimum(starts + pd.Timedelta(hours=1), closes.repeat(n)))
    return pd.DataFrame(
        {"session": pd.DatetimeIndex(days).repeat(n), "slot": slot, "close": ends},
        index=pd.DatetimeIndex(starts, name="ts").tz_convert(tz),
    )


def add_hours(exchange: str, bar_start: str | pd.Timestamp, h: int) -> pd.Timestamp:
    """The start of the bar `h` session hours after the bar starting at `bar_start`: counted
    along the session's bars, then on into the next sessions (overnight, weekends and
    holidays are no hours; an early close has fewer bars). A call made at the close of the
    bar `bar_start` with horizon h is scored on the close of this bar."""
    start = pd.Timestamp(bar_start)
    if start.tzinfo is None:
        raise ValueError("a bar start must be tz-aware")
    local = start.tz_convert(exchange_tz(exchange))
    day = local.tz_localize(None).normalize()
    grid = bar_grid(exchange, day, day + pd.Timedelta(days=h // 4 + 10))
    where = grid.index.get_indexer(pd.DatetimeIndex([local]))[0]
    if where < 0:
        raise ValueError(f"{local.isoformat()} is not the start of a {exchange} session hour")
    if where + h >= len(grid):
        raise ValueError(f"calendar {exchange} has no bar {h} session hours after {local}")
    return pd.Timestamp(grid.index[where + h])
