"""Default model set (settings' kinds, default hyperparameters) trained through
assistant.modeling.training.train on 10 synthetic symbols x 10 years (SyntheticSource bars
stored in a real SQLite home). Target: <= 3 minutes on this 2-core machine."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from assistant import config
from assistant.ingest.sources.synthetic import synthetic_bars
from assistant.modeling.training import train
from store import bars, symbols
from store.db import immediate, open_db

SYMBOLS = [f"SYN{i}" for i in range(10)]


def seed(home: Path, n: int, edge: float = 0.55):
    db = open_db(home)
    symbols.add(db, SYMBOLS, "synthetic")
    for i, s in enumerate(SYMBOLS):
        with immediate(db):
            bars.upsert(db, s, synthetic_bars(n, seed=i, edge=edge), "synthetic")
    return db


def main() -> None:
    home = Path(tempfile.mkdtemp()) / "home"
    db = seed(home, 2520)
    settings = config.load(home)
    print(
        f"synthetic symbols (synthetic_bars, edge 0.55): 10 x 2520 sessions; kinds {settings.models.kinds}"
    )
    start = time.perf_counter()
    report = train(db, home, settings, progress=lambda k, f, m: None)
    took = time.perf_counter() - start
    for r in report.results:
        facts = r.info
        info = "" if facts is None else (facts.epochs or facts.rounds or "")
        m = r.metrics["test"]["1"]
        acc = m["dir_accuracy"]
        shown = "abstains on every test row" if acc is None else f"{acc:.3f} on {m['n']} calls"
        print(
            f"  {r.kind:<12} h1 hit rate {shown} "
            f"(majority {m['baselines']['majority']['dir_accuracy']:.3f} on the same rows) {info}"
        )
    verdict = "PASS" if took <= 180 else "FAIL"
    print(f"train default set, 10 symbols x 10 years: {took:.1f} s (target <= 180 s) {verdict}")
    sys.exit(0 if verdict == "PASS" else 1)


if __name__ == "__main__":
    main()
