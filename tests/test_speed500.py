"""Issue 34, the 500-symbol waits (second pass): each faster path of `report` and the cycle's
variance forecast gives exactly what the computation it replaced gave (the old one written
out here, compared bit for bit)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from assistant.cycle import report
from models import metrics, outcomes, volatility


def _series(rng: np.random.Generator, days: pd.DatetimeIndex, size: int) -> pd.Series:
    picked = np.sort(rng.choice(len(days), size=size, replace=False))
    index = pd.DatetimeIndex(pd.to_datetime([str(d.date()) for d in days[picked]]), name="date")
    return pd.Series(rng.random(size) + 1.0, index=index, name="close")


def test_wide_closes_equal_the_frame_of_a_dict_of_series():
    rng = np.random.default_rng(3)
    days = pd.bdate_range("2007-01-01", periods=60)
    closes = {f"S{i}": _series(rng, days, int(rng.integers(5, 60))) for i in range(6)}
    closes["EMPTY"] = pd.Series([], index=pd.DatetimeIndex([], name="date"), dtype=float)
    for names in (sorted(closes), ["S1"], ["EMPTY"], ["EMPTY", "S2"], ["S4", "S0"], []):
        old = pd.DataFrame({s: closes[s] for s in names}).sort_index()
        got = report.wide_closes(closes, names)
        # the union's inferred frequency aside (nothing downstream reads it)
        pd.testing.assert_frame_equal(got, old, check_exact=True, check_freq=False)


def test_positions_equal_get_indexer_on_a_sorted_index():
    rng = np.random.default_rng(5)
    days = pd.bdate_range("2007-01-01", periods=40)
    index = _series(rng, days, 25).index
    wanted = pd.to_datetime(np.array([str(d.date()) for d in days] + ["2030-01-01"], dtype=object))
    got = report._positions(index.to_numpy(), wanted.to_numpy())
    np.testing.assert_array_equal(got, index.get_indexer(wanted))
    assert (got == -1).sum() == len(days) - 25 + 1  # dates it lacks, and one past its end
    empty = pd.DatetimeIndex([], name="date")
    np.testing.assert_array_equal(report._positions(empty.to_numpy(), wanted.to_numpy()), -1)


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
