"""The ranking as a user meets it: `train` fits, stores and registers the ranking
model (or says why it makes none), `predict` stores each symbol's rank and expected relative
move, `report` scores them, and `backtest --predictions-out` carries the ranking's score."""

from __future__ import annotations

import csv
import json

import pytest

from tests.cli_fixture import cli
from tests.daemon_fixture import query

SAMPLE = ("^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT")
COLLECTED = (("watch", "add", *SAMPLE), ("collect",))  # built once, copied per test

pytestmark = pytest.mark.slow  # each test trains


def run(home, *args: str) -> str:
    done = cli(home, *args, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_train_predict_report_store_and_score_the_ranking(built_home):
    home = built_home(*COLLECTED)
    out = json.loads(
        run(home, "train", "--models", "markov,ranking", "--as-of", "2012-06-29", "--json")
    )
    ranked = next(r for r in out["results"] if r["kind"] == "ranking")
    assert ranked["model_id"] == "ranking-v1" and ranked["status"] == "serving", ranked
    for h in ("1", "3", "5"):
        held = ranked["metrics"]["test"][h]
        assert held["n_days"] > 50 and held["t"] is not None and held["years"], held
    assert (home / "models" / "ranking-v1" / "rank_h1.ubj").is_file()
    row = query(home, "SELECT kind, status, feature_hash FROM models WHERE id = 'ranking-v1'")
    assert row[0][:2] == ("ranking", "serving")

    # a backfill: a cycle per session stores each symbol's rank, the report scores them
    run(home, "backfill", "--sessions", "30")
    calls = json.loads(run(home, "predict", "--as-of", "2012-08-15", "--json"))
    assert {c["rank_of"] for c in calls} == {6}
    for h in (1, 3, 5):
        ranks = sorted(c["rank"] for c in calls if c["horizon"] == h)
        assert ranks == [1, 2, 3, 4, 5, 6]
    assert all(c["relative_pct"] is not None for c in calls)
    assert "relative: rank " in run(home, "predict", "--as-of", "2012-08-15")
    stored = query(
        home,
        "SELECT COUNT(*), COUNT(DISTINCT as_of), MIN(of), MAX(rank) FROM rankings "
        "WHERE model_version = 'ranking-v1'",
    )[0]
    assert stored[1] >= 30 and stored[2] == 6 and stored[3] == 6 and stored[0] == 18 * stored[1]
    # the forecasters' serving set is not disturbed by the ranking model
    assert {c["model_version"] for c in calls} <= {"markov-v1", "signals-v1"}
    report = json.loads(run(home, "report", "--json"))
    rel = {r["horizon"]: r for r in report["ranking"]}
    assert set(rel) == {1, 3, 5} and rel[1]["n"] > 100
    assert rel[1]["record"]["n_days"] >= 25 and "spread" in rel[1]["record"]
    text = run(home, "report")
    assert "ranking model, h=1" in text and "quintile" in text


def test_a_ranking_of_fewer_watched_symbols_never_replaces_the_serving_one(built_home):
    home = built_home(*COLLECTED)
    run(home, "train", "--models", "ranking", "--as-of", "2012-06-29")
    out = json.loads(
        run(home, "train", "^GSPC", "AAPL", "GOOG", "IBM", "MSFT", "--models", "ranking", "--json")
    )
    ranked = next(r for r in out["results"] if r["kind"] == "ranking")
    assert ranked["model_id"] == "ranking-v2" and ranked["status"] == "candidate", ranked
    assert "the serving ranking also ranks ^IXIC" in ranked["reason"]
    assert query(home, "SELECT id FROM models WHERE status = 'serving'") == [("ranking-v1",)]


def test_too_few_symbols_make_no_ranking_and_say_so(tmp_path):
    home = tmp_path / "home"
    run(home, "watch", "add", "AAPL", "GOOG", "IBM", "MSFT")
    run(home, "collect")
    text = run(home, "train", "--models", "markov,ranking")
    assert "a ranking needs at least 5 symbols; the panel has 4: no ranking" in text
    assert query(home, "SELECT COUNT(*) FROM models WHERE kind = 'ranking'") == [(0,)]
    calls = json.loads(run(home, "predict", "--json"))
    assert all(c["rank"] is None for c in calls)


def test_backtest_predictions_carry_the_ranking_score(tmp_path, built_home):
    home = built_home(*COLLECTED)
    out_csv = tmp_path / "preds.csv"
    data = json.loads(
        run(
            home,
            "backtest",
            "--models",
            "markov,ranking",
            "--from",
            "2012-01-03",
            "--to",
            "2012-12-31",
            "--retrain-every",
            "126",
            "--horizons",
            "1,5",
            "--predictions-out",
            str(out_csv),
            "--json",
        )
    )
    for h in ("1", "5"):
        rec = data["ranking"][h]
        assert rec["n_days"] > 200 and set(rec["years"]) == {"2012"}, rec
        assert {"mean", "t", "spread", "spread_t", "edge"} <= set(rec)
    with out_csv.open() as fh:
        rows = list(csv.DictReader(fh))
    assert "rank_score" in rows[0]
    assert all(r["rank_score"] != "" for r in rows)
    text = run(
        home,
        "backtest",
        "--models",
        "markov,ranking",
        "--from",
        "2012-01-03",
        "--to",
        "2012-06-29",
        "--retrain-every",
        "126",
        "--horizons",
        "1",
    )
    assert "ranking model: its walk-forward record" in text and "2012: IC" in text
