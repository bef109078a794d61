"""Learning: verification on known outcomes, pending and expiry, adaptive weights, calibration."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from assistant.cycle.learn import verify
from assistant.cycle.run import run_cycle
from store import predictions as ledger
from store import weights
from tests.cycle_fixture import add_call, make_home, price_path


def rows_by_target(db):
    return {r["target_date"]: r for r in ledger.listing(db)}


def test_verification_scores_known_outcomes(home):
    # closes: 100 on 2024-01-02, then 102, 99, 100.1
    db, settings = make_home(home, {"AAA": price_path([100, 102, 99, 100.1])})
    add_call(db, "AAA", "2024-01-02", "2024-01-03", base=100, direction="up", band=0.005)
    add_call(db, "AAA", "2024-01-02", "2024-01-04", base=100, direction="up", band=0.005, horizon=2)
    add_call(
        db, "AAA", "2024-01-02", "2024-01-05", base=100, direction="flat", band=0.005, horizon=3
    )
    report = verify(db, settings, as_of=date(2024, 1, 5))
    assert (report.verified, report.hits, report.expired, report.pending) == (3, 1, 0, 0)
    assert report.flat == 1  # the FLAT call makes no directional claim: no hit, no miss
    got = rows_by_target(db)
    up, down, flat = got["2024-01-03"], got["2024-01-04"], got["2024-01-05"]
    assert (up["status"], up["actual_price"], up["hit"], up["outcome"]) == (
        "verified",
        102,
        1,
        "up",
    )
    assert up["error_pct"] == pytest.approx(2.0 - 0.5)  # actual +2% against the stated +0.5%
    assert (down["hit"], down["outcome"]) == (0, "down")
    assert (flat["hit"], flat["outcome"]) == (None, "flat")  # +0.1% is inside the flat band
    # the baselines' hits on the same calls are stored beside the call's own
    assert [got[d]["up_hit"] for d in ("2024-01-03", "2024-01-04", "2024-01-05")] == [1, 0, 1]
    assert verify(db, settings, as_of=date(2024, 1, 5)).verified == 0  # nothing scored twice


def test_an_up_call_whose_price_rose_inside_the_flat_band_is_a_hit(home):
    # The one hit rule: an UP call hits when the price rose, however little; the realized
    # class (FLAT here) is stored apart and never turns a rise into a miss.
    db, settings = make_home(home, {"AAA": price_path([100, 100.1, 100.0])})
    add_call(db, "AAA", "2024-01-02", "2024-01-03", base=100, direction="up", band=0.005)
    add_call(db, "AAA", "2024-01-02", "2024-01-04", base=100, direction="up", band=0.005, horizon=2)
    verify(db, settings, as_of=date(2024, 1, 5))
    got = rows_by_target(db)
    assert (got["2024-01-03"]["hit"], got["2024-01-03"]["outcome"]) == (1, "flat")
    assert got["2024-01-04"]["hit"] == 0  # unchanged price: a miss for UP (and for always-up)
    assert got["2024-01-04"]["up_hit"] == 0


def test_missing_bar_stays_pending_then_expires_and_is_counted_apart(home):
    db, settings = make_home(home, {"AAA": price_path([100, 101])})  # bars 01-02, 01-03 only
    add_call(db, "AAA", "2024-01-03", "2024-01-04", base=101)
    report = verify(db, settings, as_of=date(2024, 1, 8))  # 2 sessions late: still waiting
    assert (report.verified, report.pending, report.expired) == (0, 1, 0)
    assert ledger.counts(db)["pending"] == 1
    # settings: expire after 5 sessions past the target (01-05, 08, 09, 10, 11)
    assert verify(db, settings, as_of=date(2024, 1, 10)).expired == 0
    report = verify(db, settings, as_of=date(2024, 1, 11))
    assert (report.expired, report.verified) == (1, 0)
    assert "expired" in report.expired_why and "5 sessions" in report.expired_why
    assert ledger.counts(db) == {"pending": 0, "verified": 0, "expired": 1}
    from assistant.cycle import report as rep

    assert rep.build(db)["counts"]["expired"] == 1 and rep.build(db)["groups"] == []


def test_a_provisional_bar_does_not_score_a_call(home):
    frame = price_path([100, 101])
    frame.loc[frame.index[-1], "provisional"] = 1
    db, settings = make_home(home, {"AAA": frame})
    add_call(db, "AAA", "2024-01-02", "2024-01-03", base=100)
    assert verify(db, settings, as_of=date(2024, 1, 3)).pending == 1


def test_signal_planted_to_be_wrong_loses_weight(home):
    closes = 100 * np.exp(np.cumsum(np.full(40, 0.01)))  # the market only rises
    db, settings = make_home(home, {"AAA": price_path(closes)})
    dates = pd.bdate_range("2024-01-02", periods=40).strftime("%Y-%m-%d")
    for day in range(1, 31):
        add_call(
            db,
            "AAA",
            dates[day - 1],
            dates[day],
            base=closes[day - 1],
            votes={"rsi": -1.0, "macd": 1.0, "cross": 0.0},
            regime="bullish",
        )
    for day in range(1, 31):  # one verification pass per session, as the daemon runs it
        verify(db, settings, as_of=date.fromisoformat(dates[day]))
    w = weights.load(db)[("AAA", "bullish")]
    lo, hi = settings.cycle.weight_min, settings.cycle.weight_max
    assert w["rsi"] < 0.2 and w["rsi"] >= lo  # always wrong: shrunk to near the floor
    assert w["macd"] > 2.5 and w["macd"] <= hi  # always right: grown, within the bound
    assert "cross" not in w  # abstained: untouched
    log = weights.changes(db, "AAA", limit=500)
    assert any(
        c["signal"] == "rsi" and "loses weight in bullish: right 0, wrong 1" in c["reason"]
        for c in log
    )
    assert all(c["new_weight"] >= lo and c["new_weight"] <= hi for c in log)
    # a fresh call in this regime now follows macd, not rsi
    from assistant.cycle.plan import Evidence, plan

    ev = Evidence("AAA", dates[31], 1, closes[31], 0.01, "bullish", {"rsi": -1.0, "macd": 1.0})
    assert plan(ev, w).direction == "up" and plan(ev, {}).direction == "flat"


def test_calibration_learns_that_stated_confidence_was_too_high(home):
    # the close alternates 99 / 101: it rises on the 14 sessions i = 4, 8, ..., 56 only
    closes = [100.0] + [100.0 * (0.99 if i % 4 else 1.01) for i in range(1, 60)]
    db, settings = make_home(home, {"AAA": price_path(closes)})
    dates = pd.bdate_range("2024-01-02", periods=60).strftime("%Y-%m-%d")
    for i in range(1, 60):
        add_call(
            db, "AAA", dates[i - 1], dates[i], base=closes[i - 1], direction="up", confidence=0.45
        )
    verify(db, settings, as_of=date.fromisoformat(dates[-1]))
    table = weights.load_calibration(db)[("rules", 1)]
    n, hits, stated = table[4]
    assert n == 59 and hits == 14 and stated / n == pytest.approx(0.45)
    from assistant.cycle.plan import calibrate

    assert calibrate(0.45, {4: (n, hits)}) < 0.35


def test_cycle_and_verify_over_a_replayed_quarter(home):
    from tests.cycle_fixture import synthetic_home

    db, settings = synthetic_home(home, names=("AAA",))
    days = pd.bdate_range("2024-01-02", "2024-03-29").strftime("%Y-%m-%d")
    for d in days:
        run_cycle(db, home, settings, as_of=date.fromisoformat(d))
        verify(db, settings, as_of=date.fromisoformat(d))
    counts = ledger.counts(db)
    assert counts["verified"] > 150 and counts["expired"] == 0
    # only calls whose target session is still ahead wait
    assert all(r["target_date"] > days[-1] for r in ledger.listing(db, status="pending"))
    assert weights.changes(db, "AAA")  # the weights moved with the outcomes
