"""The scores of ledger-shaped calls beyond their direction: ranges, volatility, ranking.

`report` (on the calls a home verified) and the walk-forward backtest (on the calls it
made) both score with these functions, so a figure means the same in both. A group of
calls is any mapping from column name to a numpy array, with the ledger's columns:
base_price, actual_price, lower/upper (the 80% range), lower95/upper95, covered80/95
(1/0, NaN for a call without a range), realized_var (sum of squared daily log returns
over the call's h sessions), vol_var/vol_ewma/vol_trailing (the variance forecast made
with the call and its two baselines), symbol, as_of, pred_change_pct and realized (the
realized log return). `ranking_skill` also scores any per-date score of several symbols
(the ranking model's, a one-line factor's) from a plain (date, expected, realized) frame.
"""

from __future__ import annotations

from typing import Protocol, TypedDict

import numpy as np
import pandas as pd

from models import intervals, metrics, selective, volatility


class Group(Protocol):
    """Calls as columns: group[name] is one numpy array per ledger column."""

    def __getitem__(self, name: str, /) -> np.ndarray: ...


class RangeScore(TypedDict):
    n: int  # calls that carried the range
    coverage: float | None
    interval_score_pct: float | None


class RangeScores(TypedDict):
    range80: RangeScore
    range95: RangeScore


class VolScores(TypedDict, total=False):
    """QLIKE of the variance forecast and of its baselines (`n` 0: no call to score)."""

    n: int
    qlike: float
    qlike_ewma: float
    qlike_trailing: float
    gain_vs_ewma: float | None
    gain_vs_trailing: float | None
    by_year: dict[str, VolScores]


class MeanT(TypedDict):
    mean: float | None  # mean daily IC
    t: float | None  # its Newey-West t
    n_days: int
    spread: float | None  # mean daily top-minus-bottom quintile spread
    spread_t: float | None


class FactorScore(TypedDict):
    """A one-line factor's daily IC on the model's own dates and symbols."""

    mean: float | None
    t: float | None
    n_days: int
    years: dict[str, float | None]  # mean daily IC per calendar year


class Versus(TypedDict):
    """The ranking model against the one-line factors (`versus_factors`)."""

    factors: dict[str, FactorScore]  # reversal, momentum
    better: str | None  # the factor with the higher mean IC
    diff: float | None  # mean daily IC of the model minus the better factor's
    diff_t: float | None  # its Newey-West t
    beats: bool  # diff > 0 with t >= EDGE_T


class RankingSkill(MeanT, total=False):
    n_symbols: int  # distinct symbols scored (where the frame names them)
    years: dict[str, MeanT]
    versus: Versus  # `versus_factors`, where a caller has the closes
    edge: bool  # `ranking_edge` (and beating the factors, where compared), added by a caller


def ranges(g: Group) -> RangeScores:
    """Realized coverage of the 80% and 95% ranges and their mean interval score (in % of
    the base price), over the calls that carried them."""
    out: dict[str, RangeScore] = {}
    base = g["base_price"]
    for level, lo, hi, col in (
        (0.80, "lower", "upper", "covered80"),
        (0.95, "lower95", "upper95", "covered95"),
    ):
        rows = np.isfinite(g[col])
        n = int(rows.sum())
        score = intervals.winkler_score(
            g["actual_price"][rows] / base[rows],
            g[lo][rows] / base[rows],
            g[hi][rows] / base[rows],
            level,
        )
        out[f"range{int(level * 100)}"] = {
            "n": n,
            "coverage": float(g[col][rows].mean()) if n else None,
            "interval_score_pct": float(100 * np.mean(score)) if n else None,
        }
    return RangeScores(range80=out["range80"], range95=out["range95"])


def vol_scores(g: Group) -> VolScores:
    """QLIKE of the volatility forecast and of its two baselines on the same calls, pooled
    and per calendar year of the call (`by_year`: a storm year shows beside the calm ones)."""
    cols = ("realized_var", "vol_var", "vol_ewma", "vol_trailing")
    rows = np.logical_and.reduce([np.isfinite(g[c]) for c in cols])
    if not rows.any():
        return {"n": 0}
    out = _qlike(g, rows)
    years = np.array([str(d)[:4] for d in g["as_of"]], dtype=object)
    out["by_year"] = {
        str(y): _qlike(g, rows & (years == y)) for y in sorted(set(years[rows].tolist()))
    }
    return out


def _qlike(g: Group, rows: np.ndarray) -> VolScores:
    realized = g["realized_var"][rows]
    q = {
        k: volatility.mean_qlike(realized, g[f"vol_{k}"][rows]) for k in ("var", "ewma", "trailing")
    }
    return {
        "n": int(rows.sum()),
        "qlike": q["var"],
        "qlike_ewma": q["ewma"],
        "qlike_trailing": q["trailing"],
        "gain_vs_ewma": 1 - q["var"] / q["ewma"] if q["ewma"] else None,
        "gain_vs_trailing": 1 - q["var"] / q["trailing"] if q["trailing"] else None,
    }


def ranking(g: Group, h: int) -> RankingSkill | None:
    """Information coefficient across symbols per as-of date (needs 5+ symbols) of the
    calls' expected return, with the quintile spread and both per year (`ranking_skill`)."""
    if len(set(np.asarray(g["symbol"]).tolist())) < selective.MIN_IC_SYMBOLS:
        return None
    calls = pd.DataFrame(
        {
            "date": g["as_of"],
            "expected": np.log1p(g["pred_change_pct"] / 100),
            "realized": g["realized"],
        }
    )
    return ranking_skill(calls, h)


def ranking_skill(frame: pd.DataFrame, h: int) -> RankingSkill | None:
    """How well a score ranks the symbols of each date, from a frame with columns date,
    expected (the score) and realized (the h-session return; demeaned or not, the ranks
    are the same): the mean daily Spearman IC and its Newey-West t, the mean daily
    top-minus-bottom quintile spread of realized returns (log, over h sessions) and its t,
    and both per calendar year; with a symbol column, the number of symbols scored. t uses the HAC lag max(h-1, floor(4 (T/100)^(2/9))): daily
    ICs of persistent scores, and overlapping h-session outcomes, are not independent.
    None when no date has 5+ symbols."""
    ic = selective.daily_ic(frame)
    if len(ic) < 2:
        return None
    spread = quintile_spread(frame)
    out = RankingSkill(**_mean_t(ic, spread, h))
    if "symbol" in frame:
        scored = frame[["symbol", "expected", "realized"]].dropna()
        out["n_symbols"] = int(scored["symbol"].nunique())
    years = pd.DatetimeIndex(pd.to_datetime(ic.index)).year
    syears = pd.DatetimeIndex(pd.to_datetime(spread.index)).year
    out["years"] = {
        str(y): _mean_t(ic[years == y], spread[syears == y], h) for y in sorted(set(years.tolist()))
    }
    return out


EDGE_T = 2.0  # Newey-West t a ranking's IC must reach before it is shown as an edge


def ranking_edge(skill: MeanT | None) -> bool:
    """Whether a ranking's record is an edge: a positive mean IC with Newey-West t >= EDGE_T
    and a positive top-minus-bottom spread. Anything else is shown as no edge."""
    if not skill:
        return False
    mean, t, spread = skill.get("mean"), skill.get("t"), skill.get("spread")
    if mean is None or t is None or spread is None:
        return False
    return mean > 0 and t >= EDGE_T and spread > 0


def factor_values(closes: pd.DataFrame, h: int) -> dict[str, pd.DataFrame]:
    """The one-line factors as dates x symbols scores, known at each date's close: the
    h-session reversal (minus the last h-session log return) and 12-1 momentum (the log
    return from 252 to 21 sessions back)."""
    logc = pd.DataFrame(np.log(closes.to_numpy(float)), index=closes.index, columns=closes.columns)
    return {
        "reversal": -(logc - logc.shift(h)),
        "momentum": logc.shift(21) - logc.shift(FACTOR_LOOKBACK),
    }


FACTOR_LOOKBACK = 252  # the most sessions back `factor_values` reads (with h, if longer)


def versus_factors(frame: pd.DataFrame, closes: pd.DataFrame, h: int) -> Versus:
    """The model's daily IC (frame: date, symbol, expected, realized) against the one-line
    factors' on the same dates, symbols and outcomes: each factor's mean IC, its Newey-West
    t and per-year means; the better factor; the mean daily IC difference of the model over
    it and that difference's Newey-West t. `beats` only with t >= EDGE_T."""
    # each row's (date, symbol) cell of the dates x symbols factors (NaN where there is none):
    # `wide.stack().reindex(...)` without stacking every date of every symbol
    row = closes.index.get_indexer(pd.DatetimeIndex(pd.to_datetime(frame["date"])))
    col = closes.columns.get_indexer(pd.Index(frame["symbol"]))
    found = (row >= 0) & (col >= 0)
    cells = {
        name: np.where(found, wide.to_numpy(float)[row, col], np.nan)
        for name, wide in factor_values(closes, h).items()
    }
    return versus_factor_scores(frame, cells, h)


def factor_lags(h: int) -> list[int]:
    """The sessions back (rows of the dates x symbols closes) `factor_values` reads."""
    return sorted({0, h, 21, FACTOR_LOOKBACK})


def factor_scores(back: dict[int, np.ndarray], h: int) -> dict[str, np.ndarray]:
    """`factor_values` at some cells, from each cell's log close k rows back in the dates x
    symbols frame (`back[k]` for k in `factor_lags(h)`, NaN where there is none): the same
    differences of the same values."""
    return {"reversal": -(back[0] - back[h]), "momentum": back[21] - back[FACTOR_LOOKBACK]}


def versus_factor_scores(frame: pd.DataFrame, cells: dict[str, np.ndarray], h: int) -> Versus:
    """`versus_factors` from each row's factor scores (`cells[name]`, NaN where none)."""
    model_ic = selective.daily_ic(frame)
    factors: dict[str, FactorScore] = {}
    ics: dict[str, pd.Series] = {}
    for name, values in cells.items():
        scored = frame[["date", "realized"]].assign(expected=values)
        ic = selective.daily_ic(scored)
        ics[name] = ic
        years = pd.DatetimeIndex(pd.to_datetime(ic.index)).year
        factors[name] = {
            "mean": float(ic.mean()) if len(ic) else None,
            "t": _t(ic.to_numpy(float), h),
            "n_days": len(ic),
            "years": {str(y): float(ic[years == y].mean()) for y in sorted(set(years.tolist()))},
        }
    ranked = [n for n in factors if factors[n]["mean"] is not None]
    better = max(ranked, key=lambda n: factors[n]["mean"] or 0.0) if ranked else None
    diff = (model_ic - ics[better]).dropna() if better else pd.Series(dtype=float)
    mean = float(diff.mean()) if len(diff) else None
    t = _t(diff.to_numpy(float), h)
    return {
        "factors": factors,
        "better": better,
        "diff": mean,
        "diff_t": t,
        "beats": bool(mean is not None and mean > 0 and t is not None and t >= EDGE_T),
    }


def judged(skill: RankingSkill | None, versus: Versus | None) -> RankingSkill | None:
    """The record with its comparison and verdict: an edge only when `ranking_edge` holds and,
    where the factors could be compared, the model beats the better one."""
    if skill is None:
        return None
    out = RankingSkill(**skill)
    if versus is not None:
        out["versus"] = versus
    out["edge"] = ranking_edge(skill) and (versus is None or versus["beats"])
    return out


def _t(x: np.ndarray, h: int) -> float | None:
    se = metrics.newey_west_se(x, metrics.hac_lag(len(x), h))
    return float(x.mean() / se) if len(x) >= 2 and se > 0 else None


def _mean_t(ic: pd.Series, spread: pd.Series, h: int) -> MeanT:
    ic_v, sp_v = ic.to_numpy(float), spread.to_numpy(float)
    return {
        "mean": float(ic_v.mean()) if len(ic_v) else None,
        "t": _t(ic_v, h),
        "n_days": len(ic_v),
        "spread": float(sp_v.mean()) if len(sp_v) else None,
        "spread_t": _t(sp_v, h),
    }


def quintile_spread(frame: pd.DataFrame) -> pd.Series:
    """Per date with 5+ symbols: mean realized of the top fifth by score minus that of the
    bottom fifth (by rank; with 5 to 9 symbols, the best and the worst one)."""
    df = frame[["date", "expected", "realized"]].dropna()
    g = df.groupby("date")["expected"]
    size = g.transform("size")
    df = df[size >= selective.MIN_IC_SYMBOLS]
    if df.empty:
        return pd.Series(dtype=float, name="spread")
    g = df.groupby("date")["expected"]
    rank = g.rank(method="first")
    n = g.transform("size")
    k = np.maximum(n // 5, 1)
    top = df["realized"].where(rank > n - k)
    bottom = df["realized"].where(rank <= k)
    parts = pd.DataFrame({"date": df["date"], "top": top, "bottom": bottom})
    means = parts.groupby("date")[["top", "bottom"]].mean()
    return (means["top"] - means["bottom"]).rename("spread")
