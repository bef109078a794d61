"""The command queue: the TUI and CLI insert rows, the daemon claims and finishes them."""

from __future__ import annotations

import json
from typing import Any, cast

import sqlite_utils

from store.db import StoreError, immediate, utcnow

KINDS = ("watch.add", "watch.remove", "collect", "predict", "retrain", "verify")
MAX_QUEUED = 1000


class CommandError(StoreError, ValueError):
    """A command that cannot be queued (unknown kind, queue full)."""


def enqueue(
    db: sqlite_utils.Database,
    kind: str,
    args: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> int:
    """Queue a command; an existing `key` returns the existing row's id (idempotent).

    A `retrain` for the same symbols and the same kind of reason (the text before its first
    colon: "drift", "requested", ...) as one already queued or running is not queued
    again: its id is returned, so each retrain shows once however often it is asked for.
    """
    if kind not in KINDS:
        raise CommandError(f"unknown command {kind!r} (known: {', '.join(KINDS)})")
    with immediate(db):
        if key is not None:
            row = db.execute("SELECT id FROM commands WHERE key = ?", [key]).fetchone()
            if row:
                return int(row[0])
        if kind == "retrain":
            same = _open_retrain(db, args or {})
            if same is not None:
                return same
        queued = db.execute("SELECT COUNT(*) FROM commands WHERE status = 'queued'").fetchone()[0]
        if queued >= MAX_QUEUED:
            raise CommandError(
                f"the command queue is full ({queued} waiting); is the daemon running? "
                "see `assistant status`"
            )
        cur = db.execute(
            "INSERT INTO commands (key, kind, args, created_at) VALUES (?, ?, ?, ?)",
            [key, kind, json.dumps(args or {}), utcnow()],
        )
        return int(cast(int, cur.lastrowid))  # always set after a one-row INSERT


def _retrain_identity(args: Any) -> tuple[Any, ...] | None:
    """(symbols, kinds, reason kind) of a retrain's arguments; None if they are malformed."""
    if not isinstance(args, dict):
        return None
    raw = args.get("symbols", args.get("symbol"))
    symbols = [raw] if isinstance(raw, str) else (raw or [])
    kinds = args.get("kinds")
    if not isinstance(symbols, list) or not all(isinstance(x, str) for x in symbols):
        return None
    if kinds is not None and (
        not isinstance(kinds, list) or not all(isinstance(x, str) for x in kinds)
    ):
        return None
    reason = str(args.get("reason") or "requested").split(":", 1)[0].strip()
    return (
        tuple(sorted(s.strip().upper() for s in symbols)),
        None if kinds is None else tuple(sorted(kinds)),
        reason,
    )


def _open_retrain(db: sqlite_utils.Database, args: dict[str, Any]) -> int | None:
    """The id of a queued or running retrain that `args` would duplicate, if any."""
    wanted = _retrain_identity(args)
    if wanted is None:
        return None
    rows = db.execute(
        "SELECT id, args FROM commands WHERE kind = 'retrain' "
        "AND status IN ('queued', 'running') ORDER BY id"
    ).fetchall()
    for cid, text in rows:
        if _retrain_identity(_loads(text)) == wanted:
            return int(cid)
    return None


def cancel_queued_retrains(db: sqlite_utils.Database, reason_kind: str, error: str) -> int:
    """Fail the queued retrains whose reason is of `reason_kind` (e.g. "drift"); how many."""
    with immediate(db):
        rows = db.execute(
            "SELECT id, args FROM commands WHERE kind = 'retrain' AND status = 'queued'"
        ).fetchall()
        ids = [
            cid
            for cid, text in rows
            if (_retrain_identity(_loads(text)) or ())[-1:] == (reason_kind,)
        ]
        for cid in ids:
            db.execute(
                "UPDATE commands SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                [utcnow(), error, cid],
            )
    return len(ids)


def _loads(text: str | None) -> Any:
    try:
        return json.loads(text or "{}")
    except ValueError:
        return None


def claim_next(db: sqlite_utils.Database, *, skip: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Take the oldest queued command (atomically) and mark it running; commands of the
    kinds in `skip` stay queued (the daemon holds retrains back while one trains).

    Arguments that are not JSON do not raise: `args_error` says why (else None), and the
    caller fails the row with it.
    """
    holes = ",".join("?" * len(skip))
    where = f"status = 'queued' AND kind NOT IN ({holes})" if skip else "status = 'queued'"
    # A read first: an empty queue (the daemon asks often) takes no write lock.
    if db.execute(f"SELECT 1 FROM commands WHERE {where} LIMIT 1", list(skip)).fetchone() is None:
        return None
    with immediate(db):
        row = db.execute(
            f"SELECT id, kind, args FROM commands WHERE {where} ORDER BY id LIMIT 1", list(skip)
        ).fetchone()
        if row is None:
            return None
        db.execute(
            "UPDATE commands SET status = 'running', claimed_at = ? WHERE id = ?",
            [utcnow(), row[0]],
        )
    try:
        args, args_error = json.loads(row[2]), None
    except ValueError as exc:  # a row written by hand or by another program
        args, args_error = None, f"arguments are not valid JSON ({exc})"
    return {"id": row[0], "kind": row[1], "args": args, "args_error": args_error}


def claim_retrains_like(
    db: sqlite_utils.Database, kinds: list[str] | None
) -> list[tuple[int, str]]:
    """Claim (mark running) every queued retrain that asks for the same model kinds as
    `kinds`: one training serves them all. Their (id, kind of reason), oldest first."""
    wanted = None if kinds is None else tuple(sorted(kinds))
    with immediate(db):
        rows = db.execute(
            "SELECT id, args FROM commands WHERE kind = 'retrain' AND status = 'queued' ORDER BY id"
        ).fetchall()
        found = [
            (int(cid), str(ident[2]))
            for cid, text in rows
            if (ident := _retrain_identity(_loads(text))) is not None and ident[1] == wanted
        ]
        now = utcnow()
        for cid, _ in found:
            db.execute(
                "UPDATE commands SET status = 'running', claimed_at = ? WHERE id = ?", [now, cid]
            )
    return found


def finish(
    db: sqlite_utils.Database, command_id: int, *, result: Any = None, error: str | None = None
) -> None:
    status = "failed" if error is not None else "done"
    with immediate(db):
        db.execute(
            "UPDATE commands SET status = ?, finished_at = ?, result = ?, error = ? WHERE id = ?",
            [status, utcnow(), None if result is None else json.dumps(result), error, command_id],
        )


def get(db: sqlite_utils.Database, command_id: int) -> dict[str, Any] | None:
    cur = db.execute("SELECT * FROM commands WHERE id = ?", [command_id])
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([c[0] for c in cur.description], row, strict=True))


def recent(
    db: sqlite_utils.Database, limit: int = 20, status: str | None = None
) -> list[dict[str, Any]]:
    sql = "SELECT * FROM commands"
    params: list[Any] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    cur = db.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def counts(db: sqlite_utils.Database) -> dict[str, int]:
    return {s: n for s, n in db.execute("SELECT status, COUNT(*) FROM commands GROUP BY status")}


MAX_INTERRUPTIONS = 2


def recover_after_crash(
    db: sqlite_utils.Database, *, max_interruptions: int = MAX_INTERRUPTIONS
) -> tuple[int, int]:
    """At daemon start: re-queue commands a dead daemon was running, counting each time.

    A command interrupted `max_interruptions` times (it may be what kills the daemon) is
    failed with that reason instead. Returns (requeued, failed).
    """
    with immediate(db):
        failed = db.execute(
            "UPDATE commands SET status = 'failed', finished_at = ?, interruptions = interruptions + 1, "
            "error = 'interrupted ' || (interruptions + 1) || ' times by a daemon crash or kill; "
            "not retried again' WHERE status = 'running' AND interruptions + 1 >= ?",
            [utcnow(), max_interruptions],
        ).rowcount
        requeued = db.execute(
            "UPDATE commands SET status = 'queued', claimed_at = NULL, interruptions = interruptions + 1, "
            "error = 'interrupted by a daemon crash or kill; re-queued' WHERE status = 'running'"
        ).rowcount
    return requeued, failed


def requeue(db: sqlite_utils.Database, command_id: int, reason: str) -> None:
    """Put a running command back in the queue (a clean shutdown rolled its step back)."""
    with immediate(db):
        db.execute(
            "UPDATE commands SET status = 'queued', claimed_at = NULL, error = ? "
            "WHERE id = ? AND status = 'running'",
            [reason, command_id],
        )
