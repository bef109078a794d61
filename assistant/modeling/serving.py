"""Serving: load the models marked serving and turn stored bars into forecasts.

`load_serving` never raises for a broken artifact: the model is quarantined (and the
quarantine logged) and the previous model of its kind serves instead (or none); as long as
a quarantined model is newer than what serves, `Serving.quarantines` says so. Only a
proven break quarantines: an artifact the OS would not read now (too many open files, an
I/O error) is logged, its kind does not serve this time, and the next load tries again;
a quarantine whose artifact reads back whole is lifted first (`quarantine.recheck`). A model
serves only the symbols it was trained on: each symbol is forecast by the serving models
that cover it, and a symbol none covers gets no forecast (the rules serve it). Loaded
models are cached per home
while the serving set and its files on disk stay the same (the daemon runs a cycle per
session). The ensemble, when one serves, is the primary model; otherwise the serving
models are averaged with equal weights. `forecast` stacks every symbol's feature tail
into one (symbol, date) frame and predicts once per model; an ensemble pools its members'
forecasts, reusing those of identical serving models. Each forecast carries the primary
model's held-out skill next to its baselines.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, cast

import numpy as np
import pandas as pd
import sqlite_utils

from assistant.modeling import disk, quarantine
from assistant.modeling.ranking import KIND as RANKING
from models.artifacts import ArtifactError
from models.dataset import CONTEXT
from store import registry
from vocab.horizons import at_horizon

if TYPE_CHECKING:
    from models.base import Forecast, Forecaster
    from models.metrics import Scores

TAIL = CONTEXT  # most feature rows handed to a model per symbol: enough for any window
log = logging.getLogger(__name__)

CACHE_HOMES = 4  # homes whose serving models stay loaded (one daemon uses one)


class Skill(TypedDict):
    """The primary model's held-out skill at one horizon, next to the baselines' (test split)."""

    model: str
    n: int | None
    n_rows: int | None
    dir_accuracy: float | str | None  # "abstains": no held-out call cleared its threshold
    coverage: float | None
    always_up: float | None
    majority: float | None
    last_move: float | None
    p_value: float | None
    brier: float | None
    test_range: list[str | None]


@dataclass
class SymbolForecast:
    model_version: str
    expected_return: dict[int, float]
    probs: dict[int, tuple[float, float, float]]
    per_model: dict[str, dict[int, float]]
    skill: dict[int, Skill]
    # per horizon, the evidence threshold chosen on validation (None: always abstain);
    # absent for models trained before thresholds existed (their calls are not gated)
    thresholds: dict[int, float | None] | None = None


Row = registry.ModelRow
Fingerprint = tuple[tuple[str, str, str, tuple[tuple[str, int, int, int], ...]], ...]


@dataclass
class Serving:
    models: dict[str, tuple[Row, Forecaster]] = field(default_factory=dict)  # kind -> (row, model)
    quarantined: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # serving models refused as of a date
    quarantines: list[str] = field(default_factory=list)  # quarantines in effect, one line each
    unavailable: list[str] = field(default_factory=list)  # models not readable now (retried)

    def __bool__(self) -> bool:
        return bool(self.models)

    def covering(self, symbol: str) -> tuple[str, ...]:
        """The serving kinds whose model was trained on `symbol` (it serves no other)."""
        return tuple(k for k, (row, _) in self.models.items() if symbol in row.get("symbols", []))

    def coverings(self, symbols: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """{symbol: covering(symbol)} for each of `symbols`, each model's symbols made a set
        once (a cycle asks for 500 symbols: 4,000 scans of a list of 500 names before)."""
        trained = {k: set(row.get("symbols", [])) for k, (row, _) in self.models.items()}
        return {s: tuple(k for k in self.models if s in trained[k]) for s in symbols}

    def trained_on(self) -> list[str]:
        """Every symbol some serving model was trained on."""
        return sorted({s for row, _ in self.models.values() for s in row.get("symbols", [])})

    def combiner(self) -> str | None:
        """The serving kind built from the others' models (the ensemble), which serves as the
        primary model in their place; None when no such model serves."""
        return next((k for k, (_, m) in self.models.items() if m.takes_members), None)

    @property
    def version(self) -> str:
        combiner = self.combiner()
        if combiner is not None:
            return self.models[combiner][0]["id"]
        return "+".join(sorted(row["id"] for row, _ in self.models.values()))


_cache: OrderedDict[str, tuple[Fingerprint, Serving]] = (
    OrderedDict()
)  # home -> (fingerprint, loaded)
_cache_lock = threading.Lock()  # the daemon's training worker and its cycles may both load


def clear_cache() -> None:
    """Forget every loaded model (the next `load_serving` reads the artifacts again)."""
    with _cache_lock:
        _cache.clear()


def _fingerprint(home: Path, rows: list[Row]) -> Fingerprint:
    """The serving set and the state of its files on disk: a changed, truncated or replaced
    artifact file changes it, so the next load reads (and if need be quarantines) it again."""
    out: list[tuple[str, str, str, tuple[tuple[str, int, int, int], ...]]] = []
    for row in rows:
        try:
            root = disk.artifact_dir(home, row)
        except ArtifactError:  # nothing outside the home is read; `_load` quarantines it
            out.append((row["kind"], row["id"], row["artifact_path"], ()))
            continue
        files = []
        for dirpath, _, names in os.walk(root):
            for name in names:
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except OSError:
                    continue
                files.append(
                    (
                        os.path.relpath(os.path.join(dirpath, name), root),
                        st.st_size,
                        st.st_mtime_ns,
                        st.st_ino,
                    )
                )
        out.append((row["kind"], row["id"], row["artifact_path"], tuple(sorted(files))))
    return tuple(out)


def load_serving(db: sqlite_utils.Database, home: Path, as_of: date | None = None) -> Serving:
    """The serving models (as of session `as_of`: the models that served calls then, see
    `registry.serving_as_of`; `Serving.notes` says which serving model does not, and why)."""
    home = Path(home)

    def pick() -> tuple[list[Row], list[str]]:
        # The ranking model serves ranks apart (assistant.modeling.ranking).
        rows, notes = registry.serving_as_of(db, as_of) if as_of else (registry.serving(db), [])
        mine = [r for r in rows if r["kind"] != RANKING]
        return mine, [n for n in notes if not n.startswith(f"{RANKING}-")]

    quarantine.recheck(db, home)  # a quarantine whose artifact reads whole now is lifted
    rows, notes = pick()
    key = _fingerprint(home, rows)
    name = str(home.resolve())
    with _cache_lock:
        hit = _cache.get(name)
        if hit is not None and hit[0] == key:
            _cache.move_to_end(name)
            return Serving(dict(hit[1].models), notes=notes, quarantines=_quarantines(db, as_of))
        out = _load(db, home, rows, notes, pick)
        out.quarantines = _quarantines(db, as_of)
        _cache.pop(name, None)
        if not out.quarantined and not out.unavailable:  # else: load afresh next time
            _cache[name] = (key, Serving(dict(out.models)))
            while len(_cache) > CACHE_HOMES:
                _cache.popitem(last=False)
    return out


def _load(
    db: sqlite_utils.Database,
    home: Path,
    rows: list[Row],
    notes: list[str],
    pick: Callable[[], tuple[list[Row], list[str]]],
) -> Serving:
    """Load `rows`; a broken artifact is quarantined and `pick()` asked again, so the model
    the same rule chooses next serves its kind (or none)."""
    from models import artifacts, catalog

    out = Serving()
    skipped: set[str] = set()  # kinds whose artifact could not be read now
    while True:
        broken = False
        for row in rows:
            if row["kind"] in out.models or row["kind"] in skipped:
                continue
            try:
                out.models[row["kind"]] = (row, catalog.load(disk.artifact_dir(home, row)))
            except artifacts.ArtifactError as exc:  # proven broken: never stops serving
                out.quarantined.append(row["id"])
                fallback = registry.quarantine(db, row["id"], f"unusable artifact: {exc}")
                log.warning(
                    "model %s quarantined (unusable artifact: %s): %s",
                    row["id"],
                    exc,
                    f"{fallback} serves again" if fallback else f"no {row['kind']} model serves",
                )
                broken = True
            except Exception as exc:  # unreadable now (ArtifactUnavailable ...): tried again
                out.unavailable.append(quarantine.unavailable(row["id"], exc))
                skipped.add(row["kind"])
        if not broken:
            break
        rows, notes = pick()
    out.notes = notes
    return out


def _quarantines(db: sqlite_utils.Database, as_of: date | None) -> list[str]:
    return [registry.quarantine_notice(q) for q in registry.quarantines(db, as_of)]


def _skill(row: Row, h: int) -> Skill:
    m = cast("Scores", at_horizon(row.get("metrics", {}).get("test", {}), h, {}))
    base = m.get("baselines", {})
    return {
        "model": row["id"],
        "n": m.get("n"),
        "n_rows": m.get("n_rows"),
        # a model that abstained on every held-out row has no accuracy to show
        "dir_accuracy": m.get("dir_accuracy") if m.get("n") else "abstains",
        "coverage": m.get("coverage"),
        "always_up": base.get("always_up", {}).get("dir_accuracy"),
        "majority": base.get("majority", {}).get("dir_accuracy"),
        "last_move": base.get("last_move", {}).get("dir_accuracy"),
        "p_value": m.get("p_value"),
        "brier": m.get("brier"),
        "test_range": [row.get("test_start"), row.get("test_end")],
    }


def _thresholds(models: list[Forecaster], horizons: list[int]) -> dict[int, float | None] | None:
    """The evidence thresholds the primary models chose on validation; averaged models
    call only past the strictest of theirs (and never if one of them never may)."""
    chosen = [m.info.thresholds for m in models]
    if not chosen or any(c is None for c in chosen):
        return None
    out: dict[int, float | None] = {}
    for h in horizons:
        values = [c.get(str(h)) for c in chosen if c is not None]
        known = [v for v in values if v is not None]
        out[h] = max(known) if len(known) == len(values) else None
    return out


def _rows_needed(model: Forecaster) -> int:
    """Feature rows per symbol the model needs for its last row: its window (sequence
    models, ensembles of them), else 1; never more than TAIL."""
    need = int(model.params.get("window", 1))
    for member in getattr(model, "members", []):
        need = max(need, _rows_needed(member))
    return max(1, min(TAIL, need))


def _predict_all(
    serving: Serving, X: pd.DataFrame
) -> tuple[dict[str, Forecast], dict[str, Forecast]]:
    """({serving kind: Forecast}, {ensemble member kind: Forecast}), one row per symbol (its
    last row; earlier rows are window context). Each model predicts once over the stacked
    frame; an ensemble pools its members' forecasts, reusing those of identical models."""
    from models.forecasters.ensemble import EnsembleForecaster

    by_digest: dict[str, Forecast] = {}

    def run(model: Forecaster) -> Forecast:
        if model.digest is not None and model.digest in by_digest:
            return by_digest[model.digest]  # identical artifact, identical forecast
        fc = model.predict_last(X)
        if model.digest is not None:
            by_digest[model.digest] = fc
        return fc

    # Single models first, so the ensemble's members can reuse their forecasts.
    own = {
        kind: run(model) for kind, (_, model) in serving.models.items() if not model.takes_members
    }
    fcs: dict[str, Forecast] = {}
    members: dict[str, Forecast] = {}
    for kind, (_, model) in serving.models.items():
        if isinstance(model, EnsembleForecaster):
            member_fcs = [run(m) for m in model.members]
            fcs[kind] = model.pool(member_fcs)
            members = {m.kind: f for m, f in zip(model.members, member_fcs, strict=True)}
        else:
            fcs[kind] = own[kind]
    return fcs, members


def forecast(
    serving: Serving, bars: dict[str, pd.DataFrame], as_of: pd.Timestamp, horizons: Sequence[int]
) -> dict[str, SymbolForecast]:
    """Forecasts made with bars up to `as_of` only, each by the serving models trained on
    its symbol. Symbols without enough history, or that no serving model was trained on,
    are absent."""
    from models import features

    if not serving:
        return {}
    as_of = pd.Timestamp(as_of)
    tail = max(_rows_needed(model) for _, model in serving.models.values())
    past = {s: _through(f, as_of) for s, f in sorted(bars.items())}
    past = {s: f for s, f in past.items() if len(f) >= 40}
    if not past:
        return {}
    # one panel of every symbol, so each symbol's market context is what training saw
    X = features.build_panel(past, tail=tail)
    names = X.index.get_level_values("symbol")
    groups: dict[tuple[str, ...], list[str]] = {}
    for symbol, kinds in serving.coverings(dict.fromkeys(names.unique())).items():
        if kinds:
            groups.setdefault(kinds, []).append(symbol)
    out: dict[str, SymbolForecast] = {}
    for kinds, symbols in groups.items():
        part = Serving({k: serving.models[k] for k in kinds})
        out.update(_forecast_group(part, X[names.isin(symbols)], horizons))
    return out


def _through(frame: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """frame.loc[:as_of]: the frame itself when it ends by as_of (a cycle's bars do: 500
    slices a cycle saved), else its rows up to as_of."""
    index = frame.index
    if (
        isinstance(index, pd.DatetimeIndex)
        and len(index)
        and index.is_monotonic_increasing
        and index[-1] <= as_of
    ):
        return frame
    return frame.loc[:as_of]


def _pooled_means(usable: list[Forecast], h: int) -> tuple[list[float], list[list[float]]] | None:
    """The mean of `usable`'s expected returns and probabilities at horizon `h`, for every
    row at once: what `np.mean` of each row's list of them gives, bit for bit (numpy's mean
    along the models' axis adds them in order, as a row's list's mean does, for fewer than
    8 models; from 8 a list's sum goes in pairs, so then None: a row at a time)."""
    if len(usable) >= 8:
        return None
    er = np.stack([f.expected_return[:, f.horizons.index(h)] for f in usable])
    pr = np.stack([f.probs[:, f.horizons.index(h)] for f in usable])
    return np.mean(er, axis=0).tolist(), np.mean(pr, axis=0).tolist()


def _forecast_group(
    serving: Serving, X: pd.DataFrame, horizons: Sequence[int]
) -> dict[str, SymbolForecast]:
    """Forecasts for the symbols of `X`, every one of which all of `serving` was trained on."""
    parts = dict.fromkeys(X.index.get_level_values("symbol").unique())
    fcs, members = _predict_all(serving, X)
    combiner = serving.combiner()
    row = (
        serving.models[combiner][0]
        if combiner is not None
        else next(iter(serving.models.values()))[0]
    )
    primary = [fcs[combiner]] if combiner is not None else list(fcs.values())
    gates = _thresholds(
        [serving.models[combiner][1]]
        if combiner is not None
        else [m for _, m in serving.models.values()],
        [int(h) for h in horizons],
    )
    # each model's expected returns as columns of floats, and each horizon's mean of the
    # primary models for all symbols at once (`_pooled_means`)
    columns = {
        kind: [(h, fc.expected_return[:, i].tolist()) for i, h in enumerate(fc.horizons)]
        for kind, fc in [*(members.items() if combiner is not None else []), *fcs.items()]
    }
    pooled: dict[int, tuple[list[float], list[list[float]]] | None] = {}
    skills: dict[int, Skill] = {}
    for h in horizons:
        h = int(h)
        usable = [f for f in primary if h in f.horizons]
        if usable:
            pooled[h] = _pooled_means(usable, h)  # None: symbol by symbol, below
            skills[h] = _skill(row, h)
    out = {}
    for j, symbol in enumerate(parts):
        per_model = {kind: {h: col[j] for h, col in cols} for kind, cols in columns.items()}
        exp, probs, skill = {}, {}, {}
        for h, means in pooled.items():
            if means is not None:
                exp[h] = means[0][j]
                down, flat, up = means[1][j]
                probs[h] = (down, flat, up)
            else:
                usable = [f for f in primary if h in f.horizons]
                exp[h] = float(np.mean([f.expected_return[j, f.horizons.index(h)] for f in usable]))
                p = np.mean([f.probs[j, f.horizons.index(h)] for f in usable], axis=0)
                probs[h] = (float(p[0]), float(p[1]), float(p[2]))
            skill[h] = cast(Skill, {**skills[h], "test_range": list(skills[h]["test_range"])})
        if exp:
            out[symbol] = SymbolForecast(serving.version, exp, probs, per_model, skill, gates)
    return out
