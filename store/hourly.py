"""Hourly bars: OHLCV per (symbol, bar start), each tied to its exchange session and slot.

A frame of hourly bars is indexed by the bar's start as a tz-aware timestamp in the
exchange's time zone, with columns `session` (tz-naive session date), `slot` (0-based hour
of that session), open, high, low, close, volume and flagged. The caller owns the
transaction, as with daily bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import sqlite_utils

from store.db import day_text

HOURLY_COLUMNS = ["session", "slot", "open", "high", "low", "close", "volume", "flagged"]

_UPSERT = """
INSERT INTO hourly_bars (symbol, ts, session, slot, open, high, low, close, volume, flagged,
                         source)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (symbol, ts) DO UPDATE SET
    session = excluded.session, slot = excluded.slot, open = excluded.open,
    high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, flagged = excluded.flagged, source = excluded.source
WHERE hourly_bars.session IS NOT excluded.session OR hourly_bars.slot IS NOT excluded.slot
   OR hourly_bars.open IS NOT excluded.open OR hourly_bars.high IS NOT excluded.high
   OR hourly_bars.low IS NOT excluded.low OR hourly_bars.close IS NOT excluded.close
   OR hourly_bars.volume IS NOT excluded.volume OR hourly_bars.flagged IS NOT excluded.flagged
   OR hourly_bars.source IS NOT excluded.source
"""


@dataclass(frozen=True)
class HourlyUpsert:
    added: int
    updated: int
    unchanged: int = 0


def stamp(ts: pd.DatetimeIndex) -> list[str]:
    """Bar starts as stored: local ISO-8601 with the UTC offset (2024-03-08T09:30:00-05:00)."""
    if ts.tz is None:
        raise ValueError("hourly bar timestamps must be tz-aware")
    return [t.isoformat() for t in ts]


def upsert(
    db: sqlite_utils.Database, symbol: str, frame: pd.DataFrame, source: str
) -> HourlyUpsert:
    """Write hourly bars (the frame shape in the module docstring) for one symbol; a row
    identical to the stored one is not rewritten."""
    if frame.empty:
        return HourlyUpsert(0, 0)
    before = count(db, symbol)
    sessions = pd.DatetimeIndex(frame["session"]).strftime("%Y-%m-%d").tolist()
    prices = [frame[c].to_numpy(dtype=float).tolist() for c in ("open", "high", "low", "close")]
    n = len(frame)
    rows = zip(
        [symbol] * n,
        stamp(pd.DatetimeIndex(frame.index)),
        sessions,
        frame["slot"].to_numpy(dtype=int).tolist(),
        *prices,
        frame["volume"].to_numpy(dtype=float).tolist(),
        frame.get("flagged", pd.Series(0, index=frame.index)).to_numpy(dtype=int).tolist(),
        [source] * n,
        strict=True,
    )
    cur = db.conn.executemany(_UPSERT, rows)
    changed = cur.rowcount if cur.rowcount >= 0 else n
    added = count(db, symbol) - before
    updated = max(changed - added, 0)
    return HourlyUpsert(added=added, updated=updated, unchanged=n - added - updated)


def taken_hours(
    db: sqlite_utils.Database, symbol: str, frame: pd.DataFrame
) -> tuple[str, str] | None:
    """The first bar of `frame` (the shape in the module docstring) whose hour of its session
    already holds a stored bar starting at another time: (its start, the stored start)."""
    sessions = pd.DatetimeIndex(frame["session"]).strftime("%Y-%m-%d").tolist()
    slots = frame["slot"].to_numpy(dtype=int).tolist()
    for ts, day, slot in zip(stamp(pd.DatetimeIndex(frame.index)), sessions, slots, strict=True):
        row = db.execute(
            "SELECT ts FROM hourly_bars WHERE symbol = ? AND session = ? AND slot = ? "
            "AND ts != ? LIMIT 1",
            [symbol, day, slot, ts],
        ).fetchone()
        if row:
            return ts, str(row[0])
    return None


def count(db: sqlite_utils.Database, symbol: str) -> int:
    row = db.execute("SELECT COUNT(*) FROM hourly_bars WHERE symbol = ?", [symbol]).fetchone()
    return int(row[0])


def load(
    db: sqlite_utils.Database,
    symbol: str,
    tz: str,
    *,
    start: str | date | None = None,
    end: str | date | None = None,
) -> pd.DataFrame:
    """Hourly bars of one symbol whose sessions lie in [start, end] (dates, inclusive), in
    time order, indexed by bar start in `tz` (the exchange's zone)."""
    sql = "SELECT ts, " + ", ".join(HOURLY_COLUMNS) + " FROM hourly_bars WHERE symbol = ?"
    params: list[str] = [symbol]
    if start:
        sql, params = sql + " AND session >= ?", [*params, day_text(start)]
    if end:
        sql, params = sql + " AND session <= ?", [*params, day_text(end)]
    rows = db.execute(sql + " ORDER BY session, slot", params).fetchall()
    index = pd.DatetimeIndex(pd.to_datetime([r[0] for r in rows], utc=True), name="ts").tz_convert(
        tz
    )
    frame = pd.DataFrame(
        np.array([r[3:] for r in rows], dtype=float).reshape(len(rows), len(HOURLY_COLUMNS) - 2),
        index=index,
        columns=HOURLY_COLUMNS[2:],
    )
    frame.insert(0, "slot", np.array([r[2] for r in rows], dtype=int))
    frame.insert(0, "session", pd.to_datetime([r[1] for r in rows]))
    frame["flagged"] = frame["flagged"].astype(int)
    return frame


def sessions(db: sqlite_utils.Database, symbol: str) -> list[str]:
    """Session dates that have hourly bars for `symbol`, oldest first."""
    cur = db.execute(
        "SELECT DISTINCT session FROM hourly_bars WHERE symbol = ? ORDER BY session", [symbol]
    )
    return [r[0] for r in cur]


def flag_sessions(db: sqlite_utils.Database, symbol: str, days: list[str], flagged: bool) -> int:
    """Mark (or clear) every hourly bar of `days` as not rolling up to the daily bar."""
    if not days:
        return 0
    marks = ",".join("?" * len(days))
    cur = db.execute(
        f"UPDATE hourly_bars SET flagged = ? WHERE symbol = ? AND session IN ({marks})",
        [int(flagged), symbol, *days],
    )
    return int(cur.rowcount)


def last_session(db: sqlite_utils.Database, symbol: str) -> str | None:
    """The newest session date with hourly bars for `symbol` (None when it has none)."""
    row = db.execute("SELECT MAX(session) FROM hourly_bars WHERE symbol = ?", [symbol]).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def flagged_sessions(db: sqlite_utils.Database, symbol: str) -> list[str]:
    """Session dates of `symbol` whose hourly bars are flagged (do not roll up), oldest first."""
    cur = db.execute(
        "SELECT DISTINCT session FROM hourly_bars WHERE symbol = ? AND flagged = 1 "
        "ORDER BY session",
        [symbol],
    )
    return [r[0] for r in cur]


@dataclass(frozen=True)
class HourlySummary:
    symbol: str
    bars: int
    sessions: int
    first: str
    last: str
    flagged_sessions: int
    sources: str  # comma-separated, e.g. "yahoo" or "simulated"


def summary(db: sqlite_utils.Database) -> list[HourlySummary]:
    """Per symbol with hourly bars: how many, over which sessions, how many flagged."""
    cur = db.execute(
        "SELECT symbol, COUNT(*), COUNT(DISTINCT session), MIN(session), MAX(session), "
        "COUNT(DISTINCT CASE WHEN flagged = 1 THEN session END), GROUP_CONCAT(DISTINCT source) "
        "FROM hourly_bars GROUP BY symbol ORDER BY symbol"
    )
    return [
        HourlySummary(r[0], int(r[1]), int(r[2]), r[3], r[4], int(r[5]), str(r[6] or ""))
        for r in cur
    ]


_ROLLUPS = """
SELECT h.session,
       (SELECT f.open FROM hourly_bars f WHERE f.symbol = h.symbol AND f.session = h.session
        ORDER BY f.slot LIMIT 1),
       MAX(h.high), MIN(h.low),
       (SELECT l.close FROM hourly_bars l WHERE l.symbol = h.symbol AND l.session = h.session
        ORDER BY l.slot DESC LIMIT 1),
       b.open, b.high, b.low, b.close, b.adj_factor
FROM hourly_bars h
LEFT JOIN bars b ON b.symbol = h.symbol AND b.date = h.session AND b.provisional = 0
WHERE h.symbol = ? AND h.session >= ?
GROUP BY h.session
ORDER BY h.session
"""


def rollups(
    db: sqlite_utils.Database, symbol: str, start: str | date | None = None
) -> pd.DataFrame:
    """Per session with hourly bars (from `start`, a date): the hours rolled up (open of the
    first slot, highest high, lowest low, close of the last slot) beside the session's
    final daily bar (d_open, d_high, d_low, d_close, adj_factor; NaN where there is none),
    indexed by session date (text)."""
    rows = db.execute(_ROLLUPS, [symbol, day_text(start) if start else ""]).fetchall()
    cols = ["open", "high", "low", "close", "d_open", "d_high", "d_low", "d_close", "adj_factor"]
    values = np.array([[np.nan if v is None else v for v in r[1:]] for r in rows], dtype=float)
    return pd.DataFrame(
        values.reshape(len(rows), len(cols)),
        index=pd.Index([r[0] for r in rows], name="session"),
        columns=cols,
    )
