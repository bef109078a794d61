"""Ensemble: a weighted linear pool of member forecasters, weights fit on validation.

Per horizon the weights (non-negative, summing to 1) minimize the validation log-loss
of the pooled class probabilities (exponentiated-gradient descent); the expected
return is pooled with the same weights. Members are saved inside the ensemble's
directory, each with its own meta.json and checksums; the ensemble's state records the
SHA-256 of each member's meta.json (which names every member file's checksum), so a member
directory swapped for another valid model is refused at load like any altered file.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from models import artifacts
from models.base import Forecast, Forecaster, Progress, check_stop
from models.dataset import Dataset


def fit_weights(
    probs: np.ndarray, cls: np.ndarray, steps: int = 300, lr: float = 0.5
) -> np.ndarray:
    """probs: (members, n, 3) for one horizon; cls: (n,). Simplex weights minimizing log-loss."""
    m = probs.shape[0]
    w = np.full(m, 1 / m)
    if m == 1 or len(cls) == 0:
        return w
    p_true = probs[:, np.arange(len(cls)), cls]  # (members, n)
    for _ in range(steps):
        pooled = np.clip(w @ p_true, 1e-9, None)
        grad = -(p_true / pooled).mean(axis=1)
        w = w * np.exp(-lr * grad)
        w /= w.sum()
    return w


class EnsembleForecaster(Forecaster):
    kind = "ensemble"
    takes_members = True
    # The kinds members may be, set by models.catalog (the ensemble imports no other kind).
    kinds: ClassVar[dict[str, type[Forecaster]]] = {}
    defaults = {"members": []}  # [{"kind": ..., "params": {...}}] for members fit by the ensemble

    def __init__(self, horizons: tuple[int, ...] = (1, 3, 5), **params: Any) -> None:
        super().__init__(horizons, **params)
        self.members: list[Forecaster] = []
        self.weights = np.zeros((0, len(self.horizons)))
        self._member_digests: list[str] = []

    @classmethod
    def of(
        cls, members: list[Forecaster], val: Dataset, forecasts: list[Forecast] | None = None
    ) -> EnsembleForecaster:
        """An ensemble of already fitted members; only the weights are fit (on `val`, from
        the members' `forecasts` of val.X when they were made already)."""
        ens = cls(
            members[0].horizons, members=[{"kind": m.kind, "params": m.params} for m in members]
        )
        ens.features = list(members[0].features or [])
        ens.members = list(members)
        ens._fit_weights(val, forecasts)
        return ens

    def _fit(
        self, train: Dataset, val: Dataset, progress: Progress, stop: threading.Event | None
    ) -> None:
        specs = self.params["members"]
        if not specs:
            raise ValueError("an ensemble needs members")
        self.members = []
        for i, spec in enumerate(specs):
            check_stop(stop)
            cls = self.kinds[spec["kind"]]
            params = {k: v for k, v in spec.get("params", {}).items() if k in cls.defaults}
            model = cls(self.horizons, **params)
            model.fit(train, val, stop=stop)
            self.members.append(model)
            progress((i + 1) / len(specs), f"member {spec['kind']} fit")
        self._fit_weights(val)

    def _fit_weights(self, val: Dataset, forecasts: list[Forecast] | None = None) -> None:
        fcs = [m.predict(val.X) for m in self.members] if forecasts is None else forecasts
        if len(fcs) != len(self.members):
            raise ValueError("one forecast of validation per member")
        cls = val.cls(self.horizons)
        self.weights = np.column_stack(
            [
                fit_weights(np.stack([f.probs[val.rows, i] for f in fcs]), cls[:, i])
                for i in range(len(self.horizons))
            ]
        )  # (members, H)
        self.info.weights = {
            m.kind: [round(float(v), 4) for v in w]
            for m, w in zip(self.members, self.weights, strict=True)
        }

    def pool(self, fcs: list[Forecast]) -> Forecast:
        """The ensemble's forecast from its members' forecasts of the same rows (in member
        order): what `predict` returns, without predicting the members again."""
        if len(fcs) != len(self.members) or any(f.horizons != self.horizons for f in fcs):
            raise ValueError("pool needs one forecast per member, with the ensemble's horizons")
        return self._forecast(len(fcs[0].expected_return), *self._combine(fcs))

    def _predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self._combine([m.predict(X) for m in self.members])

    def _predict_at(self, X: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._combine(
            [
                m._forecast(len(rows), *m._predict_at(X[m.fitted_features], rows))
                for m in self.members
            ]
        )

    def _combine(self, fcs: list[Forecast]) -> tuple[np.ndarray, np.ndarray]:
        ret = sum(f.expected_return * w[None, :] for f, w in zip(fcs, self.weights, strict=True))
        probs = sum(f.probs * w[None, :, None] for f, w in zip(fcs, self.weights, strict=True))
        return np.asarray(ret), np.asarray(probs)

    def _state(self) -> dict[str, list[list[float]] | int | list[str]]:
        return {
            "weights": self.weights.tolist(),
            "n_members": len(self.members),
            "member_digests": self._member_digests,
        }

    def _write(self, directory: Path) -> list[str]:
        # save() calls _write before _state: the digests of what was just written
        self._member_digests = []
        for i, m in enumerate(self.members):
            m.save(directory / f"member_{i}")
            self._member_digests.append(
                artifacts.sha256(directory / f"member_{i}" / artifacts.META)
            )
        return []

    def _read(self, directory: Path, state: Mapping[str, Any]) -> None:
        n = int(state["n_members"])
        self.members = [Forecaster.load(directory / f"member_{i}", self.kinds) for i in range(n)]
        # Ensembles saved before member digests existed carry none: nothing to compare.
        for i, (m, digest) in enumerate(
            zip(self.members, state.get("member_digests") or [], strict=False)
        ):
            if m.digest != digest:
                raise artifacts.ArtifactError(
                    f"member_{i}: not the model this ensemble was saved with (swapped or altered)"
                )
        if state.get("member_digests") is not None and len(state["member_digests"]) != n:
            raise artifacts.ArtifactError("member digests do not match the members")
        self.weights = np.asarray(state["weights"], dtype=float).reshape(n, len(self.horizons))
