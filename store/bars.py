"""Daily bars: adjusted OHLCV per (symbol, session date), upserted in one transaction."""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import sqlite_utils

from store.db import date_range, day_text, immediate

BAR_COLUMNS = [
    "open",
    "high",
    "low",
    "close",
    "volume",
    "raw_close",
    "adj_factor",
    "provisional",
    "flagged",
]

_UPSERT = """
INSERT INTO bars (symbol, date, open, high, low, close, volume, raw_close, adj_factor,
                  provisional, flagged, source)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (symbol, date) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, raw_close = excluded.raw_close, adj_factor = excluded.adj_factor,
    provisional = excluded.provisional, flagged = excluded.flagged, source = excluded.source
WHERE (bars.provisional = 1 OR excluded.provisional = 0)
  AND (bars.open IS NOT excluded.open OR bars.high IS NOT excluded.high
       OR bars.low IS NOT excluded.low OR bars.close IS NOT excluded.close
       OR bars.volume IS NOT excluded.volume OR bars.raw_close IS NOT excluded.raw_close
       OR bars.adj_factor IS NOT excluded.adj_factor OR bars.provisional IS NOT excluded.provisional
       OR bars.flagged IS NOT excluded.flagged OR bars.source IS NOT excluded.source)
"""
BATCH = 20_000  # rows bound per executemany: a 2M-row file never becomes 2M Python tuples
ROWS_PER_STATEMENT = 50  # rows per INSERT (502 parameters: under SQLite's old 999 limit)
_VALUES = len(BAR_COLUMNS) + 1  # bound per row: the date and the bar; symbol, source once
_HEAD, _CONFLICT = _UPSERT.split("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


@functools.cache
def _upsert_rows(n: int) -> str:
    """The upsert of `n` rows in one statement, the symbol bound once as ?1 and the source
    as ?2: SQLite runs one statement of fifty rows in about 55% of the CPU time of fifty
    statements of one row each (measured: 0.8 s vs 1.45 s per 500k rows)."""
    rows = (
        "(?1, " + ", ".join(f"?{3 + _VALUES * r + j}" for j in range(_VALUES)) + ", ?2)"
        for r in range(n)
    )
    return _HEAD + "VALUES " + ", ".join(rows) + _CONFLICT


@dataclass(frozen=True)
class UpsertResult:
    added: int
    updated: int
    unchanged: int = 0  # identical to what was stored (or a final bar a provisional one left alone)


def upsert(
    db: sqlite_utils.Database, symbol: str, frame: pd.DataFrame, source: str
) -> UpsertResult:
    """Write validated bars (index: session dates) for one symbol.

    The caller owns the transaction, so a file or a fetch lands whole or not at all.
    A final bar never gets overwritten by a provisional one; a row identical to the stored
    one is not rewritten and counts as unchanged. A symbol without a row in `symbols` is
    refused (sqlite3.IntegrityError) before anything is written, also inside `bulk_write`,
    where SQLite's per-row foreign-key check is off.
    """
    if frame.empty:
        return UpsertResult(0, 0)
    if db.execute("SELECT 1 FROM symbols WHERE symbol = ?", [symbol]).fetchone() is None:
        raise sqlite3.IntegrityError(
            f"FOREIGN KEY constraint failed: no symbols row for {symbol!r}"
        )
    before = count(db, symbol)
    changed = 0
    days = _day_texts(pd.DatetimeIndex(frame.index))
    width = _VALUES
    for at in range(0, len(frame), BATCH):
        part = frame.iloc[at : at + BATCH]
        n = len(part)
        # One flat list of plain Python values (tolist: they bind several times faster than
        # numpy scalars), cut into statements of ROWS_PER_STATEMENT rows: no tuple per row.
        flat: list[object] = [None] * (n * width)
        flat[0::width] = days[at : at + n]
        for i, c in enumerate(BAR_COLUMNS):
            kind = float if i < 7 else int
            flat[1 + i :: width] = part[c].to_numpy(dtype=kind).tolist()
        step = ROWS_PER_STATEMENT * width
        whole = n - n % ROWS_PER_STATEMENT
        if whole:
            cur = db.conn.executemany(
                _upsert_rows(ROWS_PER_STATEMENT),
                ([symbol, source, *flat[i : i + step]] for i in range(0, whole * width, step)),
            )
            changed += cur.rowcount if cur.rowcount >= 0 else whole
        if n > whole:
            cur = db.conn.execute(_upsert_rows(n - whole), [symbol, source, *flat[whole * width :]])
            changed += cur.rowcount if cur.rowcount >= 0 else n - whole
    # a symbol with no bars before gained every row written (no count to take again)
    added = changed if before == 0 else count(db, symbol) - before
    updated = max(changed - added, 0)
    return UpsertResult(added=added, updated=updated, unchanged=len(frame) - added - updated)


def _day_texts(index: pd.DatetimeIndex) -> list[str]:
    """Session dates as YYYY-MM-DD text, looked up in a table of every day between the
    first and the last seen so far (20x faster than strftime, and the same str objects
    are shared by every symbol's rows). Outside years 1000-9999 (and for time zones or
    missing dates): strftime."""
    global _DAY_TABLE
    if index.tz is not None or index.hasnans or not len(index):
        return list(index.strftime("%Y-%m-%d"))
    days = index.to_numpy().astype("datetime64[D]").astype(np.int64)
    lo, hi = int(days.min()), int(days.max())
    if lo < _FIRST_DAY or hi > _LAST_DAY:
        return list(index.strftime("%Y-%m-%d"))
    first, table = _DAY_TABLE
    if lo < first or hi >= first + len(table):
        if len(table):
            lo, hi = min(lo, first), max(hi, first + len(table) - 1)
        if hi - lo >= _TABLE_DAYS:  # a table that big would stay in memory for little
            return list(index.strftime("%Y-%m-%d"))
        first, last = lo, hi
        span = np.arange(first, last + 1).astype("datetime64[D]")
        table = np.datetime_as_string(span, unit="D").astype(object)
        _DAY_TABLE = (first, table)
    texts: list[str] = table[days - first].tolist()
    return texts


_FIRST_DAY = int(np.datetime64("1000-01-01", "D").astype(np.int64))
_LAST_DAY = int(np.datetime64("9999-12-31", "D").astype(np.int64))
_DAY_TABLE: tuple[int, np.ndarray] = (0, np.array([], dtype=object))  # (first day, texts)
_TABLE_DAYS = 60_000  # at most 164 years of date texts (~4 MB) are kept


@contextlib.contextmanager
def bulk_write(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """`immediate` (one BEGIN IMMEDIATE transaction) with SQLite's foreign-key check of
    every row written off: `upsert` checks its symbol's row once instead. For writing
    many bars at once (an import); only `symbols` rows and bars may be written inside.
    The check is back on afterwards, whatever happens."""
    was_on = bool(db.execute("PRAGMA foreign_keys").fetchone()[0])
    db.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: set before BEGIN
    try:
        with immediate(db):
            yield db
    finally:
        if was_on:
            db.execute("PRAGMA foreign_keys = ON")


def count(db: sqlite_utils.Database, symbol: str) -> int:
    return int(db.execute("SELECT COUNT(*) FROM bars WHERE symbol = ?", [symbol]).fetchone()[0])


def last_date(
    db: sqlite_utils.Database,
    symbol: str,
    *,
    final_only: bool = False,
    end: str | date | None = None,
) -> str | None:
    """The newest stored bar's date (with `end`: the newest on or before it)."""
    extra = " AND provisional = 0" if final_only else ""
    params = [symbol]
    if end is not None:
        extra += " AND date <= ?"
        params.append(day_text(end))
    row = db.execute(f"SELECT MAX(date) FROM bars WHERE symbol = ?{extra}", params).fetchone()
    return None if row[0] is None else str(row[0])


def load(
    db: sqlite_utils.Database,
    symbol: str,
    *,
    start: str | date | None = None,
    end: str | date | None = None,
) -> pd.DataFrame:
    """Bars for one symbol in date order, index a DatetimeIndex named `date`.

    `end` is inclusive: passing a session date gives exactly what was known at its close.
    """
    frame = load_many(db, [symbol], start=start, end=end).get(symbol)
    if frame is None:
        frame = pd.DataFrame(
            columns=BAR_COLUMNS, index=pd.DatetimeIndex([], name="date"), dtype=float
        )
    return frame


def final_closes_on(
    db: sqlite_utils.Database, symbol: str, days: Iterable[str]
) -> dict[str, float]:
    """`symbol`'s stored final close on each of `days` that has one."""
    return dict(
        db.execute(
            "SELECT date, close FROM bars WHERE symbol = ? AND provisional = 0 "
            "AND date IN (SELECT value FROM json_each(?))",
            [symbol, json.dumps(sorted(days))],
        ).fetchall()
    )


def adjustment_ratios(
    db: sqlite_utils.Database, symbol: str, before: dict[str, float]
) -> dict[str, float]:
    """After a re-adjusted history replaced `symbol`'s bars: new / old final close on each
    session of `before` (the closes read before), where it moved."""
    now = final_closes_on(db, symbol, before)
    out = {}
    for day, old in before.items():
        new = now.get(day)
        if new is None or not old or not math.isfinite(new / old):
            continue
        if abs(new / old - 1.0) > 1e-12:
            out[day] = new / old
    return out


def stored_symbols(db: sqlite_utils.Database) -> list[str]:
    """Every symbol with stored bars, watched or not (a ranking universe), sorted."""
    cur = db.execute(
        "SELECT symbol FROM symbols s WHERE EXISTS (SELECT 1 FROM bars b WHERE b.symbol = "
        "s.symbol) ORDER BY symbol"
    )
    return [r[0] for r in cur]


def dates(db: sqlite_utils.Database, symbols: list[str] | None = None) -> list[str]:
    """All distinct session dates stored (for the replay clock)."""
    if symbols:
        marks = ",".join("?" * len(symbols))
        cur = db.execute(
            f"SELECT DISTINCT date FROM bars WHERE symbol IN ({marks}) ORDER BY date", symbols
        )
    else:
        cur = db.execute("SELECT DISTINCT date FROM bars ORDER BY date")
    return [r[0] for r in cur]


def load_many(
    db: sqlite_utils.Database,
    symbols: list[str],
    *,
    start: str | date | None = None,
    end: str | date | None = None,
    final_only: bool = False,
    columns: list[str] | None = None,
) -> dict[str, pd.DataFrame]:
    """Like `load` for many symbols in one query (the cycle reads the whole watchlist).
    `final_only`: the final (non-provisional) bars only; a symbol with none is absent.
    `columns`: those of BAR_COLUMNS only, in that order (default: all of them); the
    values are the same, SQLite just hands over fewer (each value is a Python object)."""
    if not symbols:
        return {}
    names = BAR_COLUMNS if columns is None else [c for c in BAR_COLUMNS if c in columns]
    where = " FROM bars WHERE symbol IN (" + ",".join("?" * len(symbols)) + ")"
    where += " AND provisional = 0" if final_only else ""
    bounds, params = date_range(start, end)
    args = [*symbols, *params]
    # Numbers only, so the rows become one float array without a Python object per value
    # (was: the symbol and date text in every row, through an object array, ~0.1 s of a
    # 500-symbol cycle): each row's session as its day number (exact: julianday is a
    # half-integer at midnight), the symbols' runs from a count of each in the same read.
    with _one_read(db):
        runs = db.execute(
            "SELECT symbol, COUNT(*)" + where + bounds + " GROUP BY symbol ORDER BY symbol", args
        ).fetchall()
        rows = db.execute(
            f"SELECT julianday(date) - {_UNIX_EPOCH_JULIAN}, "
            + ", ".join(names)
            + where
            + bounds
            + " ORDER BY symbol, date",
            args,
        ).fetchall()
    if not rows:
        return {}
    table = np.array(rows, dtype=float)
    day = table[:, 0]
    if not (np.isfinite(day) & (day == np.floor(day))).all():  # a date that is not a day
        return _load_many_text(db, names, where + bounds, args)
    index = pd.DatetimeIndex(
        day.astype(np.int64).astype("datetime64[D]").astype(_DAY_DTYPE), name="date"
    )
    return _frames(table[:, 1:], index, names, [str(s) for s, _ in runs], [n for _, n in runs])


# julianday() of 1970-01-01 00:00: a session's julianday less this is its day number
_UNIX_EPOCH_JULIAN = 2440587.5
_DAY_DTYPE = (
    pd.to_datetime(["2000-01-03"]).to_numpy().dtype
)  # what pandas makes of an ISO day's text


@contextlib.contextmanager
def _one_read(db: sqlite_utils.Database) -> Iterator[None]:
    """The reads inside see one state of the database (a deferred transaction where none is
    open: WAL gives it one snapshot from its first read)."""
    if db.conn.in_transaction:
        yield
        return
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


def _frames(
    values: np.ndarray, index: pd.DatetimeIndex, names: list[str], syms: list[str], runs: list[int]
) -> dict[str, pd.DataFrame]:
    """{symbol: its rows of one frame}: `runs` rows each, in the order of `syms`."""
    frame = pd.DataFrame(values, index=index, columns=names)
    for flag in ("provisional", "flagged"):
        if flag in names:
            frame[flag] = frame[flag].astype(int)
    stops = np.cumsum(runs)
    if int(stops[-1]) != len(frame):
        raise RuntimeError("bars changed between the reads of one snapshot")  # pragma: no cover
    starts = stops - np.asarray(runs)
    return {
        s: frame.iloc[a:b] for s, a, b in zip(syms, starts.tolist(), stops.tolist(), strict=True)
    }


def _load_many_text(
    db: sqlite_utils.Database, names: list[str], where: str, args: list[str]
) -> dict[str, pd.DataFrame]:
    """`load_many` with each row's symbol and date text (a date that is not a plain day)."""
    sql = "SELECT symbol, date, " + ", ".join(names) + where + " ORDER BY symbol, date"
    table = np.array(db.execute(sql, args).fetchall(), dtype=object)
    syms = table[:, 0]
    index = pd.DatetimeIndex(pd.to_datetime(table[:, 1].tolist()), name="date")
    edges = np.flatnonzero(syms[1:] != syms[:-1]) + 1
    runs = np.diff(np.r_[0, edges, len(table)]).tolist()
    values = table[:, 2:].astype(float)
    return _frames(values, index, names, [str(syms[a]) for a in np.r_[0, edges]], runs)


@dataclass(frozen=True)
class CloseRows:
    """Closes as three aligned columns, sorted by symbol then date: each symbol's rows are
    one run (`starts`: where each row's run begins)."""

    symbol: np.ndarray  # object (str)
    day: np.ndarray  # datetime64[D]
    close: np.ndarray  # float64, NaN for a NULL close

    @property
    def starts(self) -> np.ndarray:
        """Per row, the index of its symbol's first row."""
        n = len(self.symbol)
        edge = np.r_[True, self.symbol[1:] != self.symbol[:-1]] if n else np.zeros(0, bool)
        return np.maximum.accumulate(np.where(edge, np.arange(n), 0))


def close_rows(
    db: sqlite_utils.Database,
    symbols: list[str],
    *,
    start: str | date | None = None,
    final_only: bool = False,
    days: list[str] | None = None,
) -> CloseRows:
    """The closes of `symbols` (from `start` on; `final_only`: non-provisional bars only;
    `days`: on those sessions only) as columns, without a frame or a Series per symbol: the
    values `load_many(...)["close"]` gives, for readers that only index them."""
    rows: list[tuple[str, str, float | None]] = []
    if symbols and days != []:
        sql = "SELECT symbol, date, close FROM bars WHERE symbol IN ("
        sql += ",".join("?" * len(symbols)) + ")" + (" AND provisional = 0" if final_only else "")
        bounds, params = date_range(start, None)
        if days is not None:
            bounds, params = bounds + f" AND date IN ({','.join('?' * len(days))})", params + days
        rows = db.execute(sql + bounds + " ORDER BY symbol, date", [*symbols, *params]).fetchall()
    names, on, closes = zip(*rows, strict=True) if rows else ((), (), ())
    return CloseRows(
        np.array(names, dtype=object),
        np.array(on, dtype="datetime64[D]"),
        np.array(closes, dtype=float),
    )


def final_days(
    db: sqlite_utils.Database, symbols: list[str], start: str | None = None
) -> np.ndarray:
    """Every session (datetime64[D], sorted) on which any of `symbols` has a final bar, from
    `start` on: the dates of the dates x symbols frame of their final closes."""
    if not symbols:
        return np.array([], dtype="datetime64[D]")
    marks = ",".join("?" * len(symbols))
    since = "" if start is None else " AND date >= ?"
    rows = db.execute(
        f"SELECT DISTINCT date FROM bars WHERE symbol IN ({marks}) AND provisional = 0{since} "
        "ORDER BY date",
        [*symbols, *([] if start is None else [start])],
    ).fetchall()
    return np.array([r[0] for r in rows], dtype="datetime64[D]")


def span(db: sqlite_utils.Database, symbols: list[str]) -> tuple[str, str] | None:
    """First and last final (non-provisional) bar date stored for any of `symbols`."""
    if not symbols:
        return None
    marks = ",".join("?" * len(symbols))
    row = db.execute(
        f"SELECT MIN(date), MAX(date) FROM bars WHERE symbol IN ({marks}) AND provisional = 0",
        symbols,
    ).fetchone()
    return (row[0], row[1]) if row and row[0] else None


def final_date_before(
    db: sqlite_utils.Database, symbol: str, date: str, sessions: int
) -> str | None:
    """The date of `symbol`'s final bar `sessions` sessions before `date` (None when it has
    fewer final bars before it)."""
    row = db.execute(
        "SELECT date FROM bars WHERE symbol = ? AND provisional = 0 AND date < ? "
        "ORDER BY date DESC LIMIT 1 OFFSET ?",
        [symbol, date, sessions - 1],
    ).fetchone()
    return None if row is None else str(row[0])
