"""The prediction ledger: calls written once (idempotent key), then verified or expired.

Writes are batched with executemany; the caller owns the transaction (wrap the calls in
`store.db.immediate`) so a cycle's predictions, or a verification pass, land whole.
The key is UNIQUE(symbol, as_of, horizon, model_version): inserting the same call twice
adds nothing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import sqlite_utils

from store import range_states, schema

STATUSES = ("pending", "verified", "expired")

INSERT_COLUMNS = (
    "symbol",
    "as_of",
    "horizon",
    "model_version",
    "made_at",
    "target_date",
    "base_price",
    "pred_change_pct",
    "pred_price",
    "lower",
    "upper",
    "lower95",
    "upper95",
    "vol_sigma",
    "p_up",
    "p_flat",
    "p_down",
    "direction",
    "confidence",
    "regime",
    "signals",
)

_INSERT = (
    f"INSERT OR IGNORE INTO predictions ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
)

# Verification needs the prediction and, when present, the final bar of its target session.
_MATURING = """
SELECT p.id, p.symbol, p.horizon, p.target_date, p.base_price, p.pred_change_pct,
       p.direction, p.regime, p.model_version, p.lower, p.upper, p.lower95, p.upper95, b.close
FROM predictions p
LEFT JOIN bars b ON b.symbol = p.symbol AND b.date = p.target_date AND b.provisional = 0
WHERE p.status = 'pending' AND p.target_date <= ?
"""
MATURING_COLUMNS = (
    "id",
    "symbol",
    "horizon",
    "target_date",
    "base_price",
    "pred_change_pct",
    "direction",
    "regime",
    "model_version",
    "lower",
    "upper",
    "lower95",
    "upper95",
    "close",
)


def insert_many(db: sqlite_utils.Database, rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows (values in INSERT_COLUMNS order); returns how many were new."""
    before = db.execute("SELECT total_changes()").fetchone()[0]
    db.conn.executemany(_INSERT, list(rows))
    return int(db.execute("SELECT total_changes()").fetchone()[0] - before)


def maturing(
    db: sqlite_utils.Database, as_of: str, json_paths: Sequence[str] = ()
) -> list[tuple[Any, ...]]:
    """Pending predictions whose target session is on or before `as_of`, with its close.

    With `json_paths` (two or more, e.g. '$.votes.rsi'), one more column holds a JSON array of
    those values, extracted by SQLite in a single parse of the signals document.
    """
    if len(json_paths) == 1:
        raise ValueError("pass two or more json paths (SQLite returns an array only then)")
    extra = f", json_extract(p.signals, {', '.join('?' * len(json_paths))})" if json_paths else ""
    sql = _MATURING.replace(", b.close", f", b.close{extra}")
    return db.execute(sql, [*json_paths, as_of]).fetchall()


def mark_verified(db: sqlite_utils.Database, rows: Iterable[Sequence[Any]]) -> None:
    """rows: (actual_price, error_pct, hit, outcome, up_hit, majority_hit, covered80,
    covered95, verified_at, id); hit is None for a FLAT call, covered* for a call without
    that range. The ranges' checkpoints that had fed a session now verified are voided."""
    rows = list(rows)
    if rows:
        _apply_scores(db, rows)
    ids = [int(r[-1]) for r in rows]
    firsts = {}
    if ids and range_states.any_saved(db):
        firsts = dict(
            db.execute(
                "SELECT horizon, MIN(target_date) FROM predictions WHERE id IN "
                "(SELECT value FROM json_each(?)) AND status = 'verified' "
                "AND vol_sigma IS NOT NULL GROUP BY horizon",
                [json.dumps(ids)],
            ).fetchall()
        )
    range_states.void(db, firsts)


def _apply_scores(db: sqlite_utils.Database, rows: list[Sequence[Any]]) -> None:
    """In bulk: the scores go to a temporary table, one UPDATE ... FROM applies them to the
    calls still pending, and the per-session sums are added once per session (the update
    triggers stand aside while this pass holds sums_paused; schema m017). One savepoint, so
    no other connection sees the pause and a crash leaves nothing half-done."""
    db.execute("SAVEPOINT verifying")
    try:
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS verifying (actual_price REAL, error_pct REAL, "
            "hit INTEGER, outcome TEXT, up_hit INTEGER, majority_hit INTEGER, "
            "covered80 INTEGER, covered95 INTEGER, verified_at TEXT, id INTEGER PRIMARY KEY)"
        )
        db.conn.executemany(
            "INSERT OR REPLACE INTO temp.verifying VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
        db.execute(
            "DELETE FROM temp.verifying WHERE id NOT IN (SELECT v.id FROM temp.verifying v "
            "JOIN predictions p ON p.id = v.id WHERE p.status = 'pending')"
        )
        db.execute("INSERT INTO sums_paused (pass) VALUES (1)")
        db.execute(
            "UPDATE predictions SET status = 'verified', actual_price = v.actual_price, "
            "error_pct = v.error_pct, hit = v.hit, outcome = v.outcome, up_hit = v.up_hit, "
            "majority_hit = v.majority_hit, covered80 = v.covered80, covered95 = v.covered95, "
            "verified_at = v.verified_at FROM temp.verifying v WHERE predictions.id = v.id"
        )
        db.execute(schema.verified_sums_of("temp.verifying"))
        db.execute("DELETE FROM sums_paused")
        db.execute("DELETE FROM temp.verifying")
    except BaseException:
        db.execute("ROLLBACK TO verifying")
        db.execute("RELEASE verifying")
        raise
    db.execute("RELEASE verifying")


def residuals(
    db: sqlite_utils.Database,
    symbols: Sequence[str],
    known_by: str | None,
    *,
    horizon: int | None = None,
    after: str | None = None,
) -> list[tuple[str, int, str, float, float, float, float]]:
    """[(symbol, horizon, target_date, base, predicted, actual, vol_sigma)]: every verified
    call with a volatility forecast whose target session is on or before `known_by` (all
    when None) and after `after` (when given), of `horizon` (every one when None), in the
    order their outcomes became known (target session, then symbol, call date, id)."""
    where, params = _filters("verified", symbols)
    extra = ""
    for clause, value in (
        (" AND horizon = ?", horizon),
        (" AND target_date > ?", after),
        (" AND target_date <= ?", known_by),
    ):
        if value is not None:
            extra += clause
            params.append(value)
    return [
        (str(sym), int(h), str(target), float(base), float(pred), float(actual), float(sigma))
        for sym, h, target, base, pred, actual, sigma in db.execute(
            "SELECT symbol, horizon, target_date, base_price, pred_price, actual_price, vol_sigma "
            f"FROM predictions{where} AND vol_sigma IS NOT NULL{extra} "
            "ORDER BY target_date, symbol, as_of, id",
            params,
        )
    ]


def first_pending(db: sqlite_utils.Database, symbols: Sequence[str]) -> dict[int, str]:
    """{horizon: the earliest target session of a pending call with a volatility forecast}:
    outcomes on or after it may still be verified."""
    where, params = _filters("pending", symbols)
    return {
        int(h): str(first)
        for h, first in db.execute(
            f"SELECT horizon, MIN(target_date) FROM predictions{where} "
            "AND vol_sigma IS NOT NULL GROUP BY horizon",
            params,
        )
    }


def mark_expired(db: sqlite_utils.Database, ids: Iterable[int], when: str) -> None:
    db.conn.executemany(
        "UPDATE predictions SET status = 'expired', verified_at = ? WHERE id = ? AND status = 'pending'",
        [(when, int(i)) for i in ids],
    )


def listing(
    db: sqlite_utils.Database,
    *,
    status: str | None = None,
    symbols: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Ledger rows, newest first."""
    sql = "SELECT * FROM predictions"
    where, params = _filters(status, symbols)
    sql += where + " ORDER BY as_of DESC, symbol, horizon, id DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(int(limit))
    cur = db.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def scored(
    db: sqlite_utils.Database, symbols: Sequence[str] | None = None, until: str | None = None
) -> list[dict[str, Any]]:
    """Verified predictions in target-date order (what accuracy is measured on); with
    `until`, only those whose target session is on or before it (what was known then)."""
    where, params = _filters("verified", symbols)
    if until is not None:
        where, params = where + " AND target_date <= ?", [*params, until]
    cur = db.execute(
        "SELECT id, symbol, as_of, horizon, model_version, target_date, base_price, "
        "pred_change_pct, p_up, p_flat, p_down, direction, confidence, regime, signals, "
        "actual_price, error_pct, hit, outcome, up_hit, majority_hit, lower, upper, lower95, "
        f"upper95, vol_sigma, covered80, covered95 FROM predictions{where} "
        "ORDER BY target_date, id",
        params,
    )
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def live_record(
    db: sqlite_utils.Database,
    model_version: str,
    symbols: Sequence[str] | None = None,
    known_by: str | None = None,
) -> dict[tuple[str, int], list[tuple[str, int, int, int]]]:
    """{(symbol, horizon): [(as_of, hit, up_hit, majority_hit)]} of the verified UP/DOWN
    calls of one model version whose target session is on or before `known_by`."""
    where, params = _filters("verified", symbols)
    extra = "" if known_by is None else " AND target_date <= ?"
    out: dict[tuple[str, int], list[tuple[str, int, int, int]]] = {}
    for sym, h, as_of, hit, up, maj in db.execute(
        f"SELECT symbol, horizon, as_of, hit, up_hit, majority_hit FROM predictions{where} "
        f"AND model_version = ? AND hit IS NOT NULL{extra} ORDER BY as_of",
        [*params, model_version, *([known_by] if known_by else [])],
    ):
        out.setdefault((sym, int(h)), []).append((as_of, int(hit), int(up or 0), int(maj or 0)))
    return out


def evidence_record(
    db: sqlite_utils.Database, model_version: str, horizon: int, known_by: str | None, limit: int
) -> list[tuple[float, float, float, int]]:
    """[(p_up, p_down, realized log return, causal majority +1/-1)] of the newest `limit`
    verified calls of one model version and horizon, FLAT ones included, whose target
    session is on or before `known_by` (calls stored before the majority was kept count it
    as up, as `verify` does)."""
    extra = "" if known_by is None else " AND target_date <= ?"
    rows = db.execute(
        "SELECT p_up, p_down, base_price, actual_price, json_extract(signals, '$.majority') "
        "FROM predictions WHERE status = 'verified' AND model_version = ? AND horizon = ?"
        f"{extra} ORDER BY target_date DESC LIMIT ?",
        [model_version, int(horizon), *([known_by] if known_by else []), int(limit)],
    ).fetchall()
    return [
        (float(up), float(down), math.log(float(actual) / float(base)), -1 if (maj or 1) < 0 else 1)
        for up, down, base, actual, maj in rows
        if up is not None and down is not None and base and actual
    ]


def counts(db: sqlite_utils.Database, symbols: Sequence[str] | None = None) -> dict[str, int]:
    where, params = _filters(None, symbols)
    out = dict.fromkeys(STATUSES, 0)
    for status, n in db.execute(
        f"SELECT status, COUNT(*) FROM predictions{where} GROUP BY status", params
    ):
        out[status] = int(n)
    return out


def _filters(status: str | None, symbols: Sequence[str] | None) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if status:
        clauses.append("status = ?")
        params.append(status)
    if symbols:
        clauses.append(f"symbol IN ({','.join('?' * len(symbols))})")
        params.extend(symbols)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def verified_hits(db: sqlite_utils.Database, symbol: str, until: str) -> list[Any]:
    """The hit flags of `symbol`'s verified predictions with target session <= `until`, oldest first."""
    return [
        r[0]
        for r in db.execute(
            "SELECT hit FROM predictions WHERE symbol = ? AND status = 'verified' "
            "AND target_date <= ? ORDER BY target_date, id",
            [symbol, until],
        )
    ]


def keys_made_on(db: sqlite_utils.Database, days: Sequence[str]) -> set[tuple[str, str, int, str]]:
    """(symbol, as_of, horizon, model_version) of every prediction made as of one of `days`."""
    if not days:
        return set()
    cur = db.execute(
        "SELECT symbol, as_of, horizon, model_version FROM predictions "
        f"WHERE as_of IN ({','.join('?' * len(days))})",
        list(days),
    )
    return {(s, a, int(h), m) for s, a, h, m in cur.fetchall()}
