"""The ledger of hour-ahead calls (schema m019): written once, then verified or expired.

The same life as the daily ledger (`store.predictions`): idempotent on (symbol, as_of,
horizon, model_version), scored once from `pending` to `verified` (or `expired`), the
caller owns the transaction. `as_of` and `target` are bar starts as `store.hourly` stores
them; `horizon` counts session hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple, TypedDict, cast

import sqlite_utils

from store.db import bound, ledger_filters
from store.predictions import Verdict


class HourlyCallRow(NamedTuple):
    """One hour-ahead call as written: the fields are the columns `insert_many` fills, in
    its INSERT's order."""

    symbol: str
    as_of: str  # the start of the bar at whose close the call is made
    horizon: int  # session hours
    model_version: str
    made_at: str
    session: str | date  # a date goes to SQLite as its ISO text (`insert_many`)
    slot: int
    target: str  # the start of the bar whose close it is scored on
    target_session: str | date
    target_slot: int
    base_price: float
    pred_change_pct: float
    pred_price: float
    lower: float  # the 80% range of the target close
    upper: float
    lower95: float  # the 95% range
    upper95: float
    vol_sigma: float
    p_up: float
    p_flat: float
    p_down: float
    direction: str
    flat_band: float
    majority: int
    last_move: int


INSERT_COLUMNS = HourlyCallRow._fields

_INSERT = (
    f"INSERT OR IGNORE INTO hourly_predictions ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
)

# a pending call with the close of its target bar, when that bar is stored
MATURING_COLUMNS = (
    "id",
    "symbol",
    "horizon",
    "target",
    "target_session",
    "base_price",
    "pred_change_pct",
    "direction",
    "flat_band",
    "majority",
    "lower",
    "upper",
    "lower95",
    "upper95",
    "close",
)
# one pending call in MATURING_COLUMNS order (close: None while its target bar is not stored)
Maturing = tuple[
    int,
    str,
    int,
    str,
    str,
    float,
    float,
    str,
    float | None,
    int | None,
    float | None,
    float | None,
    float | None,
    float | None,
    float | None,
]
_MATURING = f"""
SELECT {", ".join("p." + c for c in MATURING_COLUMNS[:-1])}, b.close
FROM hourly_predictions p
LEFT JOIN hourly_bars b ON b.symbol = p.symbol AND b.ts = p.target
WHERE p.status = 'pending' AND p.target_session <= ?
"""


class HourlyCallRecord(TypedDict):
    """An hourly_predictions row as stored (`scored`, `listing`)."""

    id: int
    symbol: str
    as_of: str
    horizon: int
    model_version: str
    made_at: str
    session: str
    slot: int
    target: str
    target_session: str
    target_slot: int
    base_price: float
    pred_change_pct: float
    pred_price: float
    lower: float | None
    upper: float | None
    lower95: float | None
    upper95: float | None
    vol_sigma: float | None
    p_up: float | None
    p_flat: float | None
    p_down: float | None
    direction: str
    flat_band: float | None
    majority: int | None
    last_move: int | None
    status: str  # pending | verified | expired
    actual_price: float | None
    error_pct: float | None
    hit: int | None
    outcome: str | None
    up_hit: int | None
    majority_hit: int | None
    covered80: int | None
    covered95: int | None
    verified_at: str | None


def insert_many(db: sqlite_utils.Database, rows: Iterable[HourlyCallRow]) -> int:
    """Insert calls; returns how many were new."""
    before = db.execute("SELECT total_changes()").fetchone()[0]
    db.conn.executemany(_INSERT, [bound(r) for r in rows])
    return int(db.execute("SELECT total_changes()").fetchone()[0] - before)


def keys(db: sqlite_utils.Database, as_ofs: Sequence[str]) -> set[tuple[str, str, int, str]]:
    """(symbol, as_of, horizon, model_version) of every hourly call as of one of `as_ofs`."""
    if not as_ofs:
        return set()
    cur = db.execute(
        "SELECT symbol, as_of, horizon, model_version FROM hourly_predictions "
        f"WHERE as_of IN ({','.join('?' * len(as_ofs))})",
        list(as_ofs),
    )
    return {(s, a, int(h), m) for s, a, h, m in cur.fetchall()}


def maturing(db: sqlite_utils.Database, session: date) -> list[Maturing]:
    """Pending calls whose target bar lies in a session on or before `session`, with the
    close of that bar when it is stored (MATURING_COLUMNS)."""
    return db.execute(_MATURING, [session.isoformat()]).fetchall()


def mark_verified(db: sqlite_utils.Database, rows: Iterable[Verdict]) -> None:
    """Store each call's verdict, as `store.predictions.mark_verified` takes them."""
    db.conn.executemany(
        "UPDATE hourly_predictions SET status = 'verified', actual_price = ?, error_pct = ?, "
        "hit = ?, outcome = ?, up_hit = ?, majority_hit = ?, covered80 = ?, covered95 = ?, "
        "verified_at = ? WHERE id = ? AND status = 'pending'",
        [tuple(r) for r in rows],
    )


def mark_expired(db: sqlite_utils.Database, ids: Iterable[int], when: str) -> None:
    db.conn.executemany(
        "UPDATE hourly_predictions SET status = 'expired', verified_at = ? "
        "WHERE id = ? AND status = 'pending'",
        [(when, int(i)) for i in ids],
    )


def scored(
    db: sqlite_utils.Database, symbols: Sequence[str] | None = None
) -> list[HourlyCallRecord]:
    """Verified hourly calls, in the order their outcomes became known."""
    where, params = ledger_filters("verified", symbols)
    cur = db.execute(
        f"SELECT * FROM hourly_predictions{where} ORDER BY target_session, target, id", params
    )
    cols = [c[0] for c in cur.description]
    return [cast(HourlyCallRecord, dict(zip(cols, r, strict=True))) for r in cur.fetchall()]


def listing(
    db: sqlite_utils.Database, *, status: str | None = None, symbols: Sequence[str] | None = None
) -> list[HourlyCallRecord]:
    """Hourly calls, oldest first."""
    where, params = ledger_filters(status, symbols)
    cur = db.execute(
        f"SELECT * FROM hourly_predictions{where} ORDER BY session, slot, symbol, horizon, id",
        params,
    )
    cols = [c[0] for c in cur.description]
    return [cast(HourlyCallRecord, dict(zip(cols, r, strict=True))) for r in cur.fetchall()]


def counts(db: sqlite_utils.Database, symbols: Sequence[str] | None = None) -> dict[str, int]:
    where, params = ledger_filters(None, symbols)
    out = {"pending": 0, "verified": 0, "expired": 0}
    for status, n in db.execute(
        f"SELECT status, COUNT(*) FROM hourly_predictions{where} GROUP BY status", params
    ):
        out[str(status)] = int(n)
    return out
