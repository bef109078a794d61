"""The backtest's table scores exactly the calls it writes, and everything `report` scores:
run as a user runs it (`assistant backtest --json --predictions-out F.csv`, the CLI in-process
on a real home)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from assistant.ingest.sources.synthetic import synthetic_bars
from store import bars as store_bars
from store import symbols
from store.db import immediate, open_db
from tests.cli_fixture import run_cli

NAMES = ("AAA", "BBB", "CCC", "DDD", "EEE")


@pytest.fixture(scope="module")
def backtested(tmp_path_factory):
    home = tmp_path_factory.mktemp("bt") / "home"
    db = open_db(home)
    symbols.add(db, list(NAMES), "synthetic")
    with immediate(db):
        for i, s in enumerate(NAMES):
            store_bars.upsert(db, s, synthetic_bars(650, seed=60 + i, edge=0.5), "synthetic")
    db.close()
    out_csv = home.parent / "calls.csv"
    run = run_cli(
        home,
        "backtest",
        "--models",
        "rules,markov",
        "--horizons",
        "1,3",
        "--retrain-every",
        "126",
        "--json",
        "--predictions-out",
        str(out_csv),
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), pd.read_csv(out_csv), home


def test_the_table_counts_exactly_the_up_down_calls_of_the_csv(backtested):
    report, frame, _ = backtested
    scored = frame[frame["actual_return"].notna()]
    called = scored[scored["call"].isin(["up", "down"])]
    rows = report["results"]
    assert {r["model"] for r in rows} == {"rules", "markov", "ensemble"}
    for r in rows:
        mine = called[(called["model"] == r["model"]) & (called["horizon"] == r["horizon"])]
        if r["symbol"] != "ALL":
            mine = mine[mine["symbol"] == r["symbol"]]
        assert r["n"] == len(mine), (r["model"], r["symbol"], r["horizon"], r["n"], len(mine))
        hits = mine["hit"].mean() if len(mine) else None
        assert r["dir_accuracy"] == (None if hits is None else pytest.approx(hits, abs=1e-4))


def test_the_table_scores_ranges_volatility_and_ranking_like_report(backtested):
    report, frame, _ = backtested
    scored = frame[frame["actual_return"].notna()]
    actual = scored["base_price"] * np.exp(scored["actual_return"])
    inside80 = (scored["lower"] <= actual) & (actual <= scored["upper"])
    # the CSV keeps 6 significant digits: a close that close to a bound may read either side
    tied = ((actual / scored["lower"] - 1).abs() < 2e-5) | (
        (actual / scored["upper"] - 1).abs() < 2e-5
    )
    for r in report["results"]:
        mine = (scored["model"] == r["model"]) & (scored["horizon"] == r["horizon"])
        if r["symbol"] != "ALL":
            mine &= scored["symbol"] == r["symbol"]
        n = int(mine.sum())
        assert r["range80"]["n"] == r["range95"]["n"] == r["volatility"]["n"] == n
        low, high = (inside80 & ~tied)[mine].mean(), (inside80 | tied)[mine].mean()
        assert low - 1e-9 <= r["range80"]["coverage"] <= high + 1e-9
        assert r["range95"]["coverage"] >= r["range80"]["coverage"]
        assert 0 < r["range80"]["interval_score_pct"] < r["range95"]["interval_score_pct"]
        vol = r["volatility"]
        assert vol["qlike"] > 0 and vol["qlike_ewma"] > 0 and vol["qlike_trailing"] > 0
        assert vol["gain_vs_ewma"] == pytest.approx(1 - vol["qlike"] / vol["qlike_ewma"])
        if r["symbol"] == "ALL":  # five symbols: the information coefficient is measured
            assert r["ranking"]["n_days"] > 100 and np.isfinite(r["ranking"]["mean"])


def test_ranges_are_drawn_past_only_as_the_cycle_draws_them(backtested, tmp_path):
    _, frame, home = backtested
    q80 = np.log(frame["upper"] / frame["lower"]) / (2 * frame["vol_sigma"])
    first = frame["as_of"] == frame["as_of"].min()
    # nothing verified by the first call: the Gaussian multiplier, as in a fresh home
    assert np.allclose(q80[first], 1.2816, atol=1e-3)
    # later, the multiplier is chosen from the model's own verified residuals
    assert q80[~first].std() > 0.01
    # the width is the volatility forecast a cycle at that date stores with its call
    day = sorted(frame["as_of"].unique())[200]
    cycle_home = tmp_path / "cycle"
    shutil.copytree(home, cycle_home)
    run = run_cli(cycle_home, "predict", "--as-of", day)
    assert run.returncode == 0, run.stderr
    db = open_db(cycle_home)
    stored = {
        (s, h): sigma
        for s, h, sigma in db.execute(
            "SELECT symbol, horizon, vol_sigma FROM predictions WHERE as_of = ?", [day]
        )
    }
    db.close()
    mine = frame[frame["as_of"] == day]
    assert len(mine) == 3 * len(NAMES) * 2  # three models, two horizons
    for r in mine.itertuples():
        assert r.vol_sigma == pytest.approx(stored[(r.symbol, r.horizon)], rel=1e-4)


def test_the_file_carries_the_bounds_as_returns_and_its_coverage_is_the_reported_one(backtested):
    report, frame, _ = backtested
    scored = frame[frame["actual_return"].notna()]
    for level in (80, 95):
        lo, hi = scored[f"lower{level}"], scored[f"upper{level}"]
        assert (lo < hi).all() and lo.abs().max() < 1 and hi.abs().max() < 1  # returns, not prices
        inside = (lo <= scored["actual_return"]) & (scored["actual_return"] <= hi)
        for r in report["results"]:
            mine = (scored["model"] == r["model"]) & (scored["horizon"] == r["horizon"])
            if r["symbol"] != "ALL":
                mine &= scored["symbol"] == r["symbol"]
            assert r[f"range{level}"]["coverage"] == pytest.approx(inside[mine].mean(), abs=1e-12)
    # the price bounds are the same ranges
    assert np.allclose(
        np.log(frame["upper95_price"] / frame["base_price"]), frame["upper95"], atol=1e-5
    )
