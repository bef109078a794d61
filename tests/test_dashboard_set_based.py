"""The dashboard's watchlist and regimes read set-based (a few statements over every watched
symbol) give exactly what the per-symbol queries gave: the per-symbol code is kept as the
reference (here; the regimes' is regime_state, which the symbol screen still uses) and every field of every row is compared on a home with the awkward cases (gaps,
a symbol with no bars, one bar, a zero close, no calls, no ranks, a new symbol, a removed
one still ranked, holidays, 24/7 and 24/5 markets, ties at the hit window's edge, replays).
Mutations of the statement must make the comparison fail."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest
import sqlite_utils

from store.freshness import sessions_between
from store.rankings import Ranking
from store.views import regimes as regime_view
from store.views import watchlist as view
from store.views.calls import HIT_WINDOW, LatestCall, baseline
from store.views.read import MAX_DATE, rows
from vocab.scoring import stale_sessions

# ---- the reference: the per-symbol code as it was before the set-based read ----


def ref_watchlist(
    db: sqlite_utils.Database,
    window: int = HIT_WINDOW,
    today: str | None = None,
    as_of: date | None = None,
) -> list[view.WatchRow]:
    until = as_of.isoformat() if as_of else MAX_DATE
    out = []
    active = db.execute(
        "SELECT symbol, exchange FROM symbols WHERE active = 1 ORDER BY symbol"
    ).fetchall()
    ranks = ref_ranked_now(db, [symbol for symbol, _ in active], as_of)
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
        call = rows(
            db,
            LatestCall,
            "SELECT id, as_of, horizon, direction, pred_change_pct, confidence, "
            "model_version, status, lower, upper FROM predictions WHERE symbol = ? "
            "AND as_of <= ? ORDER BY as_of DESC, horizon ASC, made_at DESC LIMIT 1",
            [symbol, until],
        )
        latest = call[0] if call else None
        n, hits, ups, majs = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(hit), 0), COALESCE(SUM(up_hit), 0), "
            "COALESCE(SUM(majority_hit), 0) FROM (SELECT hit, up_hit, majority_hit "
            "FROM predictions WHERE symbol = ? AND status = 'verified' AND hit IS NOT NULL "
            "ORDER BY as_of DESC LIMIT ?)",
            [symbol, window],
        ).fetchone()
        base, name = baseline(n, ups, majs)
        n80, in80 = db.execute(
            "SELECT COUNT(c), COALESCE(SUM(c), 0) FROM (SELECT covered80 AS c FROM predictions "
            "WHERE symbol = ? AND status = 'verified' AND covered80 IS NOT NULL "
            "ORDER BY as_of DESC LIMIT ?)",
            [symbol, window],
        ).fetchone()
        mine = ranks.get(symbol, {})
        h = latest["horizon"] if latest else min(mine, default=None)
        out.append(
            view.WatchRow(
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


def ref_ranked_now(
    db: sqlite_utils.Database, active: list[str], as_of: date | None = None
) -> dict[str, dict[int, Ranking]]:
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
            continue
        mean = sum(r["relative"] for r in group) / len(group)
        for i, r in enumerate(sorted(group, key=lambda r: (r["rank"], -r["relative"]))):
            r["rank"], r["of"], r["relative"] = i + 1, len(group), r["relative"] - mean
    return newest


# ---- the home ----

START = date(2018, 1, 1)
SESSIONS = [
    START + timedelta(days=i) for i in range(120) if (START + timedelta(days=i)).weekday() < 5
]
HOLIDAYS = ["2018-01-15", "2018-02-19", "2018-04-02", "2018-04-09", "2018-05-28"]  # weekdays


def _fill(db: sqlite_utils.Database) -> None:
    rnd = random.Random(34)
    # symbol -> (active, exchange, what it holds)
    kinds = {
        "AAA": (1, "XNYS", "full"),
        "BBB": (1, "24/7", "full"),
        "CCC": (1, "24/5", "full"),
        "DDD": (1, None, "full"),
        "EEE": (1, "XNYS", "full"),
        "GAP": (1, "XNYS", "gappy"),  # stopped a month early, gaps in everything
        "NEW": (1, None, "nothing"),  # just added: no bars, calls, regimes or ranks
        "NOB": (1, "XNYS", "no bars"),  # calls and ranks, but no bars
        "NOM": (1, "XNYS", "no calls"),  # bars and regimes, no model ever called it
        "ONE": (1, "XNYS", "one bar"),
        "ZER": (1, "XNYS", "zero close"),  # the bar before the newest closed at 0
        "OLD": (0, "XNYS", "full"),  # removed, but ranked in the sessions it was watched
    }
    db.conn.executemany(
        "INSERT INTO symbols (symbol, active, source, added_at, exchange) VALUES (?, ?, ?, ?, ?)",
        [(s, a, "sample", "2018-01-01T00:00:00+00:00", ex) for s, (a, ex, _) in kinds.items()],
    )
    db.conn.executemany(
        "INSERT INTO holidays (exchange, date) VALUES ('XNYS', ?)", [(d,) for d in HOLIDAYS]
    )
    bars, regimes, preds, ranks = [], [], [], []
    for s, (_, _, what) in kinds.items():
        if what == "nothing":
            continue
        days = [d.isoformat() for d in SESSIONS if d.isoformat() not in HOLIDAYS]
        if what == "gappy":
            days = [d for d in days[:-20] if rnd.random() < 0.6]
        bar_days = [] if what == "no bars" else days[-1:] if what == "one bar" else days
        price = 50 + rnd.random() * 50
        for i, d in enumerate(bar_days):
            price *= 1 + rnd.gauss(0, 0.02)
            close = 0.0 if what == "zero close" and i == len(bar_days) - 2 else price
            bars.append((s, d, close, close, close, close, 1000, close, "sample"))
        # regimes that hold for a while; DDD's never changes (held through the look-back),
        # nor EEE's (with fewer rows than the look-back)
        regime, change = "bullish", 0.0 if s in ("DDD", "EEE") else 0.15
        for d in days:
            if rnd.random() < change:
                regime = rnd.choice(["bullish", "bearish", "sideways"])
            if s == "DDD" or rnd.random() < 0.7:
                regimes.append((s, d, regime, rnd.gauss(0, 1), None if rnd.random() < 0.2 else 0.2))
        if what != "no calls":
            for i, d in enumerate(days[:-2]):
                if rnd.random() < 0.25:
                    continue  # a session without a call
                for h in rnd.sample([1, 5, 20], rnd.randint(1, 3)):
                    for mv in rnd.sample(["xgb-1", "lstm-2"], rnd.randint(1, 2)):
                        mature = i + h < len(days) - 2
                        status = "verified" if mature else rnd.choice(["pending", "expired"])
                        direction = rnd.choice(["up", "down", "flat"])
                        hit = rnd.randint(0, 1) if mature and direction != "flat" else None
                        # made_at ties across model versions: the order falls to the plan
                        made = f"{d}T21:{rnd.randint(0, 1):02d}:00+00:00"
                        lo = None if rnd.random() < 0.3 else price * 0.95
                        preds.append(
                            (
                                s,
                                d,
                                h,
                                mv,
                                made,
                                days[min(i + h, len(days) - 1)],
                                price,
                                rnd.gauss(0, 2),
                                price,
                                direction,
                                None if rnd.random() < 0.2 else rnd.random(),
                                status,
                                hit,
                                rnd.randint(0, 1) if hit is not None else None,
                                rnd.randint(0, 1) if hit is not None else None,
                                rnd.randint(0, 1) if mature and lo is not None else None,
                                lo,
                                None if lo is None else price * 1.05,
                            )
                        )
    ranked = [s for s, (_, _, what) in kinds.items() if what in ("full", "no bars")]
    for d in (d.isoformat() for d in SESSIONS[::5]):
        for h in (5, 20):
            todays = [s for s in ranked if s == "OLD" or rnd.random() < 0.9]
            rel = {s: rnd.gauss(0, 0.01) for s in todays}
            for r, s in enumerate(sorted(todays, key=lambda s: -rel[s])):
                ranks.append((s, d, h, "rank-1", r + 1, len(todays), rel[s], f"{d}T22:00:00"))
    db.conn.executemany(
        "INSERT INTO bars (symbol, date, open, high, low, close, volume, raw_close, source) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        bars,
    )
    db.conn.executemany(
        "INSERT INTO regimes (symbol, date, regime, trend, volatility) VALUES (?, ?, ?, ?, ?)",
        regimes,
    )
    db.conn.executemany(
        "INSERT INTO predictions (symbol, as_of, horizon, model_version, made_at, target_date, "
        "base_price, pred_change_pct, pred_price, direction, confidence, status, hit, up_hit, "
        "majority_hit, covered80, lower, upper) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        preds,
    )
    db.conn.executemany(
        "INSERT INTO rankings (symbol, as_of, horizon, model_version, rank, of, relative, "
        "made_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        ranks,
    )
    db.conn.commit()


@pytest.fixture
def filled(db):
    _fill(db)
    return db


LAST = SESSIONS[-1]
# (window, today, as_of): the live dashboard, stale days, a replay's clock, a window that
# cuts through one session's calls, no today (a replay before its first session)
READS = [
    (HIT_WINDOW, LAST.isoformat(), None),
    (HIT_WINDOW, (LAST + timedelta(days=40)).isoformat(), None),
    (HIT_WINDOW, "2018-04-20", date(2018, 3, 1)),
    (HIT_WINDOW, "2018-01-20", date(2018, 1, 3)),
    (HIT_WINDOW, "2017-12-01", date(2017, 12, 1)),  # before anything
    (7, "2018-05-30", None),
    (HIT_WINDOW, "2018-04-09", date(2018, 4, 6)),  # today a holiday
    (3, "2018-04-16T20:00:00", date(2018, 4, 6)),
    (HIT_WINDOW, None, date(2018, 3, 1)),
    (HIT_WINDOW, "", None),
]


def _differences(db: sqlite_utils.Database) -> list[tuple[object, ...]]:
    """Every (read, symbol, field) where the set-based read and the reference differ."""
    diffs: list[tuple[object, ...]] = []
    for window, today, as_of in READS:
        got = view.watchlist(db, window=window, today=today, as_of=as_of)
        want = ref_watchlist(db, window=window, today=today, as_of=as_of)
        if [r["symbol"] for r in got] != [r["symbol"] for r in want]:
            diffs.append((window, today, as_of, "symbols"))
            continue
        for g, w in zip(got, want, strict=True):
            for field in w:
                if g[field] != w[field] or type(g[field]) is not type(w[field]):
                    diffs.append((window, today, as_of, w["symbol"], field))
            if list(g) != list(w):
                diffs.append((window, today, as_of, w["symbol"], "key order"))
    return diffs


def test_the_set_based_watchlist_reads_every_field_as_the_per_symbol_queries_did(filled):
    assert _differences(filled) == []
    # the home holds the cases the comparison is about (so the check above can fail)
    rows = view.watchlist(filled, today=(LAST + timedelta(days=40)).isoformat())
    by = {r["symbol"]: r for r in rows}
    assert "OLD" not in by and by["NEW"]["last_date"] is None and by["NEW"]["call"] is None
    assert by["NOB"]["close"] is None and by["NOB"]["call"] and view.ranked_now(filled, ["NOB"])
    assert by["ONE"]["close"] and by["ONE"]["change_pct"] is None
    assert by["ZER"]["close"] and by["ZER"]["change_pct"] is None
    assert by["NOM"]["call"] is None and by["NOM"]["n"] == 0 and by["NOM"]["regime"]
    assert any(r["ranking"] for r in rows) and any(r["ranking"] is None for r in rows)
    # holidays count against the age on XNYS, not on 24/5; every day counts on 24/7
    ages = {s: by[s]["stale_sessions"] for s in ("AAA", "CCC", "BBB")}
    assert ages["AAA"] < ages["CCC"] < ages["BBB"]
    assert any(r["coverage80"] is not None for r in rows)
    assert any(r["n"] and r["n80"] and r["n"] != r["n80"] for r in rows)
    replay = view.watchlist(filled, today="2018-04-20", as_of=date(2018, 3, 1))
    assert max(r["last_date"] or "" for r in replay) <= "2018-03-01"


def test_the_ranks_read_set_based_match_the_per_symbol_reads(filled):
    active = [s for (s,) in filled.execute("SELECT symbol FROM symbols WHERE active = 1")]
    for as_of in (date(2018, 3, 1), date(2018, 1, 1), date(2017, 1, 1), None):
        got, want = view.ranked_now(filled, active, as_of), ref_ranked_now(filled, active, as_of)
        assert got == want and list(got) == list(want)
        assert [list(v) for v in got.values()] == [list(v) for v in want.values()]
    # (None, the last:) the newest ranks were regrouped without the removed symbol
    stored = filled.execute(
        "SELECT of FROM rankings WHERE symbol = 'AAA' AND horizon = 5 ORDER BY as_of DESC"
    ).fetchone()[0]
    assert got["AAA"][5]["of"] == stored - 1
    # the symbols in another order (the symbol screen's list is not sorted): the same ranks
    rev = active[::-1]
    assert view.ranked_now(filled, rev, None) == ref_ranked_now(filled, rev, None)
    assert any(r["of"] != len(active) for v in want.values() for r in v.values())


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("date < b1.date", "date <= b1.date"),  # the bar before the newest
        ("horizon ASC, made_at DESC", "horizon DESC, made_at DESC"),  # which call is latest
        ("horizon ASC, made_at DESC", "horizon ASC, made_at ASC"),
        ("AND date <= :until\n   ORDER BY date DESC", "ORDER BY date DESC"),  # regime as of
        (
            "ORDER BY as_of DESC LIMIT :window)),\n  (SELECT COUNT(c)",
            "LIMIT :window)),\n  (SELECT COUNT(c)",
        ),
        ("AND hit IS NOT NULL", ""),  # FLAT calls in the hit window
        ("AND covered80 IS NOT NULL ORDER", "ORDER"),
        ("date <= substr(:today, 1, 10)", "date < substr(:today, 1, 10)"),  # holidays
        ("status = 'verified' AND hit", "status != 'pending' AND hit"),
        ("WHERE s.active = 1", "WHERE 1"),
    ],
)
def test_a_changed_statement_is_caught(filled, monkeypatch, old, new):
    assert old in view.WATCHLIST_SQL
    monkeypatch.setattr(view, "WATCHLIST_SQL", view.WATCHLIST_SQL.replace(old, new))
    assert _differences(filled) != []


def ref_regime_states(db: sqlite_utils.Database, lookback: int = 60, as_of: date | None = None):
    """The regimes panel as it was read: regime_state for each watched symbol."""
    out = []
    for (symbol,) in db.execute(
        "SELECT symbol FROM symbols WHERE active = 1 ORDER BY symbol"
    ).fetchall():
        state = regime_view.regime_state(db, symbol, lookback, as_of)
        if state is not None:
            out.append(state)
    return out


REGIME_READS = [
    (lookback, as_of)
    for lookback in (60, 5, 1, 200)
    for as_of in (None, date(2018, 3, 1), date(2018, 1, 2), date(2017, 1, 1))
]


def _regime_differences(db: sqlite_utils.Database) -> list[tuple[object, ...]]:
    diffs: list[tuple[object, ...]] = []
    for lookback, as_of in REGIME_READS:
        got = regime_view.regime_states(db, lookback, as_of)
        want = ref_regime_states(db, lookback, as_of)
        if [r["symbol"] for r in got] != [r["symbol"] for r in want]:
            diffs.append((lookback, as_of, "symbols"))
            continue
        for g, w in zip(got, want, strict=True):
            for field in w:
                if g[field] != w[field] or type(g[field]) is not type(w[field]):
                    diffs.append((lookback, as_of, w["symbol"], field))
            if list(g) != list(w):
                diffs.append((lookback, as_of, w["symbol"], "key order"))
    return diffs


def test_the_set_based_regimes_read_what_regime_state_reads_for_each_symbol(filled):
    assert _regime_differences(filled) == []
    # the cases: held through the look-back, held with fewer rows, changed inside it
    by = {r["symbol"]: r for r in regime_view.regime_states(filled)}
    assert "NEW" not in by and "OLD" not in by
    assert by["DDD"]["at_least"] and by["DDD"]["sessions"] == 60
    assert by["EEE"]["at_least"] and by["EEE"]["sessions"] < 60
    changed = [r for r in by.values() if not r["at_least"]]
    assert changed and len({r["sessions"] for r in changed}) > 2
    assert any(r["volatility"] is None for r in by.values())


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("OFFSET :lookback - 1", "OFFSET :lookback"),  # the look-back's oldest row
        ("x.regime != r.regime", "x.regime = r.regime"),
        ("AND x.date > COALESCE(t.change, '')", "AND x.date >= COALESCE(t.change, '')"),
        ("AND x.date >= COALESCE(t.first, '')", ""),  # the count bounded by the look-back
        ("AND x.date >= COALESCE(f.first, '')", ""),  # the change looked for inside it
        (
            "WHERE symbol = s.symbol AND date <= :until) AS newest",
            "WHERE symbol = s.symbol) AS newest",
        ),
        ("change IS NULL", "change IS NOT NULL"),
    ],
)
def test_a_changed_regimes_statement_is_caught(filled, monkeypatch, old, new):
    assert old in regime_view.REGIMES_SQL
    monkeypatch.setattr(regime_view, "REGIMES_SQL", regime_view.REGIMES_SQL.replace(old, new))
    assert _regime_differences(filled) != []
