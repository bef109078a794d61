"""Rows of the `models` table: register, find the serving model per kind, promote,
retire, quarantine. Artifacts live on disk under `<home>/models/<id>/`; a row is only
ever registered after its files are in place. Status is one of serving, candidate,
retired, quarantined, pruned (its artifact was deleted to bound the disk; the row stays so
history and the ledger still name it); at most one model per kind serves. Each row keeps
the symbols it was trained on (it serves no other) and `known_on`, the session by whose
close it existed (calls as of a later session may use it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from typing import Any, TypedDict, cast

import sqlite_utils

from store.db import immediate, utcnow

STATUSES = ("serving", "candidate", "retired", "quarantined", "pruned")
UNUSABLE = ("quarantined", "pruned")  # no artifact to load
PROMOTED = ("serving", "retired")  # models that served (a candidate never did)


class ModelRow(TypedDict):
    """One row of the `models` table, its JSON columns parsed."""

    id: str
    kind: str
    version: int
    trained_at: str
    symbols: list[str]
    horizons: list[int]
    train_start: str | None
    train_end: str | None
    val_start: str | None
    val_end: str | None
    test_start: str | None
    test_end: str | None
    feature_hash: str
    metrics: dict[str, Any]  # the kind's own figures: JSON whose shape each kind decides
    artifact_path: str
    status: str
    reason: str | None
    data_end: str | None
    known_on: str | None


class QuarantineNote(TypedDict):
    """What `quarantine_notice` says of a quarantine (a `Quarantine`, or its JSON status)."""

    id: str
    kind: str
    reason: str | None
    serves: str | None  # the id of the model serving in its place


class Quarantine(ModelRow):
    """A quarantined model in effect, with the id of the model serving in its place."""

    serves: str | None


def _row(r: Mapping[str, object]) -> ModelRow:
    out = dict(r)
    for key in ("symbols", "horizons", "metrics"):
        text = out.get(key)
        out[key] = json.loads(str(text)) if text else ({} if key == "metrics" else [])
    return cast(ModelRow, out)


def next_version(db: sqlite_utils.Database, kind: str) -> int:
    row = db.execute("SELECT MAX(version) FROM models WHERE kind = ?", [kind]).fetchone()
    return int(row[0] or 0) + 1


def register(
    db: sqlite_utils.Database,
    *,
    model_id: str,
    kind: str,
    version: int,
    symbols: list[str],
    horizons: list[int],
    ranges: dict[str, tuple[str, str]],
    feature_hash: str,
    metrics: Mapping[str, object],  # stored as JSON (what JSON cannot hold, as its text)
    artifact_path: str,
    data_end: str | None = None,
    known_on: date | None = None,
    status: str = "candidate",
    reason: str | None = None,
) -> ModelRow:
    """Record a trained model; `data_end` is the last bar its training saw (the default:
    the end of its last range), `known_on` the session by whose close it existed (the
    default: `data_end`)."""
    if status not in STATUSES:
        raise ValueError(f"unknown model status {status!r}")
    record = {
        "id": model_id,
        "kind": kind,
        "version": version,
        "trained_at": utcnow(),
        "symbols": json.dumps(symbols),
        "horizons": json.dumps(horizons),
        "feature_hash": feature_hash,
        "metrics": json.dumps(metrics, default=str),
        "artifact_path": artifact_path,
        "status": status,
        "reason": reason,
    }
    for part in ("train", "val", "test"):
        lo, hi = ranges.get(part, (None, None))
        record[f"{part}_start"], record[f"{part}_end"] = lo, hi
    end = str(data_end or max(hi for _, hi in ranges.values() if hi))
    record["data_end"] = end
    on = known_on.isoformat() if known_on else end
    record["known_on"] = max(on, end)  # never before its last bar
    with immediate(db):
        db.table("models").insert(record)
    return get(db, model_id)


def get(db: sqlite_utils.Database, model_id: str) -> ModelRow:
    rows = list(db.query("SELECT * FROM models WHERE id = ?", [model_id]))
    if not rows:
        raise KeyError(model_id)
    return _row(rows[0])


def serving(db: sqlite_utils.Database, kind: str | None = None) -> list[ModelRow]:
    sql, params = "SELECT * FROM models WHERE status = 'serving'", []
    if kind:
        sql, params = sql + " AND kind = ?", [kind]
    return [_row(r) for r in db.query(sql + " ORDER BY kind", params)]


def serving_as_of(db: sqlite_utils.Database, day: date) -> tuple[list[ModelRow], list[str]]:
    """The models that served calls as of session `day` (per kind, `choose_as_of`), and one
    note per serving model that does not serve then, saying why.

    What is registered after `day` never changes the answer, so a call as of `day` is the
    same whatever the home learned later."""
    by_kind: dict[str, list[ModelRow]] = {}
    for r in list_models(db):
        by_kind.setdefault(r["kind"], []).append(r)
    chosen = {k: c for k, rows in by_kind.items() if (c := choose_as_of(rows, day)) is not None}
    notes = []
    for row in serving(db):
        then = chosen.get(row["kind"])
        if then is not None and then["id"] == row["id"]:
            continue
        why = f"{row['id']} trained on data through {row['data_end']}, known on {row['known_on']}"
        if then is not None:
            notes.append(
                f"{why}; as of {day} {then['id']} (data through {then['data_end']}, known on "
                f"{then['known_on']}) serves"
            )
            continue
        pruned = db["models"].count_where(
            "kind = ? AND status = 'pruned' AND known_on <= ?", [row["kind"], day.isoformat()]
        )
        notes.append(
            f"{why}; "
            + (
                f"the {row['kind']} models known by {day} were pruned ([models] keep_versions)"
                if pruned
                else f"no {row['kind']} model was known by {day}"
            )
            + ": it does not serve"
        )
    return [chosen[k] for k in sorted(chosen)], notes


def known_on(row: ModelRow) -> str:
    """The session by whose close the model existed (rows from before it was recorded: their
    last bar)."""
    return str(row.get("known_on") or row.get("data_end") or "")


def choose_as_of(rows: list[ModelRow], day: date) -> ModelRow | None:
    """Of one kind's rows, the model that served calls as of session `day`: of the models
    ever promoted (serving or retired; never a candidate, a quarantined or a pruned one)
    that existed by `day`'s close (known_on <= day), the one known last (then the newest).

    On or before, not strictly before: a call as of `day` is made after its close on bars up
    to it, and a replay's retrain due at `day` (the backtest's block start) trains on those
    same bars and holds the clock until it is registered, so it serves `day`'s calls, as
    the backtest's block does. A model registered on a later session never does."""
    known = [r for r in rows if r["status"] in PROMOTED and known_on(r) <= day.isoformat()]
    return max(known, key=lambda r: (known_on(r), r["version"])) if known else None


def list_models(
    db: sqlite_utils.Database, *, kind: str | None = None, status: str | None = None
) -> list[ModelRow]:
    where, params = [], []
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if status:
        where.append("status = ?")
        params.append(status)
    sql = "SELECT * FROM models" + (" WHERE " + " AND ".join(where) if where else "")
    return [_row(r) for r in db.query(sql + " ORDER BY kind, version", params)]


def _set(db: sqlite_utils.Database, model_id: str, status: str, reason: str | None) -> None:
    db.execute("UPDATE models SET status = ?, reason = ? WHERE id = ?", [status, reason, model_id])


def promote(db: sqlite_utils.Database, model_id: str, reason: str) -> None:
    """Make `model_id` the serving model of its kind; the one it replaces is retired."""
    with immediate(db):
        kind = db.execute("SELECT kind FROM models WHERE id = ?", [model_id]).fetchone()[0]
        db.execute(
            "UPDATE models SET status = 'retired', reason = ? WHERE kind = ? AND status = 'serving'"
            " AND id != ?",
            [f"replaced by {model_id}", kind, model_id],
        )
        _set(db, model_id, "serving", reason)


def set_status(db: sqlite_utils.Database, model_id: str, status: str, reason: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown model status {status!r}")
    with immediate(db):
        _set(db, model_id, status, reason)


def quarantine(db: sqlite_utils.Database, model_id: str, reason: str) -> str | None:
    """Mark a model unusable. If it was serving, the latest retired model of its kind serves
    again; returns that model's id (or None)."""
    with immediate(db):
        row = db.execute("SELECT kind, status FROM models WHERE id = ?", [model_id]).fetchone()
        if row is None:
            return None
        kind, status = row
        _set(db, model_id, "quarantined", reason)
        if status != "serving":
            return None
        prev = db.execute(
            "SELECT id FROM models WHERE kind = ? AND status = 'retired' "
            "ORDER BY version DESC LIMIT 1",
            [kind],
        ).fetchone()
        if prev is None:
            return None
        _set(db, prev[0], "serving", f"serving again: {model_id} quarantined")
        return str(prev[0])


LOAD_BACK = "artifact failed to load back"  # a new model's quarantine: it never served


def lift(db: sqlite_utils.Database, model_id: str, note: str) -> str:
    """End a quarantine (the artifact proved readable and intact after all); returns the
    model's status now. A model quarantined at its load-back after training is a candidate
    again; one that served (or was chosen to) serves again when it is newer than what
    serves its kind now (as `quarantine` would have chosen it), else it is retired."""
    with immediate(db):
        row = db.execute(
            "SELECT kind, version, status, reason FROM models WHERE id = ?", [model_id]
        ).fetchone()
        if row is None or row[2] != "quarantined":
            return str(row[2]) if row else ""
        kind, version, _, reason = row
        top = db.execute(
            "SELECT version FROM models WHERE kind = ? AND status = 'serving'", [kind]
        ).fetchone()
        if str(reason or "").startswith(LOAD_BACK):
            status = "candidate"
        elif top is None or int(top[0]) < int(version):
            status = "serving"
            db.execute(
                "UPDATE models SET status = 'retired', reason = ? WHERE kind = ? AND "
                "status = 'serving'",
                [f"replaced by {model_id}", kind],
            )
        else:
            status = "retired"
        _set(db, model_id, status, note)
        return status


def quarantines(db: sqlite_utils.Database, day: date | None = None) -> list[Quarantine]:
    """The quarantines in effect: quarantined models newer than the model that serves their
    kind now (as of session `day`: only those known by it), each with `serves`,
    the id of the model serving in its place (None: none of its kind serves). A newer model
    that serves ends the notice."""
    now = serving_as_of(db, day)[0] if day else serving(db)
    served = {r["kind"]: r for r in now}
    out: list[Quarantine] = []
    for q in list_models(db, status="quarantined"):
        if day is not None and known_on(q) > day.isoformat():
            continue
        instead = served.get(q["kind"])
        if instead is not None and instead["version"] >= q["version"]:
            continue
        out.append(Quarantine(**q, serves=instead["id"] if instead else None))
    return out


def quarantine_notice(q: QuarantineNote) -> str:
    """One line for a quarantine in effect (a row of `quarantines`)."""
    instead = f"{q['serves']} serves instead" if q["serves"] else f"no {q['kind']} model serves"
    return f"model {q['id']} is quarantined ({q['reason'] or 'no reason recorded'}): {instead}"


def any_serving(db: sqlite_utils.Database) -> bool:
    return db["models"].count_where("status = 'serving'") > 0


def last_trained_at(db: sqlite_utils.Database) -> str | None:
    """When the newest model was trained (ISO UTC), by the daemon or by `assistant train`."""
    row = db.execute("SELECT MAX(trained_at) FROM models").fetchone()
    return row[0] if row and row[0] else None


def serving_training_window(db: sqlite_utils.Database) -> tuple[str | None, str | None]:
    """The serving models' training range (earliest start, latest end); Nones if none serves."""
    row = db.execute(
        "SELECT MIN(train_start), MAX(train_end) FROM models WHERE status = 'serving' "
        "AND train_start IS NOT NULL AND train_end IS NOT NULL"
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def serving_data_end(db: sqlite_utils.Database) -> str | None:
    """The last date any serving model saw (its test range, else val, else train end)."""
    row = db.execute(
        "SELECT MAX(COALESCE(test_end, val_end, train_end)) FROM models WHERE status = 'serving'"
    ).fetchone()
    return row[0] if row and row[0] else None
