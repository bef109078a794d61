"""The dashboard's activity: the daemon's state (the header), the jobs running and the
command queue (the commands panel)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

import sqlite_utils

from store import commands, daemon_state
from store.views.read import rows
from vocab import commands as schema
from vocab.status import DaemonInfo, classify_daemon


class RunningJob(TypedDict):
    id: int
    job: str
    started_at: str
    progress: float | None
    message: str | None


def daemon_info(
    db: sqlite_utils.Database, now: datetime, heartbeat_seconds: float = 5.0
) -> DaemonInfo:
    """The daemon row, with heartbeat age and whether it counts as online."""
    return classify_daemon(daemon_state.read(db), now, heartbeat_seconds)


def running_jobs(db: sqlite_utils.Database) -> list[RunningJob]:
    return rows(
        db,
        RunningJob,
        "SELECT id, job, started_at, progress, message FROM job_runs "
        "WHERE status = 'running' ORDER BY id",
    )


class CommandLine(TypedDict):
    """One row of the dashboard's command panel: the command and what it did, typed."""

    id: int
    kind: str
    command: schema.Command | None  # None: its stored arguments do not parse (it fails)
    status: str
    created_at: str
    claimed_at: str | None
    finished_at: str | None
    error: str | None
    result: schema.Result | None
    count: int  # a burst of cancellations of one kind for one reason is one row
    cancelled: bool
    behind_training: bool  # a queued retrain waiting for the one that trains


def _command(kind: str, text: str | None) -> schema.Command | None:
    try:
        return schema.parse(kind, text)
    except schema.CommandArgsError:
        return None


def recent_commands(db: sqlite_utils.Database, limit: int = 8) -> list[CommandLine]:
    """The newest commands, newest first. A run of cancellations of one kind for one reason
    (a replay's end cancels every drift retrain still waiting) is one row: the newest of
    them, with `count` how many it stands for (1 for every other row)."""
    # limit * 8: enough that a burst of cancellations does not crowd the rest out
    out: list[CommandLine] = []
    for r in commands.recent(db, limit * 8):
        cancelled = r["status"] == "failed" and str(r["error"] or "").startswith("cancelled")
        last = out[-1] if out else None
        if (
            cancelled
            and last is not None
            and last["cancelled"]
            and (last["kind"], last["error"]) == (r["kind"], r["error"])
        ):
            last["count"] += 1
            continue
        if len(out) == limit:
            break
        out.append(
            CommandLine(
                id=r["id"],
                kind=r["kind"],
                command=_command(r["kind"], r["args"]),
                status=r["status"],
                created_at=r["created_at"],
                claimed_at=r["claimed_at"],
                finished_at=r["finished_at"],
                error=r["error"],
                result=schema.parse_result(r["kind"], r["result"]),
                count=1,
                cancelled=cancelled,
                behind_training=False,
            )
        )
    return out
