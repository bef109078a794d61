"""What every forecaster returns, and the one base class every forecaster extends.

The base owns validation (inputs have the right shape and order, are never mutated,
outputs are finite and normalized) and persistence (meta.json with the kind, horizons,
parameters, feature-schema hash and file checksums, written atomically). A subclass
implements only its core: `_fit`, `_predict`, `_state`, `_write`, `_read`.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from models.dataset import Dataset

CLASSES = ("down", "flat", "up")
FORMAT = 1

Progress = Callable[[float, str], None]
# Per horizon key ("1", "3", ...), the evidence threshold |P(up) - P(down)| a call must clear,
# chosen on validation; None: no call ever clears it (the model always abstains there).
Thresholds = dict[str, float | None]


@dataclass
class Facts:
    """What fitting and choosing found about a model, saved as meta.json's "info" (and shown
    in the registry's metrics). The keys are those of the untyped dict artifacts held before,
    so a model saved earlier loads as it is; a key this version does not know is kept."""

    thresholds: Thresholds | None = None  # None: chosen by no one (trained before thresholds)
    trained_through: str | None = None  # the last session whose label the fit saw
    epochs: int | None = None  # torch: epochs run (early stopping)
    best_val_loss: float | None = None  # torch
    train_samples_per_s: float | None = None  # torch
    rounds: dict[str, int] | None = None  # xgboost, ranking: boosting rounds per booster
    weights: dict[str, list[float]] | None = None  # ensemble: member kind -> weight per horizon
    other: dict[str, object] = field(default_factory=dict)  # unknown keys, kept as they came

    def to_dict(self) -> dict[str, object]:
        """The JSON form: the facts that are known (absent ones are left out, as before)."""
        out: dict[str, object] = dict(self.other)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "other" and value is not None:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Facts:
        """Read meta.json's "info" (parsed JSON, of any version; a malformed value raises)."""
        known = {f.name for f in fields(cls)} - {"other"}
        given = {k: v for k, v in d.items() if v is not None}
        return cls(
            thresholds={
                str(k): None if v is None else float(v) for k, v in given["thresholds"].items()
            }
            if "thresholds" in given
            else None,
            trained_through=str(given["trained_through"]) if "trained_through" in given else None,
            epochs=int(given["epochs"]) if "epochs" in given else None,
            best_val_loss=float(given["best_val_loss"]) if "best_val_loss" in given else None,
            train_samples_per_s=float(given["train_samples_per_s"])
            if "train_samples_per_s" in given
            else None,
            rounds={str(k): int(v) for k, v in given["rounds"].items()}
            if "rounds" in given
            else None,
            weights={str(k): [float(x) for x in v] for k, v in given["weights"].items()}
            if "weights" in given
            else None,
            # unknown keys, and known ones saved as null, come back out as they went in
            other={k: v for k, v in d.items() if k not in known or v is None},
        )


@dataclass(frozen=True)
class Forecast:
    """Forecasts for n rows and len(horizons) horizons.

    expected_return: (n, H) expected forward log return per horizon.
    probs: (n, H, 3) class probabilities in CLASSES order (down, flat, up); rows sum to 1.
    """

    horizons: tuple[int, ...]
    expected_return: np.ndarray
    probs: np.ndarray

    def __post_init__(self) -> None:
        n, h = self.expected_return.shape
        if h != len(self.horizons) or self.probs.shape != (n, h, 3):
            raise ValueError("Forecast shapes do not match its horizons")

    def direction(self) -> np.ndarray:
        """(n, H): +1 where the call is up (P(up) > P(down)), -1 where down."""
        return np.where(self.probs[..., 2] >= self.probs[..., 0], 1, -1)


class Stopped(Exception):
    """Training was asked to stop; nothing was produced."""


class Forecaster(ABC):
    kind: ClassVar[str] = ""
    learns: ClassVar[bool] = True  # False for fixed rules (no planted-signal claim)
    takes_members: ClassVar[bool] = False  # True for a model built from other fitted models
    uses_torch: ClassVar[bool] = False  # True where fitting runs torch (thread count matters)
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, horizons: tuple[int, ...] = (1, 3, 5), **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ValueError(f"{self.kind}: unknown parameters {sorted(unknown)}")
        self.horizons = tuple(int(h) for h in horizons)
        self.params: dict[str, Any] = {**self.defaults, **params}
        self.features: list[str] | None = None
        self.info = Facts()  # what fitting and choosing found (epochs run, thresholds ...)
        # SHA-256 of the meta.json it was loaded from (None if never loaded): meta.json names the
        # kind, parameters, state and every file's checksum, so equal digests predict identically.
        self.digest: str | None = None

    @classmethod
    def of(
        cls, members: list[Forecaster], val: Dataset, forecasts: list[Forecast] | None = None
    ) -> Forecaster:
        """A model of this kind built from already fitted `members` (only what combines them
        is fit, on `val`; `forecasts`: the members' forecasts of val.X, when made already);
        only a kind that `takes_members` is built this way."""
        raise TypeError(f"{cls.kind}: takes no members")

    def pool(self, fcs: list[Forecast]) -> Forecast:
        """A model that takes members: its forecast from its members' forecasts of the same
        rows (what `predict` returns, without predicting the members again)."""
        raise TypeError(f"{self.kind}: takes no members")

    # ---- public API (validated) -------------------------------------------------------
    def fit(
        self,
        train: Dataset,
        val: Dataset,
        *,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> Forecaster:
        for name, part in (("train", train), ("val", val)):
            _check_frame(part.X, name)
            if len(part.rows) != len(part.X):
                raise ValueError(f"{name}: rows mask does not match X")
            if not set(self.horizons) <= set(part.horizons):
                raise ValueError(f"{name}: dataset lacks horizons {self.horizons}")
        if train.n == 0 or val.n == 0:
            raise ValueError("train and val need at least one labelled row each")
        self.features = list(train.X.columns)
        self._fit(train, val, progress or (lambda f, m: None), stop)
        return self

    def predict(self, X: pd.DataFrame) -> Forecast:
        self._check_input(X)
        ret, probs = self._predict(X[self.fitted_features])
        return self._forecast(len(X), ret, probs)

    def predict_last(self, X: pd.DataFrame) -> Forecast:
        """Forecasts for the last row of each symbol of X only (in symbol order); the earlier
        rows are context (a sequence model's window). Equal to `predict(X)` at those rows."""
        self._check_input(X)
        symbols = X.index.get_level_values("symbol").to_numpy()
        rows = np.flatnonzero(np.r_[symbols[1:] != symbols[:-1], len(X) > 0])
        ret, probs = self._predict_at(X[self.fitted_features], rows)
        return self._forecast(len(rows), ret, probs)

    @property
    def fitted_features(self) -> list[str]:
        """The feature columns seen in fit (an error before fit)."""
        if self.features is None:
            raise ValueError(f"{self.kind}: predict before fit")
        return self.features

    def _check_input(self, X: pd.DataFrame) -> None:
        if self.features is None:
            raise ValueError(f"{self.kind}: predict before fit")
        _check_frame(X, "X")
        missing = [c for c in self.features if c not in X.columns]
        if missing:
            raise ValueError(f"X lacks features {missing[:3]}")

    def _forecast(self, n: int, ret: np.ndarray, probs: np.ndarray) -> Forecast:
        """Raw model output for n rows -> a checked Forecast (finite, probabilities normalized)."""
        ret = np.asarray(ret, dtype=np.float64).reshape(n, len(self.horizons))
        probs = np.clip(np.asarray(probs, dtype=np.float64), 1e-6, None)
        probs = probs / probs.sum(axis=-1, keepdims=True)
        if not (np.isfinite(ret).all() and np.isfinite(probs).all()):
            raise ValueError(f"{self.kind}: non-finite forecast")
        return Forecast(self.horizons, ret, probs)

    def save(self, directory: Path) -> None:
        """Write the model into `directory` (created atomically; must not exist)."""
        from models import artifacts, features

        directory = Path(directory)
        if self.features is None:
            raise ValueError("cannot save an unfitted model")
        tmp = artifacts.temp_dir_for(directory)
        try:
            names = self._write(tmp)
            meta = {
                "format": FORMAT,
                "kind": self.kind,
                "horizons": list(self.horizons),
                "params": self.params,
                "features": self.features,
                "feature_hash": features.feature_hash(),
                "state": self._state(),
                "info": self.info.to_dict(),
                "files": {n: artifacts.sha256(tmp / n) for n in names},
            }
            artifacts.write_json(tmp / artifacts.META, meta)
            artifacts.publish_dir(tmp, directory)
        except BaseException:
            artifacts.discard(tmp)
            raise

    @staticmethod
    def load(directory: Path, kinds: Mapping[str, type[Forecaster]]) -> Forecaster:
        """Load a model of any kind in `kinds` (the catalog passes them: the base knows none);
        raises ArtifactError for anything broken, foreign or unsafe."""
        from models import artifacts, features

        directory = Path(directory)
        meta = artifacts.read_json(directory / artifacts.META)
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise artifacts.ArtifactError("meta.json: unknown format")
        if meta.get("feature_hash") != features.feature_hash():
            raise artifacts.ArtifactError("feature schema changed since this model was trained")
        cls = kinds.get(str(meta.get("kind")))
        if cls is None:
            raise artifacts.ArtifactError(f"unknown model kind {meta.get('kind')!r}")
        artifacts.check_files(directory, meta.get("files", {}))
        try:
            model = cls(tuple(meta["horizons"]), **meta["params"])
            model.features = list(meta["features"])
            model.info = Facts.from_dict(meta.get("info") or {})
            model._read(directory, meta["state"])
            model.digest = artifacts.sha256(directory / artifacts.META)
        except (artifacts.ArtifactError, artifacts.ArtifactUnavailable):
            raise
        except OSError as exc:  # the files were just verified: only a missing one is proof
            raise artifacts.os_error(exc, f"{cls.kind} state") from None
        except Exception as exc:  # any loader failure means the artifact is unusable
            raise artifacts.ArtifactError(
                f"{cls.kind}: cannot load ({type(exc).__name__}: {exc})"
            ) from None
        return model

    # ---- subclass core ----------------------------------------------------------------
    @abstractmethod
    def _fit(
        self, train: Dataset, val: Dataset, progress: Progress, stop: threading.Event | None
    ) -> None:
        """Fit on `train`, using `val` for early stopping or selection only."""

    @abstractmethod
    def _predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(expected returns (n, H), probabilities (n, H, 3)) for every row of X."""

    def _predict_at(self, X: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw forecasts of the rows at positions `rows`. Row-wise models need only those rows;
        models that look back (sequence windows) override this."""
        return self._predict(X.iloc[rows])

    def _state(self) -> Mapping[str, object]:
        return {}

    def _write(self, directory: Path) -> list[str]:
        return []

    def _read(self, directory: Path, state: dict[str, Any]) -> None:
        return None


def check_stop(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise Stopped("stopped")


def _check_frame(X: pd.DataFrame, name: str) -> None:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"{name} must be a DataFrame")
    if not isinstance(X.index, pd.MultiIndex) or list(X.index.names) != ["symbol", "date"]:
        raise ValueError(f"{name} must be indexed by (symbol, date)")
    if not X.index.is_monotonic_increasing or X.index.has_duplicates:
        raise ValueError(f"{name} must be sorted by (symbol, date) without duplicates")
