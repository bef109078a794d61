"""Our LSTM walk-forward against Darts' on the same data and the same windows (issue 34).

Data: the bundled sample (six real series, 2004-2013) collected into a temporary home.
Both sides refit every `--retrain-every` sessions over the last `--sessions` sessions, on
every return whose session had passed by the refit (the last 63 of them for early stopping,
patience 5, at most `--epochs` epochs), and predict the next session's log return from
each session of the block. Same look-back (30 sessions), hidden size (32, one layer),
batch (64), learning rate (2e-3), seed 0.
- ours: `assistant.modeling.backtest.backtest(kinds=["lstm"], horizons=(1,))`, the product's
  walk-forward, scoring of ranges and volatility included in its time.
- Darts: `BlockRNNModel(model="LSTM")` on each symbol's daily log returns (univariate: the
  API's plain use; ours sees its 33 causal features), divided by the training part's standard
  deviation (ours scales its targets so), fit on the six series together, then `predict(n=1)` from each session of the block.
Errors: MAE / RMSE of the next-session log return on the same (symbol, session) rows,
next to the zero forecast. Target: Darts' time / ours >= 10 with our error no worse.

Darts is not a project dependency. Install it into a separate venv and point the bench
at it (the Darts side runs there in a child process):

    python3 -m venv /tmp/darts-venv
    /tmp/darts-venv/bin/pip install -c constraints.txt darts
    .venv/bin/python bench/bench_vs_darts.py --darts-python /tmp/darts-venv/bin/python

Without a Python that can import darts it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET = 10.0
WINDOW, HIDDEN, BATCH, LR, PATIENCE, VAL = 30, 32, 64, 2e-3, 5, 63


# ---- the Darts side (runs in the Darts venv: numpy, pandas, darts only) -----------------


def darts_child(data_path: str, out_path: str) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    import logging

    logging.disable(logging.WARNING)
    import torch
    from darts import TimeSeries  # type: ignore[import-not-found]
    from darts.models import BlockRNNModel  # type: ignore[import-not-found]
    from pytorch_lightning.callbacks import EarlyStopping  # type: ignore[import-not-found]

    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "0")) or torch.get_num_threads())
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # its first use imports torch._dynamo
    d = np.load(data_path, allow_pickle=False)
    rets = [d[f"r{i}"] for i in range(int(d["n_symbols"]))]  # r[s] = log(c[s] / c[s - 1])
    blocks = d["blocks"]  # per block: (now position, last position) in each symbol's sessions
    epochs = int(d["epochs"])
    preds = {}
    cpu0, t0 = time.process_time(), time.perf_counter()
    for b, (now, last) in enumerate(blocks):
        model = BlockRNNModel(
            input_chunk_length=WINDOW,
            output_chunk_length=1,
            model="LSTM",
            hidden_dim=HIDDEN,
            n_rnn_layers=1,
            dropout=0.0,
            batch_size=BATCH,
            n_epochs=epochs,
            optimizer_kwargs={"lr": LR},
            random_state=0,
            pl_trainer_kwargs={
                "accelerator": "cpu",
                "enable_progress_bar": False,
                "enable_model_summary": False,
                "logger": False,
                "callbacks": [EarlyStopping("val_loss", patience=PATIENCE, min_delta=1e-4)],
            },
        )
        # returns known at the refit: up to and including session `now`, each symbol's
        # divided by its training part's standard deviation (as ours scales its targets)
        known = [r[1 : now + 1] for r in rets]
        sd = [float(np.std(k[: len(k) - VAL])) or 1.0 for k in known]
        series = [
            TimeSeries.from_values((k / s).astype(np.float32))
            for k, s in zip(known, sd, strict=True)
        ]
        train = [s[: len(s) - VAL] for s in series]
        val = [s[len(s) - VAL - WINDOW :] for s in series]
        model.fit(train, val_series=val, verbose=False)
        for i, r in enumerate(rets):
            full = TimeSeries.from_values((r[1:] / sd[i]).astype(np.float32))
            # predict r[t + 1] from the returns up to r[t], for each session t of the block
            inputs = [full[:t] for t in range(now, last + 1)]
            out = model.predict(n=1, series=inputs, verbose=False, show_warnings=False)
            for t, o in zip(range(now, last + 1), out, strict=True):
                preds[f"{i}:{t}"] = float(o.values()[0, 0]) * sd[i]
        print(f"darts block {b + 1}/{len(blocks)} done", file=sys.stderr, flush=True)
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    Path(out_path).write_text(json.dumps({"seconds": took, "cpu": cpu, "preds": preds}))


# ---- ours and the comparison (the project's venv) ---------------------------------------


def sample_home(home: Path):
    from assistant import config
    from assistant.ingest.collect import collect
    from assistant.ingest.sources.sample import SERIES, SampleSource
    from store import symbols
    from store.db import open_db

    db = open_db(home)
    settings = config.load(home, environ={})
    symbols.add(db, list(SERIES), "sample")
    collect(db, settings, source=SampleSource())
    return db, settings


def find_darts(given: str | None) -> str | None:
    for python in [given, os.environ.get("DARTS_PYTHON"), sys.executable]:
        if not python:
            continue
        ok = subprocess.run(
            [python, "-c", "import darts, pytorch_lightning"], capture_output=True
        ).returncode
        if ok == 0:
            return python
    return None


def errors(pred: np.ndarray, actual: np.ndarray) -> str:
    e = pred - actual
    return f"MAE {np.mean(np.abs(e)) * 100:.4f}%  RMSE {np.sqrt(np.mean(e**2)) * 100:.4f}%"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--darts-python", help="a Python that can import darts (else $DARTS_PYTHON)")
    ap.add_argument("--sessions", type=int, default=756, help="sessions walked (the last ones)")
    ap.add_argument("--retrain-every", type=int, default=63)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--darts-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.darts_child:
        darts_child(*args.darts_child)
        return 0
    python = find_darts(args.darts_python)
    if python is None:
        print(
            "darts is not importable here (it is not a project dependency): install it into a "
            "separate venv and pass --darts-python PATH or set DARTS_PYTHON (see this file's "
            "docstring); nothing measured"
        )
        return 0

    import pandas as pd

    from assistant.modeling.backtest import backtest

    tmp = Path(tempfile.mkdtemp(prefix="bench-darts-"))
    db, settings = sample_home(tmp / "home")
    settings = settings.replace("models", kinds=("lstm",), epochs=args.epochs)
    from assistant.modeling.training import load_bars
    from store.symbols import active_symbols

    bars = load_bars(db, active_symbols(db), None)
    names = sorted(bars)
    dates = bars[names[0]].index
    if any(not bars[s].index.equals(dates) for s in names):
        raise SystemExit("the sample's series do not share one calendar")
    start = dates[-args.sessions]
    print(
        f"sample: {len(names)} symbols x {len(dates)} sessions; walk-forward over the last "
        f"{args.sessions} sessions from {start.date()}, refit every {args.retrain_every}, "
        f"LSTM hidden {HIDDEN}, look-back {WINDOW}, batch {BATCH}, <= {args.epochs} epochs "
        f"(early stopping, patience {PATIENCE}); {os.cpu_count()} cores"
    )
    # imports out of the timing on both sides (the Darts side times after its imports)
    import torch

    import models.catalog
    import models.forecasters.sequence
    import models.forecasters.trainer
    import models.metrics
    import models.volatility  # noqa: F401

    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    cpu0, t0 = time.process_time(), time.perf_counter()
    report = backtest(
        db,
        settings,
        kinds=["lstm"],
        horizons=(1,),
        start=start.date(),
        retrain_every=args.retrain_every,
    )
    ours_s, ours_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    p = report.predictions
    p = p[(p["model"] == "lstm") & p["actual_return"].notna()].reset_index(drop=True)

    # the same blocks: (position of the block's first session, of its last) in the calendar
    walk = dates[dates >= start]
    blocks = [
        (dates.get_loc(walk[i]), dates.get_loc(walk[min(i + args.retrain_every, len(walk)) - 1]))
        for i in range(0, len(walk), args.retrain_every)
    ]
    closes = {s: np.log(bars[s]["close"].to_numpy(float)) for s in names}
    arrays = {f"r{i}": np.r_[np.nan, np.diff(closes[s])] for i, s in enumerate(names)}
    data_path, out_path = tmp / "data.npz", tmp / "darts.json"
    np.savez(
        data_path,
        n_symbols=len(names),
        blocks=np.array(blocks),
        epochs=args.epochs,
        **arrays,
    )
    cmd = [python, __file__, "--darts-child", str(data_path), str(out_path)]
    child = subprocess.run(cmd, capture_output=True, text=True)
    if child.returncode != 0:
        print(child.stderr[-3000:])
        raise SystemExit("the Darts side failed")
    darts = json.loads(out_path.read_text())

    sym_i = {s: i for i, s in enumerate(names)}
    pos = dates.get_indexer(pd.DatetimeIndex(pd.to_datetime(p["as_of"])))
    keys = [f"{sym_i[s]}:{t}" for s, t in zip(p["symbol"], pos, strict=True)]
    have = np.array([k in darts["preds"] for k in keys])
    p, keys = p[have], [k for k, h in zip(keys, have, strict=True) if h]
    actual = p["actual_return"].to_numpy(float)
    # the same target on both sides: our label is the log return from t to t + 1
    check = np.array([arrays[f"r{k.split(':')[0]}"][int(k.split(":")[1]) + 1] for k in keys])
    assert np.allclose(check, actual, atol=1e-9), "the two sides' targets differ"
    ours_pred = p["expected_return"].to_numpy(float)
    darts_pred = np.array([darts["preds"][k] for k in keys])
    n = len(actual)
    print(f"scored rows (both sides, same rows): {n} ({report.retrains} refits each)")
    print(f"  ours   {ours_s:7.1f} s wall, {ours_cpu:7.1f} s CPU   {errors(ours_pred, actual)}")
    print(
        f"  Darts  {darts['seconds']:7.1f} s wall, {darts['cpu']:7.1f} s CPU   "
        f"{errors(darts_pred, actual)}"
    )
    print(f"  zero forecast                          {errors(np.zeros(n), actual)}")
    ratio = darts["seconds"] / ours_s
    mae_ours = np.mean(np.abs(ours_pred - actual))
    mae_darts = np.mean(np.abs(darts_pred - actual))
    same_or_better = mae_ours <= mae_darts
    verdict = "PASS" if ratio >= TARGET and same_or_better else "FAIL"
    print(
        f"Darts / ours wall time {ratio:.1f}x (target >= {TARGET:g}x), our MAE "
        f"{'<=' if same_or_better else '>'} Darts': {verdict}"
    )
    print(
        f"[load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; peak RSS "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (ours, this process)]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
