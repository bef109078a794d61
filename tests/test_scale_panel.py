"""Panel computation at scale: symbols on the same sessions are computed as one wide panel,
and must get exactly what each would get alone; a big panel trains on its recent rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assistant import config
from assistant.cycle import analyze as az
from assistant.ingest.sources.synthetic import synthetic_bars
from models import dataset, features, market_features

THRESHOLDS = {"bull_trend": 0.02, "bear_trend": -0.02, "volatile": 0.30}


@pytest.fixture(scope="module")
def bars() -> dict[str, pd.DataFrame]:
    """Five symbols: three on the same sessions, one with holes, one that starts late."""
    out = {s: synthetic_bars(700, seed=i, edge=0.52) for i, s in enumerate("ABCDE")}
    out["D"] = out["D"].drop(out["D"].index[[50, 51, 300]])
    out["E"] = out["E"].iloc[250:]
    return out


def test_panel_rows_equal_each_symbol_alone(bars):
    panel = features.build_panel(bars)
    assert panel.index.is_monotonic_increasing
    assert list(panel.index.get_level_values("symbol").unique()) == sorted(bars)
    for sym, b in bars.items():
        alone = features.build(b)
        got = panel.loc[sym, list(features.FEATURES)]
        assert got.index.equals(alone.index)
        np.testing.assert_allclose(got.to_numpy(), alone.to_numpy(), rtol=0, atol=1e-12)


def test_panel_values_match_hand_computed_features(bars):
    panel = features.build_panel(bars)
    for sym in ("A", "D"):
        close = bars[sym]["close"]
        t = close.index[400]
        row = panel.loc[(sym, t)]
        pos = close.index.get_loc(t)
        assert row["ret_5"] == pytest.approx(np.log(close.iloc[pos] / close.iloc[pos - 5]))
        sma20 = close.iloc[pos - 19 : pos + 1].mean()
        assert row["sma_20_ratio"] == pytest.approx(close.iloc[pos] / sma20 - 1)


def test_panel_tail_is_the_tail_of_the_full_panel(bars):
    full = features.build_panel(bars)
    tail = features.build_panel(bars, tail=5)
    for sym in bars:
        np.testing.assert_allclose(
            tail.loc[sym].to_numpy(), full.loc[sym].iloc[-5:].to_numpy(), rtol=0, atol=1e-12
        )


def test_beta_is_ols_over_the_trailing_window_of_present_pairs(bars):
    closes = pd.DataFrame({s: b["close"] for s, b in bars.items()}).sort_index()
    market = market_features.market_log_returns(closes)
    beta = market_features.rolling_beta(closes, market)
    rets = market_features.panel_log_returns(closes)
    for sym in ("A", "D"):
        t = 310  # D's window holds its missing session 300
        y, m = rets[sym].iloc[t - 59 : t + 1], market.iloc[t - 59 : t + 1]
        ok = y.notna() & m.notna()
        slope = np.polyfit(m[ok], y[ok], 1)[0]
        assert beta[sym].iloc[t] == pytest.approx(slope, rel=1e-9)
    assert beta["E"].iloc[250 + 40] != beta["E"].iloc[250 + 40]  # < 80% of the window: NaN


def test_analyze_many_equals_analyze_alone(bars):
    short = {"S": bars["A"].iloc[:30]}
    many, skipped = az.analyze_many({**bars, **short}, [1, 5], THRESHOLDS)
    assert set(many) == set(bars) and "S" in skipped
    for sym, b in bars.items():
        alone = az.analyze(sym, b, [1, 5], THRESHOLDS)
        assert many[sym].votes == alone.votes and many[sym].regime == alone.regime
        assert many[sym].regimes.frame().equals(alone.regimes.frame())
        assert len(alone.regimes) == min(len(b), az.REGIME_ROWS)
    with pytest.raises(ValueError, match="need at least"):
        az.analyze("S", short["S"], [1], THRESHOLDS)


def test_recent_caps_rows_to_the_newest_sessions(bars):
    data = dataset.panel(bars, (1, 5))
    capped = dataset.recent(data, 1000)
    assert 950 < capped.n <= 1000
    used = capped.X.index.get_level_values("date")[capped.rows]
    everything = data.X.index.get_level_values("date")[data.rows]
    assert used.max() == everything.max()
    assert (everything[everything >= used.min()]).size == capped.n  # newest rows, none skipped
    # look-back context only: CONTEXT sessions before the first row, no more
    kept = pd.DatetimeIndex(capped.X.index.get_level_values("date").unique()).sort_values()
    assert kept.get_loc(used.min()) == dataset.CONTEXT
    assert dataset.recent(data, 10**9) is data


def test_walk_split_with_a_cap_trains_on_the_most_recent_rows(bars):
    data = dataset.panel(bars, (1, 5))
    walk = dataset.walk_split(data, max_rows=800)
    assert walk.train.n + walk.val.n <= 800
    uncapped = dataset.walk_split(data)
    assert walk.val.n == uncapped.val.n
    assert walk.train.dates().max() == uncapped.train.dates().max()


def test_train_with_a_row_cap_fits_and_serves_the_newest_rows(home, db, capsys):
    from assistant.cli import main
    from assistant.modeling.training import train
    from store import bars as store_bars
    from store import symbols
    from store.db import immediate

    symbols.add(db, ["AAA", "BBB"], "synthetic")
    for i, s in enumerate(("AAA", "BBB")):
        with immediate(db):
            store_bars.upsert(db, s, synthetic_bars(900, seed=60 + i, edge=0.55), "synthetic")
    settings = config.load(home, environ={}).replace("models", max_train_rows=700)
    report = train(db, home, settings, kinds=["markov"])
    assert report.capped and sum(report.rows.values()) <= 700
    first = db.execute("SELECT MIN(date) FROM bars").fetchone()[0]
    assert min(report.ranges["fit"][0], report.ranges["train"][0]) > first  # the newest sessions
    whole = train(db, home, config.load(home, environ={}), kinds=["markov"])
    assert not whole.capped and sum(whole.rows.values()) > 1000
    # the CLI says so
    (home / "config.toml").write_text("[models]\nmax_train_rows = 700\n")
    assert main(["--home", str(home), "train", "--models", "markov"]) == 0
    assert "[models] max_train_rows" in capsys.readouterr().out
    (home / "config.toml").write_text("[models]\nmax_train_rows = 0\n")
    assert main(["--home", str(home), "train", "--models", "markov"]) != 0
    assert "max_train_rows = 0 is not allowed: it must be a whole number from 1 to " in (
        capsys.readouterr().err
    )


def test_panel_problems_found_across_row_chunks(bars, monkeypatch):
    """The screen reads the panel a block of rows at a time (memory): a bad value in any
    block, the first of two in one symbol, is named as when it read the panel whole."""
    from assistant.modeling import usable

    data = dataset.panel(bars, (1, 3, 5))
    X, Y = data.X.copy(), data.Y.copy()
    syms = X.index.get_level_values("symbol")
    first, second = sorted(set(syms))[:2]
    a = int(np.flatnonzero(syms == first)[100])
    b = int(np.flatnonzero(syms == second)[200])
    X.iloc[a, X.columns.get_loc("vol_20")] = np.inf
    X.iloc[a + 3, X.columns.get_loc("ret_1")] = 1e39
    Y.iloc[b, Y.columns.get_loc("ret_h3")] = -np.inf
    whole = usable.panel_problems(X, Y)
    monkeypatch.setattr(usable, "CHUNK_ROWS", 7)
    assert usable.panel_problems(X, Y) == whole
    assert whole[first].startswith(f"feature vol_20 is inf on {X.index[a][1]:%Y-%m-%d}")
    assert whole[second].startswith(f"target ret_h3 is -inf on {X.index[b][1]:%Y-%m-%d}")


@pytest.mark.parametrize("cap", [10**9, 1500, 1])
def test_capped_walk_split_is_the_recent_rows_of_the_whole_past(bars, cap):
    """The cap is taken without first copying the whole past: the same rows as capping it."""
    data = dataset.panel(bars, (1, 3, 5))
    capped = dataset.walk_split(data, max_rows=cap)
    whole = dataset.walk_split(data)
    expect = dataset.recent(whole.train, max(cap - whole.val.n, 1))
    assert capped.train.X.equals(expect.X) and capped.train.Y.equals(expect.Y)
    assert np.array_equal(capped.train.rows, expect.rows)
    assert capped.val.X.equals(whole.val.X) and capped.cutoff == whole.cutoff


def _same_part(a: dataset.Dataset, b: dataset.Dataset) -> None:
    pd.testing.assert_frame_equal(a.X, b.X, check_exact=True)
    pd.testing.assert_frame_equal(a.Y, b.Y, check_exact=True)
    np.testing.assert_array_equal(a.rows, b.rows)


@pytest.mark.parametrize("cap", [900, 1500, 2500, 10**9])
def test_split_from_the_recent_start_equals_the_split_of_the_recent_rows(bars, cap):
    """`train` splits the capped panel without copying its recent rows first: the same
    parts (values, look-back context and rows) as splitting the copy."""
    data = dataset.panel(bars, (1, 5))
    start = dataset.recent_start(data, cap)
    assert (start is None) == (cap >= data.n)
    new, old = dataset.split(data, start=start), dataset.split(dataset.recent(data, cap))
    assert new.ranges == old.ranges
    for name in ("train", "val", "test"):
        _same_part(getattr(new, name), getattr(old, name))


def test_scaler_transform_in_chunks_equals_the_whole_array_at_once(bars, monkeypatch):
    data = dataset.panel(bars, (1, 5))
    scaler = dataset.Scaler.fit(data.X, data.rows)
    z = (data.X.to_numpy(dtype=np.float64) - np.asarray(scaler.mean)) / np.asarray(scaler.std)
    whole = np.clip(np.nan_to_num(z, nan=0.0, posinf=0.0, neginf=0.0), -10, 10).astype(np.float32)
    monkeypatch.setattr(dataset, "TRANSFORM_ROWS", 97)  # many chunks, a short last one
    chunked = scaler.transform(data.X)
    assert chunked.dtype == np.float32
    np.testing.assert_array_equal(chunked, whole)
