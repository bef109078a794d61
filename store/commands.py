"""The command queue: the TUI and CLI insert rows, the daemon claims and finishes them.

Arguments and results are read and written by vocab.commands (`parse`/`dump`), nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict, cast

import sqlite_utils

from store.db import StoreError, immediate, utcnow
from vocab import commands as schema

MAX_QUEUED = 1000


class CommandError(StoreError, ValueError):
    """A command that cannot be queued (the queue is full)."""


def enqueue(db: sqlite_utils.Database, command: schema.Command, *, key: str | None = None) -> int:
    """Queue a command; an existing `key` returns the existing row's id (idempotent).

    A `retrain` for the same symbols and kinds, scheduled or asked for alike, as one already
    queued or running is not queued again: its id is returned, so each retrain shows once
    however often it is asked for.
    """
    with immediate(db):
        if key is not None:
            row = db.execute("SELECT id FROM commands WHERE key = ?", [key]).fetchone()
            if row:
                return int(row[0])
        if isinstance(command, schema.Retrain):
            same = _open_retrain(db, command)
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
            [key, command.KIND, schema.dump(command), utcnow()],
        )
        return int(cast(int, cur.lastrowid))  # always set after a one-row INSERT


def _retrain(text: str | None) -> schema.Retrain | None:
    """A stored retrain row's arguments; None if they are malformed (its run fails it)."""
    try:
        command = schema.parse(schema.Retrain.KIND, text)
    except schema.CommandArgsError:
        return None
    return command if isinstance(command, schema.Retrain) else None


def _open_retrain(db: sqlite_utils.Database, command: schema.Retrain) -> int | None:
    """The id of a queued or running retrain that `command` would duplicate, if any."""
    wanted = command.identity()
    rows = db.execute(
        "SELECT id, args FROM commands WHERE kind = 'retrain' "
        "AND status IN ('queued', 'running') ORDER BY id"
    ).fetchall()
    for cid, text in rows:
        if (other := _retrain(text)) is not None and other.identity() == wanted:
            return int(cid)
    return None


def cancel_scheduled_retrains(db: sqlite_utils.Database, error: str) -> int:
    """Fail the queued retrains the drift check scheduled (no user asked); how many."""
    with immediate(db):
        rows = db.execute(
            "SELECT id, args FROM commands WHERE kind = 'retrain' AND status = 'queued'"
        ).fetchall()
        ids = [cid for cid, text in rows if (r := _retrain(text)) is not None and r.scheduled]
        for cid in ids:
            db.execute(
                "UPDATE commands SET status = 'failed', finished_at = ?, error = ? WHERE id = ?",
                [utcnow(), error, cid],
            )
    return len(ids)


@dataclass(frozen=True)
class Claimed:
    """A command the daemon took: its row id, kind and typed arguments, or why its
    arguments do not parse (`error`, and `command` None: the caller fails the row)."""

    id: int
    kind: str
    command: schema.Command | None
    error: str | None = None


def claim_next(db: sqlite_utils.Database, *, skip: tuple[str, ...] = ()) -> Claimed | None:
    """Take the oldest queued command (atomically) and mark it running; commands of the
    kinds in `skip` stay queued (the daemon holds retrains back while one trains).

    Arguments that do not parse do not raise: `error` says why, and the caller fails the
    row with it.
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
        return Claimed(int(row[0]), str(row[1]), schema.parse(str(row[1]), row[2]))
    except schema.CommandArgsError as exc:
        return Claimed(int(row[0]), str(row[1]), None, str(exc))


def claim_retrains_like(
    db: sqlite_utils.Database, kinds: tuple[str, ...] | None
) -> list[tuple[int, bool]]:
    """Claim (mark running) every queued retrain that asks for the same model kinds as
    `kinds`: one training serves them all. Their (id, scheduled), oldest first."""
    wanted = None if kinds is None else tuple(sorted(kinds))
    with immediate(db):
        rows = db.execute(
            "SELECT id, args FROM commands WHERE kind = 'retrain' AND status = 'queued' ORDER BY id"
        ).fetchall()
        found = [
            (int(cid), r.scheduled)
            for cid, text in rows
            if (r := _retrain(text)) is not None and r.identity()[1] == wanted
        ]
        now = utcnow()
        for cid, _ in found:
            db.execute(
                "UPDATE commands SET status = 'running', claimed_at = ? WHERE id = ?", [now, cid]
            )
    return found


def finish(
    db: sqlite_utils.Database,
    command_id: int,
    *,
    result: schema.Result | None = None,
    error: str | None = None,
) -> None:
    status = "failed" if error is not None else "done"
    text = None if result is None else schema.dump_result(result)
    with immediate(db):
        db.execute(
            "UPDATE commands SET status = ?, finished_at = ?, result = ?, error = ? WHERE id = ?",
            [status, utcnow(), text, error, command_id],
        )


class CommandRow(TypedDict):
    """A commands row as stored (arguments and result as JSON text: vocab.commands reads them)."""

    id: int
    key: str | None
    kind: str
    args: str
    created_at: str
    claimed_at: str | None
    finished_at: str | None
    status: str  # queued | running | done | failed
    result: str | None
    error: str | None
    interruptions: int


def get(db: sqlite_utils.Database, command_id: int) -> CommandRow | None:
    cur = db.execute("SELECT * FROM commands WHERE id = ?", [command_id])
    row = cur.fetchone()
    if row is None:
        return None
    return cast(CommandRow, dict(zip([c[0] for c in cur.description], row, strict=True)))


def recent(
    db: sqlite_utils.Database, limit: int = 20, status: str | None = None
) -> list[CommandRow]:
    sql = "SELECT * FROM commands"
    params: list[str | int] = []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    sql += " ORDER BY id DESC LIMIT ?"
    params.append(limit)
    cur = db.execute(sql, params)
    cols = [c[0] for c in cur.description]
    return [cast(CommandRow, dict(zip(cols, r, strict=True))) for r in cur.fetchall()]


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
