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
from datetime import date
from typing import NamedTuple, TypedDict, cast

import sqlite_utils

from store import range_states, schema
from store.db import bound, ledger_filters

STATUSES = ("pending", "verified", "expired")
PASS_CACHE_KIB = 64 << 10  # page cache of a verify pass (the connection's own is restored)


class CallRow(NamedTuple):
    """One call as written to the ledger: the fields are the columns `insert_many` fills,
    in its INSERT's order (the NULL-able columns are the optional fields)."""

    symbol: str
    as_of: str | date  # a date goes to SQLite as its ISO text (`insert_many`)
    horizon: int
    model_version: str
    made_at: str
    target_date: str | date
    base_price: float
    pred_change_pct: float
    pred_price: float
    lower: float | None  # the 80% range of the target close
    upper: float | None
    lower95: float | None  # the 95% range
    upper95: float | None
    vol_sigma: float | None
    p_up: float | None
    p_flat: float | None
    p_down: float | None
    direction: str
    confidence: float | None  # None for a FLAT call
    regime: str | None
    signals: str  # the signals JSON document


INSERT_COLUMNS = CallRow._fields

_INSERT = (
    f"INSERT OR IGNORE INTO predictions ({', '.join(INSERT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(INSERT_COLUMNS))})"
)


class Maturing(NamedTuple):
    """The pending calls whose target session has come, column by column (a backlog is
    100k calls: one tuple per column, not an object per call): each call with the final
    close of its target session (None while no final bar is stored) and, when `maturing`
    was given JSON paths, the JSON array of those values from its signals document
    (`extracted`; None without paths)."""

    id: tuple[int, ...]
    symbol: tuple[str, ...]
    horizon: tuple[int, ...]
    target_date: tuple[str, ...]
    base_price: tuple[float, ...]
    pred_change_pct: tuple[float, ...]
    direction: tuple[str, ...]
    regime: tuple[str | None, ...]
    model_version: tuple[str, ...]
    lower: tuple[float | None, ...]
    upper: tuple[float | None, ...]
    lower95: tuple[float | None, ...]
    upper95: tuple[float | None, ...]
    close: tuple[float | None, ...]
    extracted: tuple[str | None, ...]


class Verdict(NamedTuple):
    """What verification stores for one call (`mark_verified`). hit is None for a FLAT
    call; covered80/covered95 None for a call without that range; 0/1 otherwise."""

    actual_price: float
    error_pct: float
    hit: int | None
    outcome: str
    up_hit: int | None
    majority_hit: int | None
    covered80: int | None
    covered95: int | None
    verified_at: str
    id: int


class Verdicts(NamedTuple):
    """The verdicts of a pass, column by column (`Verdict`'s fields, in its order): a
    backlog is 100k calls, and `mark_verified` binds them as plain tuples made by `zip`
    in C, not one `Verdict` per call made in Python (`Verdict._make`: about 0.2 s of a
    100k pass under the profiler)."""

    actual_price: Sequence[float]
    error_pct: Sequence[float]
    hit: Sequence[int | None]
    outcome: Sequence[str]
    up_hit: Sequence[int | None]
    majority_hit: Sequence[int | None]
    covered80: Sequence[int | None]
    covered95: Sequence[int | None]
    verified_at: Sequence[str]
    id: Sequence[int]


class ScoredCall(TypedDict):
    """A verified call with its outcome (`scored`)."""

    id: int
    symbol: str
    as_of: str
    horizon: int
    model_version: str
    target_date: str
    base_price: float
    pred_change_pct: float
    p_up: float | None
    p_flat: float | None
    p_down: float | None
    direction: str
    confidence: float | None
    regime: str | None
    signals: str  # the signals JSON document
    actual_price: float | None
    error_pct: float | None
    hit: int | None  # None for a FLAT call
    outcome: str | None
    up_hit: int | None
    majority_hit: int | None
    lower: float | None
    upper: float | None
    lower95: float | None
    upper95: float | None
    vol_sigma: float | None
    covered80: int | None
    covered95: int | None


class PredictionRecord(ScoredCall):
    """A predictions row as stored (`listing`)."""

    made_at: str
    pred_price: float
    status: str  # pending | verified | expired
    verified_at: str | None


# Verification needs the prediction and, when present, the final bar of its target session.
_MATURING = f"""
SELECT {", ".join(f"p.{c}" for c in Maturing._fields[:-2])}, b.close
FROM predictions p
LEFT JOIN bars b ON b.symbol = p.symbol AND b.date = p.target_date AND b.provisional = 0
WHERE p.status = 'pending' AND p.target_date <= ?
"""
MATURING_COLUMNS = Maturing._fields[:-1]


def insert_many(db: sqlite_utils.Database, rows: Iterable[CallRow]) -> int:
    """Insert calls (a call already in the ledger is left as it was); returns how many were
    new."""
    before = db.execute("SELECT total_changes()").fetchone()[0]
    db.conn.executemany(_INSERT, [bound(r) for r in rows])
    return int(db.execute("SELECT total_changes()").fetchone()[0] - before)


def maturing(db: sqlite_utils.Database, as_of: date, json_paths: Sequence[str] = ()) -> Maturing:
    """Pending predictions whose target session is on or before `as_of`, with its close.

    With `json_paths` (two or more, e.g. '$.votes.rsi'), `extracted` holds a JSON array of
    those values per call, extracted by SQLite in a single parse of the signals document.
    """
    if len(json_paths) == 1:
        raise ValueError("pass two or more json paths (SQLite returns an array only then)")
    extra = f", json_extract(p.signals, {', '.join('?' * len(json_paths))})" if json_paths else ""
    sql = _MATURING.replace(", b.close", f", b.close{extra or ', NULL'}")
    rows = db.execute(sql, [*json_paths, as_of.isoformat()]).fetchall()
    if not rows:
        return Maturing(*([()] * len(Maturing._fields)))
    return Maturing._make(zip(*rows, strict=True))


def mark_verified(db: sqlite_utils.Database, rows: Iterable[Verdict] | Verdicts) -> None:
    """Store each call's verdict, given as rows or as columns (a call no longer pending is
    left as it is). The ranges' checkpoints that had fed a session now verified are
    voided."""
    if isinstance(rows, Verdicts):
        ids: Sequence[int] = rows.id
        if ids:
            _apply_scores(db, zip(*rows, strict=True))
    else:
        rows = list(rows)
        if rows:
            _apply_scores(db, rows)
        ids = [r.id for r in rows]
    firsts = {}
    if ids and range_states.any_saved(db):
        firsts = dict(
            db.execute(
                "SELECT horizon, MIN(target_date) FROM predictions WHERE id IN "
                "(SELECT value FROM json_each(?)) AND status = 'verified' "
                "AND vol_sigma IS NOT NULL GROUP BY horizon",
                [json.dumps([int(i) for i in ids])],
            ).fetchall()
        )
    range_states.void(db, firsts)


def _apply_scores(db: sqlite_utils.Database, rows: Iterable[tuple[object, ...]]) -> None:
    """In bulk: the verdicts go to a temporary table; the per-session sums of the calls
    among them still pending are added once per session, then one UPDATE ... FROM applies
    the verdicts to those calls (the update triggers stand aside while this pass holds
    sums_paused; schema m017). One savepoint, so no other connection sees the pause and a
    crash leaves nothing half-done. The page caches are widened for the pass (and restored):
    the UPDATE rewrites every page of the calls it touches and of the two indexes over what
    it changes (status; the verified calls by symbol), and the temporary table of 100k
    verdicts outgrows the default 2 MB (about 0.3 s of a 100k pass's CPU time, profiled)."""
    caches = [db.execute(f"PRAGMA {s}.cache_size").fetchone()[0] for s in ("main", "temp")]
    db.execute("SAVEPOINT verifying")
    try:
        for schema_name in ("main", "temp"):  # the verdicts' temporary table has its own
            db.execute(f"PRAGMA {schema_name}.cache_size = {-PASS_CACHE_KIB}")
        db.execute(
            "CREATE TEMP TABLE IF NOT EXISTS verifying (actual_price REAL, error_pct REAL, "
            "hit INTEGER, outcome TEXT, up_hit INTEGER, majority_hit INTEGER, "
            "covered80 INTEGER, covered95 INTEGER, verified_at TEXT, id INTEGER PRIMARY KEY)"
        )
        db.conn.executemany(
            "INSERT OR REPLACE INTO temp.verifying VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
        # the sums first: the calls' new scores (v) at their target sessions (p), counted
        # only for a call still pending, which is exactly what the UPDATE then changes
        db.execute(schema.verified_sums_of("temp.verifying", pending=True))
        db.execute("INSERT INTO sums_paused (pass) VALUES (1)")
        db.execute(
            "UPDATE predictions SET status = 'verified', actual_price = v.actual_price, "
            "error_pct = v.error_pct, hit = v.hit, outcome = v.outcome, up_hit = v.up_hit, "
            "majority_hit = v.majority_hit, covered80 = v.covered80, covered95 = v.covered95, "
            "verified_at = v.verified_at FROM temp.verifying v "
            "WHERE predictions.id = v.id AND predictions.status = 'pending'"
        )
        db.execute("DELETE FROM sums_paused")
        db.execute("DELETE FROM temp.verifying")
    except BaseException:
        db.execute("ROLLBACK TO verifying")
        db.execute("RELEASE verifying")
        raise
    finally:
        for schema_name, pages in zip(("main", "temp"), caches, strict=True):
            db.execute(f"PRAGMA {schema_name}.cache_size = {int(pages)}")
    db.execute("RELEASE verifying")


def residuals(
    db: sqlite_utils.Database,
    symbols: Sequence[str],
    known_by: date | None,
    *,
    horizon: int | None = None,
    after: str | None = None,
) -> list[tuple[str, int, str, float, float, float, float]]:
    """[(symbol, horizon, target_date, base, predicted, actual, vol_sigma)]: every verified
    call with a volatility forecast whose target session is on or before `known_by` (all
    when None) and after `after` (when given), of `horizon` (every one when None), in the
    order their outcomes became known (target session, then symbol, call date, id)."""
    where, params = ledger_filters("verified", symbols)
    extra = ""
    for clause, value in (
        (" AND horizon = ?", horizon),
        (" AND target_date > ?", after),
        (" AND target_date <= ?", None if known_by is None else known_by.isoformat()),
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
    where, params = ledger_filters("pending", symbols)
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
) -> list[PredictionRecord]:
    """Ledger rows, newest first."""
    sql = "SELECT * FROM predictions"
    where, params = ledger_filters(status, symbols)
    sql += where + " ORDER BY as_of DESC, symbol, horizon, id DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(int(limit))
    cur = db.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [cast(PredictionRecord, dict(zip(cols, r, strict=True))) for r in cur.fetchall()]


def scored(
    db: sqlite_utils.Database, symbols: Sequence[str] | None = None, until: str | None = None
) -> list[ScoredCall]:
    """Verified predictions in target-date order (what accuracy is measured on); with
    `until`, only those whose target session is on or before it (what was known then)."""
    where, params = ledger_filters("verified", symbols)
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
    return [cast(ScoredCall, dict(zip(cols, r, strict=True))) for r in cur.fetchall()]


SCORED_COLUMNS = (
    "id, symbol, as_of, horizon, model_version, target_date, base_price, pred_change_pct, "
    "p_up, p_flat, p_down, direction, confidence, regime, actual_price, error_pct, hit, "
    "outcome, up_hit, majority_hit, lower, upper, lower95, upper95, vol_sigma, covered80, "
    "covered95"
)
# the parts of the signals JSON the report reads, as SQLite renders them (one parse per row;
# its JSON text keeps each value's own digits, for json.loads to read as it reads the whole)
SIGNAL_PARTS = (
    "substr(signals, 1, 1) = '{' AS signals_object, "
    "instr(signals, 'NaN') OR instr(signals, 'Infinity') AS signals_nonfinite, "
    "json_extract(signals, '$.last_move', '$.majority', '$.vol') AS signal_parts, "
    "json_type(signals, '$.majority') IS NOT NULL AS has_majority"
)


def scored_columns(
    db: sqlite_utils.Database, symbols: Sequence[str] | None = None, until: str | None = None
) -> dict[str, tuple[object, ...]]:
    """`scored` as columns (no dict per row) and, instead of the signals JSON, the parts of
    it the report uses as SQLite renders them: `signal_parts`, the JSON array [last_move,
    majority, vol] (null where a key is missing), `has_majority` (whether the key is
    there), `signals_object` (the text starts as an object) and `signals_nonfinite` (a NaN
    or Infinity, which json.dumps writes and SQLite's JSON does not read as Python does).
    Empty when there is no verified call. sqlite3.OperationalError where SQLite cannot parse
    a signals text."""
    where, params = ledger_filters("verified", symbols)
    if until is not None:
        where, params = where + " AND target_date <= ?", [*params, until]
    cur = db.execute(
        f"SELECT {SCORED_COLUMNS}, {SIGNAL_PARTS} FROM predictions{where} ORDER BY target_date, id",
        params,
    )
    names = [c[0] for c in cur.description]
    rows = cur.fetchall()
    return dict(zip(names, zip(*rows, strict=True), strict=True)) if rows else {}


def live_record(
    db: sqlite_utils.Database,
    model_version: str,
    symbols: Sequence[str] | None = None,
    known_by: date | None = None,
) -> dict[tuple[str, int], list[tuple[str, int, int, int]]]:
    """{(symbol, horizon): [(as_of, hit, up_hit, majority_hit)]} of the verified UP/DOWN
    calls of one model version whose target session is on or before `known_by`."""
    where, params = ledger_filters("verified", symbols)
    extra = "" if known_by is None else " AND target_date <= ?"
    out: dict[tuple[str, int], list[tuple[str, int, int, int]]] = {}
    for sym, h, as_of, hit, up, maj in db.execute(
        f"SELECT symbol, horizon, as_of, hit, up_hit, majority_hit FROM predictions{where} "
        f"AND model_version = ? AND hit IS NOT NULL{extra} ORDER BY as_of",
        [*params, model_version, *([known_by.isoformat()] if known_by else [])],
    ):
        out.setdefault((sym, int(h)), []).append((as_of, int(hit), int(up or 0), int(maj or 0)))
    return out


def evidence_record(
    db: sqlite_utils.Database, model_version: str, horizon: int, known_by: date | None, limit: int
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
        [model_version, int(horizon), *([known_by.isoformat()] if known_by else []), int(limit)],
    ).fetchall()
    return [
        (float(up), float(down), math.log(float(actual) / float(base)), -1 if (maj or 1) < 0 else 1)
        for up, down, base, actual, maj in rows
        if up is not None and down is not None and base and actual
    ]


def counts(db: sqlite_utils.Database, symbols: Sequence[str] | None = None) -> dict[str, int]:
    where, params = ledger_filters(None, symbols)
    out = dict.fromkeys(STATUSES, 0)
    for status, n in db.execute(
        f"SELECT status, COUNT(*) FROM predictions{where} GROUP BY status", params
    ):
        out[status] = int(n)
    return out


def verified_hits(db: sqlite_utils.Database, symbol: str, until: date) -> list[int | None]:
    """The hit flags of `symbol`'s verified predictions with target session <= `until`, oldest first."""
    return [
        r[0]
        for r in db.execute(
            "SELECT hit FROM predictions WHERE symbol = ? AND status = 'verified' "
            "AND target_date <= ? ORDER BY target_date, id",
            [symbol, until.isoformat()],
        )
    ]


def keys_made_on(
    db: sqlite_utils.Database, days: Sequence[date]
) -> set[tuple[str, date, int, str]]:
    """(symbol, as_of, horizon, model_version) of every prediction made as of one of `days`."""
    if not days:
        return set()
    cur = db.execute(
        "SELECT symbol, as_of, horizon, model_version FROM predictions "
        f"WHERE as_of IN ({','.join('?' * len(days))})",
        [d.isoformat() for d in days],
    )
    return {(s, date.fromisoformat(a), int(h), m) for s, a, h, m in cur.fetchall()}


PRICE_COLUMNS = ("base_price", "pred_price", "lower", "upper", "lower95", "upper95")


def pending_as_of(db: sqlite_utils.Database, symbol: str) -> set[str]:
    """The as-of sessions of `symbol`'s pending calls."""
    return {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT as_of FROM predictions WHERE symbol = ? AND status = 'pending'",
            [symbol],
        ).fetchall()
    }


def rescale_pending(db: sqlite_utils.Database, symbol: str, ratios: dict[str, float]) -> int:
    """A split or dividend re-adjusted `symbol`'s history: its pending calls' prices (the
    close they were made from, the predicted price, the ranges) are multiplied by how much
    their as-of session's close moved (`ratios`: new / old close by session), so each call
    is scored on the move it predicted, not on the adjustment. Percent changes and
    probabilities do not change. Returns how many calls changed."""
    changed = 0
    sets = ", ".join(f"{c} = {c} * :r" for c in PRICE_COLUMNS)
    for day, ratio in ratios.items():
        cur = db.execute(
            f"UPDATE predictions SET {sets} WHERE symbol = :s AND as_of = :d "
            "AND status = 'pending'",
            {"r": ratio, "s": symbol, "d": day},
        )
        changed += cur.rowcount
    return changed
