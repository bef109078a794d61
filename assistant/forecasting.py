"""Serving: load the models marked serving and turn stored bars into forecasts.

`load_serving` never raises for a broken artifact: the model is quarantined and the
previous model of its kind serves instead (or none). The ensemble, when one serves, is
the primary model; otherwise the serving models are averaged with equal weights.
Each forecast carries the primary model's held-out skill next to its baselines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlite_utils

from store import registry

TAIL = 64  # feature rows handed to a model: enough for any window, features use all bars


@dataclass
class SymbolForecast:
    model_version: str
    expected_return: dict[int, float]
    probs: dict[int, tuple[float, float, float]]
    per_model: dict[str, dict[int, float]]
    skill: dict[str, Any]


@dataclass
class Serving:
    models: dict[str, tuple[dict[str, Any], Any]] = field(default_factory=dict)  # kind -> (row, model)
    quarantined: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.models)

    @property
    def version(self) -> str:
        if "ensemble" in self.models:
            return self.models["ensemble"][0]["id"]
        return "+".join(sorted(row["id"] for row, _ in self.models.values()))


def load_serving(db: sqlite_utils.Database, home: Path) -> Serving:
    from models.base import Forecaster

    out = Serving()
    for row in registry.serving(db):
        candidate: dict[str, Any] | None = row
        while candidate is not None:
            try:
                model = Forecaster.load(Path(home) / candidate["artifact_path"])
                out.models[candidate["kind"]] = (candidate, model)
                break
            except Exception as exc:  # a broken artifact must never stop serving
                out.quarantined.append(candidate["id"])
                fallback = registry.quarantine(db, candidate["id"], f"unusable artifact: {exc}")
                candidate = registry.get(db, fallback) if fallback else None
    return out


def _skill(row: dict[str, Any], h: int) -> dict[str, Any]:
    m = row.get("metrics", {}).get("test", {}).get(str(h), {})
    base = m.get("baselines", {})
    return {"model": row["id"], "n": m.get("n"), "dir_accuracy": m.get("dir_accuracy"),
            "majority": base.get("majority", {}).get("dir_accuracy"),
            "last_move": base.get("last_move", {}).get("dir_accuracy"), "p_value": m.get("p_value"),
            "brier": m.get("brier"), "test_range": [row.get("test_start"), row.get("test_end")]}


def forecast(serving: Serving, bars: dict[str, pd.DataFrame], as_of: pd.Timestamp,
             horizons: Any) -> dict[str, SymbolForecast]:
    """Forecasts made with bars up to `as_of` only. Symbols without enough history are absent."""
    from models import features

    if not serving:
        return {}
    as_of = pd.Timestamp(as_of)
    out = {}
    for symbol, frame in sorted(bars.items()):
        past = frame.loc[:as_of]
        if len(past) < 40:
            continue
        X = features.build(past).tail(TAIL)
        X.index = pd.MultiIndex.from_arrays([[symbol] * len(X), X.index], names=["symbol", "date"])
        per_model: dict[str, dict[int, float]] = {}
        fcs = {}
        for kind, (_, model) in serving.models.items():
            fcs[kind] = model.predict(X)
            if kind == "ensemble":
                for mk, mf in model.member_forecasts(X).items():
                    per_model.setdefault(mk, {}).update(
                        {h: float(mf.expected_return[-1, i]) for i, h in enumerate(mf.horizons)})
        for kind, fc in fcs.items():
            per_model[kind] = {h: float(fc.expected_return[-1, i]) for i, h in enumerate(fc.horizons)}
        primary = [fcs["ensemble"]] if "ensemble" in fcs else list(fcs.values())
        row = serving.models["ensemble"][0] if "ensemble" in fcs else next(iter(serving.models.values()))[0]
        exp, probs, skill = {}, {}, {}
        for h in horizons:
            h = int(h)
            usable = [f for f in primary if h in f.horizons]
            if not usable:
                continue
            exp[h] = float(np.mean([f.expected_return[-1, f.horizons.index(h)] for f in usable]))
            p = np.mean([f.probs[-1, f.horizons.index(h)] for f in usable], axis=0)
            probs[h] = (float(p[0]), float(p[1]), float(p[2]))
            skill[h] = _skill(row, h)
        if exp:
            out[symbol] = SymbolForecast(serving.version, exp, probs, per_model, skill)
    return out
