"""Prediction ranges: Gaussian coverage, conformal recalibration, causality, scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import intervals as iv


def calls_frame(
    n_days: int,
    symbols: list[str],
    h: int,
    sigma_true: dict[str, float],
    sigma_model: dict[str, float],
    seed: int = 0,
) -> pd.DataFrame:
    """One call per symbol per day with a Gaussian outcome; known h sessions later."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2010-01-04", periods=n_days + h)
    rows = []
    for s in symbols:
        r = rng.standard_normal(n_days) * sigma_true[s]
        rows.append(
            pd.DataFrame(
                {
                    "date": dates[:n_days],
                    "known_at": dates[h:],
                    "symbol": s,
                    "realized": r,
                    "mu": 0.0,
                    "sigma": sigma_model[s],
                }
            )
        )
    df = pd.concat(rows, ignore_index=True)
    df["score"] = iv.standardized_residual(df["realized"], df["mu"], df["sigma"])
    return df


def test_gaussian_z_values():
    assert iv.gaussian_z(0.80) == pytest.approx(1.2816, abs=1e-4)
    assert iv.gaussian_z(0.95) == pytest.approx(1.9600, abs=1e-4)


@pytest.mark.parametrize("level", iv.LEVELS)
def test_known_sigma_gaussian_interval_covers_nominal(level):
    df = calls_frame(4000, ["A"], 1, {"A": 0.02}, {"A": 0.02})
    lo, hi = iv.interval(df["mu"], df["sigma"], iv.gaussian_z(level))
    assert iv.coverage(df["realized"], lo, hi) == pytest.approx(level, abs=0.02)


@pytest.mark.parametrize("level", iv.LEVELS)
def test_conformal_restores_coverage_when_sigma_understated_2x(level):
    df = calls_frame(3000, ["A", "B"], 3, {"A": 0.02, "B": 0.01}, {"A": 0.01, "B": 0.005})
    lo, hi = iv.interval(df["mu"], df["sigma"], iv.gaussian_z(level))
    naive = iv.coverage(df["realized"], lo, hi)
    q = iv.causal_conformal_q(df, level, min_n=100)
    lo, hi = iv.interval(df["mu"], df["sigma"], q)
    late = df["date"] >= df["date"].iloc[300]
    fixed = iv.coverage(df["realized"][late], lo[late], hi[late])
    assert naive < level - 0.15
    assert fixed == pytest.approx(level, abs=0.02)


def test_per_symbol_pools_fix_each_symbol_and_pooled_alone_does_not():
    df = calls_frame(3000, ["A", "B"], 1, {"A": 0.04, "B": 0.01}, {"A": 0.02, "B": 0.02})
    late = (df["date"] >= df["date"].iloc[500]).to_numpy()
    for by_symbol, ok in ((True, True), (False, False)):
        q = iv.causal_conformal_q(df, 0.8, by_symbol=by_symbol)
        lo, hi = iv.interval(df["mu"], df["sigma"], q)
        covs = [
            iv.coverage(df["realized"][m], lo[m], hi[m])
            for m in ((df["symbol"] == s).to_numpy() & late for s in "AB")
        ]
        assert all(abs(c - 0.8) < 0.03 for c in covs) is ok, covs


def test_quantile_uses_only_outcomes_known_at_call_date():
    df = calls_frame(400, ["A"], 5, {"A": 0.01}, {"A": 0.01}, seed=2)
    q_full = iv.causal_conformal_q(df, 0.8, min_n=50)
    # scramble every outcome not yet known at day 300: q up to day 300 must not change
    cut = df["date"].iloc[300]
    future = df["known_at"] > cut
    df2 = df.copy()
    df2.loc[future, "score"] = 100.0
    q_cut = iv.causal_conformal_q(df2, 0.8, min_n=50)
    upto = (df["date"] <= cut).to_numpy()
    np.testing.assert_array_equal(q_full[upto], q_cut[upto])
    assert not np.array_equal(q_full[~upto], q_cut[~upto])
    # the first min_n + h calls have no pool yet: Gaussian fallback
    assert q_full[0] == pytest.approx(iv.gaussian_z(0.8))


def test_conformal_quantile_finite_sample_rule():
    s = np.arange(1, 10, dtype=float)  # n=9: ceil(10*0.8)=8th smallest
    assert iv.conformal_quantile(s, 0.8) == 8.0
    assert iv.conformal_quantile(s[:3], 0.95) == float("inf")


def test_winkler_score_and_price_range():
    w = iv.winkler_score(np.array([0.0, 2.0, -1.0]), np.array([-1.0] * 3), np.array([1.0] * 3), 0.8)
    np.testing.assert_allclose(w, [2.0, 2.0 + 10.0 * 1.0, 2.0])
    lo, hi = iv.price_range(np.array([100.0]), np.array([-0.1]), np.array([0.1]))
    assert lo[0] == pytest.approx(100 * np.exp(-0.1)) and hi[0] == pytest.approx(100 * np.exp(0.1))
