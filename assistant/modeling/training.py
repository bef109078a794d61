"""Training: stored bars -> causal features -> chronological split -> fit every requested
kind as an independent task (threads here, or a Dask cluster) -> held-out test metrics next to the baselines ->
artifacts on disk -> registry rows -> promotion gates.

A new model replaces the serving model of its kind only if, on the SAME held-out test
rows, its mean directional accuracy is no worse than the serving model's, and it passes
the configured thresholds (settings["models"]: min_dir_accuracy, min_profit_factor,
max_drawdown). Nothing partial is registered when `stop` is set.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sqlite_utils

from assistant.errors import AssistantError
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


def model_params(settings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    m = settings.get("models", {})
    return {"window": int(m.get("window", 30)), "epochs": int(m.get("epochs", 30))}


def resolve_kinds(settings: dict[str, dict[str, Any]], kinds: list[str] | None) -> list[str]:
    from models.catalog import TRAINABLE

    chosen = list(kinds or settings.get("models", {}).get("kinds", TRAINABLE))
    bad = [k for k in chosen if k not in TRAINABLE]
    if bad:
        raise AssistantError(f"unknown model kind {bad[0]!r} (choose from {', '.join(TRAINABLE)})")
    return list(dict.fromkeys(chosen))


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


def test_metrics(model: Any, data: Any) -> dict[str, Any]:
    """Held-out metrics per horizon on the test rows, with baselines from the train rows."""
    from models import metrics

    fc = model.predict(data.test.X)
    rows = data.test.rows
    dates = data.test.dates().to_numpy()
    train_ret = data.train.ret()
    out = {}
    for i, h in enumerate(fc.horizons):
        ret = data.test.Y[f"ret_h{h}"].to_numpy()[rows]
        cls = data.test.Y[f"cls_h{h}"].to_numpy()[rows]
        col = f"ret_{h}" if f"ret_{h}" in data.test.X else "ret_1"
        last = data.test.X[col].fillna(0).to_numpy()[rows]
        out[str(h)] = metrics.evaluate(
            ret,
            cls,
            fc.expected_return[rows, i],
            fc.probs[rows, i],
            majority=metrics.majority_direction(train_ret[:, i]),
            last_move=last,
            h=h,
            dates=dates,
        )
    return out


def gate(
    new: dict[str, Any], old: dict[str, Any] | None, settings: dict[str, dict[str, Any]]
) -> tuple[bool, str]:
    """Promotion decision and its reason, from test metrics of the new and serving model."""
    from models.metrics import summary

    m = settings.get("models", {})
    acc = summary(new) or 0.0
    pfs = [v["profit_factor"] for v in new.values() if v.get("profit_factor") is not None]
    pf = sum(pfs) / len(pfs) if pfs else 0.0
    dd = max((v["max_drawdown"] or 0.0) for v in new.values())
    if acc < float(m.get("min_dir_accuracy", 0.0)):
        return False, f"dir accuracy {acc:.3f} < min {float(m['min_dir_accuracy']):.3f}"
    if pf < float(m.get("min_profit_factor", 0.0)):
        return False, f"profit factor {pf:.2f} < min {float(m['min_profit_factor']):.2f}"
    if dd > float(m.get("max_drawdown", 1.0)):
        return False, f"max drawdown {dd:.1%} > max {float(m['max_drawdown']):.1%}"
    if old is None:
        return True, f"first of its kind (dir accuracy {acc:.3f})"
    before = summary(old) or 0.0
    if acc < before:
        return False, f"worse than serving model on the same test rows ({acc:.3f} < {before:.3f})"
    return True, f"no worse than serving model ({acc:.3f} >= {before:.3f})"


def _serving_on_test(
    db: sqlite_utils.Database, home: Path, kind: str, data: Any
) -> tuple[str | None, dict | None]:
    from models import artifacts, catalog

    rows = registry.serving(db, kind)
    if not rows:
        return None, None
    row = rows[0]
    try:
        old = catalog.load(home / row["artifact_path"])
        return row["id"], test_metrics(old, data)
    except (artifacts.ArtifactError, ValueError) as exc:
        registry.quarantine(db, row["id"], f"unusable at retrain: {exc}")
        return row["id"], None


def train(
    db: sqlite_utils.Database,
    home: Path,
    settings: dict[str, dict[str, Any]],
    symbols: list[str] | None = None,
    kinds: list[str] | None = None,
    *,
    as_of: str | None = None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    scheduler: str | None = None,
) -> TrainReport:
    """`scheduler`: a Dask scheduler address (overrides settings and environment)."""
    from assistant.modeling import compute
    from models import catalog, dataset, features
    from models.base import Forecaster
    from models.forecasters.ensemble import EnsembleForecaster

    report_progress = progress or (lambda k, f, m: None)
    kinds = resolve_kinds(settings, kinds)
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
    horizons = tuple(int(h) for h in settings.get("models", {}).get("horizons", (1, 3, 5)))
    data = dataset.panel(bars, horizons)
    try:
        split = dataset.split(data)
    except ValueError as exc:
        raise AssistantError(f"not enough history to train: {exc}") from None
    report = TrainReport(
        sorted(bars),
        as_of,
        list(horizons),
        split.ranges,
        {p: getattr(split, p).n for p in ("train", "val", "test")},
        [],
    )
    fitted = fit_all(kinds, split, model_params(settings), report_progress, stop, run)
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
    for kind, model in good.items():
        report_progress(kind, 1.0, "evaluating on held-out test data")
        result = ModelResult(
            kind, None, "candidate", False, "", test_metrics(model, split), dict(model.info)
        )
        version = registry.next_version(db, kind)
        model_id = f"{kind}-v{version}"
        rel = Path("models") / model_id
        model.save(home / rel)
        status, reason = "candidate", ""
        try:
            catalog.load(home / rel)  # what cannot be loaded back never serves
        except Exception as exc:
            status, reason = "quarantined", f"artifact failed to load back: {exc}"
        row_metrics = {"test": result.metrics, "info": model.info}
        registry.register(
            db,
            model_id=model_id,
            kind=kind,
            version=version,
            symbols=sorted(bars),
            horizons=list(horizons),
            ranges=split.ranges,
            feature_hash=features.feature_hash(),
            metrics=row_metrics,
            artifact_path=str(rel),
            status=status,
            reason=reason or None,
        )
        result.model_id = model_id
        if status == "candidate":
            old_id, old_metrics = _serving_on_test(db, home, kind, split)
            ok, reason = gate(result.metrics, old_metrics, settings)
            if old_id and old_metrics is None and ok:
                reason += f"; serving {old_id} was unusable"
            if ok:
                registry.promote(db, model_id, reason)
                status = "serving"
            else:
                registry.set_status(db, model_id, "candidate", reason)
        result.status, result.promoted, result.reason = status, status == "serving", reason
        report.results.append(result)
    return report
