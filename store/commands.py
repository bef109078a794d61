"""The command queue: the TUI and CLI insert rows, the daemon claims and finishes them."""

from __future__ import annotations

import json
from typing import Any, cast

import sqlite_utils

from store.db import immediate, utcnow

KINDS = ("watch.add", "watch.remove", "collect", "predict", "retrain", "verify")
MAX_QUEUED = 1000


class CommandError(ValueError):
    """A command that cannot be queued (unknown kind, queue full)."""


def enqueue(
    db: sqlite_utils.Database,
    kind: str,
    args: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> int:
    """Queue a command; an existing `key` returns the existing row's id (idempotent)."""
    if kind not in KINDS:
        raise CommandError(f"unknown command {kind!r} (known: {', '.join(KINDS)})")
    with immediate(db):
        if key is not None:
            row = db.execute("SELECT id FROM commands WHERE key = ?", [key]).fetchone()
            if row:
                return int(row[0])
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


def claim_next(db: sqlite_utils.Database) -> dict[str, Any] | None:
    """Take the oldest queued command (atomically) and mark it running."""
    with immediate(db):
        row = db.execute(
            "SELECT id, kind, args FROM commands WHERE status = 'queued' ORDER BY id LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        db.execute(
            "UPDATE commands SET status = 'running', claimed_at = ? WHERE id = ?",
            [utcnow(), row[0]],
        )
    return {"id": row[0], "kind": row[1], "args": json.loads(row[2])}


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
