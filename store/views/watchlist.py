"""The dashboard's watchlist: one row per watched symbol (last close and change, regime,
latest call, hit rate next to its baseline, range coverage, rank, live quote), and where
the stale symbols' bars came from."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TypedDict, cast

import sqlite_utils

from store import quotes
from store.freshness import sessions_between
from store.quotes import LiveQuote
from store.rankings import Ranking
from store.views.calls import HIT_WINDOW, LatestCall, baseline
from store.views.read import MAX_DATE
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


# the latest call's columns, as LatestCall names them
CALL_COLUMNS = (
    "id", "as_of", "horizon", "direction", "pred_change_pct", "confidence", "model_version",
    "status", "lower", "upper",
)  # fmt: skip

# Every watched symbol's row in ONE statement: per symbol, index seeks in correlated
# subqueries (the newest two bars, the regime, the latest call, the hit and coverage
# windows, the holidays since the newest bar), the same seeks the per-symbol queries made
# but without ~3,000 round trips through Python (tests/test_dashboard_set_based.py keeps the
# per-symbol code and compares every field). The windows' sums come as one text each
# (integers only: no float goes through text).
WATCHLIST_SQL = f"""
SELECT s.symbol, s.exchange, b1.date, b1.close, b2.close,
  (SELECT regime FROM regimes WHERE symbol = s.symbol AND date <= :until
   ORDER BY date DESC LIMIT 1),
  {", ".join(f"p.{c}" for c in CALL_COLUMNS)},
  (SELECT COUNT(*) || ' ' || COALESCE(SUM(hit), 0) || ' ' || COALESCE(SUM(up_hit), 0)
   || ' ' || COALESCE(SUM(majority_hit), 0) FROM (SELECT hit, up_hit, majority_hit
   FROM predictions WHERE symbol = s.symbol AND status = 'verified' AND hit IS NOT NULL
   ORDER BY as_of DESC LIMIT :window)),
  (SELECT COUNT(c) || ' ' || COALESCE(SUM(c), 0) FROM (SELECT covered80 AS c
   FROM predictions WHERE symbol = s.symbol AND status = 'verified'
   AND covered80 IS NOT NULL ORDER BY as_of DESC LIMIT :window)),
  (SELECT COUNT(*) FROM holidays WHERE exchange = s.exchange
   AND date > substr(b1.date, 1, 10) AND date <= substr(:today, 1, 10))
FROM symbols s
LEFT JOIN bars b1 ON b1.symbol = s.symbol
  AND b1.date = (SELECT MAX(date) FROM bars WHERE symbol = s.symbol AND date <= :until)
LEFT JOIN bars b2 ON b2.symbol = s.symbol
  AND b2.date = (SELECT MAX(date) FROM bars WHERE symbol = s.symbol AND date < b1.date)
LEFT JOIN predictions p ON p.id = (SELECT id FROM predictions WHERE symbol = s.symbol
  AND as_of <= :until ORDER BY as_of DESC, horizon ASC, made_at DESC LIMIT 1)
WHERE s.active = 1 ORDER BY s.symbol
"""


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
    found = db.execute(
        WATCHLIST_SQL, {"until": until, "window": window, "today": today or ""}
    ).fetchall()
    ranks = ranked_now(db, [r[0] for r in found], as_of)
    out = []
    for r in found:
        symbol, exchange, last_date, close, prev_close, regime = r[:6]
        # The latest call: newest as_of, shortest horizon among that day's calls.
        latest = (
            cast(LatestCall, dict(zip(CALL_COLUMNS, r[6:16], strict=True)))
            if r[6] is not None
            else None
        )
        # (n, hits, always-up hits, majority hits) over the last `window` directional calls,
        # and the 80% range's realized coverage over the same window of verified calls that
        # carried a range (covered80 is NULL for a call made without one)
        n, hits, ups, majs = (int(x) for x in r[16].split())
        n80, in80 = (int(x) for x in r[17].split())
        base, name = baseline(n, ups, majs)
        age = (
            sessions_between(db, exchange, last_date, today, closed=r[18])
            if last_date is not None and today
            else 0
        )
        # The ranking model's newest rank, at the same horizon as the latest call.
        mine = ranks.get(symbol, {})
        h = latest["horizon"] if latest else min(mine, default=None)
        out.append(
            WatchRow(
                symbol=symbol,
                last_date=last_date,
                stale_sessions=stale_sessions(age),
                close=close,
                change_pct=(
                    (close / prev_close - 1) * 100 if last_date is not None and prev_close else None
                ),
                regime=regime,
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
    # one statement: per symbol, an index seek for its newest session up to `as_of` and
    # that session's rows, in the order given (ties in the regrouping below keep it)
    newest: dict[str, dict[int, Ranking]] = {symbol: {} for symbol in active}
    cur = db.execute(
        "SELECT r.symbol, r.horizon, r.as_of, r.rank, r.of, r.relative, r.model_version "
        "FROM json_each(:symbols) j JOIN rankings r ON r.symbol = j.value AND r.as_of = "
        "(SELECT MAX(as_of) FROM rankings WHERE symbol = j.value AND as_of <= :as_of) "
        "ORDER BY j.key, r.horizon, r.made_at",
        {"symbols": json.dumps(active), "as_of": as_of.isoformat() if as_of else MAX_DATE},
    )
    for symbol, h, a, rk, n, rel, m in cur:
        newest[symbol][int(h)] = Ranking(as_of=a, rank=rk, of=n, relative=rel, model_version=m)
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
