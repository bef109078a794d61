"""Job runs: one row per execution of a scheduled job, with progress for the TUI."""

from __future__ import annotations

from datetime import date
from typing import TypedDict, cast

import sqlite_utils

from store.db import day_text, immediate, utcnow


class JobRun(TypedDict):
    """A job_runs row as stored."""

    id: int
    job: str
    scheduled_for: str | None
    started_at: str
    finished_at: str | None
    status: str  # running | ok | failed | interrupted | ...
    progress: float | None
    message: str | None


def start(db: sqlite_utils.Database, job: str, *, scheduled_for: str | date | None = None) -> int:
    """A job run started now; `scheduled_for` is the slot's key or the session it works on."""
    with immediate(db):
        cur = db.execute(
            "INSERT INTO job_runs (job, scheduled_for, started_at, status, progress) "
            "VALUES (?, ?, ?, 'running', 0)",
            [job, None if scheduled_for is None else day_text(scheduled_for), utcnow()],
        )
        return int(cast(int, cur.lastrowid))  # always set after a one-row INSERT


def progress(db: sqlite_utils.Database, run_id: int, fraction: float, message: str = "") -> None:
    with immediate(db):
        db.execute(
            "UPDATE job_runs SET progress = ?, message = ? WHERE id = ?",
            [max(0.0, min(1.0, fraction)), message, run_id],
        )


def finish(db: sqlite_utils.Database, run_id: int, status: str = "ok", message: str = "") -> None:
    with immediate(db):
        db.execute(
            "UPDATE job_runs SET status = ?, finished_at = ?, message = ?, "
            "progress = CASE WHEN ? = 'ok' THEN 1 ELSE progress END WHERE id = ?",
            [status, utcnow(), message, status, run_id],
        )


DIED = "the daemon stopped during this run"  # a run its process died in (kill -9, OOM)


def mark_interrupted(db: sqlite_utils.Database) -> int:
    """At daemon start: runs left 'running' by a dead process are closed as interrupted."""
    with immediate(db):
        return db.execute(
            "UPDATE job_runs SET status = 'interrupted', finished_at = ?, "
            "message = ? WHERE status = 'running'",
            [utcnow(), DIED],
        ).rowcount


def died_in_a_row(db: sqlite_utils.Database, job: str) -> int:
    """How many of `job`'s newest runs in a row its process died in (not a clean stop)."""
    n = 0
    for status, message in db.execute(
        "SELECT status, message FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT 10", [job]
    ).fetchall():
        if status != "interrupted" or message != DIED:
            break
        n += 1
    return n


def last(db: sqlite_utils.Database, job: str, *, status: str | None = None) -> JobRun | None:
    sql = "SELECT * FROM job_runs WHERE job = ?"
    params: list[str] = [job]
    if status:
        sql += " AND status = ?"
        params.append(status)
    cur = db.execute(sql + " ORDER BY id DESC LIMIT 1", params)
    row = cur.fetchone()
    if row is None:
        return None
    return cast(JobRun, dict(zip([c[0] for c in cur.description], row, strict=True)))


def running(db: sqlite_utils.Database) -> list[JobRun]:
    cur = db.execute("SELECT * FROM job_runs WHERE status = 'running' ORDER BY id")
    cols = [c[0] for c in cur.description]
    return [cast(JobRun, dict(zip(cols, r, strict=True))) for r in cur.fetchall()]


def ran_for(db: sqlite_utils.Database, job: str, scheduled_for: str) -> bool:
    """Whether `job` already completed (status ok) for this scheduled slot."""
    row = db.execute(
        "SELECT 1 FROM job_runs WHERE job = ? AND scheduled_for = ? AND status = 'ok' LIMIT 1",
        [job, scheduled_for],
    ).fetchone()
    return row is not None


def last_runs(db: sqlite_utils.Database) -> dict[str, JobRun]:
    """The latest run of every job, by job name (for `assistant status`)."""
    cur = db.execute(
        "SELECT * FROM job_runs WHERE id IN (SELECT MAX(id) FROM job_runs GROUP BY job) ORDER BY job"
    )
    cols = [c[0] for c in cur.description]
    rows = [cast(JobRun, dict(zip(cols, r, strict=True))) for r in cur.fetchall()]
    return {row["job"]: row for row in rows}
