"""XGBoost: per horizon one regressor (forward return) and one 3-class classifier, on the
feature row at t. Early stopping on validation; saved in XGBoost's own UBJ format."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from models.base import Forecaster, Progress, check_stop
from models.dataset import Dataset


class XGBoostForecaster(Forecaster):
    kind = "xgboost"
    defaults = {
        "rounds": 300,
        "depth": 3,
        "eta": 0.05,
        "subsample": 0.8,
        "colsample": 0.8,
        "patience": 25,
        "threads": 1,
        "seed": 0,
    }

    def _booster_params(self, objective: str) -> dict[str, str | int | float]:
        p = self.params
        out = {
            "objective": objective,
            "max_depth": p["depth"],
            "eta": p["eta"],
            "subsample": p["subsample"],
            "colsample_bytree": p["colsample"],
            "nthread": p["threads"],
            "seed": p["seed"],
            "tree_method": "hist",
            "verbosity": 0,
        }
        if objective == "multi:softprob":
            out.update(num_class=3, eval_metric="mlogloss")
        return out

    def _fit(
        self, train: Dataset, val: Dataset, progress: Progress, stop: threading.Event | None
    ) -> None:
        Xt, Xv = train.X.to_numpy()[train.rows], val.X.to_numpy()[val.rows]
        rt, rv, ct, cv = (
            train.ret(self.horizons),
            val.ret(self.horizons),
            train.cls(self.horizons),
            val.cls(self.horizons),
        )
        self.scale = [float(np.std(rt[:, i]) or 1.0) for i in range(len(self.horizons))]
        self.boosters: dict[str, xgb.Booster] = {}
        jobs = [(f"reg_h{h}", i, "reg:squarederror") for i, h in enumerate(self.horizons)]
        jobs += [(f"cls_h{h}", i, "multi:softprob") for i, h in enumerate(self.horizons)]
        for done, (name, i, objective) in enumerate(jobs):
            check_stop(stop)
            if objective == "multi:softprob":
                yt, yv = ct[:, i], cv[:, i]
            else:
                yt, yv = rt[:, i] / self.scale[i], rv[:, i] / self.scale[i]
            dtrain, dval = xgb.DMatrix(Xt, label=yt), xgb.DMatrix(Xv, label=yv)
            booster = xgb.train(
                self._booster_params(objective),
                dtrain,
                int(self.params["rounds"]),
                evals=[(dval, "val")],
                early_stopping_rounds=int(self.params["patience"]),
                verbose_eval=False,
            )
            self.boosters[name] = booster
            progress((done + 1) / len(jobs), f"{name} {booster.best_iteration + 1} rounds")
        self.info.rounds = {k: b.best_iteration + 1 for k, b in self.boosters.items()}

    def _run(self, name: str, d: xgb.DMatrix) -> np.ndarray:
        b = self.boosters[name]
        best = int(b.attr("best_iteration") or (self.info.rounds or {}).get(name, 1) - 1)
        return b.predict(d, iteration_range=(0, best + 1))

    def _predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        d = xgb.DMatrix(X.to_numpy())
        ret = np.column_stack(
            [self._run(f"reg_h{h}", d) * self.scale[i] for i, h in enumerate(self.horizons)]
        )
        probs = np.stack(
            [self._run(f"cls_h{h}", d).reshape(len(X), 3) for h in self.horizons], axis=1
        )
        return ret, probs

    def _state(self) -> dict[str, list[float]]:
        return {"scale": self.scale}

    def _write(self, directory: Path) -> list[str]:
        names = []
        for name, booster in self.boosters.items():
            booster.save_model(str(directory / f"{name}.ubj"))
            names.append(f"{name}.ubj")
        return names

    def _read(self, directory: Path, state: Mapping[str, Any]) -> None:
        self.scale = [float(v) for v in state["scale"]]
        self.boosters = {}
        for h in self.horizons:
            for name in (f"reg_h{h}", f"cls_h{h}"):
                booster = xgb.Booster(params={"nthread": self.params["threads"]})
                booster.load_model(str(directory / f"{name}.ubj"))
                self.boosters[name] = booster
