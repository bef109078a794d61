"""Outside market series (^VIX, yields): stored as their own series, point in time.

Yahoo is faked at the network boundary with the yfinance fake the bar tests use; offline,
the VIX shipped with `arch` (2014-01-03 … 2019-01-03) is the series' own source.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import yfinance.exceptions as yfe

from assistant.config import Settings
from assistant.cycle.context import world_context
from assistant.ingest.market import ArchVix, YahooSeries, collect_series, series_frame
from assistant.ingest.sources.yahoo import YahooSource
from models import vix
from store import market
from tests.test_data_yahoo import FakeYF, at, yahoo_frame


def yahoo_settings() -> Settings:
    return Settings().replace("collect", source="yahoo", history_years=1)


def test_vix_from_yahoo_is_stored_once_settled_and_never_revised(home, db):
    frame = yahoo_frame("2024-02-01", "2024-03-08", base=13.0, adj=1.0)
    yf = FakeYF({"^VIX": frame, "^TNX": yahoo_frame("2024-02-01", "2024-03-08", base=4.1)})
    # 16:10 New York on 2024-03-08: the stocks have closed, the VIX has not settled yet
    with at("2024-03-08 21:10:00+00:00"):
        got = collect_series(db, yahoo_settings(), YahooSeries(YahooSource(home, yf=yf)))
    by = {r.series: r for r in got}
    assert by["^VIX"].status == "added" and by["^IRX"].status == "no-data"
    assert market.last_date(db, "^VIX") == "2024-03-07"
    assert market.values(db, "^VIX")[0] == ("2024-02-01", 13.0)
    # 16:20: settled; and the source now sends a revised past value, which is not taken
    revised = frame.copy()
    revised.loc[revised.index[0], "Close"] = 99.0
    yf.answers["^VIX"] = revised
    with at("2024-03-08 21:20:00+00:00"):
        again = collect_series(db, yahoo_settings(), YahooSeries(YahooSource(home, yf=yf)))
    assert market.last_date(db, "^VIX") == "2024-03-08"
    assert market.values(db, "^VIX")[0] == ("2024-02-01", 13.0)
    assert {r.series: r.added for r in again}["^VIX"] == 1
    # a value sent again for a stored date (a revision) is kept as first stored
    assert market.add_values(db, "^VIX", [("2024-02-01", 99.0)], "yahoo") == (0, 1)
    assert market.values(db, "^VIX", end="2024-02-01") == [("2024-02-01", 13.0)]


def test_a_rate_limit_writes_no_series_value(home, db):
    yf = FakeYF({"^VIX": yfe.YFRateLimitError()})
    with at("2024-03-08 22:00:00+00:00"):
        got = collect_series(db, yahoo_settings(), YahooSeries(YahooSource(home, yf=yf)))
    assert {r.series: r.status for r in got}["^VIX"] == "failed"
    assert "rate limit" in got[0].message
    assert market.values(db, "^VIX") == []


def test_offline_vix_respects_until(db):
    got = collect_series(db, Settings(), ArchVix(), until="2016-03-14")
    assert got[0].status == "added" and got[0].added > 250
    assert market.last_date(db, "^VIX") == "2016-03-14"
    assert collect_series(db, Settings(), ArchVix(), until="2016-03-14")[0].status == "current"


def test_vix_features_canary_and_values():
    closes = series_frame_from_arch()
    sessions = pd.DatetimeIndex(closes.index)
    full = vix.features(closes, sessions)
    for t in (sessions[300], sessions[700], sessions[-1]):
        cut = vix.features(closes.loc[:t], sessions[sessions <= t])
        pd.testing.assert_series_equal(full.loc[t], cut.loc[t])
        assert full.loc[t].notna().all()
    t = sessions[400]
    window = closes.loc[:t].iloc[-vix.PCT_WINDOW :]
    assert full.loc[t, "vix_pct"] == pytest.approx((window <= closes.loc[t]).mean())
    assert full.loc[t, "vix_chg_5"] == pytest.approx(np.log(closes.loc[t] / closes.iloc[395]))
    # a missing day carries the last value known, never the next one
    gap = closes.drop(sessions[500])
    assert vix.features(gap, sessions).loc[sessions[500], "vix"] == closes.iloc[499]


def series_frame_from_arch() -> pd.Series:
    return ArchVix().history("^VIX", pd.Timestamp("2014-01-01"), pd.Timestamp("2019-12-31"))


def test_context_at_d_sees_the_vix_of_d_and_nothing_later(db):
    collect_series(db, Settings(), ArchVix(), until="2016-12-30")
    full = series_frame(db, "^VIX")
    ctx = world_context(db, {"SPY": date(2016, 3, 14)}, "XNYS")["SPY"]
    assert ctx.vix == full.loc["2016-03-14"] and ctx.vix_date == date(2016, 3, 14)
    # the same context from a store that stops at D: later values change nothing
    cut = market.values(db, "^VIX", end="2016-03-14")
    db.execute("DELETE FROM market_series")
    market.add_values(db, "^VIX", cut, "arch")
    again = world_context(db, {"SPY": date(2016, 3, 14)}, "XNYS")["SPY"]
    assert again == ctx


def test_backtest_and_cycle_draw_the_same_vix_aware_variance(tmp_path):
    """With a ^VIX stored, the backtest's variance per call is the one a cycle at that date
    stores (both take the VIX as the forecast's regressor), and it differs from the plain
    HAR's. Run as a user runs them: `backtest --predictions-out` and `predict --as-of`."""
    import json
    import shutil

    from assistant.ingest.sources.synthetic import synthetic_bars
    from store import bars as store_bars
    from store import symbols
    from store.db import immediate, open_db
    from tests.cli_fixture import run_cli

    home = tmp_path / "home"
    db = open_db(home)
    names = ("AAA", "BBB", "CCC", "DDD", "EEE")
    symbols.add(db, list(names), "synthetic")
    with immediate(db):
        for i, s in enumerate(names):
            store_bars.upsert(db, s, synthetic_bars(650, seed=60 + i), "synthetic")
    sessions = synthetic_bars(650, seed=60).index
    level = series_frame_from_arch().to_numpy()[: len(sessions)]  # a real VIX path, relabelled
    market.add_values(
        db,
        "^VIX",
        [(d.strftime("%Y-%m-%d"), float(v)) for d, v in zip(sessions, level, strict=True)],
        "test",
    )
    db.close()

    def cli(h, *args):
        out = run_cli(h, *args)
        assert out.returncode == 0, out.stderr
        return out.stdout

    csv = tmp_path / "calls.csv"
    cli(home, "backtest", "--models", "rules", "--horizons", "1", "--predictions-out", str(csv))
    frame = pd.read_csv(csv)
    day = sorted(frame["as_of"].unique())[150]
    cycle_home = tmp_path / "cycle"
    shutil.copytree(home, cycle_home)
    cli(cycle_home, "predict", "--as-of", day)
    rows = [json.loads(r) for r in cli(cycle_home, "predictions", "--format", "jsonl").splitlines()]
    assert {r["signals"]["vol"]["model"] for r in rows} == {"har+x"}
    stored = {r["symbol"]: r["vol_sigma"] for r in rows if r["horizon"] == 1}
    mine = frame[frame["as_of"] == day]
    assert len(mine) == len(names)
    for r in mine.itertuples():
        assert r.vol_sigma == pytest.approx(stored[r.symbol], rel=1e-4)
    # without the VIX the same call's variance is the plain HAR's: a different number
    db = open_db(cycle_home)
    with immediate(db):
        db.execute("DELETE FROM market_series")
        db.execute("DELETE FROM predictions")
    db.close()
    cli(cycle_home, "predict", "--as-of", day)
    plain = [
        json.loads(r) for r in cli(cycle_home, "predictions", "--format", "jsonl").splitlines()
    ]
    assert {r["signals"]["vol"]["model"] for r in plain} == {"har"}
    plain = [r for r in plain if r["horizon"] == 1]
    assert all(abs(r["vol_sigma"] / stored[r["symbol"]] - 1) > 1e-3 for r in plain)
