"""The dashboard's watchlist: one row per watched symbol (last close and change, regime,
latest call, hit rate next to its baseline, range coverage, rank, live quote), and where
the stale symbols' bars came from."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TypedDict

import sqlite_utils

from store import quotes
from store.freshness import sessions_between
from store.quotes import LiveQuote
from store.rankings import Ranking
from store.views.calls import HIT_WINDOW, LatestCall, baseline
from store.views.read import MAX_DATE, rows
from vocab.scoring import Baseline, stale_sessions


class WatchRow(TypedDict):
    """One watched symbol on the dashboard."""

    symbol: str
    last_date: str | None
    stale_sessions: int  # 0: fresh
    close: float | None
    change_pct: float | None
    regime: str | None
    call: LatestCall | None
    n: int  # verified UP/DOWN calls behind hit_rate
    hit_rate: float | None
    baseline: float | None
    baseline_name: Baseline  # which baseline `baseline` is
    n80: int  # verified calls with an 80% range behind coverage80
    coverage80: float | None
    ranking: Ranking | None
    live: LiveQuote | None  # the latest quote read against the day's call (store.quotes)


def watchlist(
    db: sqlite_utils.Database,
    window: int = HIT_WINDOW,
    today: str | None = None,
    as_of: date | None = None,
) -> list[WatchRow]:
    """One row per watched symbol: last close and change, regime, latest call, hit rate, and
    how many sessions old its newest bar is on `today` (stale beyond STALE_AFTER_SESSIONS).

    `as_of` (a replay's clock): the close, regime, latest call and rank as of that session,
    not the later ones a home may already hold."""
    until = as_of.isoformat() if as_of else MAX_DATE
    out = []
    active = db.execute(
        "SELECT symbol, exchange FROM symbols WHERE active = 1 ORDER BY symbol"
    ).fetchall()
    ranks = ranked_now(db, [symbol for symbol, _ in active], as_of)
    for symbol, exchange in active:
        bars = db.execute(
            "SELECT date, close FROM bars WHERE symbol = ? AND date <= ? "
            "ORDER BY date DESC LIMIT 2",
            [symbol, until],
        ).fetchall()
        age = sessions_between(db, exchange, bars[0][0], today) if bars and today else 0
        reg = db.execute(
            "SELECT regime FROM regimes WHERE symbol = ? AND date <= ? ORDER BY date DESC LIMIT 1",
            [symbol, until],
        ).fetchone()
        # The latest call: newest as_of, shortest horizon among that day's calls.
        call = rows(
            db,
            LatestCall,
            "SELECT id, as_of, horizon, direction, pred_change_pct, confidence, "
            "model_version, status, lower, upper FROM predictions WHERE symbol = ? "
            "AND as_of <= ? ORDER BY as_of DESC, horizon ASC, made_at DESC LIMIT 1",
            [symbol, until],
        )
        latest = call[0] if call else None
        # (n, hits, always-up hits, majority hits) over the last `window` directional calls,
        # summed by SQLite (index-only) rather than row by row here
        n, hits, ups, majs = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(hit), 0), COALESCE(SUM(up_hit), 0), "
            "COALESCE(SUM(majority_hit), 0) FROM (SELECT hit, up_hit, majority_hit "
            "FROM predictions WHERE symbol = ? AND status = 'verified' AND hit IS NOT NULL "
            "ORDER BY as_of DESC LIMIT ?)",
            [symbol, window],
        ).fetchone()
        base, name = baseline(n, ups, majs)
        # Realized coverage of the 80% range over the same window of verified calls that
        # carried a range (covered80 is NULL for a call made without one).
        n80, in80 = db.execute(
            "SELECT COUNT(c), COALESCE(SUM(c), 0) FROM (SELECT covered80 AS c FROM predictions "
            "WHERE symbol = ? AND status = 'verified' AND covered80 IS NOT NULL "
            "ORDER BY as_of DESC LIMIT ?)",
            [symbol, window],
        ).fetchone()
        # The ranking model's newest rank, at the same horizon as the latest call.
        mine = ranks.get(symbol, {})
        h = latest["horizon"] if latest else min(mine, default=None)
        out.append(
            WatchRow(
                symbol=symbol,
                last_date=bars[0][0] if bars else None,
                stale_sessions=stale_sessions(age),
                close=bars[0][1] if bars else None,
                change_pct=(
                    (bars[0][1] / bars[1][1] - 1) * 100 if len(bars) == 2 and bars[1][1] else None
                ),
                regime=reg[0] if reg else None,
                call=latest,
                n=n,
                hit_rate=hits / n if n else None,
                baseline=base,
                baseline_name=name,
                n80=n80,
                coverage80=in80 / n80 if n80 else None,
                ranking=mine.get(h) if h is not None else None,
                live=None,
            )
        )
    return out


def with_live(
    db: sqlite_utils.Database, watched: list[WatchRow], now: datetime, replaying: bool
) -> list[WatchRow]:
    """The rows with their latest quotes read against the day's call, at `now` (in a
    replay: the replay's clock). A quote older than the symbol's newest bar is left out."""
    ref = quotes.reference_time(db, replaying, now)
    reads = quotes.read_all(db, ref, {r["symbol"]: r["last_date"] for r in watched})
    for r in watched:
        r["live"] = reads.get(r["symbol"])
    return watched


def ranked_now(
    db: sqlite_utils.Database, active: list[str], as_of: date | None = None
) -> dict[str, dict[int, Ranking]]:
    """Each watched symbol's newest rank per horizon (up to `as_of`), ranked among
    the watched symbols ranked that session: a symbol removed since then leaves the ranks
    (5 watched read 1/5 .. 5/5, not 1/6) and the mean the moves are relative to."""
    newest: dict[str, dict[int, Ranking]] = {}
    for symbol in active:
        cur = db.execute(
            "SELECT horizon, as_of, rank, of, relative, model_version FROM rankings "
            "WHERE symbol = ? AND as_of = (SELECT MAX(as_of) FROM rankings WHERE symbol = ? "
            "AND as_of <= ?) ORDER BY horizon, made_at",
            [symbol, symbol, as_of.isoformat() if as_of else MAX_DATE],
        )
        newest[symbol] = {
            int(h): Ranking(as_of=a, rank=rk, of=n, relative=rel, model_version=m)
            for h, a, rk, n, rel, m in cur
        }
    groups: dict[tuple[int, str], list[Ranking]] = {}
    for mine in newest.values():
        for h, r in mine.items():
            groups.setdefault((h, r["as_of"]), []).append(r)
    for group in groups.values():
        if all(r["of"] == len(group) for r in group):
            continue  # every symbol ranked that session is still watched: as stored
        mean = sum(r["relative"] for r in group) / len(group)
        for i, r in enumerate(sorted(group, key=lambda r: (r["rank"], -r["relative"]))):
            r["rank"], r["of"], r["relative"] = i + 1, len(group), r["relative"] - mean
    return newest


def stale_sources(db: sqlite_utils.Database, symbols: list[str]) -> list[str]:
    """The sources of the given symbols' newest bars, sorted: a symbol whose newest bar came
    from the bundled sample can never be brought up to date by collecting."""
    if not symbols:
        return []
    # one index seek per symbol for its newest date (a GROUP BY over the IN list read
    # every bar of every symbol: most of the dashboard's read at 500 symbols)
    found = db.execute(
        "SELECT DISTINCT b.source FROM (SELECT s.value AS symbol, (SELECT MAX(x.date) "
        "FROM bars x WHERE x.symbol = s.value) AS date FROM json_each(?) s) n "
        "JOIN bars b ON b.symbol = n.symbol AND b.date = n.date",
        [json.dumps(symbols)],
    ).fetchall()
    return sorted(str(r[0]) for r in found)
