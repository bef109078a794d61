"""Markov pattern model: the last `order` daily returns, each discretized into down/flat/up
(±`threshold`, small, in units of the trailing daily volatility), form a context; the model
predicts the empirical distribution of what followed that context in training."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.base import Forecaster, Progress
from models.dataset import Dataset
from models.forecasters.tables import OutcomeTable, TableState


class MarkovForecaster(Forecaster):
    kind = "markov"
    defaults = {"order": 2, "threshold": 0.1}

    def _contexts(self, X: pd.DataFrame) -> np.ndarray:
        order = int(self.params["order"])
        if not 1 <= order <= 3:
            raise ValueError("markov order must be 1..3")
        vol = X["vol_20"].to_numpy()
        cum = [np.zeros(len(X))] + [X[f"ret_{k}"].to_numpy() for k in (1, 2, 3)]
        context = np.zeros(len(X), dtype=np.int64)
        ok = np.isfinite(vol) & (vol > 0)
        for lag in range(order):  # return of session t - lag = ret_{lag+1} - ret_{lag}
            z = (cum[lag + 1] - cum[lag]) / np.where(ok, vol, 1.0)
            ok &= np.isfinite(z)
            state = np.where(
                z > self.params["threshold"], 2, np.where(z < -self.params["threshold"], 0, 1)
            )
            context = context * 3 + state
        return np.where(ok, context, -1)

    def _fit(
        self, train: Dataset, val: Dataset, progress: Progress, stop: threading.Event | None
    ) -> None:
        n_ctx = 3 ** int(self.params["order"])
        ctx = self._contexts(train.X)[train.rows]
        self.table = OutcomeTable(n_ctx, len(self.horizons)).fit(
            ctx, train.ret(self.horizons), train.cls(self.horizons)
        )
        progress(1.0, f"{n_ctx} contexts")

    def _predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self.table.lookup(self._contexts(X))

    def _state(self) -> dict[str, TableState]:
        return {"table": self.table.to_dict()}

    def _read(self, directory: Path, state: Mapping[str, Any]) -> None:
        self.table = OutcomeTable(3 ** int(self.params["order"]), len(self.horizons))
        self.table.load_dict(state["table"])
