"""Benchmark: offline collection of 20 symbols through collect() (target < 5 s).

Honest note: the sample source has six real series (^GSPC, ^IXIC from arch.data; AAPL,
GOOG, IBM, MSFT from bokeh_sampledata). The other 14 symbols are served by SyntheticSource; a small router hands each symbol to
one of the two, and everything goes through the same collect() code path into a fresh
database (first collection: history_years of bars per symbol).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.config import Settings  # noqa: E402
from assistant.ingest.collect import collect  # noqa: E402
from assistant.ingest.sources.sample import SERIES, SampleSource  # noqa: E402
from assistant.ingest.sources.synthetic import SyntheticSource  # noqa: E402
from store import symbols  # noqa: E402
from store.db import open_db  # noqa: E402

TARGET_S = 5.0
SYNTHETIC = [f"SYN{i:02d}" for i in range(20 - len(SERIES))]


class Router:
    """The real sample's series from it, everything else synthetic."""

    name = "sample"

    def __init__(self):
        self.sample, self.synthetic = SampleSource(), SyntheticSource(n=2600, start="2008-10-01")

    def coverage(self, symbol):
        if symbol in SERIES:
            return self.sample.coverage(symbol)
        frame = self.synthetic.history(symbol, "1900-01-01", "2100-01-01")
        return frame.index[0], frame.index[-1]

    def history(self, symbol, start, end):
        src = self.sample if symbol in SERIES else self.synthetic
        return src.history(symbol, start, end)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "home")
        symbols.add(db, [*SERIES, *SYNTHETIC], "sample")
        settings = Settings()
        start = time.perf_counter()
        results = collect(db, settings, source=Router())
        elapsed = time.perf_counter() - start
        rows = db.execute("SELECT COUNT(*) FROM bars").fetchone()[0]
        again = time.perf_counter()
        second = collect(db, settings, source=Router())
        elapsed_again = time.perf_counter() - again
        db.close()
    bad = [r for r in results if r.status != "added"]
    print(
        f"collect: {len(SERIES)} real series ({', '.join(SERIES)}) + {len(SYNTHETIC)} "
        "synthetic symbols (SyntheticSource), all through collect()"
    )
    if bad:
        print(f"collect failed: {bad[0]}")
        return 1
    verdict = "PASS" if elapsed < TARGET_S else "FAIL"
    print(
        f"collect: 20 symbols, {rows:,} rows, first run {elapsed:.2f} s (target < {TARGET_S:.0f} s) {verdict}"
    )
    current = sum(r.status == "current" for r in second)
    print(f"collect: second run (already current: {current}/20) {elapsed_again:.2f} s")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
