"""Ranges: conformal multipliers from verified calls, per symbol, as of a date; coverage."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from assistant.cycle import ranges
from models import intervals
from store.db import immediate


def _verified(db, symbol, n, sigma_true, sigma_stated, start_day=0, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        day = f"2020-{1 + (start_day + i) // 28:02d}-{1 + (start_day + i) % 28:02d}"
        r = rng.normal(0.0, sigma_true)
        rows.append(
            {
                "symbol": symbol,
                "as_of": day,
                "horizon": 1,
                "model_version": "m",
                "made_at": day,
                "target_date": day,
                "base_price": 100.0,
                "pred_change_pct": 0.0,
                "pred_price": 100.0,
                "direction": "flat",
                "signals": "{}",
                "status": "verified",
                "actual_price": 100.0 * np.exp(r),
                "vol_sigma": sigma_stated,
            }
        )
    with immediate(db):
        db.execute(
            "INSERT OR IGNORE INTO symbols (symbol, added_at) VALUES (?, '2020-01-01')", [symbol]
        )
        db["predictions"].insert_all(rows)


def test_understated_volatility_is_corrected_by_the_verified_residuals(db):
    _verified(db, "AAA", 300, sigma_true=0.02, sigma_stated=0.01)
    rows = db.execute(
        "SELECT target_date, actual_price FROM predictions ORDER BY target_date"
    ).fetchall()
    z = np.array([abs(np.log(p / 100.0)) / 0.01 for _, p in rows])
    # the multipliers a call on each of the last 150 days gets, and whether they covered it
    q = np.array(
        [
            ranges.multipliers(db, ["AAA"], [1], date.fromisoformat(d))[("AAA", 1)]
            for d, _ in rows[-151:-1]
        ]
    )
    inside = z[-150:, None] <= q
    # residuals are 2x the stated sigma: the multipliers double the Gaussian ones (on
    # average: the adaptive level moves after every recent miss or hit), and the ranges
    # cover as often as they say, where the stated sigma alone would cover far less
    assert q[:, 0].mean() == pytest.approx(2 * intervals.gaussian_z(0.80), rel=0.1)
    assert q[:, 1].mean() > 2 * intervals.gaussian_z(0.95) * 0.95
    assert inside.mean(axis=0) == pytest.approx([0.80, 0.95], abs=0.06)
    assert (z[-150:] <= intervals.gaussian_z(0.95)).mean() < 0.75


def test_a_symbol_without_history_borrows_the_pool_then_the_gaussian(db):
    _verified(db, "AAA", 300, sigma_true=0.02, sigma_stated=0.01)
    _verified(db, "BBB", 10, sigma_true=0.01, sigma_stated=0.01, seed=1)
    q = ranges.multipliers(db, ["AAA", "BBB"], [1, 3], None)
    assert q[("BBB", 1)][0] > 2.0  # pooled (mostly AAA's) residuals, not its own 10
    assert q[("BBB", 3)] == (intervals.gaussian_z(0.80), intervals.gaussian_z(0.95))


def test_multipliers_use_only_outcomes_known_by_the_date(db):
    _verified(db, "AAA", 100, sigma_true=0.01, sigma_stated=0.01)  # 2020-01-01 .. 2020-04-16
    before = ranges.multipliers(db, ["AAA"], [1], date(2020, 4, 20))
    _verified(db, "AAA", 100, sigma_true=0.05, sigma_stated=0.01, start_day=120, seed=2)
    assert ranges.multipliers(db, ["AAA"], [1], date(2020, 4, 20)) == before
    assert ranges.multipliers(db, ["AAA"], [1], None)[("AAA", 1)][0] > before[("AAA", 1)][0]
