"""Walk-forward backtest (README: "Models", Backtest): at each session only the past is visible.

Every `retrain_every` sessions the models are refit on every row whose label had matured
by that session (t + max(h) <= now; at most `[models] max_train_rows`, the most recent):
the most recent 63 labelled sessions are validation (early stopping, ensemble weights),
everything before them (less a purge gap) is train.
`trained_through` is the last session whose label the refit saw. They then predict each session of the next block. Features are causal
(the canary test checks that a feature or forecast at t is identical whether the bars
end at t or go on), so the block is predicted in one pass over bars cut at its end.
Every call carries the ranges and the volatility forecast the cycle would give it: the
variance forecast made from the bars a cycle at that session loads (`models.volatility`),
and 80% / 95% multipliers from the cycle's adaptive conformal state
(`models.intervals.adaptive_q`) fed the same model's residuals whose target session had
passed by the call.
Predictions are scored against the realized close h sessions later, per model, symbol
and horizon and pooled, with the functions `report` scores a home's ledger with: the
calls exactly as written (abstentions below the validation threshold are FLAT), next to
the baselines with n and a p-value; range coverage and interval score; QLIKE against
EWMA and trailing-20; with 5 or more symbols, the information coefficient.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlite_utils

from assistant.config import Settings, universe_problem
from assistant.errors import AssistantError
from assistant.ingest.market import series_frame
from assistant.modeling.ranking import KIND as RANKING
from assistant.modeling.ranking import Record, universe_bars
from assistant.modeling.training import (
    Params,
    forecaster_kinds,
    load_bars,
    model_params,
    resolve_kinds,
)
from models import intervals, outcomes, scorecard, vix, volatility
from models.metrics import Scores
from store.symbols import active_symbols, validate_symbol

if TYPE_CHECKING:
    from assistant.modeling.compute import BlockForecast, Task
    from models.dataset import Dataset

DEFAULT_SESSIONS = 756  # three years
MIN_PAST = 252  # sessions of history before the first walk-forward prediction
BLOCKS_PER_BATCH = 8  # retrain blocks in flight at once on a cluster
# CPU seconds one refit of a kind takes per 1,000 training rows (all horizons, early
# stopping as configured by default), per block for its predictions, and per 1,000
# predictions for the scoring after the last block (one core): what the plan's estimate
# and the progress bar's weights use. Measured on the 2-core machine on the sample (6
# symbols, 3 years, 12 refits, 125k training rows in all; 2026-12-07, from the CPU time of
# each kind's run: `backtest --full` took 428 CPU s, the default 32): a rough figure; a
# busy machine takes longer, and the ETA corrects it as the run goes.
CPU_S_PER_1K_ROWS = {
    "xgboost": 0.16,
    "markov": 0.01,
    "rules": 0.01,
    "lstm": 1.0,
    "gru": 1.0,
    "transformer": 1.2,
}
CPU_S_OTHER_KIND = 1.0  # a kind the table does not know
CPU_S_PER_BLOCK = 0.3  # a block's predictions
CPU_S_PER_1K_SCORED = 0.12  # ranges, ranking and scores, per 1,000 predictions
CPU_S_START = 3.0  # imports, bars, features


@dataclass(frozen=True)
class Plan:
    """What a backtest is about to run, known before any fit (`backtest(on_plan=...)`)."""

    kinds: list[str]  # forecaster kinds
    ranking: bool
    symbols: list[str]
    start: str
    end: str
    sessions: int
    refits: int
    horizons: list[int]
    train_rows: list[int]  # per refit, the rows it fits on (before its validation split)
    cores: int  # the local cores, or 0 on a cluster

    def cpu_seconds(self, kinds: list[str] | None = None) -> float:
        """The CPU seconds the fits of `kinds` (default: the plan's) take, by the table."""
        rate = sum(CPU_S_PER_1K_ROWS.get(k, CPU_S_OTHER_KIND) for k in (kinds or self.kinds))
        return rate * sum(self.train_rows) / 1000 + CPU_S_PER_BLOCK * self.refits

    def scoring_seconds(self, kinds: list[str] | None = None) -> float:
        """The scoring after the last block (one core): per prediction of every model."""
        models = len(kinds or self.kinds)
        models += models > 1  # the ensemble
        rows = self.sessions * len(self.symbols) * len(self.horizons) * models
        return CPU_S_PER_1K_SCORED * rows / 1000

    def seconds(self, kinds: list[str] | None = None) -> float:
        """Wall seconds on the local cores (the blocks' fits run side by side)."""
        cores = max(self.cores, 1)
        return CPU_S_START + self.cpu_seconds(kinds) / cores + self.scoring_seconds(kinds)


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
    "base_price",
    "lower",
    "upper",
    "lower95_price",
    "upper95_price",
    "lower80",
    "upper80",
    "lower95",
    "upper95",
    "vol_sigma",
    "rank_score",
]
# The file's 80% / 95% bounds as log returns (the units of actual_return): what the frame
# holds as ret_lower80 ...; its 95% price bounds move to *_price to make room.
CSV_RENAME = {
    "lower95": "lower95_price",
    "upper95": "upper95_price",
    **{f"ret_{side}{lvl}": f"{side}{lvl}" for side in ("lower", "upper") for lvl in (80, 95)},
}


class Scored(Scores, total=False):
    """One (model, symbol, horizon) of a backtest: the calls' scores (`Scores`) and, as
    `report` scores a home's ledger, its ranges, volatility and (symbol ALL) ranking."""

    model: str
    symbol: str  # ALL: every symbol pooled
    horizon: int
    range80: scorecard.RangeScore
    range95: scorecard.RangeScore
    volatility: scorecard.VolScores
    ranking: scorecard.RankingSkill | None


@dataclass(frozen=True)
class Block:
    """What scoring a retrain block needs later (none of it travels to a worker)."""

    now: pd.Timestamp  # the block's first session: its models' fit time
    idx: pd.Index  # (symbol, date) of the rows it predicts
    sym: np.ndarray  # their symbols
    targets: dict[int, list[str | None]]  # per horizon, each row's target session
    trained_through: str


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
    results: list[Scored]
    predictions: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)  # symbol -> why it was left out
    # the ranking model's record per horizon key, or why there is none
    ranking: Record = field(default_factory=dict)
    ranking_note: str | None = None

    def to_dict(self) -> dict[str, object]:
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
            "skipped": self.skipped,
            "ranking": self.ranking if self.ranking_note is None else {"note": self.ranking_note},
        }


def backtest(
    db: sqlite_utils.Database,
    settings: Settings,
    symbols: list[str] | None = None,
    kinds: list[str] | None = None,
    *,
    start: date | None = None,
    end: date | None = None,
    retrain_every: int = 63,
    horizons: tuple[int, ...] = (1, 3, 5),
    progress: Callable[[float, str], None] | None = None,
    stop: threading.Event | None = None,
    scheduler: str | None = None,
    on_plan: Callable[[Plan], None] | None = None,
) -> BacktestReport:
    """`scheduler`: a Dask scheduler address (overrides settings and environment); each
    retrain block is one fit task per kind plus one predict task (assistant.modeling.compute).
    `on_plan` hears what will run (`Plan`) before the first fit."""
    from assistant.modeling import compute, usable
    from models import dataset

    say = progress or (lambda f, m: None)
    if retrain_every < 1:
        raise AssistantError("--retrain-every must be at least 1 session")
    if not horizons or min(horizons) < 1:
        raise AssistantError("horizons must be positive session counts")
    kinds = resolve_kinds(settings, kinds)
    rank = RANKING in kinds
    if rank and (why := universe_problem(settings)):  # before the work, not at its end
        raise AssistantError(why)
    kinds = forecaster_kinds(kinds)
    if not kinds:
        raise AssistantError("a backtest needs at least one forecaster kind besides ranking")
    run = compute.runner(compute.scheduler_address(settings, scheduler))
    symbols = [validate_symbol(s) for s in symbols] if symbols else active_symbols(db)
    bars = load_bars(db, symbols, None)
    if not bars:
        raise AssistantError("no stored bars to backtest: run `assistant collect` first")
    # The screen `train` applies: one symbol's absurd stored price must not sink the rest.
    bars, data, skipped = usable.usable_panel(bars, tuple(horizons))
    if data is None:
        raise AssistantError(
            "nothing to backtest: " + "; ".join(f"{s} left out ({w})" for s, w in skipped.items())
        )
    dates = np.array(sorted(set(data.X.index.get_level_values("date"))))
    end_ts = pd.Timestamp(end) if end else dates[-1]
    first_ok = dates[min(MIN_PAST + dataset.WARMUP, len(dates) - 1)]
    start_ts = (
        pd.Timestamp(start)
        if start
        else max(
            dates[
                max(
                    int(np.searchsorted(dates, pd.Timestamp(end_ts).to_datetime64(), side="right"))
                    - DEFAULT_SESSIONS,
                    0,
                )
            ],
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
    row_dates = np.sort(data.X.index.get_level_values("date").to_numpy())
    rows = [
        min(int(np.searchsorted(row_dates, b[0])), settings.models.max_train_rows) for b in blocks
    ]
    plan = Plan(
        kinds,
        rank,
        sorted(bars),
        str(pd.Timestamp(walk[0]).date()),
        str(pd.Timestamp(walk[-1]).date()),
        len(walk),
        len(blocks),
        list(horizons),
        rows,
        getattr(run, "jobs", 1) if run.name == "local" else 0,
    )
    if on_plan is not None:
        on_plan(plan)
    # progress: each task's share of the work by the plan's table, so the fraction grows
    # evenly with time (and an ETA from it means something)
    weight = {k: CPU_S_PER_1K_ROWS.get(k, CPU_S_OTHER_KIND) for k in kinds}
    work = [sum(weight.values()) * r / 1000 + CPU_S_PER_BLOCK for r in rows]
    # the scoring runs on one core: its share of the bar in the same (all-cores) units
    total_work = sum(work) + plan.scoring_seconds() * max(plan.cores, 1)
    share: dict[str, float] = {}
    target_dates = {s: pd.Series(b.index, index=b.index) for s, b in bars.items()}
    records: list[pd.DataFrame] = []
    models: list[str] = []
    # Blocks go to the runner a batch at a time: all of a batch's tasks can run at once, and
    # only a batch's training data is held in memory (and on the wire) together. Locally, a
    # block per core: the fits of one block alone leave a core idle behind the slowest kind.
    batch = getattr(run, "jobs", 1) if run.name == "local" else BLOCKS_PER_BATCH
    for first in range(0, len(blocks), batch):
        tasks: list[Task] = []
        made: dict[int, Block] = {}
        for b in range(first, min(first + batch, len(blocks))):
            made[b] = _block_tasks(
                data,
                blocks[b],
                b,
                kinds,
                params,
                target_dates,
                tasks,
                settings.models.max_train_rows,
            )
        before = sum(work[:first])
        share.clear()
        say(
            before / total_work,
            f"blocks {first + 1}-{first + len(made)}/{len(blocks)}: training",
        )

        def tick(key: str, f: float, m: str, before: float = before) -> None:
            b_text, _, kind = key[1:].partition("/")
            b = int(b_text)
            r = rows[b] / 1000
            part = max(0.0, min(1.0, f)) * (weight[kind] * r if kind else CPU_S_PER_BLOCK)
            share[key] = max(share.get(key, 0.0), part)  # never backwards
            say(
                min(1.0, (before + sum(share.values())) / total_work),
                f"block {b + 1}/{len(blocks)} {key}: {m}",
            )

        done = run.run(tasks, tick, stop)
        if stop is not None and stop.is_set():
            raise AssistantError("backtest stopped")
        for b, block in made.items():
            out = done[f"b{b}"]
            if out.get("stopped"):
                raise AssistantError("backtest stopped")
            if "error" in out:
                raise AssistantError(
                    f"every model failed to train at {block.now.date()}: {out['error']}"
                )
            models = list(out["forecasts"])
            records.extend(_block_records(data, block, out["forecasts"]))
    say(sum(work) / total_work, "scoring (ranges, ranking, every model and symbol)")
    preds = pd.concat(records, ignore_index=True)
    preds["hit"] = outcomes.hit(preds["call"].to_numpy(), preds["actual_return"].to_numpy())
    add_ranges(preds, bars, tuple(horizons), series_frame(db, "^VIX"))
    preds["rank_score"] = np.nan  # without `ranking` among the kinds: an empty column
    ranked, note = (
        add_rank_scores(preds, universe_bars(db, settings, bars, None), tuple(horizons), blocks)
        if rank
        else ({}, None)
    )
    results = score(preds)
    say(1.0, "scored")
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
        skipped,
        ranked,
        note,
    )


def add_rank_scores(
    preds: pd.DataFrame,
    bars: dict[str, pd.DataFrame],
    horizons: tuple[int, ...],
    blocks: list[np.ndarray],
) -> tuple[Record, str | None]:
    """The ranking model's walk-forward score of every call (column `rank_score`, in place:
    the expected move relative to the panel's mean, log over h sessions), refit at each
    block's first session on the rows whose label had matured by then, as the forecasters
    are; and (its record per horizon (`models.scorecard.ranking_skill`), or why none).
    `bars`: the ranking's universe (`universe_bars`), the calls' symbols among them; the
    record scores the universe's cross-section."""
    from assistant.modeling.ranking import market_close
    from models import ranking, scorecard
    from vocab.horizons import horizon_key

    try:
        walk = ranking.walk_forward(
            ranking.wide_closes(bars),
            market_close(bars),
            horizons,
            start=blocks[0][0],
            end=blocks[-1][-1],
            refit_at=[b[0] for b in blocks],
            min_train_sessions=0,
        )
    except ranking.TooFewSymbols as exc:
        return {}, f"{exc}: no ranking"
    except ValueError as exc:
        return {}, f"no ranking: {exc}"
    keys = ["symbol", "as_of", "horizon"]
    scores = walk.rename(columns={"date": "as_of", "score": "rank_score"})[[*keys, "rank_score"]]
    as_of = pd.to_datetime(preds["as_of"])
    joined = pd.DataFrame(
        {"symbol": preds["symbol"].to_numpy(), "as_of": as_of, "horizon": preds["horizon"]}
    ).merge(scores, on=keys, how="left")
    preds["rank_score"] = joined["rank_score"].to_numpy()
    out: Record = {}
    closes = ranking.wide_closes(bars)
    for h in horizons:
        rows = walk[walk["horizon"] == h].rename(columns={"score": "expected"})
        skill = scorecard.ranking_skill(rows, h)
        versus = scorecard.versus_factors(rows, closes, h) if skill else None
        out[horizon_key(h)] = scorecard.judged(skill, versus)
    return out, None


def _block_tasks(
    data: Dataset,
    block: np.ndarray,
    b: int,
    kinds: list[str],
    params: Params,
    target_dates: dict[str, pd.Series],
    tasks: list[Task],
    max_rows: int,
) -> Block:
    """Append block b's tasks (one fit per kind, one predict) to `tasks`; return what
    scoring needs later (outcomes, baselines: none of it travels to a worker)."""
    from assistant.modeling import compute
    from models import dataset

    now, last = pd.Timestamp(block[0]), pd.Timestamp(block[-1])
    try:
        past = dataset.walk_split(data, now, max_rows=max_rows)
    except ValueError as exc:
        raise AssistantError(f"{exc}: start later") from None
    shared = compute.Shared((past.train, past.val))
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
    return Block(
        now,
        idx,
        sym,
        {h: [_target(target_dates[s], t, h) for s, t in idx] for h in data.horizons},
        str(past.cutoff.date()),
    )


def _block_records(
    data: Dataset, block: Block, forecasts: dict[str, BlockForecast]
) -> list[pd.DataFrame]:
    """Per kind and horizon: the block's calls (abstaining below the threshold chosen on the
    block's validation rows) with their outcomes and the causal baselines of each row."""
    idx, sym = block.idx, block.sym
    Y = data.Y.loc[idx]
    out = []
    for kind, (fc_horizons, expected, probs_all, thresholds) in forecasts.items():
        for i, h in enumerate(fc_horizons):
            probs = probs_all[:, i]
            call = outcomes.gate(outcomes.call_of(probs, expected[:, i]), probs, thresholds[i])
            out.append(
                pd.DataFrame(
                    {
                        "model": kind,
                        "symbol": sym,
                        "as_of": idx.get_level_values("date"),
                        "horizon": h,
                        "target_date": block.targets[h],
                        "expected_return": expected[:, i],
                        "p_down": probs[:, 0],
                        "p_flat": probs[:, 1],
                        "p_up": probs[:, 2],
                        "call": call,
                        "threshold": thresholds[i],
                        "actual_return": Y[f"ret_h{h}"].to_numpy(),
                        "actual_class": Y[f"cls_h{h}"].to_numpy(),
                        "majority": Y[f"maj_h{h}"].to_numpy(),
                        "last_move": Y[f"last_h{h}"].to_numpy(),
                        **{f"clim_{c}": Y[f"clim_{c}_h{h}"].to_numpy() for c in outcomes.CLASSES},
                        "trained_through": block.trained_through,
                    }
                )
            )
    return out


def _target(series: pd.Series, t: pd.Timestamp, h: int) -> str | None:
    loc = series.index.get_loc(t)
    if not isinstance(loc, int):
        raise ValueError(f"{t} appears more than once in the index")
    i = loc + h
    return str(pd.Timestamp(series.index[i]).date()) if i < len(series) else None


def score(preds: pd.DataFrame) -> list[Scored]:
    """Metrics per (model, symbol, horizon), plus every symbol pooled as symbol 'ALL', of
    the calls exactly as they were made (and written by --predictions-out). Each row
    carries its own causal majority and last move, so pooled rows are scored against what
    each symbol's baseline knew at each date. Ranges, volatility and (pooled, 5+ symbols)
    ranking are scored by `models.scorecard`, as `report` scores a home's ledger."""
    from models import metrics

    done = preds[preds["actual_return"].notna()]
    out = []
    for (model, h), grp in done.groupby(["model", "horizon"], sort=True):
        for symbol, g in [*sorted(grp.groupby("symbol")), ("ALL", grp)]:
            m = metrics.evaluate(
                g["actual_return"].to_numpy(),
                g["actual_class"].to_numpy().astype(int),
                g["expected_return"].to_numpy(),
                g[["p_down", "p_flat", "p_up"]].to_numpy(),
                majority=g["majority"].to_numpy(),
                last_move=g["last_move"].to_numpy(),
                h=int(h),  # type: ignore[call-overload]  # pandas-stubs type group keys as Hashable
                dates=g["as_of"].to_numpy(),
                climatology=g[[f"clim_{c}" for c in outcomes.CLASSES]].to_numpy(),
                call=g["call"].to_numpy(),
            )
            calls = ledger_columns(g)
            row: Scored = {
                "model": str(model),
                "symbol": str(symbol),
                "horizon": int(h),  # type: ignore[call-overload]  # as above
                **m,
                **scorecard.ranges(calls),
                "volatility": scorecard.vol_scores(calls),
            }
            if symbol == "ALL":
                row["ranking"] = scorecard.ranking(calls, int(h))  # type: ignore[call-overload]  # as above
            out.append(row)
    # the table shows every row's p-value together: models x symbols (and ALL) x horizons
    metrics.judge(out)  # type: ignore[arg-type]  # a Scored is a mutable mapping
    return out


def ledger_columns(g: pd.DataFrame) -> dict[str, np.ndarray]:
    """Backtest calls in the columns the ledger gives `report` (models.scorecard)."""
    cols = {
        c: g[c].to_numpy(float)
        for c in (
            "base_price",
            "actual_price",
            "lower",
            "upper",
            "lower95",
            "upper95",
            "covered80",
            "covered95",
            "realized_var",
        )
    }
    cols.update({f"vol_{k}": g[f"vol_{k}"].to_numpy(float) for k in ("var", "ewma", "trailing")})
    cols["symbol"] = g["symbol"].to_numpy(object)
    cols["as_of"] = pd.to_datetime(g["as_of"]).dt.date.to_numpy(
        object
    )  # dates, not the ledger's text
    cols["pred_change_pct"] = 100.0 * np.expm1(g["expected_return"].to_numpy(float))
    cols["realized"] = g["actual_return"].to_numpy(float)
    return cols


def add_ranges(
    preds: pd.DataFrame,
    bars: dict[str, pd.DataFrame],
    horizons: tuple[int, ...],
    vix_series: pd.Series | None = None,
) -> None:
    """The ledger's columns for every call (in place): base and actual price, the variance
    forecast and its baselines (with the stored ^VIX as the cycle uses it), the realized
    variance, the 80% / 95% ranges as the cycle draws them and whether they covered the
    close."""
    n = len(preds)
    cols = {
        c: np.full(n, np.nan)
        for c in ("base_price", "realized_var", "vol_var", "vol_ewma", "vol_trailing", "scale")
    }
    as_of = pd.DatetimeIndex(pd.to_datetime(preds["as_of"]))
    sym = preds["symbol"].to_numpy()
    hor = preds["horizon"].to_numpy(int)
    for s in np.unique(sym):
        frame = bars[str(s)]
        close = frame["close"]
        mine = np.flatnonzero(sym == s)
        days = pd.DatetimeIndex(np.unique(as_of[mine]))
        exog = None
        if vix_series is not None and not vix_series.empty:
            exog = vix.log_implied_var(vix_series, pd.DatetimeIndex(frame.index))
        fc = _vol_walk(frame, days, horizons, exog)
        pos = days.get_indexer(as_of[mine])
        cols["base_price"][mine] = close.reindex(days).to_numpy(float)[pos]
        for h in horizons:
            at = mine[hor[mine] == h]
            if not len(at):
                continue
            p = days.get_indexer(as_of[at])
            for key in ("var", "ewma", "trailing"):
                cols[f"vol_{key}"][at] = fc[(h, key)][p]
            cols["scale"][at] = fc[(h, "scale")][p]
            rv = volatility.future_realized_var(close, h).reindex(days).to_numpy(float)
            cols["realized_var"][at] = rv[p]
    scale = cols.pop("scale")
    for name, values in cols.items():
        preds[name] = values
    # the sigma the ranges are drawn with, as the cycle stores it (VolForecast.range_sigma)
    sigma = np.sqrt(np.maximum(preds["vol_var"].to_numpy(float), volatility.EPS))
    preds["vol_sigma"] = sigma * np.where(np.isfinite(scale), scale, 1.0)
    preds["actual_price"] = preds["base_price"] * np.exp(preds["actual_return"])
    q = _multipliers(preds)
    mu, sigma, base = (
        preds[c].to_numpy(float) for c in ("expected_return", "vol_sigma", "base_price")
    )
    actual = preds["actual_price"].to_numpy(float)
    for (lo, hi, cover, level), qq in zip(
        (("lower", "upper", "covered80", 80), ("lower95", "upper95", "covered95", 95)),
        q,
        strict=True,
    ):
        ret_lo, ret_hi = intervals.interval(mu, sigma, qq)
        preds[f"ret_lower{level}"], preds[f"ret_upper{level}"] = ret_lo, ret_hi
        low, high = intervals.price_range(base, ret_lo, ret_hi)
        preds[lo], preds[hi] = low, high
        inside = ((actual >= low) & (actual <= high)).astype(float)
        preds[cover] = np.where(np.isfinite(actual), inside, np.nan)


def _vol_walk(
    frame: pd.DataFrame,
    days: pd.DatetimeIndex,
    horizons: tuple[int, ...],
    exog: np.ndarray | None = None,
) -> dict[tuple[int, str], np.ndarray]:
    """Per (horizon, variance / ewma / trailing / scale): the forecast a cycle at each of
    `days` makes from the bars it loads (the last HISTORY_DAYS calendar days up to that
    session), and its ranges' scale (VolForecast.scale)."""
    index = frame.index
    starts = index.searchsorted(days - pd.Timedelta(days=volatility.HISTORY_DAYS))
    ends = index.searchsorted(days, side="right") - 1
    walk = volatility.forecast_walk(frame, starts, ends, horizons, exog)
    var = {h: walk[h][0] for h in horizons}
    scales = volatility.range_scales(frame, starts, ends, horizons, var, exog)
    out = {
        (h, key): walk[h][k] for h in horizons for k, key in enumerate(("var", "ewma", "trailing"))
    }
    return out | {(h, "scale"): scales[h] for h in horizons}


def _multipliers(preds: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(q80, q95) per call: the cycle's adaptive rule (`intervals.adaptive_q`) on the same
    model's standardized residuals at that horizon whose target session is on or before the
    call's date."""
    q = (np.full(len(preds), np.nan), np.full(len(preds), np.nan))
    z = intervals.standardized_residual(
        preds["actual_return"], preds["expected_return"], preds["vol_sigma"]
    )
    as_of = pd.to_datetime(preds["as_of"]).to_numpy()
    target = pd.to_datetime(preds["target_date"]).to_numpy()  # NaT: never known here
    sym = preds["symbol"].to_numpy()
    for _, g in preds.groupby(["model", "horizon"], sort=False):
        rows = g.index.to_numpy()
        both = intervals.adaptive_q(as_of[rows], target[rows], sym[rows], z[rows])
        q[0][rows], q[1][rows] = both[0], both[1]
    return q
