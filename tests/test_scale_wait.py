"""Issue 34, where a person waits at 500 symbols: the faster paths of `predict`, `report` and
the dashboard give exactly what the ones they replaced gave (each checked against the old
computation, written out here)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import ranking, volatility
from store import bars as bar_store
from store import symbols
from store.views.watchlist import stale_sources
from tests.cycle_fixture import final_closes_many


def _closes(n_sessions: int = 300, n_symbols: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    idx = pd.bdate_range("2015-01-02", periods=n_sessions)
    steps = rng.normal(0, 0.01, size=(n_sessions, n_symbols))
    closes = pd.DataFrame(
        100 * np.exp(np.cumsum(steps, axis=0)),
        index=idx,
        columns=[f"S{i:02d}" for i in range(n_symbols)],
    )
    closes.iloc[-1, 3] = np.nan  # no bar on the last session
    closes.iloc[:200, 8:] = np.nan  # four symbols start late
    closes.iloc[100:140, 5:8] = np.nan  # exactly MIN_SYMBOLS (5) on these dates: ranked
    closes.iloc[150:170, 4:8] = np.nan  # 4 on these: too few, not ranked
    return closes


def test_cross_rank_masks_short_dates_as_where_did():
    wide = ranking.raw_factors(_closes())["ret_5"]
    count = wide.notna().sum(axis=1)
    ranked = (wide.rank(axis=1) - 0.5).div(count, axis=0) - 0.5
    old = ranked.where(count >= ranking.MIN_SYMBOLS, np.nan)
    pd.testing.assert_frame_equal(ranking.cross_rank(wide), old, check_exact=True)
    got = ranking.cross_rank(wide)
    assert got.iloc[:5].isna().all().all()  # ret_5 unknown: masked
    assert got.iloc[120].notna().sum() == ranking.MIN_SYMBOLS  # just enough: ranked
    assert got.iloc[160].isna().all()  # too few: masked


def test_features_of_one_date_equal_that_date_of_the_whole_frame():
    closes = _closes()
    whole = ranking.features(closes)
    for day in (closes.index[-1], closes.index[-30], closes.index[100]):
        one = ranking.features(closes, dates=pd.DatetimeIndex([day]))
        assert set(one.index.get_level_values("date")) == {day}
        pd.testing.assert_frame_equal(one, whole.xs(day, level="date", drop_level=False))
    missing = ranking.features(closes, dates=pd.DatetimeIndex([pd.Timestamp("2030-01-02")]))
    assert missing.empty


def test_realized_variance_of_several_horizons_equals_each_alone():
    close = _closes()["S00"]
    got = volatility.future_realized_vars(close, [1, 3, 5])
    for h in (1, 3, 5):
        sq = volatility.close_to_close_var(close)
        pd.testing.assert_series_equal(got[h], sq.rolling(h, min_periods=h).sum().shift(-h))


def _bar(db, sym: str, day: str, close: float, source: str, provisional: int = 0) -> None:
    db.execute(
        "INSERT INTO bars (symbol, date, open, high, low, close, raw_close, provisional, source) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [sym, day, close, close, close, close, close, provisional, source],
    )


def test_final_closes_equal_loaded_bars_less_provisional_ones(db):
    symbols.add(db, ["AAA", "BBB", "CCC"], "csv")
    _bar(db, "AAA", "2024-01-02", 10.0, "csv")
    _bar(db, "AAA", "2024-01-03", 11.5, "csv")
    _bar(db, "AAA", "2024-01-04", 12.25, "yahoo", provisional=1)
    _bar(db, "BBB", "2024-01-03", 7.0, "yahoo")
    db.conn.commit()
    got = final_closes_many(db, ["AAA", "BBB", "CCC"])
    for sym in ("AAA", "BBB", "CCC"):
        bars = bar_store.load(db, sym)
        old = bars.loc[bars["provisional"] == 0, "close"].astype(float)
        pd.testing.assert_series_equal(got[sym], old, check_index_type=True)
    assert got["AAA"].tolist() == [10.0, 11.5]


def test_stale_sources_name_each_symbol_newest_bars_source(db):
    symbols.add(db, ["AAA", "BBB", "CCC", "DDD"], "csv")
    _bar(db, "AAA", "2024-01-02", 10.0, "yahoo")
    _bar(db, "AAA", "2024-01-03", 10.0, "sample")  # the newest decides
    _bar(db, "BBB", "2024-01-02", 10.0, "sample")
    _bar(db, "BBB", "2024-01-05", 10.0, "csv")
    _bar(db, "CCC", "2024-01-04", 10.0, "yahoo")
    db.conn.commit()
    old = db.execute(  # the query it replaced
        "SELECT DISTINCT b.source FROM bars b JOIN (SELECT symbol, MAX(date) AS date FROM bars "
        "WHERE symbol IN (?, ?, ?) GROUP BY symbol) n ON b.symbol = n.symbol AND b.date = n.date",
        ["AAA", "BBB", "DDD"],
    ).fetchall()
    assert stale_sources(db, ["AAA", "BBB", "DDD"]) == sorted(r[0] for r in old)
    assert stale_sources(db, ["AAA", "BBB", "DDD"]) == ["csv", "sample"]
    assert stale_sources(db, ["DDD"]) == []
