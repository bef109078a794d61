"""The accuracy report and the ledger export: known outcomes, baselines, p-value, formats."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from assistant.cli import main
from assistant.cycle import report
from assistant.cycle.learn import verify
from models import volatility
from tests.cli_fixture import run_cli
from tests.cycle_fixture import add_call, make_home, price_path
from vocab.dates import session_date


@pytest.fixture
def scored(home):
    """40 one-session calls on a market that rises 3 sessions in 4; the calls always say up."""
    steps = np.array([0.01 if i % 4 else -0.01 for i in range(41)])
    closes = 100 * np.exp(np.cumsum(steps))
    db, settings = make_home(home, {"AAA": price_path(closes)})
    dates = pd.bdate_range("2024-01-02", periods=41).strftime("%Y-%m-%d")
    for i in range(1, 41):
        add_call(
            db,
            "AAA",
            dates[i - 1],
            dates[i],
            base=closes[i - 1],
            direction="up",
            regime="bullish" if i <= 20 else "volatile",
            probs=(0.2, 0.1, 0.7),
            confidence=0.7,
        )
    add_call(db, "AAA", dates[40], "2024-03-29", base=closes[40])  # still pending
    verify(db, settings, as_of=session_date(dates[40]))
    return db


def test_report_on_known_outcomes(scored):
    data = report.build(scored)
    assert data["counts"] == {"pending": 1, "verified": 40, "expired": 0}
    (g,) = data["groups"]
    assert (g["symbol"], g["horizon"], g["n"]) == ("AAA", 1, 40)
    assert g["hit_rate"] == pytest.approx(30 / 40)  # sessions 4, 8, ..., 40 fall
    base = g["baselines"]
    assert base["majority"]["dir_accuracy"] == pytest.approx(0.75)
    assert base["always_up"]["dir_accuracy"] == pytest.approx(0.75)
    assert g["coverage"] == 1.0 and g["label"] == "calls UP 100% of the time"
    # always saying up IS the always-up baseline: no edge, and the p-value says so
    assert (
        g["edge"] == pytest.approx(0.0)
        and g["p_value"] > 0.4
        and g["verdict"] == "no edge"
        and g["adjustment"] == "holm over 3 rows"
    )
    # Brier: hits score (0.2^2 + 0.1^2 + 0.3^2), misses (0.8^2 + 0.1^2 + 0.7^2)
    assert g["brier"] == pytest.approx(0.75 * 0.14 + 0.25 * 1.14)
    assert set(g["by_regime"]) == {"bullish", "volatile"} and g["by_regime"]["bullish"]["n"] == 20
    (bucket,) = g["calibration"]
    assert (
        bucket["n"] == 40
        and bucket["stated"] == pytest.approx(0.7)
        and bucket["realized"] == pytest.approx(0.75)
    )
    assert g["trend"] and all(0 <= w["hit_rate"] <= 1 and "baseline" in w for w in g["trend"])


def test_p_value_detects_a_real_edge_and_discounts_same_day_calls():
    from models.metrics import paired_p

    rng = np.random.default_rng(0)
    dates = np.arange(200)
    base = (rng.random(200) < 0.5).astype(float)
    better = np.where(rng.random(200) < 0.3, 1.0, base)  # right more often than the baseline
    assert paired_p(better, base, dates, 1) < 0.001
    assert paired_p(base, base, dates, 1) == 1.0  # the baseline itself has no edge
    # 10 symbols called the same way on the same 20 dates carry the evidence of 20 calls,
    # not 200: the p-value of the pooled rows is that of the daily means.
    day = np.repeat(np.arange(20), 10)
    hit = np.repeat((rng.random(20) < 0.7).astype(float), 10)
    coin = np.repeat((rng.random(20) < 0.5).astype(float), 10)
    assert paired_p(hit, coin, day, 1) == paired_p(hit[::10], coin[::10], day[::10], 1)


def test_report_command_text_and_json(scored, home, capsys):
    assert main(["--home", str(home), "report"]) == 0
    out = capsys.readouterr().out
    assert (
        "AAA h=1" in out
        and "majority 75.0%" in out
        and "calls UP 100% of the time" in out
        and "calibration" in out
        and "trend" in out
    )
    assert main(["--home", str(home), "report", "AAA", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["groups"][0]["n"] == 40


def test_predictions_export_formats(scored, home, capsys):
    assert main(["--home", str(home), "predictions", "--status", "pending"]) == 0
    table = capsys.readouterr().out
    assert "2024-03-29" in table and "verified" not in table
    assert "80% low" in table and "80% high" in table  # the range columns say what they are
    assert main(["--home", str(home), "predictions", "--format", "jsonl"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 41 and isinstance(json.loads(lines[0])["signals"], dict)
    assert (
        main(["--home", str(home), "predictions", "--status", "verified", "--format", "csv"]) == 0
    )
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == 40 and {r["status"] for r in rows} == {"verified"}


def test_calls_group_in_key_order_keeping_each_groups_call_order():
    calls = report.Calls(
        {
            "id": np.arange(6.0),
            "symbol": np.array(["B", "A", "B", "A", "C", "A"], dtype=object),
            "horizon": np.array([1.0, 1.0, 3.0, 1.0, 1.0, 3.0]),
        }
    )
    got = [(k, g["id"].tolist()) for k, g in calls.groups("symbol", "horizon")]
    assert got == [
        (("A", 1.0), [1.0, 3.0]),
        (("A", 3.0), [5.0]),
        (("B", 1.0), [0.0]),
        (("B", 3.0), [2.0]),
        (("C", 1.0), [4.0]),
    ]
    assert report.Calls({"id": np.zeros(0)}).groups("id") == []


def test_a_call_without_a_regime_is_reported_under_unknown(home):
    closes = 100 * np.exp(np.cumsum(np.full(12, 0.01)))
    db, settings = make_home(home, {"AAA": price_path(closes)})
    dates = pd.bdate_range("2024-01-02", periods=12).strftime("%Y-%m-%d")
    for i in range(1, 11):
        add_call(db, "AAA", dates[i - 1], dates[i], base=closes[i - 1], direction="up")
    db.execute("UPDATE predictions SET regime = NULL WHERE as_of = ?", [dates[0]])
    verify(db, settings, as_of=session_date(dates[11]))
    (g,) = report.build(db)["groups"]
    assert g["by_regime"]["unknown"]["n"] == 1 and g["n"] == 10


def test_report_shows_the_volatility_forecast_per_year(home):
    """Calls across a year end with a stored variance forecast: `report` prints QLIKE against
    EWMA for each calendar year, not only pooled, and the figures are the calls' own."""
    rng = np.random.default_rng(5)
    dates = pd.bdate_range("2023-11-01", "2024-02-29")
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(dates))))
    db, settings = make_home(home, {"AAA": price_path(closes, dates=dates)})
    days = dates.strftime("%Y-%m-%d")
    expect: dict[str, list[tuple[float, float, float]]] = {}
    for i in range(len(dates) - 1):
        add_call(db, "AAA", days[i], days[i + 1], base=closes[i])
        var, ewma = 1e-4 * (1 + i % 3), 1.5e-4
        vol = {"var": var, "ewma": ewma, "trailing": 2e-4}
        db.execute(
            "UPDATE predictions SET signals = json_set(signals, '$.vol', json(?)) WHERE as_of = ?",
            [json.dumps(vol), days[i]],
        )
        realized = np.log(closes[i + 1] / closes[i]) ** 2
        expect.setdefault(days[i][:4], []).append((realized, var, ewma))
    db.conn.commit()
    verify(db, settings, as_of=session_date(days[-1]))
    run = run_cli(home, "report")
    assert run.returncode == 0, run.stderr
    line = next(x for x in run.stdout.splitlines() if "per year, QLIKE vs EWMA" in x)
    for year, rows in expect.items():
        r, v, e = (np.array(c) for c in zip(*rows, strict=True))
        q, qe = volatility.mean_qlike(r, v), volatility.mean_qlike(r, e)
        assert f"{year} {q:.3f} vs {qe:.3f} ({100 * (1 - q / qe):+.1f}%, n={len(r)})" in line


def test_a_report_of_some_symbols_does_not_call_its_pooled_lines_all_symbols(scored, home):
    """`assistant report AAA` headed the pooled range coverage "all symbols, h=1" although
    it was over AAA's calls only (as the hourly section's "all symbols, h=1h")."""
    mine = run_cli(home, "report", "AAA")
    assert mine.returncode == 0, mine.stderr
    assert "\nAAA, h=1: 80% range covered" in mine.stdout and "all symbols" not in mine.stdout
    every = run_cli(home, "report")
    assert "\nall symbols, h=1: 80% range covered" in every.stdout
