"""Market-context features: hand-checked values, planted beta, and the causality canary."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import market_features as ctx


def panel(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, pd.Series, dict[str, float]]:
    """Closes of 6 symbols driven by a market factor with planted betas, plus the index."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-01", periods=n)
    m = rng.standard_normal(n) * 0.01
    betas = {f"S{i}": b for i, b in enumerate([0.5, 0.8, 1.0, 1.2, 1.5, 2.0])}
    rets = {s: b * m + rng.standard_normal(n) * 0.005 for s, b in betas.items()}
    closes = pd.DataFrame({s: 50 * np.exp(np.cumsum(r)) for s, r in rets.items()}, index=dates)
    index_close = pd.Series(1000 * np.exp(np.cumsum(m)), index=dates)
    return closes, index_close, betas


def test_equal_weight_market_is_mean_of_log_returns():
    closes, _, _ = panel()
    closes.iloc[10, 0] = np.nan  # a missing bar: mean over the symbols present
    mkt = ctx.market_log_returns(closes)
    lr = np.log(closes).diff()
    assert mkt.iloc[5] == pytest.approx(lr.iloc[5].mean())
    assert mkt.iloc[10] == pytest.approx(lr.iloc[10, 1:].mean())


def test_beta_recovers_planted_betas_and_relative_returns_are_differences():
    closes, idx, betas = panel()
    mkt = ctx.market_log_returns(closes, idx)
    beta = ctx.rolling_beta(closes, mkt)
    for s, b in betas.items():
        assert beta[s].iloc[-1] == pytest.approx(b, abs=0.15)
    rel5 = ctx.relative_returns(closes, mkt, 5)
    t = closes.index[100]
    own = np.log(closes.loc[t, "S0"] / closes["S0"].iloc[95])
    mk = np.log(idx.loc[t] / idx.iloc[95])
    assert rel5.loc[t, "S0"] == pytest.approx(own - mk)


def test_market_relative_target_removes_the_market_move():
    closes, idx, _ = panel()
    tgt = ctx.market_relative_target(closes, 5, idx)
    fwd = ctx.forward_returns(closes, 5)
    t = closes.index[50]
    mk = np.log(idx.iloc[55] / idx.iloc[50])
    assert tgt.loc[t, "S3"] == pytest.approx(fwd.loc[t, "S3"] - mk)
    assert tgt.iloc[-5:].isna().all().all()


def test_market_features_columns_and_canary():
    closes, idx, _ = panel(n=260, seed=3)
    full = ctx.build(closes, idx)
    assert list(full.columns) == [
        "mkt_ret_1",
        "mkt_ret_5",
        "mkt_ret_20",
        "mkt_vol_20",
        "rel_ret_1",
        "rel_ret_5",
        "rel_ret_20",
        "beta_60",
    ]
    for ix in (None, idx):
        full = ctx.build(closes, ix)
        t = closes.index[200]
        cut = ctx.build(closes.loc[:t], None if ix is None else ix.loc[:t])
        pd.testing.assert_frame_equal(full.loc[t], cut.loc[t])
        assert full.loc[t].notna().all().all()
