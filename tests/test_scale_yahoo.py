"""Batched Yahoo collection for hundreds of tickers: groups, bounded threads, pacing and
back-off on rate limits, against the yfinance fake of test_data_yahoo (network boundary)."""

from __future__ import annotations

import pandas as pd
import yfinance.exceptions as yfe

from assistant.errors import TemporaryError
from assistant.ingest.collect import collect
from assistant.ingest.sources.yahoo import YahooSource
from store import bars, symbols
from tests.test_data_yahoo import FakeYF, at, settings, yahoo_frame

TICKERS = [f"T{i:03d}" for i in range(120)]


class LimitedYF(FakeYF):
    """download() answers 429 on the call numbers in `limited` (1-based); records threads."""

    def __init__(self, answers, limited=()):
        super().__init__(answers)
        self.limited, self.n, self.threads = set(limited), 0, []

    def download(self, tickers, start=None, end=None, auto_adjust=True, threads=True, **kw):
        self.n += 1
        self.threads.append(threads)
        if self.n in self.limited:
            self.calls.append(("download-429", tuple(tickers), start, end))
            raise yfe.YFRateLimitError()
        return super().download(tickers, start=start, end=end, auto_adjust=auto_adjust, **kw)


def answers(names=TICKERS):
    return {t: yahoo_frame("2024-01-02", "2024-01-12", base=10 + i) for i, t in enumerate(names)}


def make(home, yf, sleeps, **kw):
    return YahooSource(home, yf=yf, batch_size=50, batch_threads=4, sleep=sleeps.append, **kw)


def fetch(src, names=TICKERS):
    return src.history_many(list(names), pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-12"))


def test_many_tickers_go_in_paced_groups_with_bounded_threads(home):
    yf, sleeps = LimitedYF(answers()), []
    out = fetch(make(home, yf, sleeps, request_gap_s=2.5))
    assert [len(c[1]) for c in yf.calls] == [50, 50, 20]
    assert [c[0] for c in yf.calls] == ["download"] * 3  # no per-ticker requests
    assert yf.threads == [4, 4, 4] and sleeps == [2.5, 2.5]
    assert all(len(out[t]) == 9 for t in TICKERS)
    assert out["T119"]["raw_close"].iloc[0] == 10 + 119


def test_rate_limit_backs_off_and_retries_the_group(home):
    yf, sleeps = LimitedYF(answers(), limited={2}), []
    out = fetch(make(home, yf, sleeps, request_gap_s=1.0, backoff_s=30.0))
    assert [c[0] for c in yf.calls] == ["download", "download-429", "download", "download"]
    assert sleeps == [1.0, 30.0, 1.0]
    assert all(isinstance(out[t], pd.DataFrame) for t in TICKERS)


def test_persistent_rate_limit_gives_up_and_asks_nothing_more(home):
    yf, sleeps = LimitedYF(answers(), limited={2, 3, 4, 5, 6}), []
    src = make(home, yf, sleeps, request_gap_s=1.0, backoff_s=10.0, retries=2)
    out = fetch(src)
    assert [c[0] for c in yf.calls] == ["download"] + ["download-429"] * 3
    assert sleeps == [1.0, 10.0, 20.0]  # doubling back-off, then give up
    assert all(isinstance(out[t], pd.DataFrame) for t in TICKERS[:50])
    for t in TICKERS[50:]:
        assert isinstance(out[t], TemporaryError) and "rate limit" in str(out[t])
    n = len(yf.calls)
    fetch(src, TICKERS[:5])  # later in the same run: blocked, no request at all
    assert len(yf.calls) == n


def test_rate_limit_seen_through_a_single_ticker_retry_backs_off_too(home):
    # download() hides a 429 as all-NaN columns; the single-ticker re-ask raises it.
    ans = answers(TICKERS[:3])
    yf, sleeps = LimitedYF({**ans, "T001": yfe.YFRateLimitError()}), []
    out = fetch(make(home, yf, sleeps, backoff_s=5.0, retries=1), TICKERS[:3])
    assert sleeps == [5.0]
    assert all(isinstance(out[t], TemporaryError) for t in TICKERS[:3])


def test_collect_of_120_symbols_uses_three_requests(db, home):
    symbols.add(db, TICKERS, "yahoo")
    yf, sleeps = LimitedYF({t: yahoo_frame("2023-03-01", "2024-03-08") for t in TICKERS}), []
    with at("2024-03-08 22:00Z"):
        results = collect(db, settings(), source=make(home, yf, sleeps))
    assert [r.status for r in results] == ["added"] * 120, {r.status for r in results}
    assert [c[0] for c in yf.calls] == ["download"] * 3
    assert bars.count(db, "T077") > 200
