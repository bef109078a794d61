"""Drift: has the market moved away from what the models learned, or has accuracy decayed?

Two checks per symbol:
- feature shift: the Population Stability Index of recent features (the last
  RECENT_SESSIONS) against the serving model's training window (or, with no model, the
  year before the recent window). Features are the daily log return and the daily
  range: both move when volatility or direction changes. PSI uses quantile bins of the
  reference, so it is scale-free.
- accuracy decay: the hit rate of the last RECENT_CALLS verified calls against the
  longer-run hit rate before them.
Crossing `cycle.psi_threshold` or `cycle.accuracy_drop` queues one `retrain` command per
day (idempotency key) carrying every reason, unless the serving models were trained on
data reaching within COOLDOWN_DAYS of the check: retraining again would learn nothing new,
and markets with regimes would otherwise retrain continuously.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pandas as pd
import sqlite_utils

from assistant.config import Settings
from store import bars as bar_store
from store import commands, registry
from store import predictions as store_predictions
from store import symbols as symbol_store
from vocab.commands import Retrain
from vocab.jsontypes import Json

RECENT_SESSIONS = 126  # half a year: at 63 the PSI of stationary data crossed 0.25 in ~2% of checks
REFERENCE_SESSIONS = 250  # the fallback reference: the year before the recent window
MIN_REFERENCE = 120
BINS = 5  # few bins keep PSI's sampling noise (~(BINS-1)/n) far below the threshold
RECENT_CALLS = 60
MIN_PRIOR_CALLS = 120
COOLDOWN_DAYS = 91  # a model trained on data this recent cannot react to the shift any better


@dataclass(frozen=True)
class DriftFinding:
    symbol: str
    kind: str  # psi | accuracy
    metric: str  # the feature, or "hit_rate"
    value: float
    threshold: float
    reason: str
    command_id: int | None = None

    def to_dict(self) -> dict[str, Json]:
        return asdict(self)


def psi(reference: np.ndarray, recent: np.ndarray, bins: int = BINS) -> float:
    """Population Stability Index of `recent` against `reference` (quantile bins)."""
    reference = reference[np.isfinite(reference)]
    recent = recent[np.isfinite(recent)]
    if len(reference) < bins or len(recent) == 0:
        return 0.0
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
    ref = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    new = np.bincount(np.searchsorted(edges, recent, side="right"), minlength=len(edges) + 1)
    p = np.clip(ref / ref.sum(), 1e-4, None)
    q = np.clip(new / new.sum(), 1e-4, None)
    return float(np.sum((q - p) * np.log(q / p)))


def features(bars: pd.DataFrame) -> pd.DataFrame:
    close = bars["close"]
    return pd.DataFrame(
        {"return": np.log(close).diff(), "range": (bars["high"] - bars["low"]) / close},
        index=bars.index,
    )


def training_window(db: sqlite_utils.Database) -> tuple[str | None, str | None]:
    """The serving models' training range, if any model serves."""
    return registry.serving_training_window(db)


def recently_trained(db: sqlite_utils.Database, day: date) -> bool:
    """Whether a serving model's data (its test range) ends within COOLDOWN_DAYS of `day`."""
    end = registry.serving_data_end(db)
    if end is None:
        return False
    return (pd.Timestamp(day) - pd.Timestamp(end)).days < COOLDOWN_DAYS


def feature_shift(bars: pd.DataFrame, train: tuple[str | None, str | None]) -> dict[str, float]:
    """PSI per feature: recent sessions against the training window (or the year before)."""
    feats = features(bars).iloc[1:]
    if len(feats) < RECENT_SESSIONS + MIN_REFERENCE:
        return {}
    recent = feats.iloc[-RECENT_SESSIONS:]
    before = feats.iloc[:-RECENT_SESSIONS]
    start, end = train
    reference = before.loc[start:end] if start and end else before.iloc[0:0]
    if len(reference) < MIN_REFERENCE:
        reference = before.iloc[-REFERENCE_SESSIONS:]
    return {c: psi(reference[c].to_numpy(), recent[c].to_numpy()) for c in feats.columns}


def accuracy_decay(hits: np.ndarray) -> tuple[float, float] | None:
    """(long-run hit rate before, recent hit rate) or None with too few calls."""
    if len(hits) < RECENT_CALLS + MIN_PRIOR_CALLS:
        return None
    return float(hits[:-RECENT_CALLS].mean()), float(hits[-RECENT_CALLS:].mean())


def check_drift(
    db: sqlite_utils.Database,
    settings: Settings,
    *,
    as_of: date | None = None,
    symbols: list[str] | None = None,
) -> list[DriftFinding]:
    """Check every watched symbol; queue one retrain (per day) when a threshold is crossed."""
    cycle = settings.cycle
    psi_max, drop_max = float(cycle.psi_threshold), float(cycle.accuracy_drop)
    day = as_of or date.today()
    train = training_window(db)
    found: list[DriftFinding] = []
    for sym in symbols or symbol_store.active_symbols(db):
        frame = bar_store.load(db, sym, end=day)
        frame = frame[frame["provisional"] == 0]
        for feature, value in feature_shift(frame, train).items():
            if value > psi_max:
                found.append(
                    DriftFinding(
                        sym,
                        "psi",
                        feature,
                        value,
                        psi_max,
                        f"{sym}: {feature} distribution shifted, PSI {value:.2f} > {psi_max:g} "
                        f"over the last {RECENT_SESSIONS} sessions to {day}",
                    )
                )
        hits = np.array(store_predictions.verified_hits(db, sym, day), dtype=float)
        decay = accuracy_decay(hits)
        if decay and decay[0] - decay[1] > drop_max:
            found.append(
                DriftFinding(
                    sym,
                    "accuracy",
                    "hit_rate",
                    decay[1],
                    decay[0] - drop_max,
                    f"{sym}: hit rate of the last {RECENT_CALLS} calls {100 * decay[1]:.0f}% is "
                    f"{100 * (decay[0] - decay[1]):.0f} points below the earlier {100 * decay[0]:.0f}%",
                )
            )
    if not found or recently_trained(db, day):
        return found
    syms = sorted({f.symbol for f in found})
    reason = "drift: " + "; ".join(f.reason for f in found)
    retrain = Retrain(tuple(syms), reason=reason, scheduled=True)
    cid = commands.enqueue(db, retrain, key=f"retrain:drift:{day}")
    return [DriftFinding(**{**asdict(f), "command_id": cid}) for f in found]
