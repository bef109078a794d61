"""Training: stored bars -> causal features -> chronological split -> fit every requested
kind as an independent task (threads here, or a Dask cluster) -> held-out test metrics next to the baselines ->
artifacts on disk -> registry rows -> promotion gates.

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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlite_utils

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.modeling import usable
from store import bars as store_bars
from store import registry
from store.symbols import active_symbols, validate_symbol

Progress = Callable[[str, float, str], None]


@dataclass
class ModelResult:
    kind: str
    model_id: str | None
    status: str  # serving | candidate | quarantined | failed
    promoted: bool
    reason: str
    metrics: dict[str, Any] = field(default_factory=dict)  # horizon (str) -> test metrics
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainReport:
    symbols: list[str]
    as_of: str | None
    horizons: list[int]
    ranges: dict[str, tuple[str, str]]
    rows: dict[str, int]
    results: list[ModelResult]
    stopped: bool = False
    capped: bool = False  # more labelled rows than [models] max_train_rows: the newest serve
    skipped: dict[str, str] = field(default_factory=dict)  # symbol -> why it was left out
    housekeeping: list[str] = field(default_factory=list)  # orphans cleared, artifacts pruned

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_bars(
    db: sqlite_utils.Database, symbols: list[str], as_of: str | None
) -> dict[str, pd.DataFrame]:
    """Final (non-provisional) bars up to `as_of` inclusive, per symbol."""
    out = {}
    for sym in symbols:
        frame = store_bars.load(db, sym, end=as_of)
        frame = frame[frame["provisional"] == 0]
        if len(frame):
            out[sym] = frame
    return out


def model_params(settings: Settings) -> dict[str, Any]:
    m = settings.models
    return {"window": m.window, "epochs": m.epochs}


def resolve_kinds(settings: Settings, kinds: list[str] | None) -> list[str]:
    """The kinds to train: forecasters (models.catalog.TRAINABLE) and `ranking` (the
    relative calls, assistant.modeling.relative)."""
    from assistant.modeling.relative import KIND as RANKING
    from models.catalog import TRAINABLE

    known = (*TRAINABLE, RANKING)
    chosen = list(kinds or settings.models.kinds)
    bad = [k for k in chosen if k not in known]
    if bad:
        raise AssistantError(f"unknown model kind {bad[0]!r} (choose from {', '.join(known)})")
    return list(dict.fromkeys(chosen))


def forecaster_kinds(kinds: list[str]) -> list[str]:
    """The kinds that forecast each symbol (all but the ranking)."""
    from assistant.modeling.relative import KIND as RANKING

    return [k for k in kinds if k != RANKING]


def fit_all(
    kinds: list[str],
    split: Any,
    params: dict[str, Any],
    progress: Progress,
    stop: threading.Event | None,
    runner: Any = None,
) -> dict[str, Any]:
    """Fit each kind as an independent task (assistant.modeling.compute: threads here, or a
    Dask cluster); returns kind -> fitted model, the exception, or None when stopped."""
    from assistant.modeling import compute

    data = compute.Shared((split.train, split.val))
    horizons = tuple(split.train.horizons)
    tasks = [
        compute.Task(kind, compute.fit_task, (kind, horizons, params, data), local_hooks=True)
        for kind in kinds
    ]
    results = (runner or compute.LocalRunner()).run(tasks, progress, stop)
    return compute.fit_results(results, kinds)


def choose_gates(model: Any, val: Any) -> dict[str, float | None]:
    """Per horizon, the evidence threshold |P(up) - P(down)| above which the model's calls
    beat the stronger baseline on validation (None: it never does, so it always abstains)."""
    from models import selective

    fc = model.predict(val.X)
    return {str(h): selective.choose_gate(val, fc, i) for i, h in enumerate(fc.horizons)}


def part_metrics(
    model: Any, part: Any, gates: dict[str, float | None] | None = None
) -> dict[str, Any]:
    """Out-of-sample metrics per horizon on one part's rows (validation or test), next to
    the causal baselines of the same rows; with `gates`, calls below the threshold abstain."""
    from models import metrics

    fc = model.predict(part.X)
    return {
        str(h): metrics.evaluate_part(
            part, fc, i, gates is not None, None if gates is None else gates.get(str(h))
        )
        for i, h in enumerate(fc.horizons)
    }


def gate(
    new: dict[str, Any], old: dict[str, Any] | None, settings: Settings, *, first: bool = True
) -> tuple[bool, str]:
    """Promotion decision and its reason, from VALIDATION metrics of the new model and of the
    serving model on the same rows (the test split is never used to choose); `old` None:
    there is no serving model (`first`) or none comparable on the same rows."""
    from models.metrics import summary

    m = settings.models
    acc = summary(new) or 0.0
    pfs = [v["profit_factor"] for v in new.values() if v.get("profit_factor") is not None]
    pf = sum(pfs) / len(pfs) if pfs else 0.0
    dd = max((v["max_drawdown"] or 0.0) for v in new.values())
    if acc < m.min_dir_accuracy:
        return False, f"dir accuracy {acc:.3f} < min {m.min_dir_accuracy:.3f}"
    if pf < m.min_profit_factor:
        return False, f"profit factor {pf:.2f} < min {m.min_profit_factor:.2f}"
    if dd > m.max_drawdown:
        return False, f"max drawdown {dd:.1%} > max {m.max_drawdown:.1%}"
    said = (
        "it abstains on validation: no call cleared its threshold"
        if summary(new) is None
        else f"validation dir accuracy {acc:.3f} on its calls"
    )
    if old is None:
        return True, f"first of its kind ({said})" if first else f"passes the thresholds ({said})"
    before = summary(old) or 0.0
    if acc < before:
        return (
            False,
            f"worse than the serving model's validation score ({acc:.3f} < {before:.3f})",
        )
    return True, f"no worse than serving model ({acc:.3f} >= {before:.3f}; {said})"


def _incumbent(
    db: sqlite_utils.Database, home: Path, kind: str, candidate: dict[str, Any]
) -> tuple[str | None, dict | None, str, str]:
    """(the serving model's id, its validation metrics when they are comparable with the
    candidate's, a note on the comparison, why the candidate may not replace it or "").

    Comparable means measured on the same rows: same symbols, same validation sessions.
    (The serving artifact itself was refit on every labelled row, validation included, so
    re-scoring it on the candidate's validation rows would flatter it.) On other rows the
    model trained on the more recent data serves. An unusable serving model is
    quarantined and compared with nothing."""
    from models import artifacts, catalog

    rows = registry.serving(db, kind)
    if not rows:
        return None, None, "", ""
    row = rows[0]
    try:
        catalog.load(home / row["artifact_path"])
    except (artifacts.ArtifactError, ValueError) as exc:
        registry.quarantine(db, row["id"], f"unusable at retrain: {exc}")
        return row["id"], None, f"serving {row['id']} was unusable", ""
    key = ("symbols", "val_start", "val_end")
    if all(row[k] == candidate[k] for k in key):
        return row["id"], (row.get("metrics") or {}).get("val"), "", ""
    other = (
        f"{row['id']} was validated on other rows ({row['val_start']}..{row['val_end']}, "
        f"{len(row['symbols'])} symbols), so the scores are not compared"
    )
    if candidate["data_end"] < row["data_end"]:
        return (
            row["id"],
            None,
            "",
            (
                f"{other}, and its data (through {row['data_end']}) is more recent than this "
                f"model's (through {candidate['data_end']})"
            ),
        )
    return row["id"], None, f"{other}: the more recent data serves", ""


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


def train(
    db: sqlite_utils.Database,
    home: Path,
    settings: Settings,
    symbols: list[str] | None = None,
    kinds: list[str] | None = None,
    *,
    as_of: str | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    scheduler: str | None = None,
    walk_forward: bool = False,
    clock: Callable[[], str | None] | None = None,
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
    from assistant.modeling import compute, disk, relative
    from models import catalog, dataset, features
    from models.base import Forecaster
    from models.forecasters.ensemble import EnsembleForecaster

    report_progress = progress or (lambda k, f, m: None)
    kinds = resolve_kinds(settings, kinds)
    rank = relative.KIND in kinds
    kinds = forecaster_kinds(kinds)
    run = compute.runner(compute.scheduler_address(settings, scheduler))
    symbols = [validate_symbol(s) for s in symbols] if symbols else active_symbols(db)
    if not symbols:
        raise AssistantError("no symbols to train on: add some with `assistant watch add`")
    if as_of is not None:
        as_of = str(pd.Timestamp(as_of).date())
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
    try:
        split = dataset.split(dataset.recent(data, cap))
    except ValueError as exc:
        raise AssistantError(f"not enough history to train: {exc}") from None
    report = TrainReport(
        sorted(bars),
        as_of,
        list(horizons),
        split.ranges,
        {p: getattr(split, p).n for p in ("train", "val", "test")},
        [],
        skipped=skipped,
    )
    # 1. The evaluation fit: train, early-stop on validation, choose on validation, and
    #    score the untouched test split once, for the report.
    params = model_params(settings)
    fitted = fit_all(kinds, split, params, report_progress, stop, run)
    if stop is not None and stop.is_set():
        report.stopped = True
        return report
    good = {k: m for k, m in fitted.items() if isinstance(m, Forecaster)}
    for kind, m in fitted.items():
        if not isinstance(m, Forecaster):
            report.results.append(ModelResult(kind, None, "failed", False, f"training failed: {m}"))
    if len(good) >= 2:
        report_progress("ensemble", 0.0, "fitting weights on validation")
        good["ensemble"] = EnsembleForecaster.of(list(good.values()), split.val)
        report_progress("ensemble", 1.0, "weights fit")
    scores: dict[str, dict[str, Any]] = {}
    gates: dict[str, dict[str, float | None]] = {}
    for kind, model in good.items():
        report_progress(kind, 1.0, "choosing the evidence threshold on validation, scoring test")
        gates[kind] = choose_gates(model, split.val)
        scores[kind] = {
            "val": part_metrics(model, split.val, gates[kind]),
            "test": part_metrics(model, split.test, gates[kind]),
            "thresholds": gates[kind],
        }
    # 2. The serving fit: the same recipe on every labelled row (walk-forward rule), the
    #    most recent sessions for early stopping, so the model is not years stale.
    try:
        walk = dataset.walk_split(data, max_rows=cap)
    except ValueError as exc:
        raise AssistantError(f"not enough history to train: {exc}") from None
    report.ranges["fit"] = (str(walk.train.dates().min().date()), str(walk.cutoff.date()))
    report.capped = data.n > cap
    serving_fit = fit_all(
        [k for k in good if k != "ensemble"], walk, params, report_progress, stop, run
    )
    if stop is not None and stop.is_set():
        report.stopped = True
        return report
    final = {k: m for k, m in serving_fit.items() if isinstance(m, Forecaster)}
    if "ensemble" in good and len(final) >= 2:
        final["ensemble"] = EnsembleForecaster.of(list(final.values()), walk.val)
    for kind, m in serving_fit.items():
        if not isinstance(m, Forecaster):
            report.results.append(ModelResult(kind, None, "failed", False, f"refit failed: {m}"))
    stored: list[str] = []
    for kind, model in final.items():
        # The serving refit abstains like its recipe (walk-forward: as the backtest's block).
        model.info["thresholds"] = choose_gates(model, walk.val) if walk_forward else gates[kind]
        model.info["trained_through"] = str(walk.cutoff.date())  # the backtest's column
        result = ModelResult(kind, None, "candidate", False, "", scores[kind], dict(model.info))
        try:
            with disk.lock(home):
                report.housekeeping += disk.tidy(db, home)
                version = disk.next_version(db, home, kind)
                model_id = f"{kind}-v{version}"
                rel = Path("models") / model_id
                model.save(home / rel)
                status, reason = "candidate", ""
                try:
                    catalog.load(home / rel)  # what cannot be loaded back never serves
                except Exception as exc:
                    status, reason = "quarantined", f"artifact failed to load back: {exc}"
                now = (clock() if clock else None) or as_of  # None: its last bar
                registered = registry.register(
                    db,
                    model_id=model_id,
                    kind=kind,
                    version=version,
                    symbols=sorted(bars),
                    horizons=list(horizons),
                    ranges=report.ranges,
                    feature_hash=features.feature_hash(),
                    metrics={**result.metrics, "info": model.info},
                    artifact_path=str(rel),
                    data_end=max(str(b.index[-1].date()) for b in bars.values()),
                    known_on=now,
                    status=status,
                    reason=reason or None,
                )
        except Exception as exc:  # one kind that cannot be stored never blocks the others
            report.results.append(
                ModelResult(kind, None, "failed", False, f"could not store the artifact: {exc}")
            )
            continue
        result.model_id = model_id
        stored.append(kind)
        if status == "candidate" and walk_forward:
            reason = f"walk-forward refit through {walk.cutoff.date()} (replay: as the backtest)"
            registry.promote(db, model_id, reason)
            status = "serving"
        elif status == "candidate":
            old_id, old_metrics, why, staler = _incumbent(db, home, kind, registered)
            missing = _uncovered(db, kind, registered["symbols"])
            ok, reason = gate(result.metrics["val"], old_metrics, settings, first=old_id is None)
            if ok and staler:
                ok, reason = False, staler
            if missing:
                ok, reason = (
                    False,
                    f"trained on {', '.join(registered['symbols'])} only; the serving {kind} "
                    f"model also serves {', '.join(missing)} (train the watchlist to replace it)",
                )
            elif ok and why:
                reason += f"; {why}"
            if ok:
                registry.promote(db, model_id, reason)
                status = "serving"
            else:
                registry.set_status(db, model_id, "candidate", reason)
        result.status, result.promoted, result.reason = status, status == "serving", reason
        report.results.append(result)
    if rank and not (stop is not None and stop.is_set()):
        report_progress(relative.KIND, 0.0, "fitting the ranking of the watchlist")
        now = (clock() if clock else None) or as_of
        rid, rstatus, rwhy, rmetrics = relative.train_ranking(
            db, home, bars, horizons, now, _uncovered(db, relative.KIND, sorted(bars))
        )
        report.results.append(
            ModelResult(relative.KIND, rid, rstatus, rstatus == "serving", rwhy, rmetrics)
        )
        if rid is not None:
            stored.append(relative.KIND)
    if stored:
        with disk.lock(home):
            pruned = disk.prune(db, home, stored, keep)
        if pruned:
            report.housekeeping.append(
                f"pruned {len(pruned)} artifact(s), {sum(p.mb for p in pruned):.1f} MB "
                f"([models] keep_versions = {keep}; their registry rows stay): "
                + ", ".join(p.model_id for p in pruned)
            )
    return report
