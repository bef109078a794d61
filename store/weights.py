"""What the cycle has learned: adaptive signal weights and confidence calibration.

Weights are kept per (symbol, regime, signal); every change is also appended to
`weight_changes` with its reason, so a user can see why a signal lost its say.
Calibration counts, per (scope, horizon, confidence bucket), how many calls were made
and how many hit. The caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

WeightKey = tuple[str, str]  # (symbol, regime)


def load(
    db: sqlite_utils.Database, symbols: Sequence[str] | None = None
) -> dict[WeightKey, dict[str, float]]:
    """Current weights: {(symbol, regime): {signal: weight}}; absent means the default."""
    sql = "SELECT symbol, regime, signal, weight FROM weights"
    params: list[Any] = []
    if symbols:
        sql += f" WHERE symbol IN ({','.join('?' * len(symbols))})"
        params = list(symbols)
    out: dict[WeightKey, dict[str, float]] = {}
    for sym, regime, signal, weight in db.execute(sql, params):
        out.setdefault((sym, regime), {})[signal] = float(weight)
    return out


def apply(db: sqlite_utils.Database, changes: Iterable[Sequence[Any]], when: str) -> int:
    """changes: (symbol, regime, signal, old_weight or None, new_weight, reason). Logged each."""
    rows = list(changes)
    db.conn.executemany(
        "INSERT INTO weights (symbol, regime, signal, weight, updated_at, reason) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (symbol, regime, signal) DO UPDATE SET weight = excluded.weight, "
        "updated_at = excluded.updated_at, reason = excluded.reason",
        [(s, r, g, new, when, why) for s, r, g, _old, new, why in rows],
    )
    db.conn.executemany(
        "INSERT INTO weight_changes (symbol, regime, signal, old_weight, new_weight, reason, changed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(s, r, g, old, new, why, when) for s, r, g, old, new, why in rows],
    )
    return len(rows)


def changes(
    db: sqlite_utils.Database, symbol: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    sql = "SELECT * FROM weight_changes"
    params: list[Any] = []
    if symbol:
        sql += " WHERE symbol = ?"
        params.append(symbol)
    cur = db.execute(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def load_calibration(
    db: sqlite_utils.Database,
) -> dict[tuple[str, int], dict[int, tuple[int, int, float]]]:
    """{(scope, horizon): {bucket: (n, hits, stated_sum)}}."""
    out: dict[tuple[str, int], dict[int, tuple[int, int, float]]] = {}
    for scope, h, b, n, hits, stated in db.execute(
        "SELECT scope, horizon, bucket, n, hits, stated_sum FROM calibration"
    ):
        out.setdefault((scope, int(h)), {})[int(b)] = (int(n), int(hits), float(stated))
    return out


def add_calibration(db: sqlite_utils.Database, rows: Iterable[Sequence[Any]], when: str) -> None:
    """rows: (scope, horizon, bucket, n, hits, stated_sum) added to the running counts."""
    db.conn.executemany(
        "INSERT INTO calibration (scope, horizon, bucket, n, hits, stated_sum, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, horizon, bucket) DO UPDATE SET "
        "n = n + excluded.n, hits = hits + excluded.hits, "
        "stated_sum = stated_sum + excluded.stated_sum, updated_at = excluded.updated_at",
        [(*r, when) for r in rows],
    )
