"""Every forecaster kind by name, and the default (small, CPU-friendly) settings for each."""

from __future__ import annotations

from typing import Any

from models.base import Forecaster
from models.ensemble import EnsembleForecaster
from models.markov import MarkovForecaster
from models.rules import RulesForecaster
from models.sequence import GRUForecaster, LSTMForecaster, TransformerForecaster
from models.xgb import XGBoostForecaster

KINDS: dict[str, type[Forecaster]] = {
    cls.kind: cls
    for cls in (LSTMForecaster, GRUForecaster, TransformerForecaster, XGBoostForecaster,
                MarkovForecaster, RulesForecaster, EnsembleForecaster)
}
TRAINABLE = ("lstm", "gru", "transformer", "xgboost", "markov", "rules")
TORCH_KINDS = ("lstm", "gru", "transformer")


def make(kind: str, horizons: tuple[int, ...], **params: Any) -> Forecaster:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r} (choose from {', '.join(TRAINABLE)})")
    cls = KINDS[kind]
    return cls(horizons, **{k: v for k, v in params.items() if k in cls.defaults})
