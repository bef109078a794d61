"""The rule-based model: the votes of models/signals.py (RSI, MACD, golden/death cross,
regime) averaged into a score, quantized to five levels; each level's outcome
frequencies on the training period turn the score into calibrated probabilities."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models import signals
from models.base import Forecaster, Progress
from models.dataset import Dataset
from models.forecasters.tables import OutcomeTable, TableState

LEVELS = 5  # score in [-1, 1] -> -1, -0.5, 0, 0.5, 1


class RulesForecaster(Forecaster):
    kind = "rules"
    learns = False

    @staticmethod
    def score(X: pd.DataFrame) -> np.ndarray:
        votes = X[[f"sig_{s}" for s in signals.SIGNALS]].to_numpy()
        score: np.ndarray = np.nan_to_num(votes).mean(axis=1)
        return score

    def _contexts(self, X: pd.DataFrame) -> np.ndarray:
        return np.rint((self.score(X) + 1) * (LEVELS - 1) / 2).astype(np.int64)

    def _fit(
        self, train: Dataset, val: Dataset, progress: Progress, stop: threading.Event | None
    ) -> None:
        ctx = self._contexts(train.X)[train.rows]
        self.table = OutcomeTable(LEVELS, len(self.horizons)).fit(
            ctx, train.ret(self.horizons), train.cls(self.horizons)
        )
        progress(1.0, "calibrated")

    def _predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self.table.lookup(self._contexts(X))

    def _state(self) -> dict[str, TableState]:
        return {"table": self.table.to_dict()}

    def _read(self, directory: Path, state: Mapping[str, Any]) -> None:
        self.table = OutcomeTable(LEVELS, len(self.horizons))
        self.table.load_dict(state["table"])
