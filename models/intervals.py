"""Prediction ranges for the h-session log return (and hence the target close).

The range at call t is mu ± q * sigma_h, where sigma_h is the forecast std of the h-session
log return (sqrt of a models.volatility variance forecast) and q is a conformal multiplier:
the finite-sample-corrected `level` quantile of PAST standardized residuals
|r - mu| / sigma_h. "Past" means outcomes known at t: a call made at s with target session
s+h is usable from session s+h on (the caller supplies `known_at`). Split conformal on a
causal, rolling pool fixes a misscaled sigma (e.g. fat tails or a biased vol model) without
refitting anything. With fewer than `min_n` residuals for a symbol the pooled residuals are
used; with fewer than `min_n` pooled residuals the Gaussian z is the fallback.

The product's multiplier is the adaptive one (`OnlineRange`, `AdaptiveRanges`, `replay`,
`adaptive_q` below): the same pools, with a quantile level that moves after every verified
miss or hit, so a storm widens the ranges within days instead of within a pool's length.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import functools
import math
from collections import deque

import numpy as np
import pandas as pd

LEVELS = (0.80, 0.95)
MIN_OWN = 50  # residuals of one symbol and horizon before its own set the multiplier
POOL = 500  # newest residuals per symbol and horizon a multiplier is chosen from
MAX_Q = 10.0  # a multiplier never exceeds 10 sigma


@functools.lru_cache(maxsize=16)
def gaussian_z(level: float) -> float:
    """Two-sided Gaussian multiplier: 1.2816 for 0.80, 1.9600 for 0.95."""
    from scipy.stats import norm  # here: importing scipy.stats costs a `report` 0.3-0.6 s

    return float(norm.ppf(0.5 + level / 2.0))


def standardized_residual(
    realized: np.ndarray | pd.Series,
    mu: np.ndarray | pd.Series | float,
    sigma: np.ndarray | pd.Series,
) -> np.ndarray:
    """|r - mu| / sigma: the nonconformity score of one call (NaN where unknown)."""
    r, m, s = (np.asarray(a, dtype=float) for a in (realized, mu, sigma))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(s > 0, np.abs(r - m) / s, np.nan)


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    """The ceil((n+1) level)/n empirical quantile of scores (split-conformal correction);
    +inf when n is too small for that order statistic to exist."""
    s = np.sort(np.asarray(scores, dtype=float)[np.isfinite(scores)])
    n = len(s)
    k = math.ceil((n + 1) * level)
    return float(s[k - 1]) if 0 < k <= n else float("inf")


def interval(
    mu: np.ndarray | pd.Series, sigma: np.ndarray | pd.Series, q: np.ndarray | pd.Series | float
) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) log-return bounds mu - q sigma, mu + q sigma."""
    m, s, qq = (np.asarray(a, dtype=float) for a in (mu, sigma, q))
    return m - qq * s, m + qq * s


def price_range(
    close: np.ndarray | pd.Series, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Bounds on the target close from log-return bounds: close * exp(bound)."""
    c = np.asarray(close, dtype=float)
    return c * np.exp(low), c * np.exp(high)


class _Pool:
    """A rolling, sorted pool of the latest `window` residuals (insert/evict in O(log n + n))."""

    def __init__(self, window: int | None) -> None:
        self.window = window
        self.fifo: deque[float] = deque()
        self.sorted: list[float] = []

    def add(self, x: float) -> None:
        self.fifo.append(x)
        bisect.insort(self.sorted, x)
        if self.window is not None and len(self.fifo) > self.window:
            old = self.fifo.popleft()
            del self.sorted[bisect.bisect_left(self.sorted, old)]

    def quantile(self, level: float) -> float:
        n = len(self.sorted)
        k = math.ceil((n + 1) * level)
        return self.sorted[k - 1] if 0 < k <= n else float("inf")


def causal_conformal_q(
    calls: pd.DataFrame,
    level: float,
    *,
    min_n: int = 100,
    window: int | None = 1000,
    by_symbol: bool = True,
) -> np.ndarray:
    """Conformal multiplier q for every call, using only residuals known at the call's date.

    `calls` columns: ``date`` (call session), ``known_at`` (session the outcome became known,
    i.e. the target session), ``score`` (standardized residual, NaN if never known) and,
    if by_symbol, ``symbol``. For a call at date d, the pool holds residuals with
    known_at <= d (a same-day outcome known at the close counts: the call is made after the
    close). Per-symbol pool if it holds >= min_n residuals, else the pooled one, else the
    Gaussian z. `window` keeps the latest residuals per symbol pool and 10x that many in the
    pooled one (adapts to regime; None = all).
    Call the function once per horizon: pools are not shared across horizons.
    """
    n = len(calls)
    dates = pd.to_datetime(calls["date"]).to_numpy()
    known = pd.to_datetime(calls["known_at"]).to_numpy()
    scores = calls["score"].to_numpy(float)
    syms = calls["symbol"].to_numpy() if by_symbol else np.zeros(n, dtype=int)
    fallback = gaussian_z(level)

    resolved = np.flatnonzero(np.isfinite(scores) & ~pd.isna(known))
    resolved = resolved[np.argsort(known[resolved], kind="stable")]
    order = np.argsort(dates, kind="stable")
    pooled = _Pool(None if window is None else window * 10)
    per_sym: dict[object, _Pool] = {}
    out = np.empty(n)
    j = 0
    for i in order:
        while j < len(resolved) and known[resolved[j]] <= dates[i]:
            k = resolved[j]
            pooled.add(float(scores[k]))
            per_sym.setdefault(syms[k], _Pool(window)).add(float(scores[k]))
            j += 1
        own = per_sym.get(syms[i])
        if own is not None and len(own.sorted) >= min_n:
            out[i] = own.quantile(level)
        elif len(pooled.sorted) >= min_n:
            out[i] = pooled.quantile(level)
        else:
            out[i] = fallback
    return out


# ---------------------------------------------------------------- scores


def coverage(
    realized: np.ndarray | pd.Series, low: np.ndarray | pd.Series, high: np.ndarray | pd.Series
) -> float:
    """Fraction of rows with low <= realized <= high (rows with any NaN are skipped)."""
    r, lo, hi = (np.asarray(a, dtype=float) for a in (realized, low, high))
    ok = np.isfinite(r) & np.isfinite(lo) & np.isfinite(hi)
    return float(((r[ok] >= lo[ok]) & (r[ok] <= hi[ok])).mean()) if ok.any() else float("nan")


def winkler_score(
    realized: np.ndarray | pd.Series,
    low: np.ndarray | pd.Series,
    high: np.ndarray | pd.Series,
    level: float,
) -> np.ndarray:
    """Per-row interval score (Winkler 1972; Gneiting & Raftery 2007), lower is better:
    width + (2/alpha) * distance outside the interval, alpha = 1 - level."""
    r, lo, hi = (np.asarray(a, dtype=np.float64) for a in (realized, low, high))
    alpha = 1.0 - level
    below = np.maximum(lo - r, 0.0)
    above = np.maximum(r - hi, 0.0)
    return (hi - lo) + (2.0 / alpha) * (below + above)


# ---------------------------------------------------------------- adaptive conformal

# ACI step per session of verified outcomes: bench/bench_ranges.py chose it on 2003-2006
GAMMA = 0.05


def _pool_quantile(pool: _Pool, level: float) -> float:
    """The conformal `level` quantile of the pool; past its largest score, the largest score
    (an adaptive level can reach 1, where split conformal has no finite answer)."""
    q = pool.quantile(min(max(level, 0.0), 1.0))
    return min(pool.sorted[-1] if q == float("inf") else q, MAX_Q)


class AdaptiveRanges:
    """Adaptive conformal inference (Gibbs & Candès 2021) for every symbol at one horizon.

    Each level keeps one working miscoverage alpha for the horizon. The outcomes that
    became known at a session, each checked against the multiplier its symbol's state gives
    now (the conformal 1 - alpha quantile of the symbol's newest POOL residuals once it has
    MIN_OWN, else of every symbol's, else the Gaussian z), move alpha once:
    alpha += gamma (target - share of them missed). A session of misses (a storm hits every
    symbol at once) widens every range the next day; calm sessions narrow them again. Alpha
    stays in [0, 1] (no wind-up during a long storm). The state is a pure function of the
    sessions fed so far: the cycle replays its verified ledger, the backtest and the bench
    feed the same class as outcomes mature, and both reach the same multipliers.
    """

    def __init__(self, gamma: float = GAMMA) -> None:
        self.gamma = gamma
        self.own: dict[object, _Pool] = {}
        self.pooled = _Pool(POOL * 10)
        self.alpha = [1.0 - level for level in LEVELS]

    def _pool(self, symbol: object) -> _Pool | None:
        own = self.own.get(symbol)
        if own is not None and len(own.sorted) >= MIN_OWN:
            return own
        return self.pooled if len(self.pooled.sorted) >= MIN_OWN else None

    def multipliers(self, symbol: object) -> tuple[float, ...]:
        """(q80, q95) for a call on `symbol` made now."""
        pool = self._pool(symbol)
        if pool is None:
            return tuple(gaussian_z(level) for level in LEVELS)
        return tuple(_pool_quantile(pool, 1.0 - a) for a in self.alpha)

    def update(self, session: list[tuple[object, float]]) -> None:
        """The (symbol, z) outcomes that became known at one session."""
        done = [(s, z) for s, z in session if math.isfinite(z)]
        checked = [(z, self.multipliers(s)) for s, z in done if self._pool(s) is not None]
        if checked:
            for k, level in enumerate(LEVELS):
                missed = sum(z > q[k] for z, q in checked) / len(checked)
                self.alpha[k] = min(
                    max(self.alpha[k] + self.gamma * (1.0 - level - missed), 0.0), 1.0
                )
        for s, z in done:
            self.own.setdefault(s, _Pool(POOL)).add(z)
            self.pooled.add(z)

    def to_dict(self) -> dict[str, object]:
        """The state as plain data (JSON-ready): the rule's constants, alpha per level and
        each pool's residuals oldest first, as base64 of little-endian float64 (exact, and
        a hundred times faster to write and read than decimal text); the sorted copies are
        rebuilt on load."""
        if any(not isinstance(s, str) for s in self.own):
            raise TypeError("only a state keyed by symbol names can be saved")
        return {
            "rule": _rule(self.gamma),
            "alpha": list(self.alpha),
            "pooled": _packed(self.pooled),
            "own": {str(s): _packed(p) for s, p in self.own.items()},
        }

    @classmethod
    def from_dict(cls, data: object) -> AdaptiveRanges:
        """The state `to_dict` wrote; ValueError for anything else (another rule's constants,
        a damaged document), so a caller can fall back to a replay."""
        try:
            if not isinstance(data, dict) or not isinstance(data["rule"], dict):
                raise ValueError("not a saved state")
            gamma = data["rule"]["gamma"]
            if not isinstance(gamma, float) or data["rule"] != _rule(gamma):
                raise ValueError("saved by another rule")
            state = cls(gamma)
            alpha = [float(a) for a in data["alpha"]]
            if len(alpha) != len(LEVELS) or not all(0.0 <= a <= 1.0 for a in alpha):
                raise ValueError("alpha out of range")
            state.alpha = alpha
            state.pooled = _unpacked(data["pooled"], POOL * 10)
            state.own = {str(s): _unpacked(v, POOL) for s, v in data["own"].items()}
        except (KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise ValueError(f"not a saved state ({exc!r})") from None
        return state


def _rule(gamma: float) -> dict[str, object]:
    """What a saved state is only valid under: the same levels, pools, threshold and step."""
    return {
        "levels": list(LEVELS),
        "pool": POOL,
        "min_own": MIN_OWN,
        "max_q": MAX_Q,
        "gamma": gamma,
    }


def _packed(pool: _Pool) -> str:
    raw = np.fromiter(pool.fifo, dtype="<f8", count=len(pool.fifo)).tobytes()
    return base64.b64encode(raw).decode("ascii")


def _unpacked(text: object, window: int) -> _Pool:
    if not isinstance(text, str):
        raise ValueError("a pool is not text")
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) % 8 or len(raw) // 8 > window:
        raise ValueError("a pool is not at most its window's float64 residuals")
    scores = np.frombuffer(raw, dtype="<f8")
    if not np.isfinite(scores).all():
        raise ValueError("a pool holds a non-finite residual")
    pool = _Pool(window)
    pool.fifo.extend(scores.tolist())
    pool.sorted = np.sort(scores).tolist()
    return pool


def replay(sessions: list[list[tuple[object, float]]], gamma: float = GAMMA) -> AdaptiveRanges:
    """The state after the verified outcomes of one horizon, one list per session, oldest first."""
    state = AdaptiveRanges(gamma)
    for session in sessions:
        state.update(session)
    return state


def adaptive_q(
    dates: np.ndarray,
    known: np.ndarray,
    symbols: np.ndarray,
    scores: np.ndarray,
    gamma: float = GAMMA,
) -> np.ndarray:
    """(len(LEVELS), n) multipliers for n calls of ONE horizon, each from the outcomes known
    by its date only: call i sees outcome j iff known[j] <= dates[i] (an outcome known at a
    session's close counts for the call made after it). `known` is NaT and `scores` NaN
    for an outcome never known. The walk-forward twin of `replay`: the same state fed the
    same sessions, so a backtest's multiplier is the one a cycle on that date would draw."""
    d = pd.to_datetime(np.asarray(dates)).to_numpy()
    k = pd.to_datetime(np.asarray(known)).to_numpy()
    z = np.asarray(scores, dtype=float)
    sym = np.asarray(symbols)
    n = len(d)
    done = np.flatnonzero(np.isfinite(z) & ~pd.isna(k))
    done = done[np.lexsort((d[done], sym[done].astype(str), k[done]))]
    order = np.lexsort((sym.astype(str), d))
    state = AdaptiveRanges(gamma)
    out = np.empty((len(LEVELS), n))
    j = 0
    cache: dict[object, tuple[float, ...]] = {}
    day = None
    for i in order:
        if d[i] != day:
            day = d[i]
            moved = False
            while j < len(done) and k[done[j]] <= day:
                first = j
                while j < len(done) and k[done[j]] == k[done[first]]:
                    j += 1
                state.update([(sym[m], float(z[m])) for m in done[first:j]])
                moved = True
            if moved:
                cache.clear()
        s = sym[i]
        if s not in cache:
            cache[s] = state.multipliers(s)
        out[:, i] = cache[s]
    return out
