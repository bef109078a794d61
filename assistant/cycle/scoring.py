"""Scoring a call against what happened, and the one-sided test against the majority baseline."""

from __future__ import annotations

import numpy as np

from models.metrics import binomial_p

CLASSES = ("down", "flat", "up")


def outcome(log_return: np.ndarray, band: np.ndarray) -> np.ndarray:
    """Realized class of each move: beyond +band is up, below -band down, else flat."""
    return np.where(log_return > band, "up", np.where(log_return < -band, "down", "flat"))


def p_value(hits: int, n: int, baseline: float) -> float | None:
    """P(at least `hits` of `n` by luck at the baseline's hit rate): one-sided binomial,
    the same test the training and backtest reports use."""
    return binomial_p(hits, n, baseline) if n > 0 else None


def skill_text(label: str, by_outcome: dict[str, tuple[int, int]]) -> str:
    """One line of measured skill from {outcome: (n, hits)} of verified calls."""
    n = sum(c for c, _ in by_outcome.values())
    if n == 0:
        return f"{label}: no measured edge yet, n=0"
    hits = sum(h for _, h in by_outcome.values())
    majority = max(c for c, _ in by_outcome.values()) / n
    p = p_value(hits, n, majority)
    head = f"hit {100 * hits / n:.0f}% vs majority {100 * majority:.0f}%, n={n}, p={p:.2f}"
    if p is None or p >= 0.05:
        return f"{label}: no measured edge yet ({head})"
    return f"{label}: {head}"
