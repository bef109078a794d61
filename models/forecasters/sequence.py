"""LSTM, GRU and Transformer forecasters: one windowed dataset, one trainer, three networks.

Features are scaled with a scaler fit on the training rows; each row becomes the window
of the last `window` sessions of its own symbol (trailing only). Return targets are
divided by their training standard deviation so MSE and cross-entropy weigh alike.

torch (seconds to import) is imported when a model of these kinds is fitted, run or
loaded, not with this module: the catalog lists these kinds, and a process that uses only
the others (markov, rules, xgboost...) never loads torch.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from models.base import Forecaster, Progress
from models.dataset import CONTEXT, Dataset, Scaler, Windows, window_index

if TYPE_CHECKING:
    import torch

WEIGHTS = "weights.pt"
_INIT = threading.Lock()


class SequenceForecaster(Forecaster):
    uses_torch = True
    defaults = {
        "window": 30,
        "hidden": 32,
        "layers": 1,
        "heads": 2,
        "dropout": 0.0,
        "epochs": 30,
        "batch": 64,
        "lr": 2e-3,
        "patience": 5,
        "seed": 0,
        "epoch_samples": 65536,  # windows drawn per epoch at most (a fresh draw each epoch)
    }

    def __init__(self, horizons: tuple[int, ...] = (1, 3, 5), **params: Any) -> None:
        super().__init__(horizons, **params)
        if not 1 <= int(self.params["window"]) <= CONTEXT:
            raise ValueError(
                f"{self.kind}: window {self.params['window']} must be 1..{CONTEXT} sessions "
                "(the look-back a dataset part and serving carry)"
            )

    def _windows(self, X: pd.DataFrame, rows: np.ndarray) -> Windows:
        symbols = X.index.get_level_values("symbol").to_numpy()
        return window_index(self.scaler.transform(X), symbols, rows, int(self.params["window"]))

    def _net(self) -> torch.nn.Module:
        import torch

        from models.forecasters import nets

        # The initial weights are drawn from torch's global generator: one network at a
        # time, so two fits side by side (threads) never draw from each other's seed.
        with _INIT:
            torch.manual_seed(int(self.params["seed"]))
            return nets.build(self.kind, len(self.features or []), len(self.horizons), self.params)

    def _fit(
        self, train: Dataset, val: Dataset, progress: Progress, stop: threading.Event | None
    ) -> None:
        from models.forecasters import trainer

        self.scaler = Scaler.fit(train.X, train.rows)
        rt = train.ret(self.horizons)
        self.scale = [float(np.std(rt[:, i]) or 1.0) for i in range(len(self.horizons))]
        dev = trainer.device()
        # Scaled return targets are clipped at ±3 sd: a few volatile days should not drown the
        # direction signal in MSE.
        tr = trainer.tensors(
            self._windows(train.X, train.rows),
            np.clip(rt / self.scale, -3, 3),
            train.cls(self.horizons),
            dev,
        )
        va = trainer.tensors(
            self._windows(val.X, val.rows),
            np.clip(val.ret(self.horizons) / self.scale, -3, 3),
            val.cls(self.horizons),
            dev,
        )
        self.net = self._net().to(dev)
        p = self.params
        run = trainer.fit(
            self.net,
            tr,
            va,
            epochs=int(p["epochs"]),
            batch=int(p["batch"]),
            lr=float(p["lr"]),
            patience=int(p["patience"]),
            seed=int(p["seed"]),
            samples=int(p["epoch_samples"]),
            progress=progress,
            stop=stop,
        )
        self.info.epochs = run.epochs
        self.info.best_val_loss = run.best_val_loss
        self.info.train_samples_per_s = run.train_samples_per_s
        self.net = self.net.cpu().eval()

    def _predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return self._run(self._windows(X, np.ones(len(X), bool)))

    def _predict_at(self, X: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask = np.zeros(len(X), bool)
        mask[rows] = True  # rows come in order: windows are returned in row order
        return self._run(self._windows(X, mask))

    def _run(self, windows: Windows) -> tuple[np.ndarray, np.ndarray]:
        import torch

        rets, probs = [], []
        with torch.no_grad():
            for i in range(0, len(windows), 2048):
                r, logits = self.net(torch.as_tensor(windows.take(slice(i, i + 2048))))
                rets.append(r.numpy().astype(np.float64) * np.asarray(self.scale))
                probs.append(torch.softmax(logits.double(), dim=-1).numpy())
        if not rets:
            return np.zeros((0, len(self.horizons))), np.zeros((0, len(self.horizons), 3))
        return np.concatenate(rets), np.concatenate(probs)

    def _state(self) -> dict[str, dict[str, list[float]] | list[float]]:
        return {"scaler": self.scaler.to_dict(), "scale": self.scale}

    def _write(self, directory: Path) -> list[str]:
        import torch

        buf = io.BytesIO()
        torch.save(self.net.state_dict(), buf)
        (directory / WEIGHTS).write_bytes(buf.getvalue())
        return [WEIGHTS]

    def _read(self, directory: Path, state: Mapping[str, Any]) -> None:
        import torch

        self.scaler = Scaler.from_dict(state["scaler"])
        self.scale = [float(v) for v in state["scale"]]
        # weights_only=True: tensors and plain containers only; a crafted pickle is refused.
        weights = torch.load(directory / WEIGHTS, map_location="cpu", weights_only=True)
        self.net = self._net()
        self.net.load_state_dict(weights, strict=True)
        self.net.eval()


class LSTMForecaster(SequenceForecaster):
    kind = "lstm"


class GRUForecaster(SequenceForecaster):
    kind = "gru"


class TransformerForecaster(SequenceForecaster):
    kind = "transformer"
