"""Issue 34, the 500-symbol waits (second pass): each faster path of `report` and the cycle's
variance forecast gives exactly what the computation it replaced gave (the old one written
out here, compared bit for bit)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models import metrics, outcomes, volatility


def _same(a: object, b: object) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return type(a) is type(b) and a == b


def test_directional_scores_of_a_slice_equal_directional_of_the_slice():
    """The report computes each call's hits once for all calls and scores each group on its
    rows of them; `directional` on the group's calls alone is what it did before."""
    rng = np.random.default_rng(11)
    n = 400
    call = rng.choice(np.array(["up", "down", "flat"], dtype=object), n, p=[0.5, 0.3, 0.2])
    ret = rng.normal(0, 0.02, n)
    ret[rng.random(n) < 0.1] = np.nan  # unknown outcomes
    ret[rng.random(n) < 0.05] = 0.0  # unchanged
    ret[:3] = [np.inf, -np.inf, np.nan]
    majority = rng.choice([1, -1], n)
    last_move = rng.choice([1, 0, -1], n)
    dates = np.array([str(d.date()) for d in pd.bdate_range("2006-06-01", periods=n)])
    dates = dates[np.sort(rng.integers(0, n, n))]  # several calls a day
    rows = metrics.directional_rows(call, ret, majority=majority, last_move=last_move)
    assert tuple(rows) == metrics.DIRECTIONAL_ROWS  # the names the report slices by
    groups = [np.arange(n), np.arange(0, n, 7), np.flatnonzero(call == "flat"), np.arange(3)]
    groups.append(np.flatnonzero(~np.isfinite(ret)))  # nothing known: no call scored
    for sel in groups:
        old = metrics.directional(
            call[sel],
            ret[sel],
            majority=majority[sel],
            last_move=last_move[sel],
            h=3,
            dates=dates[sel],
        )
        got = metrics.directional_scores(
            {k: v[sel] for k, v in rows.items()}, h=3, dates=dates[sel]
        )
        assert _same(dict(got), dict(old)), (got, old)
    # one majority value for every row, as the training report passes it
    old = metrics.directional(call, ret, majority=1, last_move=last_move, h=1)
    assert _same(
        dict(old),
        dict(
            metrics.directional_scores(
                metrics.directional_rows(call, ret, majority=1, last_move=last_move), h=1
            )
        ),
    )


def test_direction_equals_the_sign_of_nan_to_num():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-300, -2.0, 3.0, -1e-320])
    old = np.sign(np.nan_to_num(x, nan=0.0)).astype(np.int64)
    got = outcomes.direction(x)
    np.testing.assert_array_equal(got, old)
    assert got.dtype == np.int64
    assert int(outcomes.direction(np.float64(np.nan))) == 0


def test_realized_vars_of_a_frame_equal_each_column_alone():
    """`report._realized_var` rolls the symbols that share sessions as one frame; each
    column must be bit for bit what the symbol's own Series gave."""
    rng = np.random.default_rng(2)
    idx = pd.DatetimeIndex(pd.bdate_range("2007-01-01", periods=120), name="date")
    close = pd.DataFrame(
        100 * np.exp(np.cumsum(rng.normal(0, 0.02, (120, 5)), axis=0)),
        index=idx,
        columns=[f"S{i}" for i in range(5)],
    )
    close.iloc[40:43, 1] = np.nan  # a gap inside
    close.iloc[:30, 2] = np.nan  # a late start
    close.iloc[50, 3] = close.iloc[49, 3]  # an unchanged close: a zero return
    wide = volatility.future_realized_vars(close, [1, 3, 5])
    for sym in close.columns:
        alone = volatility.future_realized_vars(close[sym], [1, 3, 5])
        for h in (1, 3, 5):
            np.testing.assert_array_equal(wide[h][sym].to_numpy(), alone[h].to_numpy())


def _old_har_at_end(x, rv, r2, h, min_rows=50):
    """volatility._har_at_end as it was: each fit's target, realized variance and rows from
    its own running sums, solved by np.linalg.lstsq."""
    v = volatility
    n = len(rv)
    pre_rv, pre_r2 = v._prefix(rv), v._prefix(r2)
    target = v.har_target(rv, h, pre_rv)
    realized = np.full(n, np.nan)
    if n > h:
        realized[: n - h] = v._trailing_mean(r2, h, pre_r2)[h:] * h
    mask = np.isfinite(x).all(axis=1) & np.isfinite(target) & np.isfinite(realized)
    if mask.sum() < min_rows or not np.isfinite(x[-1]).all():
        return None
    coef, *_ = np.linalg.lstsq(x[mask], target[mask], rcond=None)
    return v._fit_forecast(x, target, realized, np.flatnonzero(mask), coef, n - 1, h)


def _old_forecast_at_end(bars, horizons, exog=None, rise=True):
    """forecast_at_end as it was: the rise factor's forecast recomputed from the shorter
    bars, every trailing mean from its own running sums."""
    v = volatility
    close, r, r2, rv = v._returns(bars)
    n = len(close)
    ewma1 = v._ewma_last(r2) if n > 20 else float("nan")
    trail1 = float(np.mean(r2[-20:])) if n > 20 else float("nan")
    feats = v._har_matrix(rv, r) if n >= v.MIN_HAR_SESSIONS else None
    wide = None if feats is None or exog is None else v._with_exog(feats, exog)
    out = {}
    for h in horizons:
        ewma, trail = h * ewma1, h * trail1
        var, name = ewma, "ewma"
        if wide is not None:
            pred = _old_har_at_end(wide, rv, r2, int(h), v.MIN_HAR_SESSIONS)
            if pred is not None and np.isfinite(pred) and pred > 0:
                var, name = v._mixed(pred, ewma, int(h)), "har+x"  # with EWMA (issue 33)
        if feats is not None and name == "ewma":
            pred = _old_har_at_end(feats, rv, r2, int(h))
            if pred is not None and np.isfinite(pred) and pred > 0:
                var, name = v._mixed(pred, ewma, int(h)), "har"
        if not np.isfinite(var) or var <= 0:
            var = float(np.nanvar(r[-250:]) * h) if n > 2 else v.EPS
            name = "sample"
        out[int(h)] = v.VolForecast(int(h), var, name, ewma, trail)
    if rise and n > v.RISE_SESSIONS and any(h > 1 for h in horizons):
        cut = None if exog is None else exog[: -v.RISE_SESSIONS]
        before = _old_forecast_at_end(bars.iloc[: -v.RISE_SESSIONS], horizons, cut, rise=False)
        for h, f in out.items():
            k = float(v.range_scale(f.variance, before[h].variance, h))
            out[h] = v.VolForecast(h, f.variance, f.model, f.ewma, f.trailing, k)
    return out


def _bars(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.015, n) * np.linspace(0.5, 2.0, n)))
    open_ = close * np.exp(rng.normal(0, 0.004, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.006, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.006, n)))
    bars = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close},
        index=pd.bdate_range("2005-01-03", periods=n),
    )
    bars.iloc[n // 3, 0] = np.nan  # a bar without its open: that day's proxy is the return
    bars.iloc[n // 2, 1:3] = bars.iloc[n // 2, 3]  # a flat day
    return bars


def test_forecast_at_end_equals_the_recomputed_rise_forecast():
    """The rise factor's forecast now reuses the first rows of the full bars' arrays and
    running sums; it must be what recomputing them from the shorter bars gave, bit for bit,
    near every length where a branch changes (20, 120 and 125 sessions)."""
    v = volatility
    for n in (8, 121, 125, 126, 300):
        bars = _bars(n, seed=n)
        exog = np.log(np.abs(np.random.default_rng(n).normal(4e-4, 1e-4, n)))
        exog[: n // 4] = np.nan  # the regressor's history starts late
        for ex, horizons in ((None, (1, 3, 5)), (exog, (5, 1)), (exog.reshape(-1, 1), (1, 3, 5))):
            got = v.forecast_at_end(bars, horizons, ex)
            old = _old_forecast_at_end(bars, horizons, ex)
            # repr: every float to its last bit, NaN equal to NaN
            assert repr(got) == repr(old), (n, horizons, got, old)
    assert {f.model for f in got.values()} == {"har+x"}  # the fits were reached
