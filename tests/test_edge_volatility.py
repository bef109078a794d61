"""Volatility estimators, baselines, HAR/GARCH and QLIKE on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import volatility as vol


def simulate_garch(n: int, seed: int = 0) -> tuple[pd.Series, pd.Series]:
    """Daily GARCH(1,1) log returns (omega, alpha, beta = 2e-6, 0.08, 0.90) and true variance."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta = 2e-6, 0.08, 0.90
    s2 = omega / (1 - alpha - beta)
    r, v = np.empty(n), np.empty(n)
    for i in range(n):
        v[i] = s2
        r[i] = np.sqrt(s2) * rng.standard_normal()
        s2 = omega + alpha * r[i] ** 2 + beta * s2
    idx = pd.bdate_range("2000-01-03", periods=n)
    return pd.Series(r, idx), pd.Series(v, idx)


def simulate_garch_bars(n: int, seed: int = 1, steps: int = 78) -> pd.DataFrame:
    """GARCH(1,1) days whose return is the end of an intraday Brownian path with the day's
    true variance, so the high-low range carries information about that variance."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta = 2e-6, 0.08, 0.90
    s2 = omega / (1 - alpha - beta)
    rows, c = [], 100.0
    for _ in range(n):
        path = np.cumsum(rng.standard_normal(steps)) * np.sqrt(s2 / steps)
        prices = c * np.exp(np.concatenate([[0.0], path]))
        rows.append((prices[0], prices.max(), prices.min(), prices[-1]))
        s2 = omega + alpha * path[-1] ** 2 + beta * s2
        c = prices[-1]
    idx = pd.bdate_range("2000-01-03", periods=n)
    return pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=idx)


def test_qlike_zero_at_truth_and_penalizes_underforecast_more():
    assert vol.qlike(np.array([2.0]), np.array([2.0]))[0] == pytest.approx(0.0)
    under = vol.qlike(np.array([2.0]), np.array([1.0]))[0]
    over = vol.qlike(np.array([2.0]), np.array([4.0]))[0]
    assert under > over > 0
    assert np.isfinite(vol.qlike(np.array([0.0]), np.array([1e-4]))[0])  # floored realized


def test_range_estimators_unbiased_on_brownian_bars():
    rng = np.random.default_rng(3)
    sigma, n, steps = 0.01, 2000, 390
    paths = np.cumsum(rng.standard_normal((n, steps)) * sigma / np.sqrt(steps), axis=1)
    paths = np.hstack([np.zeros((n, 1)), paths])
    p = 100 * np.exp(paths)
    o, h, lo, c = (pd.Series(x) for x in (p[:, 0], p.max(1), p.min(1), p[:, -1]))
    gk, pk = vol.garman_klass_var(o, h, lo, c), vol.parkinson_var(h, lo)
    sq = np.log(c / o) ** 2
    # discrete sampling shrinks the range a little (~10% at 390 steps): allow 15%
    assert gk.mean() == pytest.approx(sigma**2, rel=0.15)
    assert pk.mean() == pytest.approx(sigma**2, rel=0.15)
    assert sq.mean() == pytest.approx(sigma**2, rel=0.10)
    # the point of range estimators: several times less noisy than a squared return
    assert gk.std() < sq.std() / 2 and pk.std() < sq.std() / 2


def test_future_realized_var_is_sum_of_next_h_squared_returns():
    close = pd.Series(np.exp(np.cumsum([0.0, 0.01, -0.02, 0.03, 0.0])))
    fr = vol.future_realized_var(close, 2)
    assert fr.iloc[0] == pytest.approx(0.01**2 + 0.02**2)
    assert np.isnan(fr.iloc[-1]) and np.isnan(fr.iloc[-2])


def test_baselines_match_hand_computation():
    r = pd.Series(np.r_[np.full(20, 0.01), 0.05])
    ew = vol.ewma_variance(r, h=3)
    assert ew.iloc[19] == pytest.approx(3 * 1e-4)
    assert ew.iloc[20] == pytest.approx(3 * (0.94 * 1e-4 + 0.06 * 0.05**2))
    tr = vol.trailing_variance(r, h=1)
    assert tr.iloc[20] == pytest.approx((19 * 1e-4 + 0.05**2) / 20)


@pytest.mark.parametrize("h", [1, 5])
def test_har_and_garch_beat_trailing_on_garch_data(h):
    r, _ = simulate_garch(3000)
    close = 100 * np.exp(r.cumsum())
    realized = vol.future_realized_var(close, h)
    train = np.arange(len(r)) < 2000
    test = ~train
    rv = vol.close_to_close_var(close)
    har = vol.predict_har(vol.fit_har(rv, realized, h, train & realized.notna().to_numpy()), rv)
    garch = vol.garch_variance(vol.log_returns(close), h, train_end=r.index[1999])
    trail = vol.trailing_variance(vol.log_returns(close), h)
    _, scores = vol.select_by_qlike({"har": har, "garch": garch, "trail": trail}, realized, test)
    assert scores["garch"] < scores["trail"]
    assert scores["har"] < scores["trail"]


def test_har_on_range_proxy_beats_close_to_close_har_and_selection_picks_it():
    bars = simulate_garch_bars(2500, seed=5)
    h = 1
    realized = vol.future_realized_var(bars["close"], h)
    train = (np.arange(len(bars)) < 1500) & realized.notna().to_numpy()
    val = np.arange(len(bars)) >= 1500
    rv_range = vol.daily_realized_var(bars)
    rv_cc = vol.close_to_close_var(bars["close"])
    cands = {
        "har_range": vol.predict_har(vol.fit_har(rv_range, realized, h, train), rv_range),
        "har_cc": vol.predict_har(vol.fit_har(rv_cc, realized, h, train), rv_cc),
    }
    best, scores = vol.select_by_qlike(cands, realized, val)
    assert best == "har_range", scores


def test_canary_forecasts_identical_whether_data_ends_at_t_or_continues():
    bars = simulate_garch_bars(1200, seed=7)
    full, cut = bars, bars.iloc[:900]
    h, t = 3, bars.index[899]
    train = np.arange(len(full)) < 700

    def forecasts(b: pd.DataFrame) -> dict[str, float]:
        realized = vol.future_realized_var(b["close"], h)
        tr = train[: len(b)] & realized.notna().to_numpy() & (np.arange(len(b)) < 700 - h)
        rv = vol.daily_realized_var(b)
        ret = vol.log_returns(b["close"])
        return {
            "har": vol.predict_har(vol.fit_har(rv, realized, h, tr), rv).loc[t],
            "feat": vol.har_features(rv).loc[t].sum(),
            "ewma": vol.ewma_variance(ret, h).loc[t],
            "trail": vol.trailing_variance(ret, h).loc[t],
            "garch": vol.garch_variance(ret, h, train_end=b.index[699]).loc[t],
        }

    a, b = forecasts(full), forecasts(cut)
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-9), k


def test_the_cycles_fast_forecast_equals_the_reference_estimators():
    from assistant.ingest.sources.synthetic import synthetic_bars

    bars = synthetic_bars(400, seed=3)
    fast = vol.forecast_at_end(bars, (1, 3, 5))
    close = bars["close"]
    returns = vol.log_returns(close)
    rv = vol.daily_realized_var(bars)
    for h in (1, 3, 5):
        train = np.arange(len(bars)) < len(bars) - h
        feats = vol.har_features(rv, returns=returns)  # the cycle's HAR: with jump, lev, ewma
        model = vol.fit_har(rv, vol.future_realized_var(close, h), h, train, feats)
        assert fast[h].model == "har"
        har, ewma = float(vol.predict_har(model, rv, feats).iloc[-1]), fast[h].ewma
        w = vol.mix_weight(h)  # the HAR mixed with the call's EWMA (issue 33)
        assert fast[h].variance == pytest.approx(w * har + (1 - w) * ewma, rel=1e-9)
        assert fast[h].ewma == pytest.approx(
            float(vol.ewma_variance(returns, h).iloc[-1]), rel=1e-9
        )
        assert fast[h].trailing == pytest.approx(
            float(vol.trailing_variance(returns, h).iloc[-1]), rel=1e-9
        )


def test_the_backtests_walk_equals_the_cycles_forecast_on_each_window():
    """One forecast per (symbol, session) in a backtest: the walk over the whole series
    gives what the cycle's forecast gives on the bars it loads at that session."""
    from assistant.ingest.sources.synthetic import synthetic_bars

    bars = synthetic_bars(900, seed=5)
    ends = np.array([60, 130, 300, 520, 700, 899])
    starts = np.array([0, 5, 40, 0, 150, 340])  # short windows (EWMA, its own seed) and long
    walk = vol.forecast_walk(bars, starts, ends, (1, 3, 5))
    for i, (lo, end) in enumerate(zip(starts, ends, strict=True)):
        ref = vol.forecast_at_end(bars.iloc[lo : end + 1], (1, 3, 5))
        for h in (1, 3, 5):
            got = [walk[h][k][i] for k in range(3)]
            want = [ref[h].variance, ref[h].ewma, ref[h].trailing]
            assert got == pytest.approx(want, rel=1e-9), (lo, end, h)


def test_a_stale_close_does_not_swing_the_h1_forecast():
    """Close-only data has sessions whose close repeats the last one (no trade, a stale
    quote). The HAR's log target must not read them as log(0): a stale session and one
    that moved 0.01% are the same information, and give the same forecast."""
    r, _ = simulate_garch(700, seed=8)
    stale = np.random.default_rng(9).random(len(r)) < 0.02
    forecasts = []
    for tiny in (0.0, 1e-4):
        moved = r.where(~stale, tiny)
        bars = (100 * np.exp(moved.cumsum())).to_frame("close")
        forecasts.append(vol.forecast_at_end(bars, (1,))[1])
    assert forecasts[0].model == forecasts[1].model == "har"
    assert forecasts[0].variance == pytest.approx(forecasts[1].variance, rel=1e-3)


def regime_bars(n: int, seed: int = 11) -> tuple[pd.DataFrame, np.ndarray]:
    """Brownian days whose variance switches every 15 sessions between a calm and a wild
    level, and a regressor that knows the coming session's level at each close (as an
    implied volatility would): (bars, log of the next session's variance)."""
    rng = np.random.default_rng(seed)
    blocks = rng.choice([1e-5, 2.5e-4], size=n // 15 + 2)
    s2 = np.repeat(blocks, 15)[: n + 1]
    rows, c = [], 100.0
    for t in range(n):
        path = np.cumsum(rng.standard_normal(78)) * np.sqrt(s2[t] / 78)
        prices = c * np.exp(np.concatenate([[0.0], path]))
        rows.append((prices[0], prices.max(), prices.min(), prices[-1]))
        c = prices[-1]
    idx = pd.bdate_range("2000-01-03", periods=n)
    bars = pd.DataFrame(rows, columns=["open", "high", "low", "close"], index=idx)
    return bars, np.log(s2[1 : n + 1])


def test_an_informative_exog_serves_and_lowers_qlike_and_the_walk_agrees(monkeypatch):
    monkeypatch.setattr(vol, "MIX_WEIGHT", {1: 1.0})  # the HARs alone, unmixed with EWMA
    bars, exog = regime_bars(900)
    exog = exog.copy()
    exog[:300] = np.nan  # the regressor's history starts late (as the VIX's may)
    h = 1
    realized = vol.future_realized_var(bars["close"], h).to_numpy(float)
    ends = np.arange(650, 899)
    starts = np.maximum(ends - 500, 0)
    plain = vol.forecast_walk(bars, starts, ends, (h,))[h][0]
    withx = vol.forecast_walk(bars, starts, ends, (h,), exog=exog)[h][0]
    assert vol.mean_qlike(realized[ends], withx) < 0.8 * vol.mean_qlike(realized[ends], plain)
    monkeypatch.undo()  # the product's mix from here: the plain fallback is not mixed twice
    # the walk is what the cycle's forecast gives on each window, exog and fallback alike
    for lo, end in ((0, 350), (0, 700), (200, 898), (400, 898)):
        ref = vol.forecast_at_end(bars.iloc[lo : end + 1], (h,), exog[lo : end + 1])[h]
        got = vol.forecast_walk(bars, np.array([lo]), np.array([end]), (h,), exog=exog)[h][0]
        assert got[0] == pytest.approx(ref.variance, rel=1e-9), (lo, end)
        # too few rows with the regressor before 300 + MIN_HAR_SESSIONS: the plain HAR
        assert ref.model == ("har" if end < 300 + vol.MIN_HAR_SESSIONS else "har+x")
    # the canary: data after t (bars and regressor) changes nothing at t
    t = 700
    cut = vol.forecast_at_end(bars.iloc[: t + 1], (h,), exog[: t + 1])[h].variance
    longer = vol.forecast_walk(bars, np.array([0]), np.array([t]), (h,), exog=exog)[h][0][0]
    assert cut == pytest.approx(longer, rel=1e-9)


def test_ranges_widen_while_the_forecast_rises_from_the_bars_known_then():
    """Issue 33: a 3- or 5-session call's ranges are drawn with sigma x range_scale, the
    rise of the forecast over the last RISE_SESSIONS bars; 1 at one session and when it
    falls. The scale at the last bar comes from the bars up to it only, and the backtest's
    walk gives the cycle's."""
    from assistant.ingest.sources.synthetic import synthetic_bars

    calm = synthetic_bars(400, seed=4)
    # a storm in the last 3 sessions: each moves 6% (the forecast jumps)
    storm = calm.copy()
    for k, i in enumerate(range(len(storm) - 3, len(storm))):
        storm.iloc[i:, :4] *= 1.06 if k % 2 == 0 else 0.94
    got = vol.forecast_at_end(storm, (1, 3, 5))
    before = vol.forecast_at_end(storm.iloc[: -vol.RISE_SESSIONS], (1, 3, 5), rise=False)
    assert got[1].scale == 1.0 and got[1].range_sigma == got[1].sigma
    for h in (3, 5):
        rise = np.log(got[h].variance / before[h].variance)
        assert rise > 0.2  # the storm moved the forecast
        assert got[h].scale == pytest.approx(1 + vol.RISE_WEIGHT * rise, rel=1e-12)
        assert got[h].range_sigma == pytest.approx(got[h].sigma * got[h].scale)
    # a falling forecast leaves the ranges alone
    assert vol.range_scale(1.0, 2.0, 5) == 1.0 and vol.range_scale(2.0, np.nan, 5) == 1.0
    # bars after the call change nothing (the scale of the bars up to it)
    longer = pd.concat([storm, synthetic_bars(420, seed=9).iloc[400:] * 3.0])
    assert vol.forecast_at_end(longer.iloc[: len(storm)], (3,))[3].scale == got[3].scale
    # the backtest's walk equals the cycle's forecast on each window
    ends = np.array([150, 250, len(storm) - 1])
    starts = np.array([0, 40, 100])
    walk = vol.forecast_walk(storm, starts, ends, (1, 3, 5))
    scales = vol.range_scales(storm, starts, ends, (1, 3, 5), {h: walk[h][0] for h in (1, 3, 5)})
    for i, (lo, end) in enumerate(zip(starts, ends, strict=True)):
        ref = vol.forecast_at_end(storm.iloc[lo : end + 1], (1, 3, 5))
        for h in (1, 3, 5):
            assert scales[h][i] == pytest.approx(ref[h].scale, rel=1e-9), (lo, end, h)


def test_the_har_scale_is_the_qlike_best_constant_fitted_on_training_rows_only(monkeypatch):
    """Issue 33, third pass: the log fit's forecast exp(x @ coef) is biased low (E[exp] of
    the residual) and on the range proxy's level, not close-to-close's; the scale that maps
    it must be the QLIKE-best constant on the window's own training rows, whose h-session
    future is inside the bars (the cycle's path and the backtest's walk alike)."""
    from scipy.optimize import minimize_scalar

    bars = simulate_garch_bars(400, seed=5)
    calls: list[tuple] = []
    product = vol._fit_forecast

    def spy(x, target, realized, rows, coef, end, h):
        calls.append((x, realized, rows, coef, end, h))
        return product(x, target, realized, rows, coef, end, h)

    monkeypatch.setattr(vol, "_fit_forecast", spy)
    monkeypatch.setattr(vol, "MIX_WEIGHT", {1: 1.0})  # the HAR alone, unmixed with EWMA
    got = vol.forecast_at_end(bars, (1, 5), rise=False)
    assert [c[5] for c in calls] == [1, 5]
    for (x, realized, rows, coef, end, h), hh in zip(calls, (1, 5), strict=True):
        assert end == len(bars) - 1 and rows.max() + h <= end  # training rows' futures known
        fitted = np.exp(x[rows] @ coef)
        scale = got[hh].variance / float(np.exp(x[end] @ coef))
        assert scale > 1.0  # exp of a log fit is low; the close-to-close day is wider too
        y = realized[rows]
        best = minimize_scalar(
            lambda ls, y=y, fitted=fitted: vol.mean_qlike(y, np.exp(ls) * fitted),
            bounds=(-3.0, 3.0),
            method="bounded",
            options={"xatol": 1e-9},
        )
        assert scale == pytest.approx(np.exp(best.x), rel=1e-5)
    calls.clear()
    starts, ends = np.array([0, 0]), np.array([299, 399])
    walk = vol.forecast_walk(bars, starts, ends, (1,))
    assert len(calls) == 2 and [c[4] for c in calls] == [299, 399]
    assert all(c[2].max() + 1 <= c[4] for c in calls)
    assert walk[1][0][1] == pytest.approx(got[1].variance, rel=1e-9)


def test_the_forecast_mixes_the_har_with_the_calls_ewma_by_the_horizons_weight(monkeypatch):
    """Issue 33: where the HAR serves, the variance is w x HAR + (1 - w) x EWMA, w chosen per
    horizon on validation years (volatility.MIX_WEIGHT); the backtest's walk the same."""
    bars = simulate_garch_bars(400, seed=6)
    mixed = vol.forecast_at_end(bars, (1, 2, 3, 5, 10), rise=False)
    monkeypatch.setattr(vol, "MIX_WEIGHT", {1: 1.0})
    har = vol.forecast_at_end(bars, (1, 2, 3, 5, 10), rise=False)
    for h, w in ((1, 0.7), (2, 0.7), (3, 0.75), (5, 0.8), (10, 0.8)):
        assert mixed[h].model == har[h].model == "har"
        assert mixed[h].ewma == har[h].ewma
        assert mixed[h].variance == pytest.approx(
            w * har[h].variance + (1 - w) * har[h].ewma, rel=1e-12
        )
        assert mixed[h].variance != pytest.approx(har[h].variance, rel=1e-3)
    monkeypatch.undo()
    walk = vol.forecast_walk(bars, np.array([0]), np.array([399]), (1, 5))
    for h in (1, 5):
        assert walk[h][0][0] == pytest.approx(mixed[h].variance, rel=1e-9)
