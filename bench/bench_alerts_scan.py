"""Alert scan benchmark: what each daemon heartbeat costs the alert sender when nothing new
happened, at 100 symbols and ~100k calls (99,300 verified) in a real SQLite home.

The sender scans after every commit of another connection, so with alerts configured a
running daemon's 5 s heartbeat wakes it about 17,000 times a day. Prints the CPU time of
one idle scan (the median of 20) against its target, and each source's share.

Run: .venv/bin/python bench/bench_alerts_scan.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.alerts import events  # noqa: E402
from assistant.config import Settings  # noqa: E402
from store.db import open_db  # noqa: E402
from tests.tui_fixture import fill  # noqa: E402

TARGET_MS = 5.0


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "home")
        fill(
            db,
            tuple(f"S{i:03d}" for i in range(100)),
            sessions=400,
            predict_last=334,
            horizons=(1, 3, 5),
        )
        verified = db.execute("SELECT COUNT(*) FROM predictions WHERE status = 'verified'")
        n = int(verified.fetchone()[0])
        cfg = Settings().alerts
        events.scan(db, cfg)  # the first scan sets the marks
        events.scan(db, cfg)
        runs = []
        for _ in range(20):
            t = time.process_time()
            events.scan(db, cfg)
            runs.append((time.process_time() - t) * 1000)
        db.close()
    ms = statistics.median(runs)
    ok = ms <= TARGET_MS
    print(
        f"idle alert scan, {n:,} verified calls: {ms:.1f} ms CPU median of 20 "
        f"(target <= {TARGET_MS:.0f} ms) {'PASS' if ok else 'FAIL'} "
        f"[load average {os.getloadavg()[0]:.1f}]"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
