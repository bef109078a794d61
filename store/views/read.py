"""What every view reads through: one read transaction, rows as their named type, and
the bound that stands for "no as-of" (every stored row counts)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TypeVar, cast

import sqlite_utils

MAX_DATE = "9999-12-31"  # no as-of bound: every stored row counts

R = TypeVar("R")


@contextlib.contextmanager
def snapshot(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One read transaction: every query inside sees the same committed state."""
    db.execute("BEGIN")
    try:
        yield db
    finally:
        db.execute("ROLLBACK")


def rows(
    db: sqlite_utils.Database,
    row: type[R],
    sql: str,
    params: list[str | int] | tuple[str | int, ...] = (),
) -> list[R]:
    """The rows of `sql` as `row` (a TypedDict), keyed by the columns selected: the SELECT
    names exactly the row type's keys (tests/test_tui_views.py checks each one)."""
    cur = db.execute(sql, list(params))
    cols = [c[0] for c in cur.description]
    return [cast(R, dict(zip(cols, r, strict=True))) for r in cur.fetchall()]
