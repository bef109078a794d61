"""Scale benchmark (issue 13): many symbols x many years in one home, and the Dask backend.

`home` mode (default): SYMBOLS synthetic symbols x YEARS years imported through the same
collect path as any source (validate, upsert), then `train` (the given kinds), `predict`
for every symbol with models loaded (target <= 5 s), `verify`, `report`, and the TUI's
first paint (target <= 1 s; in a fresh process, as the dashboard runs). Peak RSS (ru_maxrss) is printed after each stage; it only
grows, so each figure is the peak up to and including that stage.

`wait` mode (issue 34): on an existing home (a copy per run), the three waits a person sees,
`predict` (a cycle with the models loaded, after a warm-up cycle), `report` and the first
dashboard paint (the first frame that shows the watchlist's rows with the snapshot's data;
`paint` mode also prints its CPU seconds and when the screen settled), each in a fresh process, this checkout and `--old DIR` (e.g. a
`git worktree add /tmp/scale-old main`) alternately, `--rounds` times; medians against the
targets (predict <= 1.5 s, report <= 1 s, paint <= 0.3 s), wall and CPU, the load average,
and whether the old and new outputs (cycle calls, report JSON, dashboard snapshot) are identical.
`--stage S` runs that stage alone; `--next-session` (predict) times the cycle of the session
after `--as-of` (a day's new cycle) instead of the warm-up's cycle again.

`backtest` mode: a 4-block walk-forward backtest run locally, then on a 2-worker
`distributed.LocalCluster` (processes, 1 thread each); same results asserted. Per-task
times from a serial local run give a projection for N workers.

Usage:
  python bench/bench_scale.py home [--symbols 500] [--years 20] [--kinds K,K] [--epochs N]
  (default: the default model set and epochs of [models])
  python bench/bench_scale.py wait HOME --as-of DATE [--old DIR] [--rounds 3] [--stage predict|report|dashboard]
      [--next-session]
  python bench/bench_scale.py backtest [--symbols 20] [--years 8] [--kinds xgboost,markov]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

# BENCH_CODE: another checkout's code (the `wait` mode runs the old code with this file)
sys.path.insert(0, os.environ.get("BENCH_CODE") or str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from assistant import config  # noqa: E402
from assistant.ingest.collect import collect  # noqa: E402
from assistant.ingest.sources.synthetic import SyntheticSource  # noqa: E402
from store import symbols  # noqa: E402
from store.db import open_db  # noqa: E402
from vocab.dates import iso_date  # noqa: E402

PREDICT_TARGET_S = 5.0
PAINT_TARGET_S = 1.0
# issue 34's targets for the waits a person sees at 500 symbols (`wait` mode)
WAIT_TARGETS = {"predict": 1.5, "report": 1.0, "dashboard": 0.3}


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stage(name: str, took: float, extra: str = "") -> None:
    print(f"{name:<10} {took:8.2f} s   peak RSS {peak_mb():7.0f} MB   {extra}", flush=True)


def make_home(n_symbols: int, years: int, edge: float = 0.52):
    home = Path(tempfile.mkdtemp(prefix="bench-scale-")) / "home"
    db = open_db(home)
    settings = config.load(home, environ={})
    settings = settings.replace("collect", history_years=years + 1)
    names = [f"S{i:03d}" for i in range(n_symbols)]
    symbols.add(db, names, "synthetic")
    sessions = years * 252
    src = SyntheticSource(edge=edge, n=sessions, start="2005-01-03")
    last = pd.bdate_range("2005-01-03", periods=sessions)[-1].date()
    t = time.perf_counter()
    results = collect(db, settings, source=src, until=last)
    n = db.execute("SELECT COUNT(*) FROM bars").fetchone()[0]
    bad = [r for r in results if r.status not in ("added", "updated")]
    stage(
        "import",
        time.perf_counter() - t,
        f"{n:,} bars via collect (synthetic); {len(bad)} not added; home {home}",
    )
    return home, db, settings, names, last


def bench_home(args: argparse.Namespace) -> None:
    from assistant.cycle import report as report_mod
    from assistant.cycle.learn import verify
    from assistant.cycle.run import run_cycle
    from assistant.modeling import serving
    from assistant.modeling.training import train

    home, db, settings, names, last = make_home(args.symbols, args.years)
    dates = pd.bdate_range(end=last, periods=12)
    kinds = [k for k in args.kinds.split(",") if k]
    settings = settings.replace("models", epochs=args.epochs)
    t = time.perf_counter()
    rep = train(db, home, settings, kinds=kinds, as_of=dates[0].date())
    rows = rep.rows
    stage(
        "train",
        time.perf_counter() - t,
        f"{'+'.join(kinds)} (+ensemble): {rows['train']:,}/{rows['val']:,}/{rows['test']:,} rows; "
        + ", ".join(f"{r.kind} {r.status}" for r in rep.results),
    )
    serving.clear_cache()
    t = time.perf_counter()
    serving.load_serving(db, home)
    stage("load", time.perf_counter() - t, "serving models from disk")
    run_cycle(db, home, settings, as_of=dates[1].date())  # warm-up (imports, first regimes)
    times = []
    for d in dates[2:5]:
        t = time.perf_counter()
        calls = run_cycle(db, home, settings, as_of=d.date())
        times.append(time.perf_counter() - t)
    med = sorted(times)[1]
    stage(
        "predict",
        med,
        f"median of 3 cycles, {len(calls)} calls for {len(names)} symbols "
        f"(target <= {PREDICT_TARGET_S} s) {'PASS' if med <= PREDICT_TARGET_S else 'FAIL'}",
    )
    t = time.perf_counter()
    v = verify(db, settings, as_of=last)
    stage("verify", time.perf_counter() - t, f"{v.verified:,} verified")
    t = time.perf_counter()
    r = report_mod.build(db)
    stage("report", time.perf_counter() - t, f"{len(r.get('rows', r))} report groups")
    db.close()
    # The dashboard is its own process: measured in a fresh one (this one holds the training
    # heap), from creating the app to the first dashboard painted; median of 3.
    runs = sorted(
        float(
            subprocess.run(
                [sys.executable, __file__, "paint", str(home)],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()[-1]
        )
        for _ in range(3)
    )
    first = runs[1]
    stage(
        "tui paint",
        first,
        f"first dashboard paint, {len(names)} symbols, median of 3 fresh processes "
        f"({', '.join(f'{r:.2f}' for r in runs)}) "
        f"(target <= {PAINT_TARGET_S} s) {'PASS' if first <= PAINT_TARGET_S else 'FAIL'}",
    )


async def paint(home: Path) -> tuple[float, float, float]:
    """(the first frame that shows the watchlist's rows with the snapshot's data, the CPU
    seconds this process used up to it, the screen settled: every table complete, nothing
    left to paint), seconds from making the app. The frames are seen by wrapping Textual's
    screen refresh (this process only)."""
    from textual.screen import Screen
    from textual.widgets import DataTable

    from tui.app import make_app

    first: list[float] = []
    refresh = Screen._compositor_refresh

    def seen(screen: Screen[object]) -> None:
        refresh(screen)
        if not first and app.loads and screen.query("#watchlist"):
            if screen.query_one("#watchlist", DataTable).row_count:
                first.extend([time.perf_counter() - t0, time.process_time() - c0])

    Screen._compositor_refresh = seen  # type: ignore[method-assign,assignment]
    t0, c0 = time.perf_counter(), time.process_time()
    app = make_app(home)
    async with app.run_test(size=(160, 45)) as pilot:
        while app.loads < 1:
            await asyncio.sleep(0.002)
        await pilot.pause()
        took = time.perf_counter() - t0
        assert "S000" in app.export_screenshot()
    Screen._compositor_refresh = refresh  # type: ignore[method-assign]
    return first[0], first[1], took


def wait_stage(
    stage_name: str, home: Path, out: Path, as_of: date | None, next_session: bool = False
) -> dict[str, float]:
    """One timed stage in this process on `home`; its output written to `out` as JSON.
    `next_session` (predict): the timed cycle is as of the session after the warm-up's (a
    day's new cycle: every call, regime and rank row new) instead of the warm-up's again."""
    import json
    from datetime import UTC, datetime

    db = open_db(home)
    settings = config.load(home, environ={})
    result: object
    if stage_name == "predict":
        from assistant.cycle.run import run_cycle
        from assistant.modeling import serving

        serving.load_serving(db, home)
        run_cycle(db, home, settings, as_of=as_of)  # warm-up: imports, caches
        timed = as_of
        if next_session and as_of is not None:
            after = db.execute(
                "SELECT MIN(date) FROM bars WHERE date > ? AND provisional = 0", [str(as_of)]
            ).fetchone()[0]
            timed = iso_date(after) if after else as_of

        def fn() -> object:
            return [c.to_dict() for c in run_cycle(db, home, settings, as_of=timed)]
    elif stage_name == "report":
        from assistant.cycle import report as report_mod

        def fn() -> object:
            return report_mod.build(db)
    else:  # the dashboard's read: its snapshot, at a fixed clock
        from store.views.dashboard import dashboard

        def fn() -> object:
            return dashboard(db, now=datetime(2026, 12, 7, 17, tzinfo=UTC))

    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    took = {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    out.write_text(json.dumps(result, sort_keys=True, default=str))
    db.close()
    return took


def bench_wait(args: argparse.Namespace) -> None:
    import json
    import shutil
    import statistics

    source = Path(args.home)
    work = Path(tempfile.mkdtemp(prefix="bench-wait-"))
    codes = {"new": None, "old": args.old} if args.old else {"new": None}
    figures: dict[tuple[str, str], list[dict[str, float]]] = {}
    same: dict[str, bool] = {}
    stages = [args.stage] if args.stage else list(WAIT_TARGETS)  # --stage: that one alone
    for stage_name in stages:
        outputs: dict[str, str] = {}
        for r in range(args.rounds):
            for which, code in codes.items():  # alternately, on a fresh copy of the same home
                home = work / f"{stage_name}-{which}-{r}"
                shutil.copytree(source, home)
                env = dict(os.environ, **({"BENCH_CODE": code} if code else {}))
                out = work / f"{stage_name}-{which}-{r}.json"
                cmd = [sys.executable, __file__, "stage", str(home), "--stage", stage_name]
                cmd += ["--out", str(out)] + (["--as-of", args.as_of] if args.as_of else [])
                cmd += ["--next-session"] if args.next_session else []
                got = json.loads(
                    subprocess.run(
                        cmd, capture_output=True, text=True, check=True, env=env
                    ).stdout.splitlines()[-1]
                )
                if stage_name == "dashboard":  # the first paint, in a fresh process
                    paint_cmd = [sys.executable, __file__, "paint", str(home)]
                    got["paint"] = float(
                        subprocess.run(
                            paint_cmd, capture_output=True, text=True, check=True, env=env
                        ).stdout.split()[-1]
                    )
                figures.setdefault((stage_name, which), []).append(got)
                outputs.setdefault(which, out.read_text())
                shutil.rmtree(home)
        same[stage_name] = len(set(outputs.values())) == 1
    shutil.rmtree(work)
    timed = " (timed: the next session's cycle)" if args.next_session else ""
    print(f"wait: {source}, as of {args.as_of}{timed}, medians of {args.rounds} alternating runs")
    for stage_name in stages:
        target = WAIT_TARGETS[stage_name]
        key = "paint" if stage_name == "dashboard" else "wall"
        line = []
        for which in codes:
            runs = figures[(stage_name, which)]
            wall = statistics.median(r[key] for r in runs)
            cpu = statistics.median(r["cpu"] for r in runs)
            what, cpu_of = ("first paint", "read CPU") if key == "paint" else ("wall", "CPU")
            line.append(f"{which} {what} {wall:.2f} s ({cpu_of} {cpu:.2f} s)")
        new = statistics.median(r[key] for r in figures[(stage_name, "new")])
        verdict = "PASS" if new <= target else "FAIL"
        identical = f"outputs identical: {same[stage_name]}" if args.old else ""
        print(f"{stage_name:<10} {'; '.join(line)}  target <= {target} s {verdict}  {identical}")


def bench_backtest(args: argparse.Namespace) -> None:
    import dask
    import distributed

    from assistant.modeling import compute
    from assistant.modeling.backtest import backtest

    home, db, settings, names, last = make_home(args.symbols, args.years)
    kinds = [k for k in args.kinds.split(",") if k]
    end = pd.Timestamp(last) - pd.tseries.offsets.BDay(10)
    start = end - pd.tseries.offsets.BDay(4 * args.block - 1)
    kw = dict(kinds=kinds, start=str(start.date()), end=str(end.date()), retrain_every=args.block)
    # serial local run: per-task times for the projection
    serial = compute.LocalRunner(jobs=1)
    real_runner = compute.runner
    compute.runner = lambda address: serial if address is None else real_runner(address)
    try:
        t = time.perf_counter()
        ref = backtest(db, settings, scheduler="local", **kw)
        t_serial = time.perf_counter() - t
    finally:
        compute.runner = real_runner
    stage(
        "serial", t_serial, f"local, 1 thread, {ref.retrains} blocks, {ref.n_predictions:,} scored"
    )
    t = time.perf_counter()
    local = backtest(db, settings, scheduler="local", **kw)
    t_local = time.perf_counter() - t
    stage("local", t_local, f"local runner ({os.cpu_count()} threads)")
    t = time.perf_counter()
    with dask.config.set({"distributed.worker.daemon": False}):
        cluster = distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=40,
        )
    t_start = time.perf_counter() - t
    try:
        t = time.perf_counter()
        remote = backtest(db, settings, scheduler=cluster.scheduler_address, **kw)
        t_remote = time.perf_counter() - t
        t = time.perf_counter()
        backtest(db, settings, scheduler=cluster.scheduler_address, **kw)
        t_remote2 = time.perf_counter() - t
    finally:
        cluster.close()
    same = local.to_dict() == remote.to_dict()
    stage(
        "cluster",
        t_remote,
        f"2-worker LocalCluster (start {t_start:.1f} s not included; 2nd run {t_remote2:.2f} s); "
        f"JSON identical to local: {same}; overhead vs local {t_remote - t_local:+.2f} s "
        f"({(t_remote / t_local - 1) * 100:+.0f}%)",
    )
    fits = {k: v for k, v in serial.timings.items() if "/" in k}
    blocks = {k: v for k, v in serial.timings.items() if "/" not in k}
    work = sum(serial.timings.values())
    client_side = t_serial - work
    per_block_path = max(fits.values()) + max(blocks.values())
    print(
        f"tasks: {len(fits)} fits (mean {sum(fits.values()) / len(fits):.2f} s, "
        f"max {max(fits.values()):.2f} s), {len(blocks)} block predicts "
        f"(mean {sum(blocks.values()) / len(blocks):.2f} s); task work {work:.1f} s, "
        f"client-side (features, splits, scoring) {client_side:.1f} s"
    )
    n_blocks = len(blocks)
    for n in (1, 2, 4, 8, 16, 32):
        # Each batch of blocks ends when its slowest fit+predict chain does.
        batches = math.ceil(n_blocks / 8)
        proj = client_side + max(work / n, batches * per_block_path)
        print(f"projection: {n:>2} workers -> {proj:6.1f} s for these {n_blocks} blocks")
    per_block = work / n_blocks
    print(
        f"projection: 20 years of 63-session blocks (~{20 * 4} blocks) at this size: "
        + ", ".join(
            f"{n} workers ~{(client_side / n_blocks * 80 + max(per_block * 80 / n, math.ceil(80 / 8) * per_block_path)) / 60:.1f} min"
            for n in (1, 8, 32)
        )
    )


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["home", "backtest", "paint", "wait", "stage"])
    ap.add_argument("home", nargs="?", help="paint, wait: the home")
    ap.add_argument("--old", help="wait: another checkout to run alternately (the old code)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--as-of", help="wait: the cycle's session (default: the latest bars)")
    ap.add_argument("--stage", choices=list(WAIT_TARGETS), help="stage; wait: that stage alone")
    ap.add_argument(
        "--next-session",
        action="store_true",
        help="wait, predict: time the cycle of the session after --as-of (after a warm-up "
        "cycle as of --as-of), a day's new cycle, not the same cycle again",
    )
    ap.add_argument("--out")
    ap.add_argument("--symbols", type=int)
    ap.add_argument("--years", type=int)
    ap.add_argument("--kinds")
    ap.add_argument("--epochs", type=int, default=config.Models().epochs)
    ap.add_argument("--block", type=int, default=63, help="sessions per retrain block")
    args = ap.parse_args()
    if args.mode == "paint":
        first, cpu, settled = asyncio.run(paint(Path(args.home)))
        # the last: the figure (first frame with the watchlist's rows, wall seconds)
        print(f"settled {settled:.4f} first-frame-cpu {cpu:.4f} first-frame {first:.4f}")
        return 0
    if args.mode == "stage":
        import json

        took = wait_stage(
            args.stage,
            Path(args.home),
            Path(args.out),
            iso_date(args.as_of) if args.as_of else None,
            args.next_session,
        )
        print(json.dumps(took))
        return 0
    if args.mode == "wait":
        bench_wait(args)
    elif args.mode == "home":
        args.symbols, args.years = args.symbols or 500, args.years or 20
        args.kinds = args.kinds if args.kinds is not None else ",".join(config.Models().kinds)
        bench_home(args)
    else:
        args.symbols, args.years = args.symbols or 20, args.years or 8
        args.kinds = args.kinds if args.kinds is not None else "xgboost,markov"
        bench_backtest(args)
    print(f"[load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
