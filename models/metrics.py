"""Out-of-sample scores of one model for one horizon, always next to the baselines.

Directional accuracy compares the call (P(up) >= P(down) -> up) with the sign of the
realized return. Baselines: always the majority direction of the TRAINING period, the
last move (sign of the past h-session return), and zero change. The p-value is a
one-sided binomial test of the model's hits against the majority baseline's hit rate
on the same rows. Profit factor and drawdown follow the call with 1/h of capital per
call (overlapping h-session holds), averaging same-day calls across symbols.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest
from sklearn.metrics import (
    balanced_accuracy_score,
    confusion_matrix,
    precision_recall_fscore_support,
)

from models.base import CLASSES


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), nd)


def profit_factor(strategy: np.ndarray) -> float | None:
    gains, losses = strategy[strategy > 0].sum(), -strategy[strategy < 0].sum()
    if losses == 0:
        return None if gains == 0 else float("inf")
    return float(gains / losses)


def max_drawdown(strategy: np.ndarray, dates: np.ndarray | None, h: int) -> float:
    """Largest peak-to-trough loss (fraction) of the equity curve of following the calls."""
    if len(strategy) == 0:
        return 0.0
    per_day = (
        pd.Series(strategy / h)
        .groupby(dates if dates is not None else np.arange(len(strategy)))
        .mean()
    )
    equity = np.exp(np.cumsum(per_day.sort_index().to_numpy()))
    peak = np.maximum.accumulate(np.r_[1.0, equity])[1:]
    return float(np.max(1 - equity / peak))


def evaluate(
    ret: np.ndarray,
    cls: np.ndarray,
    pred_ret: np.ndarray,
    probs: np.ndarray,
    *,
    majority: int,
    last_move: np.ndarray,
    h: int,
    dates: np.ndarray | None = None,
) -> dict[str, Any]:
    """ret, cls: realized (n,); pred_ret (n,), probs (n, 3); majority: +1/-1 from train."""
    n = len(ret)
    actual = np.where(ret > 0, 1, -1)
    call = np.where(probs[:, 2] >= probs[:, 0], 1, -1) if n else np.zeros(0, int)
    hits = int((call == actual).sum())
    maj_acc = float((actual == majority).mean()) if n else float("nan")
    last = np.where(last_move > 0, 1, -1)
    onehot = np.eye(3)[cls] if n else np.zeros((0, 3))
    strategy = call * ret
    pf = profit_factor(strategy)
    out: dict[str, Any] = {
        "n": n,
        "dir_accuracy": _r(hits / n) if n else None,
        "balanced_accuracy": _r(balanced_accuracy_score(cls, probs.argmax(axis=1))) if n else None,
        "brier": _r(np.mean(np.sum((probs - onehot) ** 2, axis=1))) if n else None,
        "mae_pct": _r(np.mean(np.abs(np.expm1(pred_ret) - np.expm1(ret))) * 100) if n else None,
        "r2_oos": _r(1 - np.sum((ret - pred_ret) ** 2) / np.sum(ret**2))
        if n and np.any(ret)
        else None,
        "profit_factor": None if pf is None else (_r(pf) if np.isfinite(pf) else 999.0),
        "max_drawdown": _r(max_drawdown(strategy, dates, h)),
        "p_value": binomial_p(hits, n, maj_acc) if n else None,
        "baselines": {
            "majority": {
                "direction": "up" if majority > 0 else "down",
                "dir_accuracy": _r(maj_acc),
            },
            "last_move": {"dir_accuracy": _r(float((last == actual).mean())) if n else None},
            "zero_change": {
                "mae_pct": _r(np.mean(np.abs(np.expm1(ret))) * 100) if n else None,
                "r2_oos": 0.0,
            },
        },
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


def binomial_p(hits: int, n: int, baseline: float) -> float | None:
    """One-sided: how likely `hits` or more out of `n` if the true hit rate were `baseline`."""
    if n == 0:
        return None
    p = float(binomtest(hits, n, min(max(baseline, 1e-9), 1 - 1e-9), alternative="greater").pvalue)
    return float(f"{p:.3g}")  # significant digits: a tiny p-value must not print as 0


def majority_direction(train_ret: np.ndarray) -> int:
    """+1 if the training period rose at least as often as it fell, else -1."""
    return 1 if np.mean(train_ret > 0) >= 0.5 else -1


def summary(per_h: dict[Any, dict[str, Any]]) -> float | None:
    """Mean directional accuracy over horizons (the promotion gates' main figure)."""
    vals = [m["dir_accuracy"] for m in per_h.values() if m.get("dir_accuracy") is not None]
    return float(np.mean(vals)) if vals else None
