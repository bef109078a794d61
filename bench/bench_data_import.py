"""Benchmark: `import` of 100 symbols x 20 years of daily CSV (target >= 200,000 rows/s).

The CSVs (Yahoo layout, with Adj Close) are generated from synthetic_bars in a temp dir;
the timed part is the real code path of `assistant import`: read, parse, validate,
one transaction per file, upsert into a fresh WAL database.

--big [ROWS]: one file of ROWS rows (default 2,000,000) in Stooq's bulk layout (400
tickers, a ticker column, YYYYMMDD dates), imported in a child process: its CPU time and
peak RSS against <= 10 s and <= 300 MB. --file PATH imports PATH instead of generating.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.config import Settings  # noqa: E402
from assistant.ingest.importer import import_files  # noqa: E402
from assistant.ingest.sources.synthetic import synthetic_bars  # noqa: E402
from store.db import open_db  # noqa: E402

SYMBOLS, SESSIONS, TARGET = 100, 20 * 252, 200_000
BIG_TICKERS, BIG_CPU_S, BIG_PEAK_MB = 400, 10.0, 300


def write_bulk(path: Path, rows: int) -> None:
    """A Stooq bulk file: BIG_TICKERS tickers, rows // BIG_TICKERS sessions each."""
    import numpy as np
    import pandas as pd

    with path.open("w") as out:
        out.write("<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n")
        for i in range(BIG_TICKERS):
            f = synthetic_bars(rows // BIG_TICKERS, seed=i, start="1990-01-02")
            cols: dict[str, object] = {
                "t": f"T{i:03d}.US",
                "p": "D",
                "d": pd.DatetimeIndex(f.index).strftime("%Y%m%d"),
                "tm": "000000",
            }
            cols |= {c: f[c].round(4) for c in ("open", "high", "low", "close")}
            cols |= {"v": f["volume"].round(0).astype(np.int64), "oi": 0}
            pd.DataFrame(cols).to_csv(out, header=False, index=False)


def child(path: Path, home: Path) -> int:
    """Import `path` into a fresh `home`; print rows, CPU seconds, wall seconds, peak MB."""
    db = open_db(home)
    wall, cpu = time.perf_counter(), time.process_time()
    result = import_files(db, [path], settings=Settings())[0]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    db.close()
    if result.error:
        print(f"import failed: {result.error}")
        return 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(sum(s.rows for s in result.symbols), f"{cpu:.2f}", f"{wall:.2f}", f"{peak:.0f}")
    return 0


def big(rows: int, given: Path | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = given or Path(tmp) / "bulk.csv"
        if given is None:
            write_bulk(path, rows)
        run = subprocess.run(
            [sys.executable, __file__, "--child", str(path), str(Path(tmp) / "home")],
            capture_output=True,
            text=True,
        )
    if run.returncode != 0:
        print(run.stdout + run.stderr)
        return 1
    n, cpu, wall, peak = run.stdout.split()
    ok = float(cpu) <= BIG_CPU_S and float(peak) <= BIG_PEAK_MB
    print(
        f"import of one {int(n):,}-row file ({path.name}): {cpu} s CPU, {wall} s wall, "
        f"peak RSS {peak} MB (targets <= {BIG_CPU_S:g} s CPU, <= {BIG_PEAK_MB} MB) "
        f"{'PASS' if ok else 'FAIL'}  [load average {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} cores]"
    )
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, nargs="?", const=2_000_000, default=None, metavar="ROWS")
    ap.add_argument("--file", type=Path, help="with --big: import this file")
    ap.add_argument("--child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child)
    if args.big is not None:
        return big(args.big, args.file)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "csv"
        folder.mkdir()
        paths = []
        for i in range(SYMBOLS):
            frame = synthetic_bars(SESSIONS, seed=i, start="2004-01-02")
            out = frame.rename(columns=str.title)[["Open", "High", "Low", "Close", "Volume"]]
            out.insert(4, "Adj Close", frame["close"] * 0.97)
            out.index.name = "Date"
            path = folder / f"SYM{i:03d}.csv"
            out.to_csv(path, float_format="%.6f")
            paths.append(path)
        db = open_db(Path(tmp) / "home")
        settings = Settings()
        start = time.perf_counter()
        results = import_files(db, paths, settings=settings)
        elapsed = time.perf_counter() - start
        errors = [r.error for r in results if r.error]
        rows = db.execute("SELECT COUNT(*) FROM bars").fetchone()[0]
        db.close()
    if errors:
        print(f"import failed: {errors[0]}")
        return 1
    rate = rows / elapsed
    verdict = "PASS" if rate >= TARGET else "FAIL"
    print(f"import: {SYMBOLS} files, {rows:,} rows in {elapsed:.2f} s")
    print(f"import: {rate:,.0f} rows/s (target >= {TARGET:,}) {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
