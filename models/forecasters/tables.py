"""Empirical outcome tables: a discrete context at t -> class frequencies and mean return.

Shared by the Markov pattern model (context = recent return states) and the rules
model (context = the vote score). Counts are Laplace-smoothed and mean returns shrunk
toward the global mean, so a rare context predicts close to the base rates.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

# what an OutcomeTable saves: "probs" (contexts + 1, H, 3) and "mean" (contexts + 1, H)
TableState = dict[str, list[list[list[float]]] | list[list[float]]]


class OutcomeTable:
    def __init__(self, n_contexts: int, n_horizons: int, alpha: float = 1.0, shrink: float = 20.0):
        self.n_contexts, self.n_horizons = n_contexts, n_horizons
        self.alpha, self.shrink = alpha, shrink
        self.probs = np.full((n_contexts + 1, n_horizons, 3), 1 / 3)  # last row: unknown context
        self.mean = np.zeros((n_contexts + 1, n_horizons))

    def fit(self, context: np.ndarray, ret: np.ndarray, cls: np.ndarray) -> OutcomeTable:
        """context: (n,) ints in [0, n_contexts) or -1; ret, cls: (n, H)."""
        known = context >= 0
        counts_all = np.stack([np.bincount(cls[:, h], minlength=3) for h in range(self.n_horizons)])
        global_mean = ret.mean(axis=0) if len(ret) else np.zeros(self.n_horizons)
        self.probs[-1] = (counts_all + self.alpha) / (
            counts_all.sum(axis=1, keepdims=True) + 3 * self.alpha
        )
        self.mean[-1] = global_mean
        for c in range(self.n_contexts):
            sel = known & (context == c)
            for h in range(self.n_horizons):
                counts = np.bincount(cls[sel, h], minlength=3)
                prior = self.probs[-1, h] * 3 * self.alpha
                self.probs[c, h] = (counts + prior) / (counts.sum() + 3 * self.alpha)
                self.mean[c, h] = (ret[sel, h].sum() + self.shrink * global_mean[h]) / (
                    sel.sum() + self.shrink
                )
        return self

    def lookup(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.where(context >= 0, context, self.n_contexts)
        return self.mean[idx], self.probs[idx]

    def to_dict(self) -> TableState:
        return {"probs": self.probs.tolist(), "mean": self.mean.tolist()}

    def load_dict(self, d: Mapping[str, object]) -> None:
        probs, mean = np.asarray(d["probs"], float), np.asarray(d["mean"], float)
        if probs.shape != self.probs.shape or mean.shape != self.mean.shape:
            raise ValueError("outcome table has the wrong shape")
        self.probs, self.mean = probs, mean
