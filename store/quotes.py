"""The latest quote per symbol (table `quotes`, migration m019), and how it reads against
the day's call: the move since the last close, in percent and in forecast sigmas, and the
day's 80% / 95% ranges (vocab.live).

The poller (assistant.ingest.quotes) writes: `record` a poll that brought a price, `miss`
a poll that brought nothing newer. The readers (`live_read`) decide, at a reference time,
whether the quote is live, stale (no newer quote for [live] stale_polls polls, or past
its `fresh_until` with no poll at all: a stopped daemon) or closed (its session is over).
A stale quote is never shown as live: its state says stale, with its age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, TypedDict, cast

import sqlite_utils

from store.db import day_text, immediate
from vocab import live

State = Literal["live", "stale", "closed"]


class QuoteRow(TypedDict):
    symbol: str
    session: str
    price: float
    at: str
    polled_at: str
    updated_at: str
    source: str
    misses: int
    stale: int
    fresh_until: str
    closes_at: str
    low: float
    high: float
    left95_at: str | None
    left95_price: float | None
    last_error: str | None


class DayCall(TypedDict):
    """The one-session call whose target is the quote's session (made at the last close)."""

    as_of: str
    model_version: str
    base_price: float  # the last close
    pred_price: float
    lower: float | None  # 80%
    upper: float | None
    lower95: float | None
    upper95: float | None
    vol_sigma: float | None  # forecast std of the session's log return


class LiveQuote(TypedDict):
    """A quote as the dashboard and `status --json` show it."""

    symbol: str
    session: str
    price: float
    at: str  # the quote's time (UTC ISO)
    source: str
    state: State  # live | stale | closed
    age_s: float  # seconds from the quote's time to the reference time
    misses: int
    last_close: float | None  # as traded, like the price
    move_pct: float | None
    sigmas: float | None  # the move in units of the day's forecast sigma
    band: live.Band | None  # inside80 | inside95 | outside95 (None: no range today)
    inside80: bool | None
    inside95: bool | None
    left95: bool  # some poll of this session found the price outside the 95% range
    low: float
    high: float
    call_as_of: str | None
    lower: float | None  # the day's ranges, as traded (day_range)
    upper: float | None
    lower95: float | None
    upper95: float | None


@dataclass(frozen=True)
class Recorded:
    new: bool  # a newer quote than the one stored
    left95: bool  # this poll is the session's first outside the 95% range


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def get(db: sqlite_utils.Database, symbol: str) -> QuoteRow | None:
    cur = db.execute("SELECT * FROM quotes WHERE symbol = ?", [symbol])
    row = cur.fetchone()
    if row is None:
        return None
    return cast(QuoteRow, dict(zip([c[0] for c in cur.description], row, strict=True)))


def all_rows(db: sqlite_utils.Database) -> dict[str, QuoteRow]:
    cur = db.execute("SELECT * FROM quotes ORDER BY symbol")
    cols = [c[0] for c in cur.description]
    return {r[0]: cast(QuoteRow, dict(zip(cols, r, strict=True))) for r in cur.fetchall()}


def day_call(db: sqlite_utils.Database, symbol: str, session: str) -> DayCall | None:
    """The newest one-session call targeting `session` (None: no call for that day)."""
    cur = db.execute(
        "SELECT as_of, model_version, base_price, pred_price, lower, upper, lower95, upper95, "
        "vol_sigma FROM predictions WHERE symbol = ? AND target_date = ? AND horizon = 1 "
        "ORDER BY as_of DESC, made_at DESC LIMIT 1",
        [symbol, session],
    )
    row = cur.fetchone()
    if row is None:
        return None
    return cast(DayCall, dict(zip([c[0] for c in cur.description], row, strict=True)))


def last_close(db: sqlite_utils.Database, symbol: str, session: str) -> float | None:
    """The as-traded close of the last stored session before `session`."""
    row = db.execute(
        "SELECT raw_close FROM bars WHERE symbol = ? AND date < ? ORDER BY date DESC LIMIT 1",
        [symbol, session],
    ).fetchone()
    return None if row is None else float(row[0])


class DayRange(TypedDict):
    """The day's call in the quote's prices (as traded): the last close, the 80% and 95%
    bounds, the forecast sigma of the session's log return."""

    as_of: str | None  # the call's session (None: no call for the day)
    last_close: float | None
    lower: float | None
    upper: float | None
    lower95: float | None
    upper95: float | None
    sigma: float | None


def day_range(db: sqlite_utils.Database, symbol: str, session: str) -> DayRange:
    """The day's call (`day_call`) in as-traded prices, as quotes are: a call's prices are
    adjusted ones (split- and dividend-adjusted as of its making), so its bounds are taken
    as ratios of its base price and applied to the as-traded close of its session (the
    stored raw close). Without a call, the last as-traded close only."""
    call = day_call(db, symbol, session)
    if call is None:
        return DayRange(
            as_of=None,
            last_close=last_close(db, symbol, session),
            lower=None,
            upper=None,
            lower95=None,
            upper95=None,
            sigma=None,
        )
    row = db.execute(
        "SELECT raw_close FROM bars WHERE symbol = ? AND date = ?", [symbol, call["as_of"]]
    ).fetchone()
    base = float(call["base_price"])
    raw = float(row[0]) if row and row[0] and base > 0 else base
    k = raw / base if base > 0 else 1.0

    def scaled(v: float | None) -> float | None:
        return None if v is None else float(v) * k

    return DayRange(
        as_of=call["as_of"],
        last_close=raw,
        lower=scaled(call["lower"]),
        upper=scaled(call["upper"]),
        lower95=scaled(call["lower95"]),
        upper95=scaled(call["upper95"]),
        sigma=call["vol_sigma"],
    )


def record(
    db: sqlite_utils.Database,
    symbol: str,
    *,
    session: str | date,
    price: float,
    at: datetime,
    polled_at: datetime,
    source: str,
    closes_at: datetime,
    fresh_for: timedelta,
    stale_polls: int,
) -> Recorded:
    """A poll brought `price` quoted at `at`: stored when newer than the stored quote (a
    new session starts a new row), else counted as a miss. Inside the caller's write
    transaction (`immediate`): a poll writes each symbol in one, a replayed hour all."""
    session = day_text(session)  # the quote rows' text
    old = get(db, symbol)
    fresh = old is None or old["session"] != session
    if not fresh and old is not None and _time(old["at"]) >= at:
        _miss(db, old, polled_at, stale_polls, None)
        return Recorded(False, False)
    rng = day_range(db, symbol, session)
    outside = (
        live.band(price, (rng["lower"], rng["upper"]), (rng["lower95"], rng["upper95"]))
        == "outside95"
    )
    kept = None if fresh else old
    first_out = outside and (kept is None or kept["left95_at"] is None)
    low = price if kept is None else min(kept["low"], price)
    high = price if kept is None else max(kept["high"], price)
    left_at = _iso(at) if first_out else (None if kept is None else kept["left95_at"])
    left_price = price if first_out else (None if kept is None else kept["left95_price"])
    db.execute(
        "INSERT OR REPLACE INTO quotes (symbol, session, price, at, polled_at, updated_at, "
        "source, misses, stale, fresh_until, closes_at, low, high, left95_at, left95_price, "
        "last_error) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?, ?, ?, NULL)",
        [
            symbol,
            session,
            float(price),
            _iso(at),
            _iso(polled_at),
            _iso(polled_at),
            source,
            _iso(polled_at + fresh_for),
            _iso(closes_at),
            low,
            high,
            left_at,
            left_price,
        ],
    )
    return Recorded(True, first_out)


def hour_closes(
    db: sqlite_utils.Database, session: date, slot: int
) -> list[tuple[str, str, float]]:
    """(symbol, bar start, close) of hourly bar `slot` of `session` for each watched symbol
    that has one (a replay's quotes)."""
    rows = db.execute(
        # CROSS JOIN: the watchlist drives, one index seek per symbol (a plain JOIN let the
        # planner walk the whole hourly index: 12 ms an hour at a year of 6 symbols)
        "SELECT h.symbol, h.ts, h.close FROM symbols s CROSS JOIN hourly_bars h "
        "INDEXED BY hourly_bars_session "
        "ON h.symbol = s.symbol AND h.session = ? AND h.slot = ? WHERE s.active = 1 "
        "ORDER BY s.symbol",
        [session.isoformat(), slot],
    ).fetchall()
    return [(str(a), str(b), float(c)) for a, b, c in rows]


def session_slots(db: sqlite_utils.Database, session: date) -> int:
    """How many hourly slots the watched symbols' stored bars have for `session` (0: none)."""
    row = db.execute(
        "SELECT MAX(h.slot) FROM symbols s CROSS JOIN hourly_bars h ON h.symbol = s.symbol "
        "AND h.session = ? WHERE s.active = 1",
        [session.isoformat()],
    ).fetchone()
    return 0 if row is None or row[0] is None else int(row[0]) + 1


def miss(
    db: sqlite_utils.Database,
    symbol: str,
    polled_at: datetime,
    stale_polls: int,
    error: str | None = None,
) -> None:
    """A poll brought nothing newer for `symbol` (no answer, an error): one more miss."""
    with immediate(db):
        old = get(db, symbol)
        if old is not None:
            _miss(db, old, polled_at, stale_polls, error)


def _miss(
    db: sqlite_utils.Database,
    old: QuoteRow,
    polled_at: datetime,
    stale_polls: int,
    error: str | None,
) -> None:
    misses = int(old["misses"]) + 1
    db.execute(
        "UPDATE quotes SET misses = ?, stale = ?, polled_at = ?, last_error = ? WHERE symbol = ?",
        [misses, int(misses >= stale_polls), _iso(polled_at), error, old["symbol"]],
    )


def state_at(row: QuoteRow, ref: datetime) -> State:
    """Stale (no newer quote for N polls, or none polled in time), closed (its session is
    over), or live."""
    closes = _time(row["closes_at"])
    if row["stale"] or min(ref, closes) > _time(row["fresh_until"]):
        return "stale"
    return "closed" if ref >= closes else "live"


def live_read(row: QuoteRow, rng: DayRange, ref: datetime) -> LiveQuote:
    """The quote read against its session's call (`day_range`) at reference time `ref`."""
    price = float(row["price"])
    base = rng["last_close"]
    r80 = (rng["lower"], rng["upper"])
    r95 = (rng["lower95"], rng["upper95"])
    where = live.band(price, r80, r95)
    return LiveQuote(
        symbol=row["symbol"],
        session=row["session"],
        price=price,
        at=row["at"],
        source=row["source"],
        state=state_at(row, ref),
        age_s=max(0.0, (ref - _time(row["at"])).total_seconds()),
        misses=int(row["misses"]),
        last_close=base,
        move_pct=live.move_pct(price, base),
        sigmas=live.sigmas(price, base, rng["sigma"]),
        band=where,
        inside80=None if r80[0] is None or r80[1] is None else where == "inside80",
        inside95=None if where is None else where != "outside95",
        left95=row["left95_at"] is not None,
        low=float(row["low"]),
        high=float(row["high"]),
        call_as_of=rng["as_of"],
        lower=r80[0],
        upper=r80[1],
        lower95=r95[0],
        upper95=r95[1],
    )


def reference_time(db: sqlite_utils.Database, replaying: bool, now: datetime) -> datetime:
    """The time quotes are read at: the wall clock, or in a replay the replay's own clock
    (the newest simulated poll)."""
    if not replaying:
        return now
    row = db.execute("SELECT MAX(polled_at) FROM quotes").fetchone()
    return _time(row[0]) if row and row[0] else now


def read_all(
    db: sqlite_utils.Database, ref: datetime, last_dates: dict[str, str | None]
) -> dict[str, LiveQuote]:
    """{symbol: quote read} for the given symbols whose quote is not older than their
    newest daily bar's session (a quote from before it says nothing the bar does not)."""
    out: dict[str, LiveQuote] = {}
    for symbol, row in all_rows(db).items():
        if symbol not in last_dates:
            continue
        last = last_dates[symbol]
        if last is not None and row["session"] < last:
            continue
        out[symbol] = live_read(row, day_range(db, symbol, row["session"]), ref)
    return out
