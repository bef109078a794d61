"""Issue 34, the 500-symbol cycle (sixth pass): each faster path of the cycle gives exactly
what the computation it replaced gave, bit for bit (the replaced one kept here, in the
product's one-symbol path, or in tests/test_speed500*.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import volatility


def _group(n: int, symbols: int = 7) -> list[pd.DataFrame]:
    """Frames on the same sessions whose fits do not all train on the same rows: a missing
    close inside two (their returns and design rows around it unknown: as many rows, not
    the same ones), a late start in
    another, a missing open (the proxy falls back to the squared return), a flat close."""
    from tests.test_speed500 import _bars

    out = [_bars(n, seed=100 * n + i) for i in range(symbols)]
    for b in out[1:]:
        b.index = out[0].index
    if n > 60:
        out[1].iloc[n // 2, 3] = np.nan  # a close missing inside
        out[6].iloc[n // 2 + 9, 3] = np.nan  # as many rows lost, others
        out[2].iloc[: n // 5, :] = np.nan  # a late start
        out[3].iloc[40:44, 0] = np.nan  # opens missing
        out[4].iloc[n - 3, 3] = out[4].iloc[n - 4, 3]  # an unchanged close near the end
        out[5].iloc[n - 2, 3] = np.nan  # a close missing at the end: no HAR at all there
    return out


def _one_by_one(frames, horizons, exog=None, rise=True):
    """The one-symbol path (`_forecasts_of`, a fit and a `_fit_forecast` at a time)."""
    return [volatility.forecasts_at_end([b], horizons, exog, rise)[0] for b in frames]


@pytest.mark.parametrize("n", [8, 21, 26, 121, 125, 126, 180, 300, 572])
def test_forecasts_of_a_group_equal_each_symbol_alone_bit_for_bit(n):
    """`forecasts_at_end` of several symbols solves the fits with the same training rows
    together (`_forecasts_rows`): each symbol's forecasts must be what it gets alone, with
    and without exog, at the lengths where a branch changes."""
    from tests.test_speed500 import _old_forecast_at_end

    group = _group(n)
    exog = np.log(np.abs(np.random.default_rng(n).normal(4e-4, 1e-4, n)))
    exog[: n // 4] = np.nan  # the regressor's history starts late
    models = set()
    for ex, horizons, rise in (
        (None, (1, 3, 5), True),
        (exog, (5, 1), True),
        (exog[:, None].repeat(2, axis=1), (1, 3), True),  # two regressors
        (None, [3], False),
    ):
        got = volatility.forecasts_at_end(group, horizons, ex, rise)
        assert repr(got) == repr(_one_by_one(group, horizons, ex, rise)), (n, horizons)
        if ex is None or ex.ndim == 1:  # and what the old forecast_at_end gave
            old = [_old_forecast_at_end(b, horizons, ex, rise) for b in group]
            assert repr(got) == repr(old), (n, horizons)
        models |= {f.model for one in got for f in one.values()}
    if n >= 300:  # each model served somewhere
        assert {"har+x", "har", "ewma"} <= models, models


def test_fit_forecasts_of_a_stack_equal_each_fit_alone():
    """`_fit_forecasts` (one gelsd call over a stack, the products and means row by row)
    against `_lstsq` + `_fit_forecast` a fit at a time, on near rank-deficient designs
    (which singular values the solve keeps depends on its rcond)."""
    from tests.test_speed500_predict3 import _design

    rng = np.random.default_rng(4)
    for rows, k, smallest in ((60, 8, 1e-3), (480, 9, 1e-14), (9, 9, 1e-16), (200, 8, 1e-17)):
        fits = 11
        x = np.stack([_design(rng, rows + 1, k, smallest) for _ in range(fits)])
        target = rng.standard_normal((fits, rows + 1))
        realized = np.exp(rng.standard_normal((fits, rows + 1)))
        realized[:, 3] = 0.0  # floored at EPS
        train = np.arange(rows)
        got = volatility._fit_forecasts(
            x[:, train], target[:, train], realized[:, train], x[:, rows]
        )
        for i in range(fits):
            coef = volatility._lstsq(x[i, train], target[i, train])
            want = volatility._fit_forecast(x[i], target[i], realized[i], train, coef, rows, 1)
            assert got[i].tobytes() == np.float64(want).tobytes(), (rows, k, i)
