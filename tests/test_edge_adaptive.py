"""Adaptive ranges: the online (ACI) update, its causality, one state for cycle and backtest,
and coverage through a volatility storm on a synthetic panel with the product's own
variance forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import intervals as iv
from models import volatility

# ---------------------------------------------------------------- the online update


def _warm(state: iv.AdaptiveRanges, values, symbol: str = "A") -> None:
    state.update([(symbol, float(z)) for z in values])  # one session: nothing to check yet


def test_a_session_moves_alpha_by_gamma_times_target_minus_its_share_of_misses():
    state = iv.AdaptiveRanges(gamma=0.05)
    _warm(state, np.linspace(0.01, 3.0, iv.MIN_OWN))
    assert state.alpha == pytest.approx([0.20, 0.05])  # nothing learnt before MIN_OWN scores
    state.update([("A", 100.0)])  # outside both ranges
    assert state.alpha == pytest.approx([0.20 - 0.05 * 0.80, 0.05 - 0.05 * 0.95])
    state.update([("A", 0.0), ("A", 100.0)])  # half of the session missed: one step
    assert state.alpha == pytest.approx([0.16 + 0.05 * (0.20 - 0.5), 0.0])  # 95%: held at 0
    state.update([("A", 0.0)])  # inside both
    assert state.alpha == pytest.approx([0.145 + 0.05 * 0.20, 0.05 * 0.05])


def test_alpha_stays_in_zero_one_and_the_multiplier_stays_finite():
    state = iv.AdaptiveRanges(gamma=0.5)
    _warm(state, np.linspace(0.01, 3.0, iv.MIN_OWN))
    for _ in range(20):
        state.update([("A", 50.0)])  # a long storm: alpha would wind up far below 0
    assert state.alpha == [0.0, 0.0]
    assert state.multipliers("A") == (iv.MAX_Q, iv.MAX_Q)  # the largest score, capped
    for _ in range(40):
        state.update([("A", 0.0)])
    assert all(0.0 < a <= 1.0 for a in state.alpha)


def test_gamma_zero_is_the_fixed_conformal_quantile():
    rng = np.random.default_rng(3)
    z = np.abs(rng.standard_normal(400))
    state = iv.AdaptiveRanges(gamma=0.0)
    for v in z:
        state.update([("A", float(v))])
    assert state.multipliers("A") == tuple(iv.conformal_quantile(z, lv) for lv in iv.LEVELS)


def test_misses_widen_the_range_within_days_and_hits_relax_it():
    rng = np.random.default_rng(4)
    state = iv.AdaptiveRanges(gamma=iv.GAMMA)
    for v in np.abs(rng.standard_normal((300, 5))):
        state.update([(s, float(x)) for s, x in zip("ABCDE", v, strict=True)])
    calm = state.multipliers("A")[0]
    for v in 3 * np.abs(rng.standard_normal((5, 5))):  # five sessions of a storm
        state.update([(s, float(x)) for s, x in zip("ABCDE", v, strict=True)])
    stormy = state.multipliers("A")[0]
    assert stormy > 1.15 * calm
    for v in np.abs(rng.standard_normal((150, 5))):
        state.update([(s, float(x)) for s, x in zip("ABCDE", v, strict=True)])
    assert state.multipliers("A")[0] < stormy
    assert state.multipliers("A")[0] == pytest.approx(calm, rel=0.2)


def test_pooled_state_serves_a_symbol_until_it_has_its_own_and_gaussian_before_that():
    state = iv.AdaptiveRanges()
    assert state.multipliers("A") == (iv.gaussian_z(0.80), iv.gaussian_z(0.95))
    _warm(state, np.linspace(0.0, 4.0, 60))
    assert state.multipliers("B") == state.multipliers("A")  # B borrows the pool
    _warm(state, np.linspace(0.0, 1.0, 60), "B")
    assert state.multipliers("B")[0] < 1.0 < state.multipliers("A")[0]


# ---------------------------------------------------------------- causality, one code path


def _calls(n_days: int, symbols: list[str], h: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2015-01-05", periods=n_days + h)
    parts = []
    for s in symbols:
        parts.append(
            pd.DataFrame(
                {
                    "date": dates[:n_days],
                    "known": dates[h:],
                    "symbol": s,
                    "score": np.abs(rng.standard_normal(n_days)) * rng.uniform(0.5, 2.0),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _q(df: pd.DataFrame) -> np.ndarray:
    return iv.adaptive_q(df["date"], df["known"], df["symbol"], df["score"])


def test_no_leak_a_call_never_sees_an_outcome_known_after_its_date():
    df = _calls(400, ["A", "B", "C"], h=3)
    q = _q(df)
    cut = df["date"].iloc[250]
    later = df["known"] > cut
    changed = df.copy()
    changed.loc[later, "score"] = 50.0  # every outcome not yet known at `cut` is a disaster
    q2 = _q(changed)
    upto = (df["date"] <= cut).to_numpy()
    assert np.array_equal(q[:, upto], q2[:, upto])
    assert not np.array_equal(q[:, ~upto], q2[:, ~upto])  # and the disaster does count later


def test_the_backtest_walk_equals_the_cycle_replay_on_every_date():
    df = _calls(200, ["A", "B", "C", "D"], h=5, seed=1)
    q = _q(df)
    for i in (0, 60, 61, 137, len(df) - 1):
        day = df["date"].iloc[i]
        seen = df[df["known"] <= day].sort_values(["known", "symbol", "date"], kind="stable")
        sessions = [
            list(zip(g["symbol"], g["score"], strict=True))
            for _, g in seen.groupby("known", sort=True)
        ]
        state = iv.replay(sessions)
        assert state.multipliers(df["symbol"].iloc[i]) == tuple(q[:, i])


# ---------------------------------------------------------------- a storm


def _storm_panel(n: int, symbols: int, start: int, length: int, seed: int) -> dict:
    """OHLC bars whose daily volatility is x4 for `length` sessions from `start`."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2012-01-02", periods=n)
    vol = np.full(n, 0.012)
    vol[start : start + length] *= 4
    bars = {}
    for k in range(symbols):
        common = rng.standard_normal(n)  # storms hit every symbol at once, as in 2008 or 2020
        r = vol * (0.6 * common + 0.8 * rng.standard_normal(n)) if k else vol * common
        gap = 0.3 * r
        close = 100 * np.exp(np.cumsum(r))
        open_ = close / np.exp(r - gap)
        swing = vol * np.abs(rng.standard_normal(n)) * 0.8
        high = np.maximum(open_, close) * np.exp(swing)
        low = np.minimum(open_, close) * np.exp(-swing)
        bars[f"S{k}"] = pd.DataFrame(
            {"open": open_, "high": high, "low": low, "close": close}, index=dates
        )
    return bars


@pytest.fixture(scope="module")
def storm_calls():
    start, length = 700, 40
    frames = []
    for name, bars in _storm_panel(800, 8, start, length, seed=11).items():
        index = bars.index
        days = index[300:-1]
        starts = index.searchsorted(days - pd.Timedelta(days=volatility.HISTORY_DAYS))
        ends = index.searchsorted(days, side="right") - 1
        var = volatility.forecast_walk(bars, starts, ends, (1,))[1][0]
        logc = np.log(bars["close"].to_numpy())
        frames.append(
            pd.DataFrame(
                {
                    "symbol": name,
                    "date": days,
                    "known": index[ends + 1],
                    "ret": logc[ends + 1] - logc[ends],
                    "sigma": np.sqrt(var),
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    df["score"] = iv.standardized_residual(df["ret"], 0.0, df["sigma"])
    window = (df["date"] >= index[start]) & (df["date"] < index[start + length])
    return df, window.to_numpy()


def _coverage(df: pd.DataFrame, rows: np.ndarray, gamma: float) -> tuple[float, float]:
    q = iv.adaptive_q(df["date"], df["known"], df["symbol"], df["score"], gamma)
    inside = np.abs(df["ret"].to_numpy())[None, :] <= q * df["sigma"].to_numpy()[None, :]
    return float(inside[0, rows].mean()), float(inside[1, rows].mean())


def test_adaptive_ranges_hold_through_a_storm_where_fixed_ones_fall_short(storm_calls):
    df, storm = storm_calls
    fixed80, fixed95 = _coverage(df, storm, 0.0)  # gamma 0: the old fixed multiplier
    ada80, ada95 = _coverage(df, storm, iv.GAMMA)
    # the bound: within 6 pp of nominal over the 40 storm sessions (320 calls)
    assert abs(ada80 - 0.80) <= 0.06 and abs(ada95 - 0.95) <= 0.06, (ada80, ada95)
    assert abs(fixed80 - 0.80) > 0.06, fixed80  # the fixed multiplier misses that bound
    assert abs(ada80 - 0.80) < abs(fixed80 - 0.80) - 0.03
    assert abs(ada95 - 0.95) < abs(fixed95 - 0.95)
    calm = ~storm & (df["date"] < df["date"][storm].min()).to_numpy()
    a80, _ = _coverage(df, calm, iv.GAMMA)
    assert a80 == pytest.approx(0.80, abs=0.03)  # and it costs nothing in calm times
