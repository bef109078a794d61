"""Walk-forward backtest (DESIGN §7): at each session only the past is visible.

Every `retrain_every` sessions the models are refit on rows whose labels had matured by
that session (t + max(h) <= now), split chronologically into train and validation with
a purge gap. They then predict each session of the next block. Features are causal
(the canary test checks that a feature or forecast at t is identical whether the bars
end at t or go on), so the block is predicted in one pass over bars cut at its end.
Predictions are scored against the realized close h sessions later, per model, symbol
and horizon, next to the baselines, with n and a p-value.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlite_utils

from assistant.errors import AssistantError
from assistant.modeling.training import load_bars, model_params, resolve_kinds
from store.symbols import active_symbols, validate_symbol

DEFAULT_SESSIONS = 756  # three years
MIN_PAST = 252  # sessions of history before the first walk-forward prediction
BLOCKS_PER_BATCH = 8  # retrain blocks in flight at once on a cluster

CSV_FIELDS = [
    "model",
    "symbol",
    "as_of",
    "horizon",
    "target_date",
    "expected_return",
    "p_down",
    "p_flat",
    "p_up",
    "call",
    "actual_return",
    "actual_class",
    "hit",
    "majority",
    "last_move",
    "trained_through",
]


@dataclass
class BacktestReport:
    start: str
    end: str
    retrain_every: int
    horizons: list[int]
    models: list[str]
    symbols: list[str]
    retrains: int
    n_predictions: int
    results: list[dict[str, Any]]
    predictions: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.start,
            "to": self.end,
            "retrain_every": self.retrain_every,
            "horizons": self.horizons,
            "models": self.models,
            "symbols": self.symbols,
            "retrains": self.retrains,
            "n_predictions": self.n_predictions,
            "results": self.results,
        }


def _past_split(data: Any, now: pd.Timestamp, dates: np.ndarray) -> tuple[Any, Any]:
    """Train/val from rows whose labels matured by `now` (85/15 by date, purge gap max(h))."""
    from models.dataset import part

    gap = max(data.horizons)
    pos = int(np.searchsorted(dates, now, side="right")) - 1
    cutoff = dates[max(pos - gap, 0)]
    labelled = np.array(sorted(set(data.X.index.get_level_values("date")[data.rows])))
    labelled = labelled[labelled <= cutoff]
    if len(labelled) < 120:
        raise AssistantError(
            f"only {len(labelled)} labelled sessions before {now.date()}: start later"
        )
    n_val = max(int(len(labelled) * 0.15), 20)
    train_end, val_start = labelled[-n_val - gap - 1], labelled[-n_val]
    return part(data, None, train_end), part(data, val_start, cutoff)


def backtest(
    db: sqlite_utils.Database,
    settings: dict[str, dict[str, Any]],
    symbols: list[str] | None = None,
    kinds: list[str] | None = None,
    *,
    start: str | None = None,
    end: str | None = None,
    retrain_every: int = 63,
    horizons: tuple[int, ...] = (1, 3, 5),
    progress: Callable[[float, str], None] | None = None,
    stop: threading.Event | None = None,
    scheduler: str | None = None,
) -> BacktestReport:
    """`scheduler`: a Dask scheduler address (overrides settings and environment); each
    retrain block is one fit task per kind plus one predict task (assistant.modeling.compute)."""
    from assistant.modeling import compute
    from models import dataset

    say = progress or (lambda f, m: None)
    if retrain_every < 1:
        raise AssistantError("--retrain-every must be at least 1 session")
    if not horizons or min(horizons) < 1:
        raise AssistantError("horizons must be positive session counts")
    kinds = resolve_kinds(settings, kinds)
    run = compute.runner(compute.scheduler_address(settings, scheduler))
    symbols = [validate_symbol(s) for s in symbols] if symbols else active_symbols(db)
    bars = load_bars(db, symbols, None)
    if not bars:
        raise AssistantError("no stored bars to backtest: run `assistant collect` first")
    data = dataset.panel(bars, tuple(horizons))
    dates = np.array(sorted(set(data.X.index.get_level_values("date"))))
    end_ts = pd.Timestamp(end) if end else dates[-1]
    first_ok = dates[min(MIN_PAST + dataset.WARMUP, len(dates) - 1)]
    start_ts = (
        pd.Timestamp(start)
        if start
        else max(
            dates[max(int(np.searchsorted(dates, end_ts, side="right")) - DEFAULT_SESSIONS, 0)],
            first_ok,
        )
    )
    if start_ts < first_ok:
        raise AssistantError(
            f"--from {start_ts.date()} leaves too little history; use {first_ok.date()} or later"
        )
    walk = dates[(dates >= start_ts) & (dates <= end_ts)]
    if len(walk) == 0:
        raise AssistantError("no sessions between --from and --to")
    params = model_params(settings)
    blocks = [walk[i : i + retrain_every] for i in range(0, len(walk), retrain_every)]
    target_dates = {s: pd.Series(b.index, index=b.index) for s, b in bars.items()}
    records: list[pd.DataFrame] = []
    models: list[str] = []
    # Blocks go to the runner a batch at a time: all of a batch's tasks can run at once, and
    # only a batch's training data is held in memory (and on the wire) together.
    batch = 1 if run.name == "local" else BLOCKS_PER_BATCH
    for first in range(0, len(blocks), batch):
        tasks: list[Any] = []
        made: dict[int, dict[str, Any]] = {}
        for b in range(first, min(first + batch, len(blocks))):
            made[b] = _block_tasks(data, dates, blocks[b], b, kinds, params, target_dates, tasks)
        say(first / len(blocks), f"blocks {first + 1}-{first + len(made)}/{len(blocks)}: training")

        def tick(key: str, f: float, m: str) -> None:
            b = int(key[1:].split("/")[0])
            say((b + 0.9 * f) / len(blocks), f"block {b + 1}/{len(blocks)} {key}: {m}")

        results = run.run(tasks, tick, stop)
        if stop is not None and stop.is_set():
            raise AssistantError("backtest stopped")
        for b, block in made.items():
            out = results[f"b{b}"]
            if out.get("stopped"):
                raise AssistantError("backtest stopped")
            if "error" in out:
                raise AssistantError(
                    f"every model failed to train at {block['now'].date()}: {out['error']}"
                )
            models = list(out["forecasts"])
            records.extend(_block_records(data, block, out["forecasts"]))
    say(1.0, "scoring")
    preds = pd.concat(records, ignore_index=True)
    preds["hit"] = np.where(
        preds["actual_return"].notna(),
        (preds["call"] == np.where(preds["actual_return"] > 0, 1, -1)).astype(float),
        np.nan,
    )
    results = score(preds)
    return BacktestReport(
        str(pd.Timestamp(walk[0]).date()),
        str(pd.Timestamp(walk[-1]).date()),
        retrain_every,
        list(horizons),
        models,
        sorted(bars),
        len(blocks),
        int(preds["actual_return"].notna().sum()),
        results,
        preds,
    )


def _block_tasks(
    data: Any,
    dates: np.ndarray,
    block: np.ndarray,
    b: int,
    kinds: list[str],
    params: dict[str, Any],
    target_dates: dict[str, pd.Series],
    tasks: list[Any],
) -> dict[str, Any]:
    """Append block b's tasks (one fit per kind, one predict) to `tasks`; return what
    scoring needs later (outcomes, baselines: none of it travels to a worker)."""
    from assistant.modeling import compute
    from models import dataset, metrics

    now, last = pd.Timestamp(block[0]), pd.Timestamp(block[-1])
    train, val = _past_split(data, now, dates)
    shared = compute.Shared((train, val))
    for k in kinds:
        tasks.append(
            compute.Task(
                f"b{b}/{k}",
                compute.fit_task,
                (k, tuple(data.horizons), params, shared),
                keep=False,
                local_hooks=True,
            )
        )
    cut = dataset.part(data, None, last)
    d = cut.X.index.get_level_values("date")
    # Rows whose outcome is not known yet still get predictions (scored only if it arrives).
    pos = cut.X.groupby(level="symbol").cumcount().to_numpy()
    sel = np.asarray((d >= now) & (d <= last)) & (pos >= dataset.WARMUP)
    idx = cut.X.index[sel]
    sym = idx.get_level_values("symbol").to_numpy()
    # Only the rows the models need travel: the block's rows and, per symbol, the `window`
    # rows before them (a sequence model's context; every other feature is per row).
    margin = int(params.get("window", 30)) + 1
    syms = cut.X.index.get_level_values("symbol").to_numpy()
    big = np.iinfo(np.int64).max // 2
    first_sel = pd.Series(np.where(sel, pos, big)).groupby(syms).transform("min").to_numpy()
    keep = pos >= first_sel - margin
    tasks.append(
        compute.Task(
            f"b{b}",
            compute.block_task,
            ([compute.Ref(f"b{b}/{k}") for k in kinds], shared, cut.X[keep], sel[keep]),
        )
    )
    train_sym = train.X.index.get_level_values("symbol")[train.rows]
    majority = {
        h: {
            s: metrics.majority_direction(
                train.Y[f"ret_h{h}"].to_numpy()[train.rows][train_sym == s]
            )
            for s in set(sym)
        }
        for h in data.horizons
    }
    last_move = {
        h: np.sign(cut.X[f"ret_{h}" if f"ret_{h}" in cut.X else "ret_1"].fillna(0).to_numpy()[sel])
        for h in data.horizons
    }
    return {
        "now": now,
        "idx": idx,
        "sym": sym,
        "majority": majority,
        "last_move": last_move,
        "targets": {h: [_target(target_dates[s], t, h) for s, t in idx] for h in data.horizons},
        "trained_through": str(pd.Timestamp(train.dates().max()).date()),
    }


def _block_records(
    data: Any, block: dict[str, Any], forecasts: dict[str, Any]
) -> list[pd.DataFrame]:
    idx, sym = block["idx"], block["sym"]
    out = []
    for kind, (fc_horizons, expected, probs_all) in forecasts.items():
        for i, h in enumerate(fc_horizons):
            probs = probs_all[:, i]
            out.append(
                pd.DataFrame(
                    {
                        "model": kind,
                        "symbol": sym,
                        "as_of": idx.get_level_values("date"),
                        "horizon": h,
                        "target_date": block["targets"][h],
                        "expected_return": expected[:, i],
                        "p_down": probs[:, 0],
                        "p_flat": probs[:, 1],
                        "p_up": probs[:, 2],
                        "call": np.where(probs[:, 2] >= probs[:, 0], 1, -1),
                        "actual_return": data.Y.loc[idx, f"ret_h{h}"].to_numpy(),
                        "actual_class": data.Y.loc[idx, f"cls_h{h}"].to_numpy(),
                        "majority": [block["majority"][h][s] for s in sym],
                        "last_move": block["last_move"][h],
                        "trained_through": block["trained_through"],
                    }
                )
            )
    return out


def _target(series: pd.Series, t: pd.Timestamp, h: int) -> str | None:
    i = series.index.get_loc(t) + h
    return str(series.index[i].date()) if i < len(series) else None


def score(preds: pd.DataFrame) -> list[dict[str, Any]]:
    """Metrics per (model, symbol, horizon), plus every symbol pooled as symbol 'ALL'."""
    from models import metrics

    done = preds[preds["actual_return"].notna()]
    out = []
    for (model, h), grp in done.groupby(["model", "horizon"], sort=True):
        for symbol, g in [*sorted(grp.groupby("symbol")), ("ALL", grp)]:
            probs = g[["p_down", "p_flat", "p_up"]].to_numpy()
            # Pooled rows: the majority baseline is each symbol's own train majority.
            ret = g["actual_return"].to_numpy()
            m = metrics.evaluate(
                ret,
                g["actual_class"].to_numpy().astype(int),
                g["expected_return"].to_numpy(),
                probs,
                majority=1,
                last_move=g["last_move"].to_numpy(),
                h=int(h),
                dates=g["as_of"].to_numpy(),
            )
            maj_hits = np.where(ret > 0, 1, -1) == g["majority"].to_numpy()
            m["baselines"]["majority"] = {
                "direction": _majority_label(g["majority"]),
                "dir_accuracy": round(float(maj_hits.mean()), 4),
            }
            m["p_value"] = metrics.binomial_p(int(g["hit"].sum()), len(g), float(maj_hits.mean()))
            out.append({"model": model, "symbol": symbol, "horizon": int(h), **m})
    return out


def _majority_label(col: pd.Series) -> str:
    vals = set(col.unique())
    return "mixed" if len(vals) > 1 else ("up" if vals.pop() > 0 else "down")


def write_predictions(report: BacktestReport, path: Path) -> None:
    frame = report.predictions.copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.strftime("%Y-%m-%d")
    tmp = path.with_name(f".{path.name}.tmp")
    frame[CSV_FIELDS].to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL, float_format="%.6g")
    tmp.replace(path)
