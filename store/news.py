"""Headlines per symbol: deduplicated by the source's id (else the link, else the title),
kept with their publish time and the time they were collected (UTC, ISO) and a sentiment
scored when collected."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypedDict

import sqlite_utils

from store.db import immediate, utcnow

# Distinct days of stored headlines a symbol needs before news may become a model feature
# (about a year: enough for a validation split to say whether it helps). Until then the
# headlines are shown, not used.
MIN_HISTORY_DAYS = 250
COLUMNS = ("symbol", "key", "published_at", "title", "publisher", "link", "sentiment")


def add_many(db: sqlite_utils.Database, rows: Iterable[Sequence[object]]) -> int:
    """rows in COLUMNS order; a headline already stored for the symbol is skipped.
    Returns how many were new."""
    stamp = utcnow()
    with immediate(db):
        before = db.conn.total_changes
        db.conn.executemany(
            f"INSERT OR IGNORE INTO news ({', '.join(COLUMNS)}, collected_at) "
            f"VALUES ({', '.join('?' for _ in COLUMNS)}, ?)",
            [(*r, stamp) for r in rows],
        )
        return db.conn.total_changes - before


class Headline(TypedDict):
    published_at: str
    title: str
    publisher: str | None
    link: str | None
    sentiment: float  # the lexicon score, -1..1


def recent(db: sqlite_utils.Database, symbol: str, limit: int = 20) -> list[Headline]:
    """The symbol's newest headlines, newest first."""
    cur = db.execute(
        "SELECT published_at, title, publisher, link, sentiment FROM news WHERE symbol = ? "
        "ORDER BY published_at DESC, id DESC LIMIT ?",
        [symbol, limit],
    )
    return [
        Headline(published_at=p, title=t, publisher=w, link=u, sentiment=s) for p, t, w, u, s in cur
    ]


def stats(
    db: sqlite_utils.Database, symbols: Sequence[str], start: str, end: str, known_by: str
) -> dict[str, tuple[int, float | None]]:
    """Per symbol: (headlines published in [start, end) and collected by `known_by`, their
    mean sentiment). A headline collected later was not known then, whenever published."""
    if not symbols:
        return {}
    cur = db.execute(
        "SELECT symbol, COUNT(*), AVG(sentiment) FROM news WHERE published_at >= ? "
        "AND published_at < ? AND collected_at <= ? "
        f"AND symbol IN ({', '.join('?' for _ in symbols)}) GROUP BY symbol",
        [start, end, known_by, *symbols],
    )
    return {s: (int(n), None if m is None else float(m)) for s, n, m in cur.fetchall()}


def history_days(db: sqlite_utils.Database, symbol: str) -> int:
    """On how many distinct days the symbol's stored headlines were published."""
    row = db.execute(
        "SELECT COUNT(DISTINCT substr(published_at, 1, 10)) FROM news WHERE symbol = ?", [symbol]
    ).fetchone()
    return int(row[0] or 0)
