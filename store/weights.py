"""What the cycle has learned: adaptive signal weights and confidence calibration.

Weights are kept per (symbol, regime, signal); every change is also appended to
`weight_changes` with its reason and the session it became valid, so a user can see why
a signal lost its say and a call as of a past date D uses the weights as they stood at D.
Calibration counts, per (scope, horizon, confidence bucket) and verify pass, how many
calls were made and how many hit; read as of D they sum the passes valid by D. The caller
owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple, TypedDict, cast

import sqlite_utils

from store.db import day_text

WeightKey = tuple[str, str]  # (symbol, regime)


class WeightChangeRow(NamedTuple):
    """One signal weight's change in one verify pass (`apply`), logged with its reason."""

    symbol: str
    regime: str
    signal: str
    old_weight: float | None  # None: the signal had no weight stored yet
    new_weight: float
    reason: str


class CalibrationRow(NamedTuple):
    """One verify pass's count for one (scope, horizon, confidence bucket): the fields are
    the columns `add_calibration` fills (with valid_from, the pass's session)."""

    scope: str  # "rules" or "model"
    horizon: int
    bucket: int
    n: int
    hits: int
    stated_sum: float  # the sum of the stated (raw) confidences of its n calls


class WeightChange(TypedDict):
    """A weight_changes row as stored (`changes`)."""

    id: int
    symbol: str
    regime: str
    signal: str
    old_weight: float | None
    new_weight: float
    reason: str
    changed_at: str
    valid_from: str | None  # a NULL-able column (m005 filled it for the older changes)


def load(
    db: sqlite_utils.Database, symbols: Sequence[str] | None = None, as_of: date | None = None
) -> dict[WeightKey, dict[str, float]]:
    """Weights {(symbol, regime): {signal: weight}} now, or as they stood at session `as_of`
    (the last change valid on or before it); absent means the default."""
    params: list[str] = []
    where = ""
    if symbols:
        where = f" WHERE symbol IN ({','.join('?' * len(symbols))})"
        params = list(symbols)
    if as_of is None:
        sql = "SELECT symbol, regime, signal, weight FROM weights" + where
    else:
        where = (where + " AND" if where else " WHERE") + " valid_from <= ?"
        params.append(as_of.isoformat())
        sql = (
            "SELECT symbol, regime, signal, new_weight FROM weight_changes WHERE id IN ("
            "SELECT MAX(id) FROM weight_changes" + where + " GROUP BY symbol, regime, signal)"
        )
    out: dict[WeightKey, dict[str, float]] = {}
    for sym, regime, signal, weight in db.execute(sql, params):
        out.setdefault((sym, regime), {})[signal] = float(weight)
    return out


def apply(
    db: sqlite_utils.Database,
    changes: Iterable[WeightChangeRow],
    when: str,
    valid_from: str | date,
) -> int:
    """Store the changed weights, valid from session `valid_from`; each change is logged."""
    rows = list(changes)
    db.conn.executemany(
        "INSERT INTO weights (symbol, regime, signal, weight, updated_at, reason) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (symbol, regime, signal) DO UPDATE SET weight = excluded.weight, "
        "updated_at = excluded.updated_at, reason = excluded.reason",
        [(c.symbol, c.regime, c.signal, c.new_weight, when, c.reason) for c in rows],
    )
    db.conn.executemany(
        f"INSERT INTO weight_changes ({', '.join(WeightChangeRow._fields)}, changed_at, "
        f"valid_from) VALUES ({', '.join('?' * (len(WeightChangeRow._fields) + 2))})",
        [(*c, when, day_text(valid_from)) for c in rows],
    )
    return len(rows)


def changes(
    db: sqlite_utils.Database, symbol: str | None = None, limit: int = 50
) -> list[WeightChange]:
    sql = "SELECT * FROM weight_changes"
    params: list[str] = []
    if symbol:
        sql += " WHERE symbol = ?"
        params.append(symbol)
    cur = db.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
    cols = [c[0] for c in cur.description]
    return [cast(WeightChange, dict(zip(cols, r, strict=True))) for r in cur.fetchall()]


def load_calibration(
    db: sqlite_utils.Database, as_of: date | None = None
) -> dict[tuple[str, int], dict[int, tuple[int, int, float]]]:
    """{(scope, horizon): {bucket: (n, hits, stated_sum)}} over every verify pass, or over
    the passes valid on or before session `as_of`."""
    sql = (
        "SELECT scope, horizon, bucket, SUM(n), SUM(hits), SUM(stated_sum) FROM calibration_passes"
    )
    params: list[str] = []
    if as_of is not None:
        sql += " WHERE valid_from <= ?"
        params.append(as_of.isoformat())
    out: dict[tuple[str, int], dict[int, tuple[int, int, float]]] = {}
    for scope, h, b, n, hits, stated in db.execute(
        sql + " GROUP BY scope, horizon, bucket", params
    ):
        out.setdefault((scope, int(h)), {})[int(b)] = (int(n), int(hits), float(stated))
    return out


def add_calibration(
    db: sqlite_utils.Database, rows: Iterable[CalibrationRow], valid_from: str | date
) -> None:
    """Store the counts of one verify pass at session `valid_from`."""
    db.conn.executemany(
        f"INSERT INTO calibration_passes ({', '.join(CalibrationRow._fields)}, valid_from) "
        f"VALUES ({', '.join('?' * (len(CalibrationRow._fields) + 1))})",
        [(*r, day_text(valid_from)) for r in rows],
    )
