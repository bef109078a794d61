"""One truth: the backtest, `verify` and the reports score a call the same way; as-of means
as-of (nothing from after the date feeds a call at the date)."""

from __future__ import annotations

import json
import shutil
from datetime import date

import numpy as np
import pandas as pd
import pytest

from assistant import config
from assistant.cli import main
from assistant.cycle.learn import verify
from assistant.cycle.run import run_cycle
from assistant.ingest.sources.synthetic import synthetic_bars
from assistant.modeling.backtest import backtest
from assistant.modeling.training import train
from models import metrics, outcomes
from store import bars as store_bars
from store import macro as macro_store
from store import market, symbols
from store import predictions as ledger
from store.db import immediate, open_db
from tests.cycle_fixture import synthetic_home
from vocab.dates import session_date

NAMES = ("AAA", "BBB")


def _seed(db, n=700, edge=0.55):
    symbols.add(db, list(NAMES), "synthetic")
    with immediate(db):
        for i, s in enumerate(NAMES):
            store_bars.upsert(db, s, synthetic_bars(n, seed=40 + i, edge=edge), "synthetic")


@pytest.mark.slow
def test_backtest_rows_are_scored_exactly_as_verify_stores_them(db, home):
    _seed(db)
    report = backtest(
        db, config.load(home), kinds=["markov"], retrain_every=100, horizons=(1, 3), start=None
    )
    p = report.predictions
    p = p[p["actual_return"].notna()].reset_index(drop=True)
    assert len(p) > 500 and set(p["call"]) <= {"up", "down", "flat"}
    # The same calls, entered into the ledger with what the cycle stores at call time...
    closes = {s: store_bars.load(db, s)["close"] for s in NAMES}
    rows = []
    for r in p.itertuples():
        t = pd.Timestamp(r.as_of)
        band = float(outcomes.band(closes[r.symbol], int(r.horizon)).loc[t])
        signals = {"flat_band": band, "majority": int(r.majority), "raw_confidence": 0.5}
        rows.append(
            {
                "symbol": r.symbol,
                "as_of": str(t.date()),
                "horizon": int(r.horizon),
                "model_version": "markov-bt",
                "made_at": "2000-01-01T00:00:00+00:00",
                "target_date": r.target_date,
                "base_price": float(closes[r.symbol].loc[t]),
                "pred_change_pct": 0.0,
                "pred_price": 1.0,
                "direction": r.call,
                "signals": json.dumps(signals),
                "status": "pending",
                "regime": "sideways",
            }
        )
    with immediate(db):
        db["predictions"].insert_all(rows)
    # ...and scored by verify: the per-row outcomes are the backtest's, row for row.
    verify(db, config.load(home), as_of=pd.Timestamp(p["target_date"].max()).date())
    stored = pd.DataFrame(ledger.listing(db, status="verified"))
    assert len(stored) == len(p)
    key = ["symbol", "as_of", "horizon"]
    p["as_of"] = pd.to_datetime(p["as_of"]).dt.strftime("%Y-%m-%d")
    both = p.merge(stored, on=key, suffixes=("_bt", "_v"))
    assert len(both) == len(p)
    np.testing.assert_array_equal(both["hit_bt"].fillna(-1), both["hit_v"].fillna(-1))
    labels = np.asarray(outcomes.CLASSES, dtype=object)[both["actual_class"].astype(int)]
    assert (labels == both["outcome"]).all()
    up = outcomes.baseline_hit(1, both["actual_return"].to_numpy())
    maj = outcomes.baseline_hit(both["majority"].to_numpy(), both["actual_return"].to_numpy())
    np.testing.assert_array_equal(up, both["up_hit"].to_numpy(float))
    np.testing.assert_array_equal(maj, both["majority_hit"].to_numpy(float))


def test_a_model_that_always_says_up_is_labelled_and_not_significant():
    rng = np.random.default_rng(3)
    ret = rng.normal(0.0008, 0.01, 600)  # a rising market: up 53% of days
    probs = np.tile([0.2, 0.1, 0.7], (600, 1))
    m = metrics.evaluate(
        ret,
        outcomes.move_code(ret, 0.0),
        np.full(600, 0.001),
        probs,
        majority=np.ones(600, int),
        last_move=np.sign(np.r_[0.0, ret[:-1]]),
        h=1,
        dates=np.arange(600),
    )
    assert m["label"] == "calls UP 100% of the time"
    assert m["dir_accuracy"] == m["baselines"]["always_up"]["dir_accuracy"]
    assert m["edge"] == 0.0 and m["p_value"] == 1.0


@pytest.mark.slow
def test_walk_forward_models_are_trained_through_the_recent_past(db, home):
    _seed(db, n=900)
    every = 63
    report = backtest(db, config.load(home), kinds=["markov"], retrain_every=every, horizons=(1, 5))
    p = report.predictions
    dates = pd.DatetimeIndex(sorted(set(store_bars.load(db, "AAA").index)))
    lag = dates.get_indexer(pd.to_datetime(p["as_of"])) - dates.get_indexer(
        pd.to_datetime(p["trained_through"])
    )
    assert lag.min() >= 5  # never trained on a label that had not matured
    assert lag.max() <= every + 5  # and never staler than one block plus the purge gap


def _cycles(db, home, settings, days):
    for d in days:
        run_cycle(db, home, settings, as_of=session_date(d))
        verify(db, settings, as_of=session_date(d))


@pytest.mark.slow
def test_predict_as_of_d_is_the_same_whatever_happened_after_d(tmp_path, capsys):
    home_b = tmp_path / "b"
    db, settings = synthetic_home(home_b, n=400)
    days = pd.bdate_range("2024-02-01", "2024-03-15").strftime("%Y-%m-%d")
    d = "2024-03-01"
    # the outside world too: a VIX path (the variance forecast's regressor) and a macro
    # series; home A will also hold their values after D, and a revision seen after D
    vix = _vix_path(pd.bdate_range("2023-01-02", "2024-03-15"))
    market.add_values(db, "^VIX", [r for r in vix if r[0] <= d], "test")
    macro_store.add_values(db, "CPIAUCSL", [("2023-12-01", 308.7, "2024-02-01")], "t", d)
    _cycles(db, home_b, settings, [x for x in days if x <= d])
    db.close()
    home_a = tmp_path / "a"
    shutil.copytree(home_b, home_a)
    db_a = open_db(home_a)
    market.add_values(db_a, "^VIX", vix, "test")
    macro_store.add_values(
        db_a, "CPIAUCSL", [("2023-12-01", 309.9, "2024-02-01")], "t", "2024-03-05"
    )
    _cycles(db_a, home_a, config.load(home_a), [x for x in days if x > d])
    # home A learned after D (weights, calibration, verified calls); B stopped at D
    assert db_a.execute("SELECT COUNT(*) FROM weight_changes WHERE valid_from > ?", [d]).fetchone()[
        0
    ]
    db_a.close()
    out = {}
    for name, home in (("a", home_a), ("b", home_b)):
        assert main(["--home", str(home), "predict", "--as-of", d, "--json"]) == 0
        out[name] = capsys.readouterr().out
    assert out["a"] == out["b"]


def _vix_path(sessions: pd.DatetimeIndex) -> list[tuple[str, float]]:
    """A real VIX path (arch's, from 2014) relabelled onto these sessions."""
    import arch.data.vix

    level = arch.data.vix.load()["vix"].to_numpy(float)[: len(sessions)]
    return [(x.strftime("%Y-%m-%d"), float(v)) for x, v in zip(sessions, level, strict=True)]


@pytest.mark.slow
def test_predict_as_of_inside_a_models_training_span_refuses_it(tmp_path):
    home = tmp_path / "h"
    db, settings = synthetic_home(home, n=500)
    result = train(db, home, settings, kinds=["markov"])
    assert result.results[0].promoted
    calls = run_cycle(db, home, settings, as_of=date(2023, 10, 2))  # inside its training data
    assert calls and all(c.model_version == "signals-v1" for c in calls)
    assert all(
        "markov-v1 trained on data through" in c.note
        and "no markov model was known by 2023-10-02" in c.note
        for c in calls
    )
    latest = run_cycle(db, home, settings)  # the model's own data end: it serves
    assert all(c.model_version == "markov-v1" for c in latest)


def test_the_cycles_end_values_are_the_outcome_rules_values():
    bars = synthetic_bars(300, seed=5)
    close = bars["close"]
    for cut in (30, 120, 300):
        c = close.iloc[:cut]
        for h in (1, 3, 5):
            band, majority, last = outcomes.at_end(c.to_numpy(), h)
            assert band == pytest.approx(float(outcomes.band(c, h).iloc[-1]), rel=1e-12)
            assert majority == int(outcomes.causal_majority(c, h).iloc[-1])
            assert last == int(outcomes.last_move(c, h).iloc[-1])


@pytest.mark.slow
def test_predict_as_of_d_is_unchanged_by_a_model_trained_later_on_data_before_d(tmp_path):
    """Models registered after a call as of D was made, on data that ended before D, do
    not change D's calls: per kind, the model known last by D serves them."""
    from tests.cli_fixture import cli
    from tests.daemon_fixture import query

    home = tmp_path / "home"

    def run(*args: str) -> str:
        done = cli(home, *args, timeout=300)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def calls_as_of(d: str) -> dict:
        out = json.loads(run("predict", "--as-of", d, "--json"))
        # the same call again is not new, and its note may name the refused newer model
        return {(c["symbol"], c["horizon"]): {**c, "new": None, "note": None} for c in out}

    run("watch", "add", "AAPL", "GOOG")
    run("collect")
    d = "2012-09-04"
    run("train", "--models", "markov", "--as-of", "2012-06-01")
    before = calls_as_of(d)
    assert {c["model_version"] for c in before.values()} == {"markov-v1"}
    # The home learns more: a model on older data (registered after the call as of D was
    # made), then one on every bar, through 2013.
    run("train", "--models", "markov", "--as-of", "2012-03-01")
    run("train", "--models", "markov")
    after = calls_as_of(d)
    assert after == before
    # the newest model serves now, and D's calls say which one served them instead
    assert query(home, "SELECT id FROM models WHERE status = 'serving'") == [("markov-v3",)]
    notes = [c["note"] for c in json.loads(run("predict", "--as-of", d, "--json"))]
    assert all("markov-v3 trained on data through 2013-03-01" in n for n in notes), notes
    assert all(f"as of {d} markov-v1" in n for n in notes), notes
