"""Backfill: replay the decision loop over the last N stored sessions, without a daemon.

For each session D, oldest first: run the cycle as of D (it reads only bars up to D, and
serving refuses a model whose training data ended after D), then verify as of D. So a
fresh home gets a scored record at once, made only from what was knowable each day.
Calls are keyed on (symbol, as_of, horizon, model_version): running it again adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import sqlite_utils

from assistant.config import Settings
from assistant.cycle.learn import verify
from assistant.cycle.run import run_cycle
from vocab.dates import session_date


@dataclass
class BackfillReport:
    sessions: list[date]
    calls: int = 0  # calls the cycles produced (new or already recorded)
    new: int = 0  # of which recorded by this run
    verified: int = 0
    hits: int = 0
    flat: int = 0
    expired: int = 0


def last_sessions(db: sqlite_utils.Database, symbols: list[str] | None, n: int) -> list[date]:
    """The last n dates with a final bar for a watched symbol (or `symbols`), oldest first."""
    if symbols:
        marks = ",".join("?" * len(symbols))
        where, params = f"symbol IN ({marks})", list(symbols)
    else:
        where, params = "symbol IN (SELECT symbol FROM symbols WHERE active = 1)", []
    rows = db.execute(
        f"SELECT DISTINCT date FROM bars WHERE provisional = 0 AND {where} "
        "ORDER BY date DESC LIMIT ?",
        [*params, n],
    ).fetchall()
    return [session_date(str(d)[:10]) for (d,) in reversed(rows)]


def backfill(
    db: sqlite_utils.Database,
    home: Path,
    settings: Settings,
    days: list[date],
    symbols: list[str] | None = None,
    on_session: Callable[[date], None] | None = None,
) -> BackfillReport:
    """Cycle then verify as of each of `days` in order; `on_session(day)` after each."""
    report = BackfillReport(sessions=list(days))
    for day in days:
        calls = run_cycle(db, home, settings, symbols, as_of=day)
        report.calls += len(calls)
        report.new += sum(c.new for c in calls)
        v = verify(db, settings, as_of=day)
        report.verified += v.verified
        report.hits += v.hits
        report.flat += v.flat
        report.expired += v.expired
        if on_session:
            on_session(day)
    return report
