"""Training: stored bars -> causal features -> chronological split -> fit every requested
kind as an independent task (threads here, or a Dask cluster) -> held-out test metrics next to the baselines ->
artifacts on disk -> registry rows -> promotion gates.

`train` reads, decides, then writes. It reads and checks everything it needs first
(`read_inputs`: bars, the usable panel, the splits, the settings; the ranking's universe);
fits and scores off the database (`fit_both`: the evaluation's and the serving fits of every
kind and the ranking's, as one set of tasks; `evaluate`, `refit`); then, per kind, stores
and registers the artifact, reads the
serving model it would replace and decides with a pure rule (`decide`), and writes the
decision. The fitted facts a model carries (its thresholds, the session it was trained
through) are typed fields (`models.base.Facts`), set before the artifact is saved.

A new model replaces the serving model of its kind only if it was trained on every
watched symbol that model serves (a model serves only the symbols it was trained on), it
passes the configured thresholds (settings.models: min_dir_accuracy, min_profit_factor,
max_drawdown), and — when both were validated on the same rows (same symbols, same
validation sessions) — its validation accuracy is no worse. Nothing partial is registered
when `stop` is set. Each kind is stored and registered on its own (under the home's
artifact lock, after clearing what a killed process left on disk): one kind that cannot be
stored fails alone. Then the artifacts beyond [models] keep_versions are pruned
(assistant.modeling.disk).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict, cast

import pandas as pd
import sqlite_utils

from assistant import config
from assistant.config import Settings, universe_problem
from assistant.errors import AssistantError
from assistant.modeling import usable
from store import bars as store_bars
from store import registry
from store.symbols import active_symbols, validate_symbol

if TYPE_CHECKING:
    from assistant.modeling.compute import Runner
    from assistant.modeling.ranking import Fit as RankingFit
    from assistant.modeling.ranking import Record
    from models.base import Facts, Forecast, Forecaster, Thresholds
    from models.dataset import Dataset, Split, Walk
    from models.metrics import Scores

Progress = Callable[[str, float, str], None]
Params = dict[str, int]  # the hyperparameters settings give every kind (window, epochs)


class HeldOut(TypedDict, total=False):
    """A forecaster's scores, per horizon key: on validation (what chose it) and on the
    untouched test split (what the report shows), with the thresholds chosen on validation."""

    val: dict[str, Scores]
    test: dict[str, Scores]
    thresholds: Thresholds


@dataclass
class ModelResult:
    kind: str
    model_id: str | None
    status: str  # serving | candidate | quarantined | failed
    promoted: bool
    reason: str
    metrics: HeldOut = field(default_factory=lambda: HeldOut())
    info: Facts | None = None  # what the stored model carries (None: nothing was stored)
    # the ranking's held-out record per horizon key (its metrics stay empty)
    record: Record | None = None

    def to_dict(self) -> dict[str, object]:
        """The JSON form: the facts as saved, a ranking's record under metrics["test"]."""
        out = asdict(self)
        out["info"] = self.info.to_dict() if self.info is not None else {}
        record = out.pop("record")
        if record is not None:
            out["metrics"] = {"test": record}
        return out


@dataclass
class TrainReport:
    symbols: list[str]
    as_of: date | None
    horizons: list[int]
    ranges: dict[str, tuple[str, str]]
    rows: dict[str, int]
    results: list[ModelResult]
    stopped: bool = False
    capped: bool = False  # more labelled rows than [models] max_train_rows: the newest serve
    skipped: dict[str, str] = field(default_factory=dict)  # symbol -> why it was left out
    housekeeping: list[str] = field(default_factory=list)  # orphans cleared, artifacts pruned

    def to_dict(self) -> dict[str, object]:
        """The report's fields (`as_of` a date: the JSON writers print it as its text)."""
        out = asdict(self)
        out["results"] = [r.to_dict() for r in self.results]
        return out


def load_bars(
    db: sqlite_utils.Database, symbols: list[str], as_of: date | None
) -> dict[str, pd.DataFrame]:
    """Final (non-provisional) bars up to `as_of` inclusive, per symbol."""
    out = {}
    for sym in symbols:
        frame = store_bars.load(db, sym, end=as_of)
        frame = frame[frame["provisional"] == 0]
        if len(frame):
            out[sym] = frame
    return out


def model_params(settings: Settings) -> Params:
    m = settings.models
    return {"window": m.window, "epochs": m.epochs}


def resolve_kinds(settings: Settings, kinds: list[str] | None) -> list[str]:
    """The kinds to train: forecasters (models.catalog.TRAINABLE) and `ranking` (the
    ranks, assistant.modeling.ranking)."""
    from assistant.modeling.ranking import KIND as RANKING
    from models.catalog import TRAINABLE

    known = (*TRAINABLE, RANKING)
    chosen = list(kinds or settings.models.kinds)
    bad = [k for k in chosen if k not in known]
    if bad:
        raise AssistantError(f"unknown model kind {bad[0]!r} (choose from {', '.join(known)})")
    return list(dict.fromkeys(chosen))


def forecaster_kinds(kinds: list[str]) -> list[str]:
    """The kinds that forecast each symbol (all but the ranking)."""
    from assistant.modeling.ranking import KIND as RANKING

    return [k for k in kinds if k != RANKING]


# ---- read -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """Everything `train` reads and checks before it fits anything."""

    kinds: list[str]  # forecaster kinds
    rank: bool  # the ranking too
    as_of: date | None
    horizons: tuple[int, ...]
    bars: dict[str, pd.DataFrame]  # the symbols trained on (usable bars only)
    skipped: dict[str, str]  # symbol -> why it was left out
    labelled: int  # the panel's usable rows (the splits are cut from it; it is not kept)
    split: Split  # the evaluation fit's train / val / test
    walk: Walk  # the serving fit's train / val (walk-forward rule)
    params: Params
    cap: int  # [models] max_train_rows
    keep: int  # [models] keep_versions
    scheduler: str | None  # a Dask scheduler's address (None: run here)

    @property
    def symbols(self) -> list[str]:
        return sorted(self.bars)

    @property
    def data_end(self) -> str:
        return max(str(b.index[-1].date()) for b in self.bars.values())


def read_inputs(
    db: sqlite_utils.Database,
    settings: Settings,
    symbols: list[str] | None,
    kinds: list[str] | None,
    as_of: date | None,
    scheduler: str | None,
) -> Inputs:
    """The bars, panel and splits to train on; AssistantError (one line) for anything that
    makes training impossible, before anything is fitted."""
    from assistant.modeling import compute
    from assistant.modeling.ranking import KIND as RANKING
    from models import dataset

    chosen = resolve_kinds(settings, kinds)
    if kinds and RANKING in chosen and (why := universe_problem(settings)):
        raise AssistantError(why)  # asked for by name (the default set: the others train)
    address = compute.scheduler_address(settings, scheduler)
    symbols = [validate_symbol(s) for s in symbols] if symbols else active_symbols(db)
    if not symbols:
        raise AssistantError("no symbols to train on: add some with `assistant watch add`")
    bars = load_bars(db, symbols, as_of)
    if not bars:
        raise AssistantError(
            "no stored bars for " + ", ".join(symbols) + ": run `assistant collect` first"
        )
    horizons = tuple(int(h) for h in settings.models.horizons)
    bars, data, skipped = usable.usable_panel(bars, horizons)
    if data is None:
        raise AssistantError(
            "nothing to train on: " + "; ".join(f"{s} left out ({w})" for s, w in skipped.items())
        )
    cap = int(settings.models.max_train_rows)
    if cap < 1:
        raise AssistantError(f"[models] max_train_rows = {cap}: it must be a positive row count")
    keep = int(settings.models.keep_versions)
    if keep < 0:
        raise AssistantError(
            f"[models] keep_versions = {keep}: it must be 0 or more (older models kept per kind)"
        )
    try:  # the recent rows, cut from the panel without copying them first
        split = dataset.split(data, start=dataset.recent_start(data, cap))
        walk = dataset.walk_split(data, max_rows=cap)
    except ValueError as exc:
        raise AssistantError(f"not enough history to train: {exc}") from None
    # the panel is not kept: the fits read their parts only (a gigabyte at 500 x 20 years)
    return Inputs(
        forecaster_kinds(chosen),
        RANKING in chosen,
        as_of,
        horizons,
        bars,
        skipped,
        data.n,
        split,
        walk,
        model_params(settings),
        cap,
        keep,
        address,
    )


# ---- fit and score (no database) ------------------------------------------------------


Fitted = dict[str, "Forecaster | Exception | None"]  # kind -> model, its error, None: stopped
SERVING = " (serving fit)"  # the serving fits' task keys (and progress lines): kind + this


def fit_all(
    kinds: list[str],
    split: tuple[Dataset, Dataset],
    params: Params,
    progress: Progress,
    stop: threading.Event | None,
    runner: Runner | None = None,
) -> Fitted:
    """Fit each kind on (train, val) as an independent task (assistant.modeling.compute:
    threads here, or a Dask cluster); returns kind -> fitted model, the exception, or None
    when stopped."""
    from assistant.modeling import compute

    data = compute.Shared(split)
    horizons = tuple(split[0].horizons)
    tasks = [
        compute.Task(kind, compute.fit_task, (kind, horizons, params, data), local_hooks=True)
        for kind in kinds
    ]
    results = (runner or compute.LocalRunner()).run(tasks, progress, stop)
    return compute.fit_results(results, kinds)


def fit_both(
    inputs: Inputs,
    progress: Progress,
    stop: threading.Event | None,
    runner: Runner,
    universe: dict[str, pd.DataFrame] | None = None,
) -> tuple[Fitted, Fitted, RankingFit | Exception | None]:
    """(the evaluation fits, the serving fits, the ranking's) of every kind, as one set of
    independent tasks, the torch kinds' first: no core waits for the evaluation's last long
    fit before the serving fits start, or for the forecasters before the ranking starts.
    Each fit runs with the threads per job it had in a wave of its own kinds
    (`Task.width`), so each model is the one `fit_all` makes. The ranking is fitted beside
    them when its `universe` is given and the tasks run in this process (None otherwise:
    `train_ranking` fits it after the forecasters, as before)."""
    from assistant.modeling import compute, ranking
    from models.catalog import TORCH_KINDS

    split, walk = inputs.split, inputs.walk
    horizons, params = tuple(split.train.horizons), inputs.params
    parts = {
        "": compute.Shared((split.train, split.val)),
        SERVING: compute.Shared((walk.train, walk.val)),
    }
    kinds = inputs.kinds
    ordered = [k for k in kinds if k in TORCH_KINDS] + [k for k in kinds if k not in TORCH_KINDS]
    tasks = [
        compute.Task(
            kind + suffix,
            compute.fit_task,
            (kind, horizons, params, data),
            local_hooks=True,
            width=len(kinds),
        )
        for kind in ordered
        for suffix, data in parts.items()
    ]
    rank = universe is not None and runner.name == "local"
    if rank:  # after the torch kinds' fits: it takes about as long as an xgboost one
        progress(ranking.KIND, 0.0, "fitting the ranking on its universe")
        at = 2 * len([k for k in kinds if k in TORCH_KINDS])
        task = compute.Task(
            ranking.KIND, compute.ranking_task, (universe, inputs.horizons), width=len(kinds)
        )
        tasks.insert(at, task)
    results = runner.run(tasks, progress, stop)
    fitted = cast("RankingFit | Exception", results[ranking.KIND]["fitted"]) if rank else None
    return (
        compute.fit_results(results, kinds),
        compute.fit_results(results, kinds, key=lambda k: k + SERVING),
        fitted,
    )


def choose_gates(model: Forecaster, val: Dataset, fc: Forecast | None = None) -> Thresholds:
    """Per horizon, the evidence threshold |P(up) - P(down)| above which the model's calls
    beat the stronger baseline on validation (None: it never does, so it always abstains).
    `fc`: the model's forecast of val.X, when it was made already."""
    from models import selective

    fc = model.predict(val.X) if fc is None else fc
    return {str(h): selective.choose_gate(val, fc, i) for i, h in enumerate(fc.horizons)}


def part_metrics(
    model: Forecaster, part: Dataset, gates: Thresholds | None = None, fc: Forecast | None = None
) -> dict[str, Scores]:
    """Out-of-sample metrics per horizon on one part's rows (validation or test), next to
    the causal baselines of the same rows; with `gates`, calls below the threshold abstain.
    `fc`: the model's forecast of part.X, when it was made already."""
    from models import metrics

    fc = model.predict(part.X) if fc is None else fc
    return {
        str(h): metrics.evaluate_part(
            part, fc, i, gates is not None, None if gates is None else gates.get(str(h))
        )
        for i, h in enumerate(fc.horizons)
    }


@dataclass
class Evaluation:
    """The evaluation fit: per kind (the ensemble of two or more included), its scores and
    the thresholds chosen on validation; the kinds that failed, and why."""

    scores: dict[str, HeldOut]
    failed: dict[str, str]


def evaluate(
    inputs: Inputs,
    progress: Progress,
    stop: threading.Event | None,
    run: Runner,
    fitted: Fitted | None = None,
) -> Evaluation | None:
    """Train, early-stop on validation, choose on validation, and score the untouched test
    split once, for the report. None when stopped. `fitted`: the fits, made already
    (`fit_both`)."""
    from models import catalog
    from models.base import Forecaster

    split = inputs.split
    if fitted is None:
        fitted = fit_all(inputs.kinds, (split.train, split.val), inputs.params, progress, stop, run)
    if stop is not None and stop.is_set():
        return None
    good = {k: m for k, m in fitted.items() if isinstance(m, Forecaster)}
    failed = {k: str(m) for k, m in fitted.items() if not isinstance(m, Forecaster)}
    # Each model forecasts validation and test once: its weights, gates and scores read the
    # same forecasts, and an ensemble's are pooled from its members' (what its `predict`
    # computes, without predicting the members again).
    members = list(good)
    fc_val = {k: m.predict(split.val.X) for k, m in good.items()}
    fc_test = {k: m.predict(split.test.X) for k, m in good.items()}
    if len(good) >= 2:
        for kind in catalog.COMBINERS:
            progress(kind, 0.0, "fitting weights on validation")
        combined = catalog.combine(good, split.val, [fc_val[k] for k in members])
        for kind, ens in combined.items():
            fc_val[kind] = ens.pool([fc_val[k] for k in members])
            fc_test[kind] = ens.pool([fc_test[k] for k in members])
            progress(kind, 1.0, "weights fit")
        good.update(combined)
    scores: dict[str, HeldOut] = {}
    for kind, model in good.items():
        progress(kind, 1.0, "choosing the evidence threshold on validation, scoring test")
        gates = choose_gates(model, split.val, fc_val[kind])
        scores[kind] = {
            "val": part_metrics(model, split.val, gates, fc_val[kind]),
            "test": part_metrics(model, split.test, gates, fc_test[kind]),
            "thresholds": gates,
        }
    return Evaluation(scores, failed)


@dataclass
class Refit:
    """The serving fit: per kind, the model to store (its facts set); the kinds that failed."""

    models: dict[str, Forecaster]
    failed: dict[str, str]


def refit(
    inputs: Inputs,
    evaluation: Evaluation,
    walk_forward: bool,
    progress: Progress,
    stop: threading.Event | None,
    run: Runner,
    fitted: Fitted | None = None,
) -> Refit | None:
    """The same recipe on every labelled row (walk-forward rule), the most recent sessions
    for early stopping, so the model is not years stale. Each model serves with the
    thresholds its evaluation fit chose on validation (walk-forward: chosen on its own
    validation rows, as each backtest block's are). None when stopped. `fitted`: the
    serving fits of every kind, made already (`fit_both`): those of the kinds the
    evaluation kept are used."""
    from models import catalog
    from models.base import Forecaster

    walk = inputs.walk
    kinds = [k for k in evaluation.scores if not catalog.takes_members(k)]
    if fitted is None:
        fitted = fit_all(kinds, (walk.train, walk.val), inputs.params, progress, stop, run)
    else:
        fitted = {k: fitted[k] for k in kinds}
    if stop is not None and stop.is_set():
        return None
    final = {k: m for k, m in fitted.items() if isinstance(m, Forecaster)}
    if any(catalog.takes_members(k) for k in evaluation.scores):
        final.update(catalog.combine(final, walk.val))
    for kind, model in final.items():
        model.info.thresholds = (
            choose_gates(model, walk.val)
            if walk_forward
            else evaluation.scores[kind].get("thresholds")
        )
        model.info.trained_through = str(walk.cutoff.date())  # the backtest's column
    failed = {k: str(m) for k, m in fitted.items() if not isinstance(m, Forecaster)}
    return Refit(final, failed)


# ---- decide (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """What a new model was trained and validated on (its registry row's facts)."""

    kind: str
    symbols: list[str]
    val_start: str
    val_end: str
    data_end: str
    val: dict[str, Scores]  # its validation scores


@dataclass(frozen=True)
class Incumbent:
    """The serving model of the candidate's kind, as read before deciding."""

    model_id: str
    symbols: list[str]  # the symbols it serves
    val_start: str | None
    val_end: str | None
    data_end: str | None
    val: dict[str, Scores] | None  # its validation scores (None: not recorded)
    unusable: str | None = None  # why its artifact cannot be loaded (then it is quarantined)


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def gate(
    new: Mapping[str, Scores],
    old: Mapping[str, Scores] | None,
    models: config.Models,
    *,
    first: bool = True,
) -> Decision:
    """Promotion decision and its reason, from VALIDATION metrics of the new model and of the
    serving model on the same rows (the test split is never used to choose); `old` None:
    there is no serving model (`first`) or none comparable on the same rows."""
    from models.metrics import summary

    m = models
    acc = summary(new) or 0.0
    pfs = [pf for v in new.values() if (pf := v.get("profit_factor")) is not None]
    pf = sum(pfs) / len(pfs) if pfs else 0.0
    dd = max((v["max_drawdown"] or 0.0) for v in new.values())
    if acc < m.min_dir_accuracy:
        return Decision(False, f"dir accuracy {acc:.3f} < min {m.min_dir_accuracy:.3f}")
    if pf < m.min_profit_factor:
        return Decision(False, f"profit factor {pf:.2f} < min {m.min_profit_factor:.2f}")
    if dd > m.max_drawdown:
        return Decision(False, f"max drawdown {dd:.1%} > max {m.max_drawdown:.1%}")
    said = (
        "it abstains on validation: no call cleared its threshold"
        if summary(new) is None
        else f"validation dir accuracy {acc:.3f} on its calls"
    )
    if old is None:
        return Decision(
            True, f"first of its kind ({said})" if first else f"passes the thresholds ({said})"
        )
    before = summary(old) or 0.0
    if acc < before:
        return Decision(
            False, f"worse than the serving model's validation score ({acc:.3f} < {before:.3f})"
        )
    return Decision(True, f"no worse than serving model ({acc:.3f} >= {before:.3f}; {said})")


def decide(
    new: Candidate,
    old: Incumbent | None,
    uncovered: list[str],
    models: config.Models,
) -> Decision:
    """Whether the candidate replaces the serving model of its kind, and why. Its scores are
    compared with the serving model's only when both were measured on the same rows (same
    symbols, same validation sessions): the serving artifact itself was refit on every
    labelled row, validation included, so re-scoring it on the candidate's validation rows
    would flatter it. On other rows the model trained on the more recent data serves. An
    unusable serving model is compared with nothing. A candidate that would leave a watched
    symbol the serving model serves (`uncovered`) without its model never replaces it."""
    comparable, note, staler = None, "", ""
    if old is not None and old.unusable is not None:
        note = f"serving {old.model_id} was unusable"
    elif old is not None and (old.symbols, old.val_start, old.val_end) == (
        new.symbols,
        new.val_start,
        new.val_end,
    ):
        comparable = old.val
    elif old is not None:
        other = (
            f"{old.model_id} was validated on other rows ({old.val_start}..{old.val_end}, "
            f"{len(old.symbols)} symbols), so the scores are not compared"
        )
        if old.data_end is not None and new.data_end < old.data_end:
            staler = (
                f"{other}, and its data (through {old.data_end}) is more recent than this "
                f"model's (through {new.data_end})"
            )
        else:
            note = f"{other}: the more recent data serves"
    decision = gate(new.val, comparable, models, first=old is None)
    if uncovered:
        return Decision(
            False,
            f"trained on {', '.join(new.symbols)} only; the serving {new.kind} "
            f"model also serves {', '.join(uncovered)} (train the watchlist to replace it)",
        )
    if decision.promote and staler:
        return Decision(False, staler)
    if decision.promote and note:
        return Decision(True, f"{decision.reason}; {note}")
    return decision


# ---- read, then write, per stored model ----------------------------------------------


def _uncovered(db: sqlite_utils.Database, kind: str, symbols: list[str]) -> list[str]:
    """Watched symbols the serving model of `kind` serves that a model trained on
    `symbols` would not: replacing it would leave them without their model."""
    watched = set(active_symbols(db))
    return sorted(
        s
        for row in registry.serving(db, kind)
        for s in row["symbols"]
        if s in watched and s not in symbols
    )


def read_incumbent(db: sqlite_utils.Database, home: Path, kind: str) -> Incumbent | None:
    """The serving model of `kind` (None: none serves), loaded to see that it is usable."""
    from assistant.modeling import disk, quarantine
    from models import artifacts, catalog

    rows = registry.serving(db, kind)
    if not rows:
        return None
    row = rows[0]
    unusable = None
    try:
        catalog.load(disk.artifact_dir(home, row))
    except (artifacts.ArtifactError, ValueError) as exc:
        unusable = str(exc)
    except Exception as exc:  # unreadable now proves nothing: it is gated as usual
        quarantine.unavailable(row["id"], exc)
    return Incumbent(
        row["id"],
        list(row["symbols"]),
        row["val_start"],
        row["val_end"],
        row["data_end"],
        (row.get("metrics") or {}).get("val"),
        unusable,
    )


@dataclass(frozen=True)
class Stored:
    model_id: str
    status: str  # candidate; quarantined when the artifact does not load back; unchecked
    # when the OS would not let it be read back (registered a candidate, never promoted)
    reason: str


def store(
    db: sqlite_utils.Database,
    home: Path,
    kind: str,
    model: Forecaster,
    inputs: Inputs,
    ranges: dict[str, tuple[str, str]],
    metrics: HeldOut,
    known_on: Callable[[], date | None],
    housekeeping: list[str],
) -> Stored:
    """Save the artifact and register it as a candidate (under the home's artifact lock,
    after clearing what a killed process left, which `housekeeping` records)."""
    from assistant.modeling import disk
    from models import artifacts, catalog, features

    with disk.lock(home):
        housekeeping += disk.tidy(db, home)
        version = disk.next_version(db, home, kind)
        model_id = f"{kind}-v{version}"
        rel = Path("models") / model_id
        model.save(home / rel)
        status, reason = "candidate", ""
        try:
            catalog.load(home / rel)  # what cannot be loaded back never serves
        except artifacts.ArtifactError as exc:  # proven broken
            status, reason = "quarantined", f"{registry.LOAD_BACK}: {exc}"
        except Exception as exc:  # unreadable now (too many open files ...): proves nothing
            status, reason = "unchecked", f"its load-back could not read it ({exc}): not promoted"
        registry.register(
            db,
            model_id=model_id,
            kind=kind,
            version=version,
            symbols=inputs.symbols,
            horizons=list(inputs.horizons),
            ranges=ranges,
            feature_hash=features.feature_hash(),
            metrics={**metrics, "info": model.info.to_dict()},
            artifact_path=str(rel),
            data_end=inputs.data_end,
            known_on=known_on(),
            status="candidate" if status == "unchecked" else status,
            reason=reason or None,
        )
    return Stored(model_id, status, reason)


def publish(
    db: sqlite_utils.Database,
    home: Path,
    settings: Settings,
    inputs: Inputs,
    report: TrainReport,
    kind: str,
    model: Forecaster,
    scores: HeldOut,
    walk_forward: bool,
    known_on: Callable[[], date | None],
) -> ModelResult:
    """Store one kind's model, then read what serves, decide, and write the decision."""
    try:
        stored = store(
            db, home, kind, model, inputs, report.ranges, scores, known_on, report.housekeeping
        )
    except Exception as exc:  # one kind that cannot be stored never blocks the others
        return ModelResult(kind, None, "failed", False, f"could not store the artifact: {exc}")
    status = "candidate" if stored.status == "unchecked" else stored.status
    result = ModelResult(kind, stored.model_id, status, False, stored.reason, scores)
    result.info = model.info
    if stored.status != "candidate":
        return result
    if walk_forward:
        decision = Decision(
            True,
            f"walk-forward refit through {inputs.walk.cutoff.date()} (replay: as the backtest)",
        )
    else:
        old = read_incumbent(db, home, kind)
        if old is not None and old.unusable is not None:
            registry.quarantine(db, old.model_id, f"unusable at retrain: {old.unusable}")
        ranges = report.ranges["val"]
        new = Candidate(
            kind, inputs.symbols, ranges[0], ranges[1], inputs.data_end, scores.get("val", {})
        )
        decision = decide(new, old, _uncovered(db, kind, inputs.symbols), settings.models)
    if decision.promote:
        registry.promote(db, stored.model_id, decision.reason)
    else:
        registry.set_status(db, stored.model_id, "candidate", decision.reason)
    result.status = "serving" if decision.promote else "candidate"
    result.promoted, result.reason = decision.promote, decision.reason
    return result


def train(
    db: sqlite_utils.Database,
    home: Path,
    settings: Settings,
    symbols: list[str] | None = None,
    kinds: list[str] | None = None,
    *,
    as_of: date | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    scheduler: str | None = None,
    walk_forward: bool = False,
    clock: Callable[[], date | None] | None = None,
) -> TrainReport:
    """`scheduler`: a Dask scheduler address (overrides settings and environment).

    `clock`: the session it is now on the caller's clock (the daemon's); without one,
    `as_of`, else the last bar trained on. Each model is registered as known on that
    session (see registry.choose_as_of): calls as of later sessions may use it.

    `walk_forward`: the walk-forward backtest's refit, as a replay's due retrain runs it:
    the serving fit's thresholds are chosen on its own validation rows (as each backtest
    block's are) and it serves without the promotion gate (a backtest block is never
    refused), so a replay's calls are the backtest's for the same settings. The evaluation
    fit still runs: its held-out metrics are the model's skill shown with its calls."""
    from assistant.modeling import compute, disk, ranking

    say = progress or (lambda k, f, m: None)
    inputs = read_inputs(db, settings, symbols, kinds, as_of, scheduler)
    split, walk = inputs.split, inputs.walk
    report = TrainReport(
        inputs.symbols,
        inputs.as_of,
        list(inputs.horizons),
        split.ranges,
        {p: getattr(split, p).n for p in ("train", "val", "test")},
        [],
        skipped=inputs.skipped,
    )
    run = compute.runner(inputs.scheduler)
    universe: dict[str, pd.DataFrame] | AssistantError | None = None
    if inputs.rank:  # read before the fits: the ranking is fitted beside them
        try:
            universe = ranking.universe_bars(db, settings, inputs.bars, inputs.as_of)
        except AssistantError as exc:  # the ranking in service (if any) stays
            universe = exc
    fits, serving_fits, ranked = fit_both(
        inputs, say, stop, run, universe if isinstance(universe, dict) else None
    )
    evaluation = evaluate(inputs, say, stop, run, fits)
    if evaluation is None:
        report.stopped = True
        return report
    report.results += [
        ModelResult(k, None, "failed", False, f"training failed: {why}")
        for k, why in evaluation.failed.items()
    ]
    report.ranges["fit"] = (str(walk.train.dates().min().date()), str(walk.cutoff.date()))
    report.capped = inputs.labelled > inputs.cap
    serving = refit(inputs, evaluation, walk_forward, say, stop, run, serving_fits)
    if serving is None:
        report.stopped = True
        return report
    report.results += [
        ModelResult(k, None, "failed", False, f"refit failed: {why}")
        for k, why in serving.failed.items()
    ]

    def known_on() -> date | None:  # None: its last bar
        return (clock() if clock else None) or inputs.as_of

    for kind, model in serving.models.items():
        report.results.append(
            publish(
                db,
                home,
                settings,
                inputs,
                report,
                kind,
                model,
                evaluation.scores[kind],
                walk_forward,
                known_on,
            )
        )
    stored = [r.kind for r in report.results if r.model_id is not None]
    if inputs.rank and not (stop is not None and stop.is_set()):
        if isinstance(universe, AssistantError):
            report.results.append(
                ModelResult(ranking.KIND, None, "failed", False, f"not trained: {universe}")
            )
        elif universe is not None:
            if ranked is None:
                say(ranking.KIND, 0.0, "fitting the ranking on its universe")
            rid, rstatus, rwhy, record = ranking.train_ranking(
                db,
                home,
                universe,
                inputs.horizons,
                known_on(),
                _uncovered(db, ranking.KIND, sorted(universe)),
                ranked,
            )
            report.results.append(
                ModelResult(ranking.KIND, rid, rstatus, rstatus == "serving", rwhy, record=record)
            )
            if rid is not None:
                stored.append(ranking.KIND)
    if stored:
        with disk.lock(home):
            pruned = disk.prune(db, home, stored, inputs.keep)
        if pruned:
            report.housekeeping.append(
                f"pruned {len(pruned)} artifact(s), {sum(p.mb for p in pruned):.1f} MB "
                f"([models] keep_versions = {inputs.keep}; their registry rows stay): "
                + ", ".join(p.model_id for p in pruned)
            )
    return report
