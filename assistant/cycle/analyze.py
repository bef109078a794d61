"""Analyze: what the bars up to as_of say about one symbol — regime, rule votes, volatility.

Everything here is computed from final bars dated on or before as_of; nothing sees the
future. The result feeds `plan()` as evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import sqlite_utils

from assistant.config import Settings
from models import outcomes, signals, vix, volatility
from models.features import same_sessions
from models.regime import states_with
from models.volatility import VolForecast
from store import bars as bar_store
from store import regimes as regime_store

# calendar days of bars loaded: SMA200 plus model windows, with room; the backtest fits
# its volatility forecasts on as many
LOOKBACK_DAYS = volatility.HISTORY_DAYS
# the bars' columns a cycle uses (the variance forecast's range proxy, the model features):
# not raw_close / adj_factor / the flags (final bars only): 7 values a row to read, not 11
CYCLE_COLUMNS = ["open", "high", "low", "close", "volume"]
SIGMA_WINDOW = 250  # sessions of h-session returns behind the volatility estimate
MIN_SESSIONS = 60
REGIME_ROWS = 260  # sessions of regime history an analysis carries (for the store)


@dataclass(frozen=True, eq=False)
class RegimeHistory:
    """One symbol's regime, trend and volatility over its last REGIME_ROWS sessions (for the
    store), as the arrays they were computed in: a cycle of 500 symbols builds no frames."""

    dates: pd.DatetimeIndex
    regime: np.ndarray
    trend: np.ndarray
    volatility: np.ndarray

    def __len__(self) -> int:
        return len(self.dates)

    def frame(self) -> pd.DataFrame:
        """A frame of them (columns regime, trend, volatility) on the dates."""
        return pd.DataFrame(
            {"regime": self.regime, "trend": self.trend, "volatility": self.volatility},
            index=self.dates,
        )


@dataclass(frozen=True)
class Analysis:
    symbol: str
    as_of: date  # the session of the newest bar
    base_price: float
    regime: str
    trend: float
    volatility: float
    votes: dict[str, float]
    drift: dict[int, float]  # mean of trailing h-session log returns, per horizon
    sigma: dict[int, float]  # std of trailing h-session log returns, per horizon
    last_move: dict[int, int]  # sign of the h-session move ending at as_of
    majority: dict[int, int]  # causal majority direction at as_of (+1/-1)
    baseline_rate: dict[int, float]  # the stronger baseline's hit rate known at as_of
    flat_band: dict[int, float]  # the outcome rules' FLAT band at as_of
    vol: dict[int, VolForecast]  # h-session variance forecast and its baselines
    regimes: RegimeHistory  # the last REGIME_ROWS sessions' regimes (for the store)


def regime_thresholds(settings: Settings) -> dict[str, float]:
    c = settings.cycle
    return {
        "bull_trend": float(c.bull_trend),
        "bear_trend": float(c.bear_trend),
        "volatile": float(c.volatile_annualized),
    }


def load_bars(
    db: sqlite_utils.Database, symbols: list[str], as_of: date | None
) -> dict[str, pd.DataFrame]:
    """Final bars up to and including as_of for each symbol (a recent window only)."""
    if as_of is None:
        ends = {s: bar_store.last_date(db, s, final_only=True) for s in symbols}
        groups: dict[str | date, list[str]] = {}
        for sym, end in ends.items():
            if end is not None:
                groups.setdefault(end, []).append(sym)
    else:
        groups = {as_of: list(symbols)}
    out = {}
    for day, syms in groups.items():
        start = (pd.Timestamp(day) - pd.Timedelta(days=LOOKBACK_DAYS)).date()
        out.update(
            bar_store.load_many(
                db, syms, start=start, end=day, final_only=True, columns=CYCLE_COLUMNS
            )
        )
    return out


def analyze(
    symbol: str, bars: pd.DataFrame, horizons: list[int], thresholds: dict[str, float]
) -> Analysis:
    """Regime, rule votes and h-session volatility at the last bar of `bars`."""
    found, errors = analyze_many({symbol: bars}, horizons, thresholds)
    if symbol in errors:
        raise ValueError(errors[symbol])
    return found[symbol]


def analyze_many(
    bars: dict[str, pd.DataFrame],
    horizons: list[int],
    thresholds: dict[str, float],
    vix_values: pd.Series | None = None,
) -> tuple[dict[str, Analysis], dict[str, str]]:
    """({symbol: Analysis}, {symbol: why it was skipped}). Symbols on the same sessions
    share one wide computation of regimes and votes (a watchlist of 500 costs a few calls).
    `vix_values` (the stored ^VIX up to the as-of, optional): the variance forecast's extra
    regressor where it covers enough of a symbol's sessions (`volatility.forecast_at_end`)."""
    out: dict[str, Analysis] = {}
    errors: dict[str, str] = {}
    usable = {}
    for sym, frame in bars.items():
        if len(frame) < MIN_SESSIONS:
            errors[sym] = f"{sym}: {len(frame)} sessions of history, need at least {MIN_SESSIONS}"
        else:
            usable[sym] = frame
    for idx, syms in same_sessions(usable):
        close = pd.DataFrame(
            np.column_stack([usable[s]["close"].to_numpy(float) for s in syms]), index=idx
        )
        labels, trend, vol, known = states_with(close, **thresholds)
        # the votes of the last session only (their indicators run over every session)
        last = {k: f.iloc[-1:] for k, f in signals.inputs(close, known).items()}
        votes = signals.votes(close.iloc[-1:], labels[-1:], known=last)
        # the variance forecasts of the symbols on these sessions, their arrays computed
        # once for all of them (one exog: it depends on the sessions only)
        exog = _vix_exog(vix_values, usable[syms[0]])
        vols_at_end = volatility.forecasts_at_end([usable[s] for s in syms], horizons, exog)
        moves = _moves_at_end(np.log(np.ascontiguousarray(close.to_numpy().T)), horizons)
        keep = slice(-REGIME_ROWS, None)
        trends, vols = trend.to_numpy()[keep], vol.to_numpy()[keep]
        dates = pd.DatetimeIndex(idx[keep])
        as_of, prices = idx[-1].date(), close.to_numpy()[-1].tolist()  # the last bar's
        for j, sym in enumerate(syms):
            regimes = RegimeHistory(dates, labels[keep, j], trends[:, j], vols[:, j])
            out[sym] = _one(
                sym,
                (as_of, prices[j]),
                horizons,
                regimes,
                {k: v[-1, j] for k, v in votes.items()},
                # the last row of `regimes`, read from the arrays (not a row of the frame)
                (labels[-1, j], trends[-1, j], vols[-1, j]),
                vols_at_end[j],
                {h: [float(a[j]) for a in per_h] for h, per_h in moves.items()},
            )
    return {s: out[s] for s in bars if s in out}, errors


def _one(
    symbol: str,
    last_bar: tuple[date, float],
    horizons: list[int],
    regimes: RegimeHistory,
    votes: dict[str, float],
    last: tuple[object, float, float],
    forecasts: dict[int, VolForecast],
    moves: dict[int, list[float]],
) -> Analysis:
    """`last_bar`: the session and close of the symbol's last bar; `last`: the last row of
    `regimes` (regime, trend, volatility); `forecasts`: the variance forecasts at the last
    bar (`volatility.forecast_at_end`); `moves`: per horizon, the symbol's entries of
    `_moves_at_end`."""
    sigma, drift, last_move, majority, flat_band = {}, {}, {}, {}, {}
    rate: dict[int, float] = {}
    for h in horizons:
        sigma[h], drift[h], band, up, move, rate[h] = moves[h]
        majority[h], last_move[h] = int(up), int(move)
        flat_band[h] = band if np.isfinite(band) else 0.0
    regime, trend, vol = last
    return Analysis(
        symbol=symbol,
        as_of=last_bar[0],
        base_price=last_bar[1],
        regime=str(regime),
        trend=float(trend) if pd.notna(trend) else float("nan"),
        volatility=float(vol) if pd.notna(vol) else float("nan"),
        votes={str(k): float(v) for k, v in votes.items()},
        drift=drift,
        sigma=sigma,
        last_move=last_move,
        majority=majority,
        baseline_rate=rate,
        flat_band=flat_band,
        vol=forecasts,
        regimes=regimes,
    )


def _moves_at_end(logc: np.ndarray, horizons: list[int]) -> dict[int, tuple[np.ndarray, ...]]:
    """Per horizon, for each row of `logc` (a symbol's log closes, a row each): the std and
    mean of its last SIGMA_WINDOW h-session log returns, then `outcomes.at_end_rows` (FLAT
    band, causal majority, last move, baseline rate)."""
    out: dict[int, tuple[np.ndarray, ...]] = {}
    for h in horizons:
        r = logc[:, h:] - logc[:, :-h]
        tail = r[:, -SIGMA_WINDOW:]
        n = r.shape[1]
        sigma: np.ndarray = np.std(tail, axis=1, ddof=1) if n > 2 else np.zeros(len(logc))
        drift: np.ndarray = np.mean(tail, axis=1) if n else np.zeros(len(logc))
        out[h] = (sigma, drift, *outcomes.at_end_rows(logc, h))
    return out


def _vix_exog(vix_values: pd.Series | None, bars: pd.DataFrame) -> np.ndarray | None:
    """The log VIX-implied variance on the bars' sessions, or None with no VIX stored."""
    if vix_values is None or vix_values.empty:
        return None
    return vix.log_implied_var(vix_values, pd.DatetimeIndex(bars.index))


def regime_rows(a: Analysis, after: str | None) -> list[regime_store.RegimeRow]:
    """Regime history rows newer than `after` (at most the last REGIME_ROWS sessions)."""
    history = a.regimes
    dates = history.dates
    if not len(dates) or (after is not None and dates[-1] <= pd.Timestamp(after)):
        return []  # nothing newer than the store has (a cycle run again on the same day)
    start = 0 if after is None else int(dates.searchsorted(pd.Timestamp(after), side="right"))
    trend = np.asarray(history.trend, dtype=float)[start:]
    vol = np.asarray(history.volatility, dtype=float)[start:]
    return [
        regime_store.RegimeRow(
            symbol=a.symbol,
            date=d,
            regime=g,
            trend=None if t != t else float(t),
            volatility=None if v != v else float(v),
        )
        for d, g, t, v in zip(
            dates[start:].date, history.regime[start:].tolist(), trend, vol, strict=True
        )
    ]
