"""Walk-forward backtest: past-only training, honest scoring, no skill on a random walk."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from assistant import config
from assistant.cli import main
from assistant.ingest.sources.synthetic import synthetic_bars
from assistant.modeling.backtest import backtest
from store import bars as store_bars
from store import symbols
from store.db import immediate


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    import torch  # here, not at the top: collecting the suite does not import torch

    torch.set_num_threads(1)


def seed(db, edge, n=900, names=("AAA", "BBB")):
    symbols.add(db, list(names), "synthetic")
    for i, s in enumerate(names):
        with immediate(db):
            store_bars.upsert(db, s, synthetic_bars(n, seed=20 + i, edge=edge), "synthetic")


def test_random_walk_backtest_reports_no_significant_skill(db, home):
    seed(db, edge=0.5)
    report = backtest(
        db, config.load(home), kinds=["markov", "xgboost"], retrain_every=126, horizons=(1, 3)
    )
    assert report.retrains >= 4 and report.n_predictions > 1000
    assert {(r["model"], r["symbol"]) for r in report.results} >= {
        ("markov", "AAA"),
        ("ensemble", "ALL"),
    }
    for r in report.results:  # None: no call cleared the threshold chosen on validation
        assert r["p_value"] is None or r["p_value"] >= 0.01, r
    p = report.predictions
    # only the past: every model was trained on rows whose labels had matured before as_of
    assert (pd.to_datetime(p["trained_through"]) < pd.to_datetime(p["as_of"])).all()
    scored = p[p["target_date"].notna()]
    assert (pd.to_datetime(scored["target_date"]) > pd.to_datetime(scored["as_of"])).all()


def test_planted_signal_backtest_finds_skill(db, home):
    # four symbols: 63 validation sessions give the 200 calls a threshold needs to qualify
    seed(db, edge=0.6, names=("AAA", "BBB", "CCC", "DDD"))
    report = backtest(db, config.load(home), kinds=["markov"], retrain_every=126, horizons=(1,))
    pooled = next(r for r in report.results if r["symbol"] == "ALL")
    assert (
        pooled["p_value"] < 0.01
        and pooled["dir_accuracy"] > pooled["baselines"]["majority"]["dir_accuracy"]
    )


def test_cli_backtest_json_and_predictions_csv(db, home, tmp_path, capsys):
    seed(db, edge=0.5, n=700)
    out_csv = tmp_path / "preds.csv"
    code = main(
        [
            "backtest",
            "--models",
            "markov",
            "--horizons",
            "1,5",
            "--retrain-every",
            "100",
            "--from",
            "2011-06-01",
            "--json",
            "--predictions-out",
            str(out_csv),
        ]
    )
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["from"] >= "2011-06-01" and report["horizons"] == [1, 5]
    row = report["results"][0]
    for key in (
        "dir_accuracy",
        "balanced_accuracy",
        "brier",
        "mae_pct",
        "r2_oos",
        "profit_factor",
        "max_drawdown",
        "p_value",
        "n",
        "coverage",
        "edge",
        "baselines",
    ):
        assert key in row
    assert {"always_up", "majority", "last_move"} <= set(row["baselines"])
    frame = pd.read_csv(out_csv)
    assert len(frame) == len(report["symbols"]) * 2 * frame["as_of"].nunique()
    assert frame["actual_return"].notna().sum() == report["n_predictions"]
    # FLAT calls make no directional claim: scored rows without a hit are exactly those
    scored = frame[frame["actual_return"].notna()]
    assert (scored["hit"].isna() == (scored["call"] == "flat")).all()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["backtest", "--retrain-every", "0"], "at least 1"),
        (["backtest", "--from", "1990-01-01"], "too little history"),
    ],
)
def test_cli_backtest_bad_input(db, home, capsys, argv, message):
    seed(db, edge=0.5, n=700)
    assert main(argv + ["--models", "markov"]) == 1
    assert message in capsys.readouterr().err


def test_a_predictions_csv_that_cannot_be_written_is_said_and_leaves_nothing(
    db, home, tmp_path, capsys, monkeypatch
):
    """`--predictions-out` onto a full disk or past `ulimit -f` (the OS's EFBIG, from a real
    RLIMIT_FSIZE while the CSV is written): one line naming the CSV, exit 1, no half-written
    temporary file beside it, and the home not blamed (before: "the disk holding HOME is
    full" and a 64 KB `.preds.csv.tmp` left behind)."""
    import resource

    from assistant.cli import modeling

    seed(db, edge=0.5, n=700)
    out_csv = tmp_path / "out" / "preds.csv"
    out_csv.parent.mkdir()
    write = modeling.write_predictions

    def under_a_file_size_limit(report, path):
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, hard))
        try:
            write(report, path)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))

    monkeypatch.setattr(modeling, "write_predictions", under_a_file_size_limit)
    code = main(
        ["backtest", "--models", "rules", "--horizons", "1", "--from", "2011-06-01",
         "--predictions-out", str(out_csv)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot write {out_csv}" in err and str(home) not in err
    assert list(out_csv.parent.iterdir()) == []
