"""Abstention threshold, selective scoring and the information coefficient."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import selective as sel


def planted(n: int, seed: int, strength: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose sign predicts the outcome better the larger |score| is."""
    rng = np.random.default_rng(seed)
    score = rng.standard_normal(n)
    outcome = strength * score * np.abs(score) + rng.standard_normal(n)
    return score, outcome


def test_threshold_found_on_planted_signal_and_none_on_noise():
    score, outcome = planted(5000, 0, 0.3)
    thr = sel.choose_threshold(score, outcome)
    assert thr is not None
    noise = np.random.default_rng(1).standard_normal(5000)
    assert sel.choose_threshold(noise, outcome, margin=0.02) is None


def test_threshold_depends_only_on_validation_rows():
    score, outcome = planted(4000, 2, 0.3)
    thr = sel.choose_threshold(score[:2000], outcome[:2000])
    outcome_shuffled = outcome.copy()
    outcome_shuffled[2000:] = -outcome_shuffled[2000:]  # a different test future
    assert sel.choose_threshold(score[:2000], outcome_shuffled[:2000]) == thr
    calls = sel.apply_threshold(score[2000:], thr)
    rep = sel.selective_report(calls, outcome[2000:])
    assert rep["hit_rate"] > rep["baseline"] and 0 < rep["coverage"] < 1
    rep_bad = sel.selective_report(calls, outcome_shuffled[2000:])
    assert rep_bad["hit_rate"] < 0.5


def test_baseline_is_stronger_of_always_up_and_majority():
    # 70% of outcomes are UP: a signal must beat 0.70, not 0.50
    rng = np.random.default_rng(4)
    outcome = np.where(rng.random(3000) < 0.7, 1.0, -1.0)
    score = rng.standard_normal(3000) + 0.2 * outcome  # weak: ~58% sign accuracy
    assert sel.choose_threshold(score, outcome) is None
    calls = sel.apply_threshold(score, 0.0)
    rep = sel.selective_report(calls, outcome, majority_up=np.zeros(3000, bool))
    assert rep["baseline"] == pytest.approx((outcome > 0).mean())
    assert rep["p_value"] > 0.5


def test_apply_threshold_abstains():
    calls = sel.apply_threshold(np.array([0.5, -0.5, 0.1, np.nan]), 0.3)
    assert list(calls) == ["UP", "DOWN", None, None]
    assert list(sel.apply_threshold(np.array([1.0]), None)) == [None]


def test_causal_majority_uses_only_known_outcomes():
    dates = pd.Series(pd.bdate_range("2020-01-01", periods=6)).repeat(2).reset_index(drop=True)
    outcome = np.array([-1, -1, -1, -1, 1, 1, 1, 1, 1, 1, 1, 1], float)
    maj = sel.causal_majority_up(outcome, dates, h=2)
    # day index 2 knows day 0 only (all down); day 4 knows days 0-2: 4 down, 2 up
    assert not maj[4] and not maj[8]
    assert maj[0]  # no history -> UP
    assert maj[10]  # day 5 knows days 0-3: 4 down, 4 up: tie -> UP


def ic_frame(signal: float, seed: int, days: int = 400, n_sym: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    d = np.repeat(pd.bdate_range("2018-01-01", periods=days), n_sym)
    x = rng.standard_normal(days * n_sym)
    y = signal * x + rng.standard_normal(days * n_sym)
    return pd.DataFrame({"date": d, "expected": x, "realized": y})


def test_ic_positive_for_planted_signal_and_near_zero_for_noise():
    res = sel.information_coefficient(ic_frame(0.2, 0))
    assert res["mean"] > 0.1 and res["t"] > 5 and res["n_days"] == 400
    noise = sel.information_coefficient(ic_frame(0.0, 1))
    assert abs(noise["mean"]) < 0.02 and abs(noise["t"]) < 3


def test_ic_matches_scipy_spearman_and_skips_thin_dates():
    from scipy.stats import spearmanr

    f = ic_frame(0.1, 2, days=3, n_sym=8)
    f = pd.concat(
        [
            f,
            pd.DataFrame(
                {
                    "date": [pd.Timestamp("2030-01-01")] * 3,
                    "expected": [1, 2, 3],
                    "realized": [1, 2, 3],
                }
            ),
        ]
    )
    daily = sel.daily_ic(f)
    assert len(daily) == 3
    d0 = f[f["date"] == f["date"].iloc[0]]
    assert daily.iloc[0] == pytest.approx(spearmanr(d0["expected"], d0["realized"])[0])


def test_newey_west_inflates_se_for_overlapping_series():
    rng = np.random.default_rng(5)
    e = rng.standard_normal(5000)
    overlapping = pd.Series(e).rolling(5).sum().dropna().to_numpy()
    assert sel.newey_west_se(e, 0) == pytest.approx(e.std() / np.sqrt(len(e)), rel=0.01)
    ratio = sel.newey_west_se(overlapping, 4) / sel.newey_west_se(overlapping, 0)
    assert ratio > 1.8  # true ratio sqrt(5) ~ 2.24; Bartlett shrinks it a bit
