"""Benchmark: `import` of 100 symbols x 20 years of daily CSV (target >= 200,000 rows/s).

The CSVs (Yahoo layout, with Adj Close) are generated from synthetic_bars in a temp dir;
the timed part is the real code path of `assistant import`: read, parse, validate,
one transaction per file, upsert into a fresh WAL database.
"""

from __future__ import annotations

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


def main() -> int:
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
