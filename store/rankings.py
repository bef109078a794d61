"""The ranking model's ranks: each symbol's rank among the ranked watchlist and
its expected move relative to their mean, per session, horizon and ranking model.

A rank as of D uses bars up to D only, so storing it is history; writing it again for the
same key replaces it (a cycle re-run is idempotent). The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import NamedTuple, TypedDict

import sqlite_utils

from store.db import bound, utcnow


class RankRow(NamedTuple):
    """One symbol's rank as of a session, for one horizon and ranking model: the fields are
    the columns `upsert_many` fills (with made_at, the time of writing)."""

    symbol: str
    as_of: str | date  # a date goes to SQLite as its ISO text
    horizon: int
    model_version: str
    rank: int  # 1 = best
    of: int  # how many symbols were ranked
    relative: float  # expected log move relative to the ranked symbols' mean


COLUMNS = RankRow._fields
_UPSERT = (
    f"INSERT INTO rankings ({', '.join(COLUMNS)}, made_at) "
    f"VALUES ({', '.join('?' * (len(COLUMNS) + 1))}) ON CONFLICT (symbol, as_of, horizon, "
    "model_version) DO UPDATE SET rank = excluded.rank, of = excluded.of, "
    "relative = excluded.relative, made_at = excluded.made_at"
)


def upsert_many(db: sqlite_utils.Database, rows: Iterable[RankRow]) -> None:
    """Store ranks (one already stored for the same key is replaced)."""
    now = utcnow()
    db.conn.executemany(_UPSERT, [(*bound(r), now) for r in rows])


class Ranking(TypedDict):
    """One rank: the symbol's rank among those ranked (1 = best) and its expected
    log move relative to their mean."""

    as_of: str
    rank: int
    of: int
    relative: float
    model_version: str


def latest(db: sqlite_utils.Database, symbol: str) -> dict[int, Ranking]:
    """The newest rank of `symbol` per horizon: {h: {as_of, rank, of, relative,
    model_version}} (empty when it was never ranked)."""
    cur = db.execute(
        "SELECT r.horizon, r.as_of, r.rank, r.of, r.relative, r.model_version FROM rankings r "
        "WHERE r.symbol = ? AND r.as_of = (SELECT MAX(as_of) FROM rankings WHERE symbol = ?) "
        "ORDER BY r.horizon, r.made_at",
        [symbol, symbol],
    )
    return {
        int(h): Ranking(as_of=a, rank=rk, of=n, relative=rel, model_version=m)
        for h, a, rk, n, rel, m in cur
    }


class RankAt(TypedDict):
    """A stored rank at one horizon (`history`)."""

    symbol: str
    as_of: str
    model_version: str
    rank: int  # 1 = best
    of: int
    relative: float


def history(db: sqlite_utils.Database, horizon: int) -> list[RankAt]:
    """Every stored rank at `horizon`, oldest first (for scoring them)."""
    cur = db.execute(
        "SELECT symbol, as_of, model_version, rank, of, relative FROM rankings "
        "WHERE horizon = ? ORDER BY as_of, symbol, made_at",
        [horizon],
    )
    return [
        {"symbol": s, "as_of": a, "model_version": m, "rank": rk, "of": n, "relative": rel}
        for s, a, m, rk, n, rel in cur
    ]


def history_columns(db: sqlite_utils.Database, horizon: int) -> dict[str, list[object]]:
    """`history` as columns (symbol, as_of, model_version, rank, of, relative), without a
    dict per rank."""
    cur = db.execute(
        "SELECT symbol, as_of, model_version, rank, of, relative FROM rankings "
        "WHERE horizon = ? ORDER BY as_of, symbol, made_at",
        [horizon],
    )
    names = [c[0] for c in cur.description]
    rows = cur.fetchall()
    return {name: [r[i] for r in rows] for i, name in enumerate(names)}
