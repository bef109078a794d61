"""Volatility forecasts for the next h sessions, scored honestly against simple baselines.

Conventions (used by every function here, by the baselines and by the benchmark):

- Inputs are one symbol's daily bars: a DataFrame indexed by session date with lowercase
  ``open``/``high``/``low``/``close`` columns (``open/high/low`` optional), or a close Series.
- All forecasts are VARIANCES OF THE h-SESSION LOG RETURN, i.e. the forecast sum of the daily
  variances over sessions t+1..t+h, made with data up to and including session t (causal).
- The realized measure every model and baseline is scored against is
  ``future_realized_var``: the sum of squared daily close-to-close log returns over
  t+1..t+h. It includes overnight gaps, which is what a close-to-close price range must cover.
- ``qlike`` is the loss: realized/forecast - log(realized/forecast) - 1 (0 when equal),
  robust to noise in the realized proxy (Patton 2011), with realized floored at ``EPS``.

Range-based daily variance (Parkinson, Garman-Klass) is a far less noisy input than a
squared return, which is why the HAR model (Corsi 2009) uses it; the HAR output is then
rescaled to the close-to-close target by a QLIKE-optimal factor fitted on training rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

try:  # numpy's own LAPACK gufuncs (private: `_lstsq` falls back to np.linalg.lstsq without)
    from numpy.linalg import _umath_linalg
except ImportError:  # pragma: no cover
    _umath_linalg = None  # type: ignore[assignment]

from models import indicators
from models.indicators import columns_of

Closes = TypeVar("Closes", pd.Series, pd.DataFrame)  # one symbol's closes, or dates x symbols

EPS = 1e-10  # floor for realized variance (≈ a 0.001% daily move): keeps log/ratio finite
RISKMETRICS_LAMBDA = 0.94
HAR_WINDOWS = (1, 5, 22)
EWMA_SPAN = 66  # sessions the EWMA regressor of the HAR looks back (0.94^66 < 2%)
LOOKBACK = max(*HAR_WINDOWS, EWMA_SPAN)  # sessions before a design row is complete
HORIZONS = (1, 3, 5)
HISTORY_DAYS = 800  # calendar days of bars a call's forecast sees (a cycle loads this many)
# The HAR's log target is floored at this share of the monthly mean daily proxy: without
# it a stale close (a zero return, ~1% of sessions in close-only data) enters the h = 1 fit
# as log(EPS) = -23 against ~-9 for a normal day and drags the coefficients. Chosen on
# validation years 2003-2006 (bench/bench_ranges.py) among 0, 0.01, 0.1 and 0.25.
TARGET_FLOOR = 0.1
LEV_SESSIONS = 5  # sessions of the HAR's slower leverage term (lev5)
_EPS64 = float(np.finfo(np.float64).eps)  # np.linalg.lstsq's rcond=None is this x max(m, k)


# ---------------------------------------------------------------- daily variance proxies


def log_returns(close: Closes) -> Closes:
    """Daily close-to-close log returns; NaN on the first session."""
    return close.astype(float).transform(np.log).diff()


def close_to_close_var(close: Closes) -> Closes:
    """Squared daily log return: the noisiest unbiased daily variance proxy."""
    return log_returns(close) ** 2


def parkinson_var(high: pd.Series, low: pd.Series) -> pd.Series:
    """Parkinson (1980) intraday variance: ln(H/L)^2 / (4 ln 2). Ignores the overnight gap."""
    return (high.astype(float) / low.astype(float)).transform(np.log) ** 2 / (
        4.0 * float(np.log(2.0))
    )


def garman_klass_var(
    open_: pd.Series, high: pd.Series, low: pd.Series, close: pd.Series
) -> pd.Series:
    """Garman-Klass (1980) open-to-close variance: 0.5 ln(H/L)^2 - (2 ln 2 - 1) ln(C/O)^2.

    Clipped at 0 (it can dip below on bars with a tiny range). Ignores the overnight gap.
    """
    hl = (high.astype(float) / low.astype(float)).transform(np.log)
    co = (close.astype(float) / open_.astype(float)).transform(np.log)
    return (0.5 * hl**2 - (2.0 * float(np.log(2.0)) - 1.0) * co**2).clip(lower=0.0)


def daily_realized_var(bars: pd.DataFrame | pd.Series) -> pd.Series:
    """Best available daily variance proxy for session t, known at the close of t.

    With OHLC: squared overnight return ln(O_t/C_{t-1})^2 plus Garman-Klass (so the
    proxy covers the whole close-to-close day). With closes only: the squared return.
    """
    if isinstance(bars, pd.Series):
        return close_to_close_var(bars)
    if not {"open", "high", "low"} <= set(bars.columns):
        return close_to_close_var(bars["close"])
    overnight = (bars["open"].astype(float) / bars["close"].astype(float).shift(1)).transform(
        np.log
    ) ** 2
    gk = garman_klass_var(bars["open"], bars["high"], bars["low"], bars["close"])
    out = overnight + gk
    return out.where(out.notna(), close_to_close_var(bars["close"]))


def future_realized_var(close: pd.Series, h: int) -> pd.Series:
    """The scoring target at t: sum of squared daily log returns over t+1..t+h (NaN at the end)."""
    return future_realized_vars(close, [h])[h]


def future_realized_vars(close: Closes, horizons: list[int]) -> dict[int, Closes]:
    """future_realized_var for each of `horizons`, the squared returns computed once (of a
    dates x symbols frame: per column, the values of each column's own Series)."""
    sq = close_to_close_var(close)
    return {h: sq.rolling(h, min_periods=h).sum().shift(-h) for h in horizons}


def future_realized_vars_runs(
    close: np.ndarray, starts: np.ndarray, horizons: list[int]
) -> dict[int, np.ndarray]:
    """`future_realized_vars` of many series' closes laid end to end (`starts`: per row, the
    row where its series begins), all at once: per row, bit for bit the value of its own
    series alone (the same log, difference and square per value, and pandas' rolling sum
    over each series from its own first value, `indicators.rolling_runs`)."""
    n = len(close)
    rows = np.arange(n)
    logc = np.log(close)
    sq = np.full(n, np.nan)
    sq[1:] = (logc[1:] - logc[:-1]) ** 2
    sq[rows == starts] = np.nan  # a series' first close has no return
    ends = indicators.run_stops(starts)
    out: dict[int, np.ndarray] = {}
    for h in horizons:
        rolled = indicators.rolling_runs(sq, starts, h, "sum", h)
        shifted = np.full(n, np.nan)
        inside = rows + h < ends  # shift(-h) within the series
        shifted[inside] = rolled[rows[inside] + h]
        out[h] = shifted
    return out


# ---------------------------------------------------------------- loss


def qlike(realized: np.ndarray | pd.Series, forecast: np.ndarray | pd.Series) -> np.ndarray:
    """Per-row QLIKE loss r/f - log(r/f) - 1 (>= 0, 0 iff f == r); NaN where either is NaN.

    Realized is floored at EPS so a zero-return window does not give -log(0).
    """
    r = np.maximum(np.asarray(realized, dtype=np.float64), EPS)
    f = np.maximum(np.asarray(forecast, dtype=np.float64), EPS)
    ratio = r / f
    return ratio - np.log(ratio) - 1.0


def mean_qlike(realized: np.ndarray | pd.Series, forecast: np.ndarray | pd.Series) -> float:
    """Mean QLIKE over rows where both realized and forecast are finite."""
    loss = qlike(realized, forecast)
    ok = np.isfinite(np.asarray(realized, float)) & np.isfinite(np.asarray(forecast, float))
    return float(loss[ok].mean()) if ok.any() else float("nan")


# ---------------------------------------------------------------- baselines


def ewma_variance(returns: pd.Series, h: int = 1, lam: float = RISKMETRICS_LAMBDA) -> pd.Series:
    """RiskMetrics EWMA: s2_t = lam s2_{t-1} + (1-lam) r_t^2; forecast for t+1..t+h = h s2_t.

    Seeded with the mean of the first 20 squared returns (a pure function of the past once
    the first 20 sessions have passed; earlier values are NaN).
    """
    r2 = (returns.astype(float) ** 2).to_numpy()
    out = np.full(len(r2), np.nan)
    valid = np.flatnonzero(np.isfinite(r2))
    if len(valid) < 20:
        return pd.Series(out, index=returns.index)
    start = valid[19]
    s2 = float(np.nanmean(r2[valid[0] : start + 1]))
    out[start] = s2
    for i in range(start + 1, len(r2)):
        if np.isfinite(r2[i]):
            s2 = lam * s2 + (1.0 - lam) * r2[i]
        out[i] = s2
    return pd.Series(h * out, index=returns.index)


def trailing_variance(returns: pd.Series, h: int = 1, window: int = 20) -> pd.Series:
    """Mean of the last `window` squared returns (t-window+1..t) times h."""
    return h * (returns.astype(float) ** 2).rolling(window, min_periods=window).mean()


# ---------------------------------------------------------------- HAR


def har_features(
    rv: pd.Series, windows: tuple[int, ...] = HAR_WINDOWS, returns: pd.Series | None = None
) -> pd.DataFrame:
    """log of the trailing mean of the daily proxy over each window (daily, weekly, monthly).

    Each average is floored at 1% of the monthly average (and EPS) so an isolated zero-range
    day does not produce an extreme log. With `returns` (the cycle's model), three more:
    ``jump`` = max(log rv_1 - log rv_22, 0), so a session far above its month gets more
    weight than the linear term gives it; ``lev`` = min(r, 0) / sqrt(monthly mean), a fall
    raising volatility more than a rise (leverage); ``log_ewma``, the log of a finite-memory
    RiskMetrics average of squared returns, which follows a storm up faster than the
    monthly mean. Chosen over the plain HAR on validation years 2003-2006 only (see
    bench/bench_ranges.py). And ``lev5`` = min(r_{t-4} + ... + r_t, 0) / sqrt(5 x monthly
    mean), a week's fall (a leverage effect slower than one day's): chosen on validation
    2003-2006 and the panel's 1996-2006 (bench/bench_ranges_storm.py, issue 33).
    """
    rv = rv.astype(float)
    longest = rv.rolling(max(windows), min_periods=max(windows)).mean()
    floor = np.maximum(0.01 * longest, EPS)
    cols: dict[str, pd.Series | np.ndarray] = {}
    for w in windows:
        avg = rv.rolling(w, min_periods=w).mean()
        cols[f"log_rv_{w}"] = np.log(np.maximum(avg, floor))
    if returns is not None:
        r = returns.astype(float)
        cols["jump"] = np.maximum(cols[f"log_rv_{windows[0]}"] - cols[f"log_rv_{windows[-1]}"], 0.0)
        cols["lev"] = np.minimum(r, 0.0) / np.sqrt(np.maximum(longest, EPS))
        ewma = _trailing_ewma((r**2).to_numpy(float))
        cols["log_ewma"] = np.log(np.maximum(ewma, EPS))
        week = r.rolling(LEV_SESSIONS, min_periods=LEV_SESSIONS).sum()
        cols["lev5"] = np.minimum(week, 0.0) / np.sqrt(LEV_SESSIONS * np.maximum(longest, EPS))
    return pd.DataFrame(cols, index=rv.index)


@dataclass(frozen=True)
class HarModel:
    """Fitted HAR: log target ≈ X @ coef; forecast = scale * exp(X @ coef) (variance over h)."""

    h: int
    coef: np.ndarray  # [intercept, b_d, b_w, b_m, (b_jump, b_lev, b_ewma, b_lev5)]
    scale: float


def _har_design(features: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(features)), features.to_numpy(float)])


def fit_har(
    rv: pd.Series,
    realized_h: pd.Series,
    h: int,
    train: pd.Series | np.ndarray,
    feats: pd.DataFrame | None = None,
) -> HarModel:
    """Least squares of har_target (log mean daily proxy over t+1..t+h) on har_features, TRAIN
    rows only.

    `realized_h` is future_realized_var(close, h) (the scoring target); `train` is a boolean
    mask over rv.index of rows whose target is fully known in the training period (the
    caller purges the last h rows). The scale factor mean(realized / exp(fit)) maps the
    range-based log forecast onto the close-to-close target and is QLIKE-optimal.
    """
    feats = har_features(rv) if feats is None else feats
    target = har_target(rv.to_numpy(float), h)
    mask = np.asarray(train, bool) & feats.notna().all(axis=1).to_numpy()
    mask &= np.isfinite(target) & np.isfinite(realized_h.to_numpy(float))
    if mask.sum() < 50:
        raise ValueError(f"HAR needs at least 50 training rows, got {int(mask.sum())}")
    x = _har_design(feats[mask])
    coef, *_ = np.linalg.lstsq(x, target[mask], rcond=None)
    fitted = np.exp(x @ coef)
    scale = float(np.mean(np.maximum(realized_h.to_numpy(float)[mask], EPS) / fitted))
    return HarModel(h=h, coef=coef, scale=scale)


def har_target(
    rv: np.ndarray, h: int, prefix: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """The HAR's regression target at t: log of the mean daily proxy over t+1..t+h, floored
    at TARGET_FLOOR x the monthly mean at t (NaN where either is unknown). `prefix`: rv's
    `_prefix`, when the caller has it."""
    out = np.full(len(rv), np.nan)
    if len(rv) > h:
        prefix = _prefix(rv) if prefix is None else prefix
        month = _trailing_mean(rv, max(HAR_WINDOWS), prefix)[:-h]
        floor = np.maximum(TARGET_FLOOR * month, EPS)  # NaN while the month is incomplete
        out[:-h] = np.log(np.maximum(_trailing_mean(rv, h, prefix)[h:], floor))
    return out


def predict_har(model: HarModel, rv: pd.Series, feats: pd.DataFrame | None = None) -> pd.Series:
    """h-session variance forecast at every t where the 22-session history exists."""
    feats = har_features(rv) if feats is None else feats
    pred = model.scale * np.exp(_har_design(feats) @ model.coef)
    return pd.Series(pred, index=rv.index)


# ---------------------------------------------------------------- GARCH (arch)


def garch_variances(
    returns: pd.Series,
    horizons: tuple[int, ...],
    train_end: pd.Timestamp | str | int,
    *,
    gjr: bool = False,
) -> dict[int, pd.Series]:
    """GARCH(1,1) (or GJR with gjr=True), normal errors, constant mean, fitted on returns up
    to train_end (a label of returns.index), then run forward with those FIXED parameters:
    the value at t is the forecast variance of the return over t+1..t+h, for each h.

    One fit serves every horizon. Returns are scaled to percent for the optimizer; output
    is in log-return^2 units, reindexed to returns.index (NaN on the first session).
    """
    from arch import arch_model  # local import: arch is slow to import

    r = returns.dropna().astype(float) * 100.0
    am = arch_model(r, mean="Constant", vol="GARCH", p=1, o=1 if gjr else 0, q=1, dist="normal")
    res = am.fit(last_obs=train_end, disp="off", show_warning=False)
    fc = res.forecast(horizon=max(horizons), start=r.index[0], reindex=False)
    cum = fc.variance.to_numpy().cumsum(axis=1) / 1e4
    return {
        h: pd.Series(cum[:, h - 1], index=fc.variance.index).reindex(returns.index)
        for h in horizons
    }


def garch_variance(
    returns: pd.Series, h: int, train_end: pd.Timestamp | str | int, *, gjr: bool = False
) -> pd.Series:
    """garch_variances for one horizon."""
    return garch_variances(returns, (h,), train_end, gjr=gjr)[h]


# ---------------------------------------------------------------- selection


def select_by_qlike(
    candidates: dict[str, pd.Series], realized: pd.Series, rows: pd.Series | np.ndarray
) -> tuple[str, dict[str, float]]:
    """Name of the candidate with the lowest mean QLIKE on `rows` (a VALIDATION mask), and
    every candidate's score. Rows where any candidate is NaN are skipped for all of them, so
    the comparison is on the same rows."""
    mask = np.asarray(rows, bool) & np.isfinite(realized.to_numpy(float))
    for s in candidates.values():
        mask &= np.isfinite(s.reindex(realized.index).to_numpy(float))
    scores = {
        name: mean_qlike(
            realized.to_numpy(float)[mask], s.reindex(realized.index).to_numpy(float)[mask]
        )
        for name, s in candidates.items()
    }
    best = min(scores, key=lambda k: (np.nan_to_num(scores[k], nan=np.inf), k))
    return best, scores


# ---------------------------------------------------------------- the cycle's forecast

MIN_HAR_SESSIONS = 120  # sessions of one symbol's past before its own HAR fit is trusted


@dataclass(frozen=True)
class VolForecast:
    """Variance of the h-session log return from the last bar: the model's forecast, the
    model that made it, and the two baselines it is scored against."""

    h: int
    variance: float
    model: str  # "har" (range-based HAR fit on the symbol's own past) or "ewma" (fallback)
    ewma: float
    trailing: float
    scale: float = 1.0  # range_scale: how much wider than sigma the ranges are drawn

    @property
    def sigma(self) -> float:
        return float(np.sqrt(max(self.variance, EPS)))

    @property
    def range_sigma(self) -> float:
        """The sigma the ranges are drawn with (and scored by): sigma x scale."""
        return self.sigma * self.scale


# The ranges of 3- and 5-session calls widen while the variance forecast is rising: sigma x
# (1 + RISE_WEIGHT x max(0, log(v_t / v_{t-RISE_SESSIONS}))), v_{t-5} the forecast made
# from the same bars less the last RISE_SESSIONS. Chosen on validation years 2003-2006 and
# the panel's 1996-2006 among weights 0, 0.5, 1 and 2 (bench/bench_ranges_storm.py, issue 33).
RISE_SESSIONS = 5
RISE_WEIGHT = 2.0

# Where the HAR serves, the forecast is w x HAR + (1 - w) x EWMA (the RiskMetrics baseline
# of the same call), w per horizon: the grid 0, 0.05, .., 1's best on validation years
# 2003-2006 (both sets) and the panel's 1996-2006 (bench/bench_qlike.py round 2, issue 33;
# test 2007 on chose nothing). A horizon not measured takes the weight of the largest
# measured one below it.
MIX_WEIGHT = {1: 0.7, 3: 0.75, 5: 0.8}


def mix_weight(h: int) -> float:
    """The HAR's weight in the h-session forecast (MIX_WEIGHT; 1 - it is the EWMA's)."""
    below = [k for k in MIX_WEIGHT if k <= h]
    return MIX_WEIGHT[max(below) if below else min(MIX_WEIGHT)]


def _mixed(har: float, ewma: float, h: int) -> float:
    """The HAR's forecast mixed with the EWMA's (the HAR's alone where EWMA is unknown)."""
    if not np.isfinite(ewma) or ewma <= 0:
        return har
    w = mix_weight(h)
    return float(w * har + (1.0 - w) * ewma)


def range_scale(
    now: np.ndarray | float, then: np.ndarray | float, h: int, weight: float = RISE_WEIGHT
) -> np.ndarray:
    """1 + weight x max(0, log(now / then)) for h > 1; 1 at h = 1 and where `then` is
    unknown (NaN or not positive)."""
    a, b = np.asarray(now, dtype=float), np.asarray(then, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.log(a / b)
    rise = np.where(np.isfinite(rise), np.maximum(rise, 0.0), 0.0)
    return 1.0 + (weight * rise if h > 1 else 0.0 * rise)


def forecast_at_end(
    bars: pd.DataFrame,
    horizons: tuple[int, ...] | list[int],
    exog: np.ndarray | None = None,
    rise: bool = True,
) -> dict[int, VolForecast]:
    """Per horizon, the variance forecast made at the last bar of `bars` from those bars only.

    A range-based HAR (har_features with returns: daily/weekly/monthly proxy, jump,
    leverage, EWMA and week-leverage terms) is fitted on the symbol's own past rows whose h-session
    outcome is known (the last h rows are purged); with less than MIN_HAR_SESSIONS of history the
    EWMA baseline serves. The bench (bench/bench_edge.py) measured the HAR against EWMA
    and trailing-20 by QLIKE on data it was never tuned on. Where the HAR serves, the
    forecast is mix_weight(h) x HAR + (1 - mix_weight(h)) x the call's EWMA (issue 33).

    `exog` (optional, one row per bar, e.g. the log VIX-implied variance known at each
    close): extra regressors of the same fit, used where the last bar has them and at least
    MIN_HAR_SESSIONS fit rows do (model "har+x"); elsewhere the plain HAR serves.

    Each forecast's `scale` is range_scale against the forecast from the same bars less the
    last RISE_SESSIONS (`rise=False`: 1), so the ranges (`range_sigma`) widen while the
    variance forecast is rising; `range_scales` is the walk's twin.
    """
    return forecasts_at_end([bars], horizons, exog, rise)[0]


def forecasts_at_end(
    bars: list[pd.DataFrame],
    horizons: tuple[int, ...] | list[int],
    exog: np.ndarray | None = None,
    rise: bool = True,
) -> list[dict[int, VolForecast]]:
    """`forecast_at_end` of each of `bars` (frames on the same sessions; `exog`, if any, a
    row per session, for all of them): the arrays behind the fits are computed for all the
    symbols at once, a row per symbol (element-wise operations and running sums along each
    row: each row is what the symbol's own 1-D arrays gave, bit for bit), then each symbol's
    fits are solved on its own rows."""
    if len({len(b) for b in bars}) > 1 or len({_has_range(b) for b in bars}) > 1:
        return [forecasts_at_end([b], horizons, exog, rise)[0] for b in bars]
    # The same estimators as the Series functions above, in numpy: the cycle calls this
    # for every symbol every session (tests/test_edge_volatility.py checks they agree).
    r, r2, rv = _returns_rows(bars)
    n = r.shape[1]
    # The rise factor's forecast is the one from the first n - RISE_SESSIONS bars. Every
    # array here is causal (a row depends on its own and earlier bars only), so the shorter
    # bars' arrays are the first rows of these, and their fits' training rows are these
    # fits' rows less those whose h-session future ends past the shorter bars: both
    # forecasts come from one set of arrays (tests/test_speed500*.py check it bit for bit
    # against recomputing everything from the shorter bars).
    lengths = [n]
    if rise and n > RISE_SESSIONS and any(h > 1 for h in horizons):
        lengths.append(n - RISE_SESSIONS)
    fitted = n >= MIN_HAR_SESSIONS
    if fitted:
        pre_rv, pre_r2 = _prefix_rows(rv), _prefix_rows(r2)
        month = _trailing_mean_rows(rv, max(HAR_WINDOWS), pre_rv)
        feats = _har_matrix_rows(rv, r, r2, pre_rv, month)
        ok_feats = np.isfinite(feats).all(axis=2)
        targets, realized = {}, {}
        for h in {int(h) for h in horizons}:
            targets[h] = _har_target_rows(rv, h, pre_rv, month)
            realized[h] = np.full(r.shape, np.nan)
            if n > h:
                realized[h][:, : n - h] = _trailing_mean_rows(r2, h, pre_r2)[:, h:] * h
    if len(bars) > 1:  # the fits of symbols with the same training rows solved together
        many: list[tuple[str, np.ndarray, int, np.ndarray]] = []
        if fitted:
            if exog is not None:
                extra = np.asarray(exog, dtype=float).reshape(n, -1)
                wide3 = np.concatenate(
                    [feats, np.broadcast_to(extra, (len(bars), *extra.shape))], axis=2
                )
                many.append(("har+x", wide3, MIN_HAR_SESSIONS, np.isfinite(wide3).all(axis=2)))
            many.append(("har", feats, 50, ok_feats))
        known = (targets, realized) if fitted else ({}, {})
        return _forecasts_rows(r, r2, many, *known, horizons, lengths)
    out = []
    for s in range(len(bars)):
        designs: list[tuple[str, np.ndarray, int, np.ndarray]] = []  # (model, x, min rows, ok)
        if fitted:
            if exog is not None:
                wide = _with_exog(feats[s], exog)
                designs.append(("har+x", wide, MIN_HAR_SESSIONS, np.isfinite(wide).all(axis=1)))
            designs.append(("har", feats[s], 50, ok_feats[s]))
        out.append(
            _forecasts_of(
                r[s],
                r2[s],
                designs,
                targets if fitted else {},
                realized if fitted else {},
                s,
                horizons,
                lengths,
            )
        )
    return out


def _forecasts_of(
    r: np.ndarray,
    r2: np.ndarray,
    designs: list[tuple[str, np.ndarray, int, np.ndarray]],
    targets: dict[int, np.ndarray],
    realized: dict[int, np.ndarray],
    s: int,
    horizons: tuple[int, ...] | list[int],
    lengths: list[int],
) -> dict[int, VolForecast]:
    """One symbol's forecasts at the end of each of `lengths` bars (its returns `r`, their
    squares `r2`; its HAR designs, and row `s` of the targets and realized variances per
    horizon), the first with its rise factor against the second (when there is one)."""
    n = lengths[0]
    ewma1 = _ewma_lasts(r2, lengths)
    trail1 = {m: float(np.mean(r2[m - 20 : m])) if m > 20 else float("nan") for m in lengths}
    by_length: dict[int, dict[int, VolForecast]] = {m: {} for m in lengths}
    for h in horizons:
        hh = int(h)
        fits = []  # (model, x, min rows, ok rows, the rows with a known target), in order
        if designs:
            target, real = targets[hh][s], realized[hh][s]
            known = np.isfinite(target) & np.isfinite(real)
            fits = [(*d, np.flatnonzero(d[3] & known)) for d in designs]
        for m in lengths:
            ewma = h * ewma1[m]
            trail = h * trail1[m]
            var, name = ewma, "ewma"
            for model, x, min_rows, ok, rows in fits if m >= MIN_HAR_SESSIONS else []:
                # the rows of the first m bars whose h-session future is inside them
                used = rows[: int(np.searchsorted(rows, m - hh))]
                if len(used) < min_rows or not ok[m - 1]:
                    continue
                coef = _lstsq(x[used], target[used])
                pred = _fit_forecast(x, target, real, used, coef, m - 1, hh)
                if np.isfinite(pred) and pred > 0:
                    var, name = _mixed(pred, ewma, hh), model
                    break  # the plain HAR serves only where the one with exog did not
            if not np.isfinite(var) or var <= 0:
                var = float(np.nanvar(r[:m][-250:]) * h) if m > 2 else EPS
                name = "sample"
            by_length[m][hh] = VolForecast(hh, var, name, ewma, trail)
    out = by_length[n]
    if len(lengths) > 1:
        before = by_length[lengths[1]]
        for h, f in out.items():
            k_h = float(range_scale(f.variance, before[h].variance, h))
            out[h] = VolForecast(h, f.variance, f.model, f.ewma, f.trailing, k_h)
    return out


def _forecasts_rows(
    r: np.ndarray,
    r2: np.ndarray,
    designs: list[tuple[str, np.ndarray, int, np.ndarray]],
    targets: dict[int, np.ndarray],
    realized: dict[int, np.ndarray],
    horizons: tuple[int, ...] | list[int],
    lengths: list[int],
) -> list[dict[int, VolForecast]]:
    """`_forecasts_of` of every row (symbol) of `r` at once: the designs are (model, x of
    (symbols, sessions, k), min rows, ok of (symbols, sessions)). For each horizon, length
    and design, the symbols whose fit has the same training rows are solved in one gelsd
    call (numpy's gufunc over a stack: each solve is the one-symbol solve, bit for bit) and
    their forecasts computed as one array (the same operations, element by element or row
    by row); what is left per symbol is the choice of model and the forecast's record.
    tests/test_speed500_predict4.py compares it with `_forecasts_of` symbol by symbol."""
    count, n = r.shape[0], lengths[0]
    ewma1 = _ewma_lasts_rows(r2, lengths)
    trails = {m: np.mean(r2[:, m - 20 : m], axis=1).tolist() for m in lengths if m > 20}
    trail1 = [{m: trails[m][s] if m > 20 else float("nan") for m in lengths} for s in range(count)]
    by_length: list[dict[int, dict[int, VolForecast]]] = [
        {m: {} for m in lengths} for _ in range(count)
    ]
    for h in horizons:
        hh = int(h)
        fits = []  # (model, x, min rows, ok rows, rows with a known target), in order
        if designs:
            target, real = targets[hh], realized[hh]
            known = np.isfinite(target) & np.isfinite(real)
            fits = [(*d, d[3] & known) for d in designs]
        for m in lengths:
            har: list[tuple[float, str] | None] = [None] * count  # the HAR that serves
            todo = np.ones(count, dtype=bool)  # symbols without one yet
            for model, x, min_rows, ok, rows in fits if m >= MIN_HAR_SESSIONS else []:
                # the rows of the first m bars whose h-session future is inside them
                used = rows[:, : max(m - hh, 0)]
                able = todo & (used.sum(axis=1) >= min_rows) & ok[:, m - 1]
                groups: dict[bytes, list[int]] = {}
                for s in np.flatnonzero(able).tolist():
                    groups.setdefault(used[s].tobytes(), []).append(s)
                for members in groups.values():
                    idx = np.array(members)
                    at = _rows_at(used[members[0]])
                    preds = _fit_forecasts(
                        _take(x, idx, at), _take(target, idx, at), _take(real, idx, at),
                        x[idx, m - 1],
                    )  # fmt: skip
                    for s, pred in zip(members, preds.tolist(), strict=True):
                        if math.isfinite(pred) and pred > 0:
                            har[s] = (pred, model)
                            todo[s] = False
            for s in range(count):
                ewma = h * ewma1[s][m]
                trail = h * trail1[s][m]
                var, name = ewma, "ewma"
                got = har[s]
                if got is not None:
                    var, name = _mixed(got[0], ewma, hh), got[1]
                if not math.isfinite(var) or var <= 0:
                    var = float(np.nanvar(r[s, :m][-250:]) * h) if m > 2 else EPS
                    name = "sample"
                by_length[s][m][hh] = VolForecast(hh, var, name, ewma, trail)
    out = [by_length[s][n] for s in range(count)]
    if len(lengths) > 1 and count:
        # each horizon's rise factors for all the symbols in one call (element by element:
        # each is the one-symbol call's, tests/test_speed500_predict4.py)
        for h in list(out[0]):
            now = np.array([mine[h].variance for mine in out])
            then = np.array([by_length[s][lengths[1]][h].variance for s in range(count)])
            for mine, k_h in zip(out, range_scale(now, then, h).tolist(), strict=True):
                f = mine[h]
                mine[h] = VolForecast(h, f.variance, f.model, f.ewma, f.trailing, k_h)
    return out


def _rows_at(used: np.ndarray) -> np.ndarray | slice:
    """The positions of `used`'s true values: a slice where they are one run (the usual
    fit: every row from the first known one on), else their indices."""
    at = np.flatnonzero(used)
    if len(at) and at[-1] - at[0] + 1 == len(at):
        return slice(int(at[0]), int(at[-1]) + 1)
    return at


def _take(a: np.ndarray, idx: np.ndarray, at: np.ndarray | slice) -> np.ndarray:
    """`a[idx[:, None], at]` (rows `idx`, and of each the positions `at`): the same array
    (values, shape, C order), taken a row's run at a time where `at` is a slice instead of
    element by element (a 500-symbol fit gathers ~2.5 million values)."""
    taken: np.ndarray = a[idx, at] if isinstance(at, slice) else a[idx[:, None], at]
    return taken  # a copy in C order either way


def _fit_forecasts(
    x: np.ndarray, target: np.ndarray, realized: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """`_fit_forecast` of a stack of fits on the same number of training rows: `x` (fits,
    rows, k) the designs' training rows, `target` and `realized` (fits, rows) theirs, `end`
    (fits, k) each design's row to forecast from. Each fit's least squares is `_lstsq`'s
    (one gelsd gufunc call over the stack), each product and mean is taken row by row as
    the one-fit code takes it (matmul's matrix-vector and dot kernels, a mean along the
    contiguous last axis)."""
    if _umath_linalg is None:
        coef = np.stack([_lstsq(a, b) for a, b in zip(x, target, strict=True)])
    else:
        with np.errstate(
            call=_lstsq_failed, invalid="call", over="ignore", divide="ignore", under="ignore"
        ):
            got = _umath_linalg.lstsq(
                x, target[:, :, None], _EPS64 * max(x.shape[1:]), signature="ddd->ddid"
            )
        coef = np.ascontiguousarray(got[0][:, :, 0])
    fitted = np.exp(np.matmul(x, coef[:, :, None])[:, :, 0])
    scale = np.mean(np.maximum(realized, EPS) / fitted, axis=1)
    return np.asarray(scale * np.exp(np.matmul(end[:, None, :], coef[:, :, None])[:, 0, 0]))


def _has_range(bars: pd.DataFrame) -> bool:
    return {"open", "high", "low"} <= set(bars.columns)


def _returns_rows(bars: list[pd.DataFrame]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_returns` of each of `bars` (same length), a row each: (log returns, their squares,
    daily realized variance)."""

    names = ["close", "low", "high", "open"] if _has_range(bars[0]) else ["close"]
    arrays = [columns_of(b, names) for b in bars]  # one conversion a frame

    def rows(col: str) -> np.ndarray:
        k = names.index(col)
        return np.stack([a[k] for a in arrays])

    logc = np.log(rows("close"))
    r = np.empty(logc.shape)
    r[:, :1] = np.nan
    r[:, 1:] = np.diff(logc, axis=1)
    r2 = r**2
    if not _has_range(bars[0]):
        return r, r2, r2
    lo, hi, op = (np.log(rows(c)) for c in ("low", "high", "open"))
    gk = np.clip(0.5 * (hi - lo) ** 2 - (2.0 * np.log(2.0) - 1.0) * (logc - op) ** 2, 0.0, None)
    before = np.empty(logc.shape)
    before[:, :1] = np.nan
    before[:, 1:] = logc[:, :-1]
    out = (op - before) ** 2 + gk
    return r, r2, np.where(np.isfinite(out), out, r2)


def _prefix_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_prefix` of each row of x."""
    c = np.zeros((x.shape[0], x.shape[1] + 1))
    np.cumsum(np.nan_to_num(x), axis=1, out=c[:, 1:])
    bad = np.zeros((x.shape[0], x.shape[1] + 1), dtype=np.int64)
    np.cumsum(~np.isfinite(x), axis=1, out=bad[:, 1:])
    return c, bad


def _trailing_mean_rows(x: np.ndarray, w: int, prefix: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """`_trailing_mean` of each row of x, from its `_prefix_rows`."""
    c, bad = prefix
    out = np.full(x.shape, np.nan)
    if x.shape[1] >= w:
        sums = c[:, w:] - c[:, :-w]
        nan_in = bad[:, w:] - bad[:, :-w]
        out[:, w - 1 :] = np.where(nan_in == 0, sums / w, np.nan)
    return out


def _har_target_rows(
    rv: np.ndarray, h: int, prefix: tuple[np.ndarray, np.ndarray], month: np.ndarray
) -> np.ndarray:
    """har_target of each row of rv (its `_prefix_rows` and monthly trailing mean given)."""
    out = np.full(rv.shape, np.nan)
    if rv.shape[1] > h:
        floor = np.maximum(TARGET_FLOOR * month[:, :-h], EPS)  # NaN while the month is incomplete
        out[:, :-h] = np.log(np.maximum(_trailing_mean_rows(rv, h, prefix)[:, h:], floor))
    return out


def _har_matrix_rows(
    rv: np.ndarray,
    r: np.ndarray,
    r2: np.ndarray,
    prefix: tuple[np.ndarray, np.ndarray],
    longest: np.ndarray,
) -> np.ndarray:
    """`_har_matrix` of each row (symbol, session, 8): rv's `_prefix_rows` and monthly mean
    given, r2 = r**2."""
    floor = np.maximum(0.01 * longest, EPS)
    cols = [
        np.log(
            np.maximum(
                longest if w == max(HAR_WINDOWS) else _trailing_mean_rows(rv, w, prefix), floor
            )
        )
        for w in HAR_WINDOWS
    ]
    jump = np.maximum(cols[0] - cols[-1], 0.0)
    with np.errstate(invalid="ignore"):
        lev = np.minimum(r, 0.0) / np.sqrt(np.maximum(longest, EPS))
    ewma = np.log(np.maximum(_trailing_ewma_rows(r2), EPS))
    with np.errstate(invalid="ignore"):
        week = _trailing_mean_rows(r, LEV_SESSIONS, _prefix_rows(r)) * LEV_SESSIONS
        lev5 = np.minimum(week, 0.0) / np.sqrt(LEV_SESSIONS * np.maximum(longest, EPS))
    return np.stack([np.ones(rv.shape), *cols, jump, lev, ewma, lev5], axis=2)


def _trailing_ewma_rows(x: np.ndarray, lam: float = RISKMETRICS_LAMBDA) -> np.ndarray:
    """`_trailing_ewma` of each row of x (the convolution row by row)."""
    w = lam ** np.arange(EWMA_SPAN)
    w /= w.sum()
    out = np.full(x.shape, np.nan)
    if x.shape[1] >= EWMA_SPAN:
        zeroed = np.nan_to_num(x)
        full = np.stack([np.convolve(row, w)[EWMA_SPAN - 1 : x.shape[1]] for row in zeroed])
        bad = np.zeros((x.shape[0], x.shape[1] + 1), dtype=np.int64)
        np.cumsum(~np.isfinite(x), axis=1, out=bad[:, 1:])
        out[:, EWMA_SPAN - 1 :] = np.where(
            bad[:, EWMA_SPAN:] - bad[:, :-EWMA_SPAN] == 0, full, np.nan
        )
    return out


def _lstsq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.linalg.lstsq(a, b, rcond=None)[0] for a float (m, k) `a` with m >= 1 and a 1-D
    `b`: numpy's own LAPACK call (gelsd, the same gufunc) without the wrapper's checks and
    conversions (~15 us of its ~65 on a cycle's fit; 3,000 fits a cycle)."""
    if _umath_linalg is None:
        solved: np.ndarray = np.linalg.lstsq(a, b, rcond=None)[0]
        return solved
    with np.errstate(
        call=_lstsq_failed, invalid="call", over="ignore", divide="ignore", under="ignore"
    ):
        got = _umath_linalg.lstsq(a, b[:, None], _EPS64 * max(a.shape), signature="ddd->ddid")
    x: np.ndarray = got[0][:, 0]
    return x


def _lstsq_failed(err: str, flag: int) -> None:
    raise np.linalg.LinAlgError("SVD did not converge in Linear Least Squares")


def _ewma_lasts(r2: np.ndarray, lengths: list[int]) -> dict[int, float]:
    """{m: _ewma_last(r2[:m]) where m > 20, else NaN}: one recursion for every length (the
    recursion over a prefix is the prefix of the recursion over the whole)."""
    out = dict.fromkeys(lengths, float("nan"))
    valid = np.flatnonzero(np.isfinite(r2))
    if len(valid) < 20:
        return out
    lam = RISKMETRICS_LAMBDA
    start = valid[19]
    s2 = float(np.nanmean(r2[valid[0] : start + 1]))
    rest = r2[start + 1 :]
    rest = rest[np.isfinite(rest)]
    y = np.empty(0)
    if len(rest):
        from scipy.signal import lfilter

        y, _ = lfilter([1.0 - lam], [1.0, -lam], rest, zi=[lam * s2])
    for m in lengths:
        count = int(np.searchsorted(valid, m)) - 20  # recursion steps within r2[:m]
        if m > 20 and count >= 0:
            out[m] = float(y[count - 1]) if count else s2
    return out


def _ewma_lasts_rows(r2: np.ndarray, lengths: list[int]) -> list[dict[int, float]]:
    """`_ewma_lasts` of each row of r2: the rows with the same finite values' positions
    share one seed mean and one `lfilter` call over their 2-D block (a mean along each
    row, and scipy filters each row as it filters it alone)."""
    finite = np.isfinite(r2)
    groups: dict[bytes, list[int]] = {}
    for s in range(len(r2)):
        groups.setdefault(finite[s].tobytes(), []).append(s)
    out: list[dict[int, float]] = [{} for _ in range(len(r2))]
    for members in groups.values():
        valid = np.flatnonzero(finite[members[0]])
        if len(members) == 1 or len(valid) < 20:
            for s in members:
                out[s] = _ewma_lasts(r2[s], lengths)
            continue
        lam, start = RISKMETRICS_LAMBDA, valid[19]
        block = r2[members]
        s2 = np.nanmean(block[:, valid[0] : start + 1], axis=1)
        rest = block[:, start + 1 :][:, finite[members[0], start + 1 :]]
        y = np.empty((len(members), 0))
        if rest.shape[1]:
            from scipy.signal import lfilter

            y, _ = lfilter([1.0 - lam], [1.0, -lam], rest, axis=1, zi=(lam * s2)[:, None])
        for m in lengths:
            steps = int(np.searchsorted(valid, m)) - 20  # recursion steps within r2[:m]
            last = (y[:, steps - 1] if steps else s2).tolist() if m > 20 and steps >= 0 else None
            for g, s in enumerate(members):
                out[s][m] = float("nan") if last is None else last[g]
    return out


def range_scales(
    bars: pd.DataFrame,
    starts: np.ndarray,
    ends: np.ndarray,
    horizons: tuple[int, ...] | list[int],
    variance: dict[int, np.ndarray],
    exog: np.ndarray | None = None,
) -> dict[int, np.ndarray]:
    """Per horizon, the range_scale of each window's forecast (`variance`, forecast_walk's)
    against the same window's forecast RISE_SESSIONS bars earlier: what forecast_at_end
    gives on bars.iloc[starts[i] : ends[i] + 1]."""
    ends = np.asarray(ends, dtype=int)
    ok = ends - RISE_SESSIONS >= np.asarray(starts, dtype=int)
    then = {int(h): np.full(len(ends), np.nan) for h in horizons}
    if ok.any():
        walk = forecast_walk(bars, starts[ok], ends[ok] - RISE_SESSIONS, horizons, exog)
        for h in horizons:
            then[int(h)][ok] = walk[h][0]
    return {int(h): range_scale(variance[int(h)], then[int(h)], int(h)) for h in horizons}


def _returns(bars: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(closes, log returns, their squares, daily realized variance) as numpy arrays."""
    close = bars["close"].to_numpy(float)
    logc = np.log(close)
    r = np.concatenate(([np.nan], np.diff(logc)))
    r2 = r**2
    return close, r, r2, _daily_rv(bars, logc, r2)


def _daily_rv(bars: pd.DataFrame, logc: np.ndarray, r2: np.ndarray) -> np.ndarray:
    """daily_realized_var(bars) in numpy: overnight^2 + Garman-Klass, else the squared return."""
    if not {"open", "high", "low"} <= set(bars.columns):
        return r2
    lo, hi, op = (np.log(bars[c].to_numpy(float)) for c in ("low", "high", "open"))
    gk = np.clip(0.5 * (hi - lo) ** 2 - (2.0 * np.log(2.0) - 1.0) * (logc - op) ** 2, 0.0, None)
    overnight = (op - np.concatenate(([np.nan], logc[:-1]))) ** 2
    out = overnight + gk
    return np.where(np.isfinite(out), out, r2)


def _prefix(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(running sums of x with NaN as 0, running counts of its non-finite values), each led
    by a 0: what `_trailing_mean` differences, computed once for all of its windows."""
    c = np.concatenate(([0.0], np.cumsum(np.nan_to_num(x))))
    bad = np.concatenate(([0], np.cumsum(~np.isfinite(x))))
    return c, bad


def _trailing_mean(
    x: np.ndarray, w: int, prefix: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Mean of x[t-w+1..t] (NaN until w values; any NaN inside gives NaN), like rolling(w).
    `prefix`: x's `_prefix`, when the caller has it."""
    c, bad = _prefix(x) if prefix is None else prefix
    out = np.full(len(x), np.nan)
    if len(x) >= w:
        sums = c[w:] - c[:-w]
        nan_in = bad[w:] - bad[:-w]
        out[w - 1 :] = np.where(nan_in == 0, sums / w, np.nan)
    return out


def _har_matrix(rv: np.ndarray, r: np.ndarray) -> np.ndarray:
    """har_features(rv, returns) as an (n, 8) design matrix
    [1, log rv_1, log rv_5, log rv_22, jump, leverage, log EWMA, a week's leverage]."""
    prefix = _prefix(rv)
    longest = _trailing_mean(rv, max(HAR_WINDOWS), prefix)
    floor = np.maximum(0.01 * longest, EPS)
    cols = [np.log(np.maximum(_trailing_mean(rv, w, prefix), floor)) for w in HAR_WINDOWS]
    jump = np.maximum(cols[0] - cols[-1], 0.0)
    with np.errstate(invalid="ignore"):
        lev = np.minimum(r, 0.0) / np.sqrt(np.maximum(longest, EPS))
    ewma = np.log(np.maximum(_trailing_ewma(r**2), EPS))
    with np.errstate(invalid="ignore"):
        week = _trailing_mean(r, LEV_SESSIONS) * LEV_SESSIONS
        lev5 = np.minimum(week, 0.0) / np.sqrt(LEV_SESSIONS * np.maximum(longest, EPS))
    return np.column_stack([np.ones(len(rv)), *cols, jump, lev, ewma, lev5])


def _trailing_ewma(x: np.ndarray, lam: float = RISKMETRICS_LAMBDA) -> np.ndarray:
    """RiskMetrics weights over the last EWMA_SPAN values only, normalized (NaN if any is
    NaN): finite memory, so a window's rows equal the whole series' rows past its start."""
    w = lam ** np.arange(EWMA_SPAN)
    w /= w.sum()
    out = np.full(len(x), np.nan)
    if len(x) >= EWMA_SPAN:
        full = np.convolve(np.nan_to_num(x), w)[EWMA_SPAN - 1 : len(x)]
        bad = np.r_[0, np.cumsum(~np.isfinite(x))]
        out[EWMA_SPAN - 1 :] = np.where(bad[EWMA_SPAN:] - bad[:-EWMA_SPAN] == 0, full, np.nan)
    return out


def _with_exog(x: np.ndarray, exog: np.ndarray) -> np.ndarray:
    """The design matrix with the extra regressors' columns appended (rows aligned)."""
    extra = np.asarray(exog, dtype=float).reshape(len(x), -1)
    return np.column_stack([x, extra])


def _fit_forecast(
    x: np.ndarray,
    target: np.ndarray,
    realized: np.ndarray,
    rows: np.ndarray,
    coef: np.ndarray,
    end: int,
    h: int,
) -> float:
    """The HAR's forecast at row `end` from its least-squares `coef` (fitted on `rows` of
    the design `x` against the log proxy `target`): scale x exp(x[end] @ coef).

    The scale, mean(realized / exp(x @ coef)) over the same training rows, is the constant
    that minimises their QLIKE against the close-to-close `realized` (d/ds of
    sum(r / (s f) + log(s f)) is 0 there): it carries both E[exp(residual)] of the log fit
    and the range proxy's level against squared returns (tests/test_edge_volatility.py).
    `forecast_at_end` and `forecast_walk` both come here (bench_qlike.py swaps it for its
    estimation candidates, as it swaps `_har_matrix`)."""
    fitted = np.exp(x[rows] @ coef)
    scale = float(np.mean(np.maximum(realized[rows], EPS) / fitted))
    return float(scale * np.exp(x[end] @ coef))


def _ewma_last(r2: np.ndarray, lam: float = RISKMETRICS_LAMBDA) -> float:
    """The last value of ewma_variance(returns, 1), by the same recursion and seed."""
    valid = np.flatnonzero(np.isfinite(r2))
    if len(valid) < 20:
        return float("nan")
    start = valid[19]
    s2 = float(np.nanmean(r2[valid[0] : start + 1]))
    rest = r2[start + 1 :]
    rest = rest[np.isfinite(rest)]
    if len(rest):
        from scipy.signal import lfilter

        y, _ = lfilter([1.0 - lam], [1.0, -lam], rest, zi=[lam * s2])
        s2 = float(y[-1])
    return s2


def forecast_walk(
    bars: pd.DataFrame,
    starts: np.ndarray,
    ends: np.ndarray,
    horizons: tuple[int, ...] | list[int],
    exog: np.ndarray | None = None,
) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per horizon, (variance, ewma, trailing) arrays: entry i is what
    `forecast_at_end(bars.iloc[starts[i] : ends[i] + 1], horizons)` gives, computed once over
    the whole series (a walk-forward backtest asks for one per symbol and session).

    A window's first row has no previous close, so its daily proxy is unknown and every HAR
    feature of its first 22 rows is too; later rows see only bars inside the window and
    equal the whole series' rows. The HAR is fitted on the same rows, by least squares
    through running sums of the normal equations. The EWMA is the whole series' where the window's own seed would weigh less
    than 1e-12 (0.94^(n-20)), else the window's; `tests/test_edge_volatility.py` checks
    the walk against forecast_at_end (with `exog` too: the plain walk serves where the
    extra regressors' fit cannot, as in forecast_at_end)."""
    close, r, r2, rv = _returns(bars)
    x = _har_matrix(rv, r)
    plain, min_rows = None, 50
    if exog is not None:
        plain = forecast_walk(bars, starts, ends, horizons)
        x, min_rows = _with_exog(x, exog), MIN_HAR_SESSIONS
    k = x.shape[1]
    ok_x = np.isfinite(x).all(axis=1)
    ewma1 = np.full(len(close), np.nan)
    valid = np.flatnonzero(np.isfinite(r2))
    if len(valid) >= 20:
        ewma1 = ewma_variance(pd.Series(r), 1).to_numpy(float)
    out = {}
    for h in horizons:
        h = int(h)
        target = har_target(rv, h)
        realized = np.full(len(close), np.nan)
        if len(close) > h:
            realized[:-h] = _trailing_mean(r2, h)[h:] * h
        usable = ok_x & np.isfinite(target) & np.isfinite(realized)
        # running sums of the normal equations: a window's fit is a difference of two rows
        xu = np.where(usable[:, None], x, 0.0)
        xtx = np.r_[np.zeros((1, k, k)), np.cumsum(xu[:, :, None] * xu[:, None, :], axis=0)]
        xty = np.r_[
            np.zeros((1, k)), np.cumsum(xu * np.where(usable, target, 0.0)[:, None], axis=0)
        ]
        count = np.r_[0, np.cumsum(usable)]
        var, ewma, trail = (np.full(len(starts), np.nan) for _ in range(3))
        for i, (lo, end) in enumerate(zip(starts, ends, strict=True)):
            lo, end = int(lo), int(end)
            n = end - lo + 1
            e = ewma1[end] if n > 20 else np.nan
            if n > 20 and RISKMETRICS_LAMBDA ** (n - 20) > 1e-12:  # the seed still weighs
                e = _ewma_last(np.r_[np.nan, r2[lo + 1 : end + 1]])
            e *= h
            t = float(np.mean(r2[end - 19 : end + 1])) * h if n > 20 else np.nan
            v, model = e, None
            a, b = lo + LOOKBACK, end + 1 - h  # the window's rows a fit may use
            if n >= MIN_HAR_SESSIONS and a < b and ok_x[end] and count[b] - count[a] >= min_rows:
                coef = np.linalg.solve(xtx[b] - xtx[a], xty[b] - xty[a])
                rows = a + np.flatnonzero(usable[a:b])
                model = _fit_forecast(x, target, realized, rows, coef, end, h)
            if model is not None and np.isfinite(model) and model > 0:
                v = _mixed(model, e, h)
            elif plain is not None:  # the plain walk's forecast, mixed already
                v = plain[h][0][i]
            if not np.isfinite(v) or v <= 0:
                v = float(np.nanvar(r[max(lo + 1, end - 249) : end + 1]) * h) if n > 2 else EPS
            var[i], ewma[i], trail[i] = v, e, t
        out[h] = (var, ewma, trail)
    return out
