"""Live quotes: what a poll costs the daemon, and what replayed hours cost a replay.

1. One poll of SYMBOLS symbols through the poller against an instant fake source (every
   exchange open): the daemon loop's own cost per poll (calendar, store writes), not
   Yahoo's answer time. Target: under 1 s for 100 symbols (a poll every 5 minutes).
2. The hours of SESSIONS replayed sessions of the demo's 6 symbols (7 hourly bars each,
   simulated, quoted hour by hour as a replay does). Target: under 20 ms a session, i.e.
   the demo at its default 5 sessions a second spends under 10% of its time on hours
   (they share each session's time: the replay takes no longer in wall-clock terms).

Measured (2-core machine shared with ~8 others, load 8-10): a poll of 100 symbols 30 ms
median (max 42 ms); 241 sessions x 6 symbols of hours, 10,086 quotes in 3.6 s = 15 ms a
session (before the watchlist drove the hourly lookup, one index seek a symbol: 190 ms).

    python bench/bench_live.py [SYMBOLS] [SESSIONS]
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from assistant import config  # noqa: E402
from assistant.ingest.quotes import QuotePoller, replay_hour  # noqa: E402
from assistant.ingest.sources.base import Quote  # noqa: E402
from assistant.ingest.sources.intraday import synthetic_hours  # noqa: E402
from store import hourly, quotes  # noqa: E402
from store import symbols as watch  # noqa: E402
from store.db import open_db  # noqa: E402


class Instant:
    name = "bench"

    def __init__(self, now: datetime):
        self.now = now

    def history(self, symbol, start, end):  # (unused: the Source protocol)
        raise NotImplementedError

    def quote(self, symbol: str) -> Quote:
        return Quote(100.0 + hash(symbol) % 7, pd.Timestamp(self.now))


def main() -> None:
    n_symbols = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    n_sessions = int(sys.argv[2]) if len(sys.argv) > 2 else 250
    settings = config.Settings()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "home")
        names = [f"S{i:03d}" for i in range(n_symbols)]
        watch.add(db, names, "yahoo")
        now = datetime(2024, 11, 27, 15, 0, tzinfo=UTC)
        source = Instant(now)
        poller = QuotePoller(db, settings, lambda: source, lambda: source.now)
        poller.run_due()  # the calendars built once
        times = []
        for k in range(5):
            now = datetime(2024, 11, 27, 15, 5 * (k + 1), tzinfo=UTC)
            source.now = now
            t = time.perf_counter()
            result = poller.poll(now, poller_every(settings))
            times.append(time.perf_counter() - t)
            assert result.new == n_symbols
        print(
            f"poll of {n_symbols} symbols: median {np.median(times) * 1000:.0f} ms "
            f"(max {max(times) * 1000:.0f} ms; target < 1000 ms)"
        )
        db.close()

        db = open_db(Path(tmp) / "demo")
        demo = ["^GSPC", "^IXIC", "AAPL", "MSFT", "IBM", "GOOG"]
        watch.add(db, demo, "sample")
        days = pd.bdate_range("2012-01-03", periods=n_sessions)
        from assistant import calendar

        days = calendar.sessions("XNYS", days[0], days[-1])
        rng = np.random.default_rng(1)
        for sym in demo:
            close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
            daily = pd.DataFrame(
                {
                    "open": close,
                    "high": close * 1.01,
                    "low": close * 0.99,
                    "close": close,
                    "volume": 1e6,
                },
                index=days,
            )
            with db.conn:
                hourly.upsert(db, sym, synthetic_hours(daily, "XNYS", seed=2), "synthetic")
        t = time.perf_counter()
        quoted = 0
        for day in days.strftime("%Y-%m-%d"):
            for slot in range(quotes.session_slots(db, day)):
                quoted += replay_hour(db, settings, day, slot)
        spent = time.perf_counter() - t
        print(
            f"replayed hours: {len(days)} sessions x {len(demo)} symbols, {quoted} quotes in "
            f"{spent:.2f} s = {spent / len(days) * 1000:.1f} ms a session (target < 20 ms)"
        )
        db.close()


def poller_every(settings: config.Settings):
    from assistant.ingest.quotes import poll_every

    every = poll_every(settings)
    assert every is not None
    return every


if __name__ == "__main__":
    main()
