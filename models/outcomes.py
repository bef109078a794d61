"""The outcome rules: one definition of every scored quantity, imported by every layer.

Training labels, the walk-forward backtest, `verify`, the ledger, `report` and (through
the columns `verify` stores) the TUI all score a call with these functions and nothing
else:

- the realized return of a call: log(actual close / base close) over h sessions;
- the FLAT band: FLAT_K daily standard deviations (20 sessions, known at the call)
  scaled by sqrt(h);
- the move class: beyond +band is UP, below -band DOWN, anything between (a zero
  return included) FLAT;
- the call of a forecast: UP or DOWN only when that class is the most likely one and
  the expected return agrees with it, and (for a trained model) when its evidence
  |P(up) - P(down)| clears the threshold chosen on validation data; otherwise FLAT,
  which is "no edge": no directional call;
- the hit of a call: an UP call hits when the price rose (realized return > 0), a
  DOWN call when it fell (< 0); an unchanged price is a miss for both. FLAT calls make
  no directional claim and have no hit; they are counted as abstentions;
- the baselines scored on the same rows: always-up, the causal majority (the direction
  most frequent among h-session moves already known at the call's date) and the last
  h-session move;
- the confidence of a call: the calibrated probability that it hits (a FLAT call has
  none); a directional call below the stronger baseline's hit rate is made FLAT.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

FLAT_K = 0.25  # FLAT band = +-0.25 daily sigma * sqrt(h)
VOL_WINDOW = 20  # sessions of daily log returns behind sigma
DOWN, FLAT, UP = 0, 1, 2  # class codes, in the order of probability vectors
CLASSES = ("down", "flat", "up")
ONE_SIDED = 0.95  # a model calling one direction on at least this share of rows is labelled
# The significance test every report uses (models.metrics.paired_p), named where p is shown.


def daily_sigma(close: pd.Series) -> pd.Series:
    """Std of daily log returns over the trailing VOL_WINDOW sessions (known at t)."""
    return close.transform(np.log).diff().rolling(VOL_WINDOW, min_periods=VOL_WINDOW).std()


def band(close: pd.Series, h: int) -> pd.Series:
    """The FLAT band of each session's h-session move, from the bars up to that session."""
    return FLAT_K * daily_sigma(close) * float(np.sqrt(h))


def realized_return(base_price: ArrayLike, actual_price: ArrayLike) -> np.ndarray:
    """Log return of a call from its base close to the close of its target session."""
    return np.log(
        np.asarray(actual_price, dtype=np.float64) / np.asarray(base_price, dtype=np.float64)
    )


def move_code(log_return: np.ndarray, width: np.ndarray | float) -> np.ndarray:
    """Class code per move (DOWN/FLAT/UP); -1 where the return is unknown. A missing band
    counts as zero width."""
    r = np.asarray(log_return, dtype=float)
    w = np.nan_to_num(np.broadcast_to(np.asarray(width, dtype=float), r.shape), nan=0.0)
    code = np.where(r > w, UP, np.where(r < -w, DOWN, FLAT))
    return np.where(np.isfinite(r), code, -1).astype(np.int64)


def move_class(log_return: np.ndarray, width: np.ndarray | float) -> np.ndarray:
    """Realized class label ('down', 'flat', 'up') per move."""
    labels: np.ndarray = np.asarray(CLASSES, dtype=object)[
        np.clip(move_code(log_return, width), 0, 2)
    ]
    return labels


def direction(log_return: np.ndarray) -> np.ndarray:
    """+1 where the price rose, -1 where it fell, 0 where it is unchanged or unknown."""
    r = np.asarray(log_return, dtype=float)
    s: np.ndarray = np.sign(r, out=np.empty_like(r))  # an array even for one value
    s[np.isnan(s)] = 0.0  # what nan_to_num(nan=0.0) then sign gave, without its copies
    return s.astype(np.int64)


def call_of(probs: ArrayLike, expected_return: ArrayLike) -> np.ndarray:
    """The call of each forecast: 'up' when P(up) is the largest class probability and the
    expected return is not negative, 'down' mirrored, else 'flat' (no directional call)."""
    p = np.asarray(probs, dtype=float).reshape(-1, 3)
    mu = np.asarray(expected_return, dtype=float).reshape(-1)
    down, flat, up = p[:, 0], p[:, 1], p[:, 2]
    is_up = (up > down) & (up >= flat) & (mu >= 0)
    is_down = (down > up) & (down >= flat) & (mu <= 0)
    return np.where(is_up, "up", np.where(is_down, "down", "flat")).astype(object)


def gate(call: np.ndarray, probs: ArrayLike, threshold: float | None) -> np.ndarray:
    """Calls (`call_of`) kept UP/DOWN only where the evidence |P(up) - P(down)|
    clears `threshold` (chosen on validation); FLAT ("no edge") elsewhere, and everywhere
    when no threshold qualified (None)."""
    c = np.asarray(call, dtype=object).copy()
    p = np.asarray(probs, dtype=float).reshape(-1, 3)
    if threshold is None:
        c[:] = "flat"
        return c
    c[np.abs(p[:, 2] - p[:, 0]) < threshold] = "flat"
    return c


def call_sign(call: np.ndarray) -> np.ndarray:
    """+1 for 'up', -1 for 'down', 0 for 'flat' (no call)."""
    c = np.asarray(call, dtype=object)
    return np.where(c == "up", 1, np.where(c == "down", -1, 0)).astype(np.int64)


def hit(call: np.ndarray, log_return: np.ndarray) -> np.ndarray:
    """1.0 where a directional call was right, 0.0 where wrong, NaN for FLAT calls and
    unknown outcomes."""
    sign = call_sign(call)
    r = np.asarray(log_return, dtype=float)
    right = (sign * direction(r) > 0).astype(float)
    return np.where((sign != 0) & np.isfinite(r), right, np.nan)


def baseline_hit(sign: np.ndarray | int, log_return: np.ndarray) -> np.ndarray:
    """Hit of a baseline that always calls a direction (+1/-1; 0 counts as a miss)."""
    r = np.asarray(log_return, dtype=float)
    s = np.broadcast_to(np.asarray(sign), r.shape)
    return np.where(np.isfinite(r), (s * direction(r) > 0).astype(float), np.nan)


def last_move(close: pd.Series, h: int) -> pd.Series:
    """Sign of the h-session move ending at each session (the last-move baseline's call)."""
    r = np.log(close).diff(h)
    return pd.Series(np.sign(r.fillna(0.0)).astype(int), index=close.index)


def causal_majority(close: pd.Series, h: int) -> pd.Series:
    """Per session t: +1 if h-session rises were at least as frequent as falls among the
    moves that had ended by t (known at t), else -1. The majority baseline's call."""
    r = np.log(close).diff(h).to_numpy()
    ups = np.cumsum(np.nan_to_num(r) > 0)
    downs = np.cumsum(np.nan_to_num(r) < 0)
    return pd.Series(np.where(ups >= downs, 1, -1), index=close.index)


def at_end(close: np.ndarray, h: int) -> tuple[float, int, int]:
    """(FLAT band, causal majority, last move) at the last close: the values `band`,
    `causal_majority` and `last_move` give at that row, in numpy (the cycle asks for them
    per symbol and horizon every session; tests check they agree)."""
    logc = np.log(np.asarray(close, dtype=float))
    r1 = np.diff(logc)[-VOL_WINDOW:]
    width = FLAT_K * float(np.std(r1, ddof=1)) * np.sqrt(h) if len(r1) == VOL_WINDOW else np.nan
    moves = logc[h:] - logc[:-h]
    ups, downs = int(np.sum(moves > 0)), int(np.sum(moves < 0))
    last = int(np.sign(moves[-1])) if len(moves) and np.isfinite(moves[-1]) else 0
    return float(width), 1 if ups >= downs else -1, last


def baseline_rate(close: np.ndarray, h: int) -> float:
    """The stronger baseline's hit rate known at the last close: the share of the h-session
    moves so far that went the causal majority's way (always-up's share is never higher).
    0.5 before any move is known."""
    logc = np.log(np.asarray(close, dtype=float))
    moves = logc[h:] - logc[:-h]
    moves = moves[np.isfinite(moves)]
    if not len(moves):
        return 0.5
    return max(int(np.sum(moves > 0)), int(np.sum(moves < 0))) / len(moves)


def at_end_rows(logc: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """`at_end` and `baseline_rate` for each row of `logc` (a symbol's log closes, a row
    each, same length): (FLAT band, causal majority, last move, baseline rate) arrays, each
    entry what the two give on that row's closes."""
    r1 = np.diff(logc, axis=1)[:, -VOL_WINDOW:]
    if r1.shape[1] == VOL_WINDOW:
        width = FLAT_K * np.std(r1, axis=1, ddof=1) * np.sqrt(h)
    else:
        width = np.full(len(logc), np.nan)
    moves = logc[:, h:] - logc[:, :-h]
    ups, downs = np.sum(moves > 0, axis=1), np.sum(moves < 0, axis=1)
    if moves.shape[1]:
        last = np.where(np.isfinite(moves[:, -1]), np.sign(moves[:, -1]), 0.0).astype(int)
    else:
        last = np.zeros(len(logc), dtype=int)
    known = np.sum(np.isfinite(moves), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(known > 0, np.maximum(ups, downs) / known, 0.5)
    return width, np.where(ups >= downs, 1, -1), last, rate


def hit_probability(probs: tuple[float, ...], call: str) -> float:
    """The probability that a directional call hits, from its forecast alone (before
    realized outcomes calibrate it): P(its class) plus half of P(flat), since a move inside
    the FLAT band, which straddles zero, still goes up or down."""
    return float(probs[CLASSES.index(call)]) + 0.5 * float(probs[FLAT])


def keep_call(call: str, hit_prob: float, baseline: float) -> str:
    """The call made: a directional one only when its calibrated hit probability is at least
    the stronger baseline's hit rate; else FLAT (it would not beat always-up or the
    majority, so it is no call)."""
    return call if call == "flat" or hit_prob >= baseline else "flat"


def confidence_of(probs: tuple[float, ...], call: str) -> float:
    """The confidence shown with a call: the probability of its direction (P(flat) for a
    FLAT call, which is the probability of no directional move)."""
    return float(probs[CLASSES.index(call)])


def bucket_of(confidence: float) -> int:
    """Confidence bucket 0..9 (tenths) for calibration tables."""
    return min(9, max(0, int(confidence * 10)))


def buckets_of(confidence: np.ndarray) -> np.ndarray:
    """`bucket_of` for an array of confidences."""
    return np.clip(np.trunc(np.asarray(confidence, dtype=np.float64) * 10), 0, 9).astype(np.int64)


def one_sided_label(call: np.ndarray) -> str | None:
    """'calls UP 100% of the time' when one direction makes >= 95% of the directional calls."""
    sign = call_sign(call)
    sign = sign[sign != 0]
    if len(sign) == 0:
        return None
    up = float(np.mean(sign > 0))
    if up >= ONE_SIDED:
        return f"calls UP {100 * up:.0f}% of the time"
    if 1 - up >= ONE_SIDED:
        return f"calls DOWN {100 * (1 - up):.0f}% of the time"
    return None
