"""Macro series values (CPI, unemployment, GDP growth, policy rate) by reference period, with
the date each became known. A (series, period) keeps its first stored value; a later
different value is stored as a revision with its own known_from, never written over the
first (what a past call saw stays what it saw)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import sqlite_utils

from store.db import day_text, immediate, utcnow

COLUMNS = ("period", "value", "known_from", "revision")


def add_values(
    db: sqlite_utils.Database,
    series: str,
    rows: Iterable[tuple[str | date, float, str | date]],
    source: str,
    revised_from: str | date,
) -> tuple[int, int, int]:
    """Store (period, value, known_from) rows of `series`. A period not stored yet is added
    with its known_from; one whose latest stored value differs is stored as a revision known
    from max(known_from, `revised_from`) (the day the revision was seen); an equal value is
    kept. Returns (added, revised, kept). Dates go to SQLite as their ISO text."""
    revised_from = day_text(revised_from)
    added = revised = kept = 0
    stamp = utcnow()
    with immediate(db):
        latest = {
            p: (r, v)
            for p, r, v in db.execute(
                "SELECT period, revision, value FROM macro_values m WHERE series = ? AND "
                "revision = (SELECT MAX(revision) FROM macro_values n "
                "WHERE n.series = m.series AND n.period = m.period)",
                [series],
            ).fetchall()
        }
        for day, value, known_day in rows:
            period, known = day_text(day), day_text(known_day)
            prior = latest.get(period)
            if prior is None:
                rev, when = 0, known
                added += 1
            elif abs(prior[1] - float(value)) <= 1e-9 * max(1.0, abs(prior[1])):
                kept += 1
                continue
            else:
                rev, when = prior[0] + 1, max(known, revised_from)
                revised += 1
            db.execute(
                "INSERT INTO macro_values (series, period, revision, value, known_from, "
                "source, collected_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [series, period, rev, float(value), when, source, stamp],
            )
            latest[period] = (rev, float(value))
    return added, revised, kept


def rows(
    db: sqlite_utils.Database, series: str, known_by: str | None = None
) -> list[tuple[str, float, str, int]]:
    """(period, value, known_from, revision) of `series`, oldest period first; with
    `known_by`, only the rows known on or before that date."""
    sql = "SELECT period, value, known_from, revision FROM macro_values WHERE series = ?"
    params: list[str] = [series]
    if known_by:
        sql, params = sql + " AND known_from <= ?", [*params, known_by]
    return [
        (p, float(v), k, int(r))
        for p, v, k, r in db.execute(sql + " ORDER BY period, revision", params).fetchall()
    ]


def stored_series(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT DISTINCT series FROM macro_values ORDER BY series")]
