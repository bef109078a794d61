"""The daemon's singleton row: who is running, in which mode, and its heartbeat."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import TypedDict, cast

import sqlite_utils

from store.db import immediate, utcnow


class DaemonRow(TypedDict):
    """The `daemon` row as `read` returns it."""

    id: int
    pid: int | None
    started_at: str | None
    heartbeat_at: str | None
    stopped_at: str | None
    mode: str | None
    sim_date: str | None
    version: str | None
    state: str | None


class State(StrEnum):
    """The daemon loop's state, stored as its text in `daemon.state`."""

    STARTING = "starting"
    WAITING = "waiting"  # a replay with nothing to replay yet
    RUNNING = "running"
    FINISHED = "finished"  # a replay at the end of its data, still serving commands
    STOPPING = "stopping"
    STOPPED = "stopped"


def started(db: sqlite_utils.Database, *, pid: int, mode: str, version: str) -> None:
    now = utcnow()
    with immediate(db):
        db.execute(
            "INSERT INTO daemon (id, pid, started_at, heartbeat_at, stopped_at, mode, sim_date, version) "
            "VALUES (1, ?, ?, ?, NULL, ?, NULL, ?) ON CONFLICT (id) DO UPDATE SET "
            "pid = excluded.pid, started_at = excluded.started_at, heartbeat_at = excluded.heartbeat_at, "
            "stopped_at = NULL, mode = excluded.mode, sim_date = NULL, version = excluded.version",
            [pid, now, now, mode, version],
        )


def heartbeat(db: sqlite_utils.Database, *, sim_date: date | None = None) -> None:
    with immediate(db):
        db.execute(
            "UPDATE daemon SET heartbeat_at = ?, sim_date = COALESCE(?, sim_date) WHERE id = 1",
            [utcnow(), None if sim_date is None else sim_date.isoformat()],
        )


def stopped(db: sqlite_utils.Database) -> None:
    with immediate(db):
        db.execute("UPDATE daemon SET stopped_at = ? WHERE id = 1", [utcnow()])


def read(db: sqlite_utils.Database) -> DaemonRow | None:
    cur = db.execute("SELECT * FROM daemon WHERE id = 1")
    row = cur.fetchone()
    if row is None:
        return None
    return cast(DaemonRow, dict(zip([c[0] for c in cur.description], row, strict=True)))


def set_state(db: sqlite_utils.Database, state: State, *, sim_date: date | None = None) -> None:
    """Where the loop is (see `State`). Also a heartbeat."""
    with immediate(db):
        db.execute(
            "UPDATE daemon SET state = ?, heartbeat_at = ?, sim_date = COALESCE(?, sim_date) "
            "WHERE id = 1",
            [state.value, utcnow(), None if sim_date is None else sim_date.isoformat()],
        )
