"""Out-of-sample scores of one model for one horizon, always next to the baselines.

The outcome rules are `models.outcomes`: a forecast's call is UP/DOWN only when that
class is the most likely and the expected return agrees, else FLAT (no directional
call); a directional call hits when the price moved its way. Directional accuracy is
measured on the rows where a call was made (with its coverage), and the baselines are
scored on the SAME rows: always-up, the causal majority (the direction most frequent
among moves known at each row's date), the last h-session move, and zero change.

The p-value (`paired_p`) is a one-sided paired test of the model's hits against the
stronger of always-up and the causal majority: per date, the mean over symbols of
(model hit - baseline hit); then the mean of that daily series over its Newey-West
(HAC, Bartlett) standard error, lag max(h-1, floor(4 (T/100)^(2/9))), against a normal.
Averaging by date first and the HAC error account for same-day calls across symbols
being correlated and for overlapping h-session outcomes. Brier skill is measured
against the causal climatology (class frequencies known at each row's date). Profit
factor and drawdown follow the call with 1/h of capital per call (overlapping
h-session holds, FLAT = no position), averaging same-day calls across symbols.

Verdicts (`judge`): a table of several rows tests several hypotheses at once, so the
p-values of the rows shown together are adjusted by Holm's step-down rule (family-wise
error at 5%), and each row gets a verdict in words: "edge" (Holm-adjusted p < 0.05 and a
positive edge), "too few calls to tell" (no call, fewer than MIN_DATES call dates, or a
test whose smallest detectable edge at 80% power, (z_0.95 + z_0.80) x its Newey-West
standard error, exceeds DETECTABLE_EDGE), else "no edge". Each row also carries its call
dates and the share of its calls in its busiest year, so an edge made in one storm shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, MutableMapping, Sequence
from statistics import NormalDist
from typing import Any, TypedDict

import numpy as np

from models import outcomes
from models.base import Forecast
from models.dataset import Dataset
from models.outcomes import CLASSES
from vocab.scoring import stronger_baseline


class Baseline(TypedDict, total=False):
    """A baseline's score on the same rows as the model's."""

    dir_accuracy: float | None
    direction: str  # the causal majority's: "up", "down" or "mixed"
    mae_pct: float | None  # zero change
    r2_oos: float  # zero change


class ClassScore(TypedDict):
    precision: float | None
    recall: float | None
    f1: float | None
    support: int


class Scores(TypedDict, total=False):
    """One model's out-of-sample scores at one horizon (`directional`, then `evaluate`)."""

    n: int  # directional calls scored
    n_rows: int  # rows with a known outcome
    coverage: float | None
    dir_accuracy: float | None  # None: no call was made
    baselines: dict[str, Baseline]  # always_up, majority, last_move, zero_change
    stronger_baseline: str
    edge: float | None
    p_value: float | None
    test: str
    label: str | None
    edge_se: float | None  # Newey-West standard error of the daily mean edge
    n_dates: int  # distinct dates of the calls
    top_year: str | None  # the year with most calls
    top_year_share: float | None  # its share of the calls
    p_adjusted: float | None  # Holm, over the rows judged together (`judge`)
    verdict: str  # EDGE, NO_EDGE or TOO_FEW (`judge`)
    balanced_accuracy: float | None
    brier: float | None
    brier_skill: float | None
    mae_pct: float | None
    r2_oos: float | None
    profit_factor: float | None
    max_drawdown: float | None
    classes: dict[str, ClassScore]
    confusion: list[list[int]]


def _r(x: float | None, nd: int = 4) -> float | None:
    # + 0.0: a tiny negative rounds to -0.0, which prints as "-0" (a sign with no size)
    return None if x is None or not np.isfinite(x) else round(float(x), nd) + 0.0


def profit_factor(strategy: np.ndarray) -> float | None:
    gains, losses = strategy[strategy > 0].sum(), -strategy[strategy < 0].sum()
    if losses == 0:
        return None if gains == 0 else float("inf")
    return float(gains / losses)


def max_drawdown(strategy: np.ndarray, dates: np.ndarray | None, h: int) -> float:
    """Largest peak-to-trough loss (fraction) of the equity curve of following the calls."""
    if len(strategy) == 0:
        return 0.0
    per_day = daily_means(strategy / h, dates if dates is not None else np.arange(len(strategy)))
    equity = np.exp(np.cumsum(per_day))
    peak = np.maximum.accumulate(np.r_[1.0, equity])[1:]
    return float(np.max(1 - equity / peak))


def daily_means(values: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Mean of `values` per distinct date, in date order."""
    if len(values) == 0:
        return np.zeros(0)
    _, at = np.unique(dates, return_inverse=True)
    return np.bincount(at, weights=values) / np.bincount(at)


def hac_lag(n: int, h: int) -> int:
    """Newey-West lag for n dated observations of h-session outcomes: max(h-1, floor(4
    (n/100)^(2/9)))."""
    return max(h - 1, int(4 * (n / 100) ** (2 / 9)))


def newey_west_se(x: np.ndarray, lag: int) -> float:
    """HAC standard error of the mean of x with Bartlett weights up to `lag` (0 = plain SE)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 2:
        return float("nan")
    e = x - x.mean()
    var = e @ e / n
    for k in range(1, min(lag, n - 1) + 1):
        var += 2.0 * (1.0 - k / (lag + 1)) * (e[k:] @ e[:-k]) / n
    return float(np.sqrt(max(var, 0.0) / n))


def _normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z, accurate far into the tail (erfc, not 1 - cdf)."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def paired_test(
    model_hit: np.ndarray, base_hit: np.ndarray, dates: np.ndarray | None, h: int
) -> tuple[float | None, float | None]:
    """(one-sided p-value that the model's hit rate beats the baseline's on the same rows,
    the Newey-West standard error of the daily mean difference); see the module docstring.
    (None, None) with fewer than 2 dates."""
    d = np.asarray(model_hit, dtype=float) - np.asarray(base_hit, dtype=float)
    keep = np.isfinite(d)
    if dates is None:
        dates = np.arange(len(d))
    daily = daily_means(d[keep], np.asarray(dates)[keep])
    t = len(daily)
    if t < 2:
        return None, None
    mean = float(daily.mean())
    lag = hac_lag(t, h)
    se = newey_west_se(daily, lag)
    if not np.isfinite(se) or se == 0:
        return (1.0 if mean <= 0 else 0.0), (None if not np.isfinite(se) else 0.0)
    return float(f"{_normal_sf(mean / se):.3g}"), se  # 3 significant digits: tiny stays visible


def paired_p(
    model_hit: np.ndarray, base_hit: np.ndarray, dates: np.ndarray | None, h: int
) -> float | None:
    """The p-value of `paired_test`. None with fewer than 2 dates."""
    return paired_test(model_hit, base_hit, dates, h)[0]


SIGNIFICANCE = 0.05  # family-wise, after Holm's adjustment
MIN_DATES = 20  # fewer call dates than this: too few to tell
DETECTABLE_EDGE = 0.10  # an edge a test cannot detect at this size is not worth calling
POWER_Z = NormalDist().inv_cdf(1 - SIGNIFICANCE) + NormalDist().inv_cdf(0.80)
EDGE, NO_EDGE, TOO_FEW = "edge", "no edge", "too few calls to tell"
ONE_YEAR_SHARE = 0.5  # an edge with this share of its calls in one year says which year


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of the p-values tested together (None is no test and
    does not count): the k-th smallest of m is multiplied by m - k + 1, kept monotone and
    capped at 1."""
    tested = sorted((p, i) for i, p in enumerate(pvalues) if p is not None)
    out: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for k, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - k) * p))
        out[i] = float(f"{running:.3g}")
    return out


def date_spread(dates: np.ndarray) -> tuple[int, str | None, float | None]:
    """(distinct dates, the year with most calls, its share of the calls) of calls made on
    `dates` (date strings, numpy dates or timestamps)."""
    if len(dates) == 0:
        return 0, None, None
    days = np.asarray(dates).astype("datetime64[D]")
    years, counts = np.unique(days.astype("datetime64[Y]"), return_counts=True)
    top = int(np.argmax(counts))
    return len(np.unique(days)), str(years[top]), _r(float(counts[top] / len(days)))


def verdict(m: Mapping[str, Any], p_adjusted: float | None) -> str:
    """EDGE, NO_EDGE or TOO_FEW for one scored row (see the module docstring)."""
    n, dates, se = m.get("n") or 0, m.get("n_dates") or 0, m.get("edge_se")
    if not n or p_adjusted is None or dates < MIN_DATES:
        return TOO_FEW
    if p_adjusted < SIGNIFICANCE and (m.get("edge") or 0) > 0:
        return EDGE
    if se is None or POWER_Z * se > DETECTABLE_EDGE:
        return TOO_FEW
    return NO_EDGE


def judge(rows: Sequence[MutableMapping[str, Any]]) -> None:
    """Adjust the p-values of rows shown together (Holm) and give each its verdict, in
    place (`p_adjusted`, `verdict`, `adjustment`)."""
    adjusted = holm([r.get("p_value") if r.get("n") else None for r in rows])
    tested = sum(p is not None for p in adjusted)
    for r, p in zip(rows, adjusted, strict=True):
        r["p_adjusted"] = p
        r["verdict"] = verdict(r, p)
        r["adjustment"] = f"holm over {tested} rows"


def verdict_text(m: Mapping[str, Any], baseline: str = "") -> str:
    """The verdict in words with what it rests on: Holm p, n, dates, and the busiest year
    when it holds most of the calls."""
    word = m.get("verdict") or TOO_FEW
    if baseline and word != TOO_FEW:
        word = f"{word} over {baseline}"
    n, dates = m.get("n") or 0, m.get("n_dates") or 0
    p = m.get("p_adjusted")
    parts = [f"n={n}", f"{dates} date" + ("" if dates == 1 else "s")]
    if p is not None:
        parts.insert(0, f"Holm p={p:.3g}")
    share = m.get("top_year_share")
    if n and share is not None and share >= ONE_YEAR_SHARE:
        parts.append(f"{100 * share:.0f}% of calls in {m.get('top_year')}")
    return f"{word} ({', '.join(parts)})"


def directional(
    call: np.ndarray,
    ret: np.ndarray,
    *,
    majority: np.ndarray | int,
    last_move: np.ndarray,
    h: int,
    dates: np.ndarray | None = None,
) -> Scores:
    """Hit rate of the directional calls next to the baselines on the same rows, n, coverage,
    the stronger baseline, the edge over it, the paired p-value and a one-sided label."""
    rows = directional_rows(call, ret, majority=majority, last_move=last_move)
    return directional_scores(rows, h=h, dates=dates)


DIRECTIONAL_ROWS = (
    "known",
    "sign",
    "call",
    "majority",
    "hit",
    "always_up_hit",
    "majority_hit",
    "last_move_hit",
)


def directional_rows(
    call: np.ndarray, ret: np.ndarray, *, majority: np.ndarray | int, last_move: np.ndarray
) -> dict[str, np.ndarray]:
    """The per-row values `directional_scores` scores: each row's come from that row alone, so
    a group's rows are the same rows of the whole set's (the report computes them once for
    all its calls and scores each group on its slice)."""
    ret = np.asarray(ret, dtype=float)
    maj = np.broadcast_to(np.asarray(majority), ret.shape)
    return {  # the keys are DIRECTIONAL_ROWS
        "known": np.isfinite(ret),
        "sign": outcomes.call_sign(call),
        "call": np.asarray(call, dtype=object),
        "majority": maj,
        "hit": outcomes.hit(call, ret),
        "always_up_hit": outcomes.baseline_hit(1, ret),
        "majority_hit": outcomes.baseline_hit(maj, ret),
        "last_move_hit": outcomes.baseline_hit(np.asarray(last_move), ret),
    }


def directional_scores(
    rows: Mapping[str, np.ndarray], *, h: int, dates: np.ndarray | None = None
) -> Scores:
    """`directional` from its rows' values (`directional_rows`)."""
    known = rows["known"]
    called = known & (rows["sign"] != 0)
    n = int(called.sum())
    maj = rows["majority"]
    hits = rows["hit"][called]
    # the baselines on the called rows; when nothing was called, on every known row
    on = called if n else known
    base = {k: rows[f"{k}_hit"][on] for k in ("always_up", "majority", "last_move")}
    rate = {k: _r(float(v.mean())) if on.any() else None for k, v in base.items()}
    stronger = (
        stronger_baseline(float(base["always_up"].mean()), float(base["majority"].mean()))
        if on.any()
        else "always_up"
    )
    day = None if dates is None else np.asarray(dates)[called]
    hit_rate = float(hits.mean()) if n else None
    p, se = paired_test(hits, base[stronger], day, h) if n else (None, None)
    n_dates, top_year, top_share = date_spread(day) if day is not None else (n, None, None)
    return {
        "n": n,
        "n_rows": int(known.sum()),
        "coverage": _r(n / known.sum()) if known.any() else None,
        "dir_accuracy": _r(hit_rate) if n else None,
        "baselines": {
            "always_up": {"dir_accuracy": rate["always_up"]},
            "majority": {
                "dir_accuracy": rate["majority"],
                "direction": _direction_label(maj[on]),
            },
            "last_move": {"dir_accuracy": rate["last_move"]},
        },
        "stronger_baseline": stronger,
        "edge": _r(float(hits.mean()) - float(base[stronger].mean())) if n else None,
        "p_value": p,
        "test": "paired-newey-west",
        "label": outcomes.one_sided_label(rows["call"][called]),
        "edge_se": _r(se, 6),
        "n_dates": n_dates,
        "top_year": top_year,
        "top_year_share": top_share,
    }


def directional_scores_by(
    rows: Mapping[str, np.ndarray], group: np.ndarray, horizons: Sequence[int], days: np.ndarray
) -> list[Scores]:
    """`directional_scores` of many groups at once: row i (of `directional_rows`) belongs to
    group `group[i]` (0 .. len(horizons) - 1), scored at that group's horizon, made on day
    `days[i]` (integer days, `datetime64[D]` as int64). Counts, hit rates and the daily means
    are computed as there; the paired test's mean of the daily means and its Newey-West sums
    add the same values in another order (within 1e-12 relative, tests/test_report_groups.py)."""
    size = len(horizons)
    group = np.asarray(group, dtype=np.int64)
    days = np.asarray(days, dtype=np.int64)

    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(group[mask], minlength=size)

    known = np.asarray(rows["known"], dtype=bool)
    sign = rows["sign"]
    called = known & (sign != 0)
    n, n_rows = count(called), count(known)
    on = np.where(n[group] > 0, called, known)  # no call in the group: every known row
    n_on = count(on)
    base_hits = {k: count(on & (rows[f"{k}_hit"] == 1)) for k in ("always_up", "majority")}
    base_hits["last_move"] = count(on & (rows["last_move_hit"] == 1))
    hits = count(called & (rows["hit"] == 1))
    ups = count(called & (sign > 0))
    up_stronger = base_hits["always_up"] / np.maximum(n_on, 1) >= base_hits["majority"] / (
        np.maximum(n_on, 1)
    )
    up_stronger |= n_on == 0
    # the paired test: per group and date, the mean of (hit - stronger baseline's hit)
    at = np.flatnonzero(called)
    stronger_hit = np.where(
        up_stronger[group[at]], rows["always_up_hit"][at], rows["majority_hit"][at]
    )
    d = rows["hit"][at] - stronger_hit
    first = int(days.min()) if len(days) else 0
    span = int(days.max()) - first + 1 if len(days) else 1
    day_keys, inverse = np.unique(group[at] * span + (days[at] - first), return_inverse=True)
    daily = np.bincount(inverse, weights=d) / np.bincount(inverse)
    day_group = day_keys // span
    t = np.bincount(day_group, minlength=size)
    mean = np.bincount(day_group, weights=daily, minlength=size) / np.maximum(t, 1)
    lag = np.array([hac_lag(int(ti), int(h)) for ti, h in zip(t, horizons, strict=True)])
    e = daily - mean[day_group]
    var = np.bincount(day_group, weights=e * e, minlength=size) / np.maximum(t, 1)
    start = np.r_[0, np.cumsum(t)[:-1]] if size else np.zeros(0, dtype=np.int64)
    pos = np.arange(len(daily)) - start[day_group]
    for k in range(1, int(np.max(np.minimum(lag, t - 1), initial=0)) + 1):
        later = np.flatnonzero(pos >= k)
        lagged = np.bincount(day_group[later], weights=e[later] * e[later - k], minlength=size)
        use = k <= np.minimum(lag, t - 1)
        var = np.where(use, var + 2.0 * (1.0 - k / (lag + 1)) * lagged / np.maximum(t, 1), var)
    se = np.sqrt(np.maximum(var, 0.0) / np.maximum(t, 1))
    # the year with most calls (the earliest of a tie) and its calls
    years = days[at].astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64)
    year_keys, year_counts = np.unique(group[at] * 10_000 + (years + 5_000), return_counts=True)
    year_group = year_keys // 10_000
    best = np.lexsort((year_keys, -year_counts, year_group))
    top_at = best[np.r_[True, np.diff(year_group[best]) != 0]] if len(best) else best
    top_of = year_group[top_at].tolist()
    top_year = dict(
        zip(
            top_of,
            zip(
                (year_keys[top_at] % 10_000 - 5_000).tolist(),
                year_counts[top_at].tolist(),
                strict=True,
            ),
            strict=True,
        )
    )
    # the causal majority's direction over the scored rows: its one value, or mixed
    maj = np.asarray(rows["majority"])
    values, maj_code = np.unique(maj[on], return_inverse=True)
    width = max(len(values), 1)
    pairs = np.unique(group[on] * width + maj_code.reshape(-1))
    n_values = np.bincount(pairs // width, minlength=size)
    one_value = dict(zip((pairs // width).tolist(), values[pairs % width].tolist(), strict=True))
    out: list[Scores] = []
    for j in range(size):
        nj, on_j = int(n[j]), int(n_on[j])
        rate = {
            k: _r(float(base_hits[k][j] / on_j)) if on_j else None
            for k in ("always_up", "majority", "last_move")
        }
        stronger = "always_up" if up_stronger[j] else "majority"
        p: float | None = None
        se_j: float | None = None
        if nj and t[j] >= 2:
            m_j, s_j = float(mean[j]), float(se[j])
            if not np.isfinite(s_j) or s_j == 0:
                p, se_j = (1.0 if m_j <= 0 else 0.0), (None if not np.isfinite(s_j) else 0.0)
            else:
                p, se_j = float(f"{_normal_sf(m_j / s_j):.3g}"), s_j
        label = None
        if nj:
            up = float(ups[j] / nj)
            if up >= outcomes.ONE_SIDED:
                label = f"calls UP {100 * up:.0f}% of the time"
            elif 1 - up >= outcomes.ONE_SIDED:
                label = f"calls DOWN {100 * (1 - up):.0f}% of the time"
        year, year_n = top_year.get(j, (None, 0))
        direction = "mixed"
        if n_values[j] == 1:
            direction = "up" if one_value[j] > 0 else "down"
        out.append(
            {
                "n": nj,
                "n_rows": int(n_rows[j]),
                "coverage": _r(nj / n_rows[j]) if n_rows[j] else None,
                "dir_accuracy": _r(float(hits[j] / nj)) if nj else None,
                "baselines": {
                    "always_up": {"dir_accuracy": rate["always_up"]},
                    "majority": {"dir_accuracy": rate["majority"], "direction": direction},
                    "last_move": {"dir_accuracy": rate["last_move"]},
                },
                "stronger_baseline": stronger,
                "edge": (
                    _r(float(hits[j] / nj) - float(base_hits[stronger][j] / on_j)) if nj else None
                ),
                "p_value": p,
                "test": "paired-newey-west",
                "label": label,
                "edge_se": _r(se_j, 6),
                "n_dates": int(t[j]),
                "top_year": None if year is None else str(np.datetime64(year, "Y")),
                "top_year_share": None if year is None else _r(float(year_n / nj)),
            }
        )
    return out


def _direction_label(maj: np.ndarray) -> str:
    vals = set(np.unique(maj).tolist())
    if len(vals) != 1:
        return "mixed"
    return "up" if vals.pop() > 0 else "down"


def brier(probs: np.ndarray, cls: np.ndarray) -> float:
    return float(np.mean(brier_rows(probs, cls)))


def brier_rows(probs: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Each row's Brier term (the squared distance of its probabilities from its class);
    `brier` is their mean."""
    onehot = np.eye(3)[cls]
    out: np.ndarray = np.sum((probs - onehot) ** 2, axis=1)
    return out


def evaluate(
    ret: np.ndarray,
    cls: np.ndarray,
    pred_ret: np.ndarray,
    probs: np.ndarray,
    *,
    majority: np.ndarray | int,
    last_move: np.ndarray,
    h: int,
    dates: np.ndarray | None = None,
    climatology: np.ndarray | None = None,
    gated: bool = False,
    threshold: float | None = None,
    call: np.ndarray | None = None,
) -> Scores:
    """ret, cls: realized (n,); pred_ret (n,), probs (n, 3); majority: the causal majority
    direction per row (+1/-1, or one value for all rows); climatology: (n, 3) class
    frequencies known at each row (for the Brier skill score). `gated`: calls abstain
    (FLAT) unless |P(up) - P(down)| >= threshold (None: every call abstains). `call`: the
    calls as they were made ('up'/'down'/'flat', thresholds already applied), scored as
    they are instead of being derived from the forecast."""
    from sklearn.metrics import (  # here: `report` and `--help` need none of sklearn
        balanced_accuracy_score,
        confusion_matrix,
        precision_recall_fscore_support,
    )

    n = len(ret)
    if call is not None:
        call = np.asarray(call, dtype=object)
    else:
        call = outcomes.call_of(probs, pred_ret) if n else np.zeros(0, dtype=object)
        if gated and n:
            call = outcomes.gate(call, probs, threshold)
    strategy = outcomes.call_sign(call) * ret
    pf = profit_factor(strategy)
    out = directional(call, ret, majority=majority, last_move=last_move, h=h, dates=dates)
    b = brier(probs, cls) if n else None
    ref = brier(climatology, cls) if n and climatology is not None else None
    out.update(
        {
            "balanced_accuracy": _r(balanced_accuracy_score(cls, probs.argmax(axis=1)))
            if n
            else None,
            "brier": _r(b) if b is not None else None,
            "brier_skill": _r(1 - b / ref) if b is not None and ref else None,
            "mae_pct": _r(np.mean(np.abs(np.expm1(pred_ret) - np.expm1(ret))) * 100) if n else None,
            "r2_oos": _r(1 - np.sum((ret - pred_ret) ** 2) / np.sum(ret**2))
            if n and np.any(ret)
            else None,
            "profit_factor": None if pf is None else (_r(pf) if np.isfinite(pf) else 999.0),
            "max_drawdown": _r(max_drawdown(strategy, dates, h)),
        }
    )
    out["baselines"]["zero_change"] = {
        "mae_pct": _r(np.mean(np.abs(np.expm1(ret))) * 100) if n else None,
        "r2_oos": 0.0,
    }
    if n:
        p, r, f, s = precision_recall_fscore_support(
            cls, probs.argmax(axis=1), labels=[0, 1, 2], zero_division=0
        )
        out["classes"] = {
            c: {"precision": _r(p[i]), "recall": _r(r[i]), "f1": _r(f[i]), "support": int(s[i])}
            for i, c in enumerate(CLASSES)
        }
        out["confusion"] = confusion_matrix(cls, probs.argmax(axis=1), labels=[0, 1, 2]).tolist()
    return out


def evaluate_part(
    part: Dataset, fc: Forecast, i: int, gated: bool = False, threshold: float | None = None
) -> Scores:
    """`evaluate` for horizon index i of forecast `fc` over the rows of a dataset part,
    with the causal baselines and climatology the targets carry."""
    h = fc.horizons[i]
    rows, Y = part.rows, part.Y
    clim = Y[[f"clim_{c}_h{h}" for c in CLASSES]].to_numpy()[rows]
    return evaluate(
        Y[f"ret_h{h}"].to_numpy()[rows],
        Y[f"cls_h{h}"].to_numpy()[rows],
        fc.expected_return[rows, i],
        fc.probs[rows, i],
        majority=Y[f"maj_h{h}"].to_numpy()[rows],
        last_move=Y[f"last_h{h}"].to_numpy()[rows],
        h=h,
        dates=part.dates().to_numpy(),
        climatology=clim,
        gated=gated,
        threshold=threshold,
    )


def summary(per_h: Mapping[str, Scores]) -> float | None:
    """Mean directional accuracy over horizons (the promotion gates' main figure)."""
    vals = [a for m in per_h.values() if (a := m.get("dir_accuracy")) is not None]
    return float(np.mean(vals)) if vals else None
