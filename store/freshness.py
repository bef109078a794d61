"""When stored data is stale: the one threshold the CLI and the dashboard both use."""

from __future__ import annotations

from datetime import date, timedelta

STALE_AFTER_SESSIONS = 3  # a newest bar more than this many sessions old is stale data


def weekdays_between(start: str, end: str) -> int:
    """Weekdays after `start` up to and including `end` (a session count that ignores
    holidays: the dashboard's estimate; the CLI counts exchange sessions)."""
    a, b = date.fromisoformat(start[:10]), date.fromisoformat(end[:10])
    if b <= a:
        return 0
    full, rest = divmod((b - a).days, 7)
    count = full * 5
    for i in range(1, rest + 1):
        if (a + timedelta(days=full * 7 + i)).weekday() < 5:
            count += 1
    return count
