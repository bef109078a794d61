"""When stored data is stale: the one session count that the CLI and the dashboard both use
(the threshold and the rule are `vocab.scoring.stale_sessions`).

The app (which has the exchange calendars) records each watched symbol's exchange and
that exchange's holidays, weekdays with no session, over the span it checked
(`record_calendar`); `sessions_between` counts sessions from them: every day for a 24/7
market, weekdays for 24/5, weekdays less holidays elsewhere. An exchange not recorded
yet (a home no app command has opened since) falls back to weekdays.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

import sqlite_utils

from store.db import immediate


def weekdays_between(start: str | date, end: str | date) -> int:
    """Weekdays after `start` up to and including `end` (dates, or stored ISO text)."""
    a, b = (d if isinstance(d, date) else date.fromisoformat(d[:10]) for d in (start, end))
    if b <= a:
        return 0
    full, rest = divmod((b - a).days, 7)
    count = full * 5
    for i in range(1, rest + 1):
        if (a + timedelta(days=full * 7 + i)).weekday() < 5:
            count += 1
    return count


def sessions_between(
    db: sqlite_utils.Database, exchange: str | None, start: str, end: str, closed: int | None = None
) -> int:
    """Sessions of `exchange` after `start` up to and including `end` (as
    `assistant.calendar.sessions_between` counts them, from the recorded holidays).
    `closed`: the recorded holidays in that span, when the caller has counted them already
    (the watchlist, for every symbol in one statement)."""
    if exchange == "24/7":
        return max(0, (date.fromisoformat(end[:10]) - date.fromisoformat(start[:10])).days)
    n = weekdays_between(start, end)
    if not exchange or exchange == "24/5" or n == 0:
        return n
    if closed is None:
        (closed,) = db.execute(
            "SELECT COUNT(*) FROM holidays WHERE exchange = ? AND date > ? AND date <= ?",
            [exchange, start[:10], end[:10]],
        ).fetchone()
    return n - int(closed)


def calendar_needed(db: sqlite_utils.Database, through: date) -> bool:
    """Whether a watched symbol's exchange, or its holidays through `through`, are not
    recorded yet (cheap: the app then loads its calendars and records them)."""
    row = db.execute(
        "SELECT 1 FROM symbols s LEFT JOIN calendar_spans c ON c.exchange = s.exchange "
        "WHERE s.active = 1 AND (s.exchange IS NULL OR (s.exchange NOT IN ('24/7', '24/5') "
        "AND (c.end IS NULL OR c.end < ?))) LIMIT 1",
        [through.isoformat()],
    ).fetchone()
    return row is not None


def record_calendar(
    db: sqlite_utils.Database,
    exchanges: dict[str, str],
    holidays: Mapping[str, tuple[date, date, Iterable[date]]],
) -> None:
    """Record symbol -> exchange, and per exchange (start, end, holidays in that span)."""
    with immediate(db):
        db.conn.executemany(
            "UPDATE symbols SET exchange = ? WHERE symbol = ?",
            [(ex, sym) for sym, ex in exchanges.items()],
        )
        for ex, (start, end, days) in holidays.items():
            db.conn.execute("DELETE FROM holidays WHERE exchange = ?", [ex])
            db.conn.executemany(
                "INSERT INTO holidays (exchange, date) VALUES (?, ?)",
                [(ex, d.isoformat()) for d in days],
            )
            db.conn.execute(
                "INSERT OR REPLACE INTO calendar_spans (exchange, start, end) VALUES (?, ?, ?)",
                [ex, start.isoformat(), end.isoformat()],
            )
