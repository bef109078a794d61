"""Every forecaster kind by name, and the default (small, CPU-friendly) settings for each."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.base import Forecast, Forecaster
from models.dataset import Dataset
from models.forecasters.ensemble import EnsembleForecaster
from models.forecasters.markov import MarkovForecaster
from models.forecasters.rules import RulesForecaster
from models.forecasters.sequence import GRUForecaster, LSTMForecaster, TransformerForecaster
from models.forecasters.xgb import XGBoostForecaster

KINDS: dict[str, type[Forecaster]] = {
    cls.kind: cls
    for cls in (
        LSTMForecaster,
        GRUForecaster,
        TransformerForecaster,
        XGBoostForecaster,
        MarkovForecaster,
        RulesForecaster,
        EnsembleForecaster,
    )
}
# the kinds fitted on data (a model that takes members is built from these), and those of
# them that fit with torch
TRAINABLE = tuple(kind for kind, cls in KINDS.items() if not cls.takes_members)
TORCH_KINDS = tuple(kind for kind, cls in KINDS.items() if cls.uses_torch)
# the kinds built from the others' fitted models (the ensemble), each served in their place
COMBINERS = tuple(kind for kind, cls in KINDS.items() if cls.takes_members)


def takes_members(kind: str) -> bool:
    """Whether `kind` is built from other fitted models (an unknown kind is not)."""
    return kind in COMBINERS


def combine(
    members: Mapping[str, Forecaster], val: Dataset, forecasts: list[Forecast] | None = None
) -> dict[str, Forecaster]:
    """Each combining kind built from `members` (kind -> fitted model; their weights fit on
    `val`; `forecasts`: the members' forecasts of val.X in the same order, when made
    already): nothing when fewer than two members, as one model combines into itself."""
    if len(members) < 2:
        return {}
    return {kind: KINDS[kind].of(list(members.values()), val, forecasts) for kind in COMBINERS}


def make(kind: str, horizons: tuple[int, ...], **params: Any) -> Forecaster:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r} (choose from {', '.join(TRAINABLE)})")
    cls = KINDS[kind]
    return cls(horizons, **{k: v for k, v in params.items() if k in cls.defaults})


# The ensemble builds and loads its members through the catalog's kinds (it imports none).
EnsembleForecaster.kinds = KINDS


def load(directory: Path) -> Forecaster:
    """Load a saved model of any kind; raises ArtifactError for anything broken or foreign."""
    return Forecaster.load(directory, KINDS)
