"""One-hour bars from Yahoo against a fake yfinance that answers `interval="1h"` the way
yfinance 1.7 does (read from its source, yfinance/scrapers/history.py and multi.py):

- `Ticker.history(interval="1h")`: a frame indexed by bar start ("Datetime"), tz-aware in
  the exchange's zone, regular hours only (9:30, 10:30 ... 15:30 in New York), Adj Close
  equal to Close (Yahoo sends no adjusted close for intraday bars), no row for an hour
  without trades; during an open session the last bar is the hour still forming.
- A start more than 730 days back: Yahoo's chart error, raised (exceptions not hidden) as
  YFPricesMissingError with Yahoo's reason as its message: "1h data not available for
  startTime=... and endTime=.... The requested range must be within the last 730 days."
- YFRateLimitError is raised even when yfinance hides exceptions; an unknown ticker gives
  an empty frame (or YFPricesMissingError when not hidden).
- `download(interval="1h")` keeps the time zone (ignore_tz defaults to False for
  intraday), converts every ticker to the most common zone, and reindexes all tickers to
  the union of their bar starts (NaN rows where a ticker has no bar).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yfinance.exceptions as yfe
from yfinance.utils import empty_df

from assistant import calendar
from assistant.ingest.collect import collect
from assistant.ingest.hourly import HourlyResult, check_rollup
from assistant.ingest.sources.yahoo import YahooSource
from store import bars, hourly, symbols
from tests.test_data_yahoo import FakeYF, at, settings, yahoo_frame

HOURLY_COLS = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


def hourly_frame(
    start: str,
    end: str,
    *,
    exchange: str = "XNYS",
    base: float = 100.0,
    skip: tuple[str, ...] = (),
    lunch_shift: bool = False,
) -> pd.DataFrame:
    """What Yahoo sends for 1h over [start, end]: one bar per hour of each session from the
    open. `skip`: bar starts ("2024-03-08 11:30") Yahoo has no row for. `lunch_shift`:
    Tokyo's afternoon bars start at 12:30, 13:30, 14:30 (after the 11:30-12:30 break)."""
    rows, starts = [], []
    bounds = calendar.session_bounds(exchange, start, end)
    price = base
    for _, b in bounds.iterrows():
        ts = [b["open"] + pd.Timedelta(hours=i) for i in range(int(b["bars"]))]
        if lunch_shift:
            ts = [t for t in ts if t.hour < 12] + [
                t + pd.Timedelta(minutes=30) for t in ts if 12 <= t.hour < 15
            ]
        for t in ts:
            if f"{t:%Y-%m-%d %H:%M}" in skip:
                continue
            o, c = price, price + 0.25
            rows.append([o, c + 0.5, o - 0.5, c, c, 1000.0])
            starts.append(t)
            price = c
    frame = pd.DataFrame(rows, columns=HOURLY_COLS, index=pd.DatetimeIndex(starts, name="Datetime"))
    return frame


def daily_of(hours: pd.DataFrame, adj: float = 1.0) -> pd.DataFrame:
    """Yahoo's daily bars that agree with `hours` (Adj Close = Close * adj), as history()
    returns them: midnight-stamped in the exchange's zone."""
    local = hours.index.tz_localize(None).normalize()
    d = hours.groupby(local).agg(
        Open=("Open", "first"),
        High=("High", "max"),
        Low=("Low", "min"),
        Close=("Close", "last"),
        Volume=("Volume", "sum"),
    )
    d["Adj Close"] = d["Close"] * adj
    d["Dividends"], d["Stock Splits"] = 0.0, 0.0
    d.index = pd.DatetimeIndex(d.index).tz_localize(hours.index.tz)
    d.index.name = "Date"
    return d[["Open", "High", "Low", "Close", "Adj Close", "Volume", "Dividends", "Stock Splits"]]


class HourlyYF(FakeYF):
    """FakeYF with one-hour answers beside the daily ones; Yahoo's clock is the test's."""

    def __init__(self, daily: dict, hours: dict, *, limit_days: int = 730, limited=()):
        super().__init__(daily)
        self.hours, self.limit_days = hours, limit_days
        self.limited, self.n = set(limited), 0

    def Ticker(self, symbol: str):  # noqa: N802 - yfinance's name
        ticker = super().Ticker(symbol)
        daily = ticker.history

        def history(start=None, end=None, interval="1d", **kw):
            if interval != "1h":
                return daily(start=start, end=end, interval=interval, **kw)
            return self._hourly(symbol, start, end)

        ticker.history = history  # type: ignore[method-assign]
        return ticker

    def _hourly(self, symbol: str, start: str, end: str) -> pd.DataFrame:
        self.calls.append(("history-1h", symbol, start, end))
        answer = self.hours.get(symbol)
        if isinstance(answer, yfe.YFRateLimitError):
            raise answer
        now = pd.Timestamp.now(tz="UTC")
        tz = answer.index.tz if isinstance(answer, pd.DataFrame) else "America/New_York"
        lo, hi = pd.Timestamp(start, tz=tz), pd.Timestamp(end, tz=tz)
        if lo < now - pd.Timedelta(days=self.limit_days):
            reason = (
                f"1h data not available for startTime={int(lo.timestamp())} and "
                f"endTime={int(hi.timestamp())}. The requested range must be within the "
                f"last {self.limit_days} days."
            )
            if self.config.debug.hide_exceptions:
                return empty_df()
            raise yfe.YFPricesMissingError(symbol, f"(1h {start} -> {end})", yahoo_reason=reason)
        if not isinstance(answer, pd.DataFrame):
            if self.config.debug.hide_exceptions:
                return empty_df()
            raise yfe.YFPricesMissingError(symbol, f"(1h {start} -> {end})")
        part = answer[(answer.index >= lo) & (answer.index < hi) & (answer.index <= now)].copy()
        if len(part) and part.index[-1] + pd.Timedelta(hours=1) > now:
            # the hour still forming: what has traded so far
            part.iloc[-1, part.columns.get_loc("Close")] = part["Open"].iloc[-1] + 0.1
            part.iloc[-1, part.columns.get_loc("Adj Close")] = part["Open"].iloc[-1] + 0.1
        return part

    def download(self, tickers, start=None, end=None, interval="1d", **kw):
        if interval != "1h":
            return super().download(tickers, start=start, end=end, **kw)
        self.n += 1
        if self.n in self.limited:
            self.calls.append(("download-1h-429", tuple(tickers), start, end))
            raise yfe.YFRateLimitError()
        self.calls.append(("download-1h", tuple(tickers), start, end))
        assert kw.get("ignore_tz") is False and kw.get("prepost") is False
        dfs = {}
        for t in tickers:
            try:
                part = self._hourly(t, start, end)
                self.calls.pop()
            except yfe.YFPricesMissingError:
                self.calls.pop()
                part = empty_df()
            dfs[t] = part
        zones = [str(d.index.tz) for d in dfs.values() if not d.empty]
        if zones:
            common = max(set(zones), key=zones.count)
            for d in dfs.values():
                if not d.empty:
                    d.index = d.index.tz_convert(common)
        idx = None
        for d in dfs.values():
            if not d.empty:
                idx = d.index if idx is None else idx.union(d.index)
        idx = pd.DatetimeIndex([]) if idx is None else idx
        dfs = {k: v.reindex(idx) for k, v in dfs.items()}
        data = pd.concat(
            dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"]
        )
        data.columns = data.columns.swaplevel(0, 1)
        return data.sort_index(level=0, axis=1)


def source(home, yf, **kw) -> YahooSource:
    return YahooSource(home, yf=yf, sleep=lambda s: None, **kw)


def run(db, home, yf, syms, **kw) -> tuple[list, list[HourlyResult]]:
    hours: list[HourlyResult] = []
    results = collect(db, settings(), syms, source=source(home, yf, **kw), hourly=hours)
    return results, hours


def test_us_hours_are_stored_in_new_york_time_with_slots_and_roll_up(db, home):
    symbols.add(db, ["AAPL", "MSFT"], "yahoo")
    h_aapl = hourly_frame("2024-03-01", "2024-03-12")
    h_msft = hourly_frame("2024-03-01", "2024-03-12", base=300.0)
    # daily bars adjusted (Adj Close 2% under Close): hours compare with the raw close
    yf = HourlyYF(
        {"AAPL": daily_of(h_aapl, adj=0.98), "MSFT": daily_of(h_msft, adj=0.98)},
        {"AAPL": h_aapl, "MSFT": h_msft},
    )
    with at("2024-03-12 22:00Z"):
        results, hours = run(db, home, yf, ["AAPL", "MSFT"])
    assert [r.status for r in results] == ["added", "added"]
    assert [(h.symbol, h.status, h.flagged) for h in hours] == [
        ("AAPL", "added", 0),
        ("MSFT", "added", 0),
    ]
    assert [c[0] for c in yf.calls if "1h" in c[0]] == ["download-1h"]  # one batch
    frame = hourly.load(db, "AAPL", "America/New_York")
    assert len(frame) == 8 * 7 and hours[0].added == 56
    stamps = [t.isoformat() for t in frame.index]
    assert stamps[0] == "2024-03-01T09:30:00-05:00"
    assert "2024-03-11T09:30:00-04:00" in stamps  # after the DST change: the offset moves
    assert frame["slot"].tolist()[:7] == list(range(7))
    # idempotent: a second run asks for nothing and writes nothing
    with at("2024-03-12 22:30Z"):
        _, again = run(db, home, yf, ["AAPL", "MSFT"])
    assert [(h.status, h.added) for h in again] == [("current", 0), ("current", 0)]


def test_tokyo_hours_keep_their_zone_and_the_afternoon_bars_find_their_slots(db, home):
    symbols.add(db, ["7203.T"], "yahoo")
    h = hourly_frame("2024-03-04", "2024-03-08", exchange="XTKS", base=3500, lunch_shift=True)
    h.index = h.index.tz_convert("Asia/Tokyo")
    yf = HourlyYF({"7203.T": daily_of(h)}, {"7203.T": h})
    with at("2024-03-08 12:00Z"):
        _, [res] = run(db, home, yf, ["7203.T"])
    assert (res.status, res.added, res.flagged) == ("added", 30, 0)
    frame = hourly.load(db, "7203.T", "Asia/Tokyo", start="2024-03-08", end="2024-03-08")
    assert [f"{t:%H:%M%z}" for t in frame.index] == [
        "09:00+0900",
        "10:00+0900",
        "11:00+0900",
        "12:30+0900",
        "13:30+0900",
        "14:30+0900",
    ]
    assert frame["slot"].tolist() == [0, 1, 2, 3, 4, 5]


def test_missing_hours_are_left_missing_and_an_early_close_has_four(db, home):
    symbols.add(db, ["AAPL"], "yahoo")
    h = hourly_frame("2023-11-20", "2023-11-28", skip=("2023-11-21 12:30",))
    yf = HourlyYF({"AAPL": daily_of(h)}, {"AAPL": h})
    with at("2023-11-28 22:00Z"):
        _, [res] = run(db, home, yf, ["AAPL"])
    frame = hourly.load(db, "AAPL", "America/New_York")
    per = frame.groupby("session").size()
    assert per[pd.Timestamp("2023-11-21")] == 6  # the hour Yahoo has no row for
    assert per[pd.Timestamp("2023-11-24")] == 4  # the day after Thanksgiving closes at 13:00
    assert pd.Timestamp("2023-11-23") not in per.index  # Thanksgiving
    assert res.flagged == 0  # a missing midday hour does not change the roll-up


def test_a_start_older_than_730_days_is_clamped_and_yahoo_s_refusal_is_said(db, home):
    symbols.add(db, ["AAPL"], "yahoo")
    h = hourly_frame("2022-01-03", "2024-03-08")
    yf = HourlyYF({"AAPL": daily_of(h)}, {"AAPL": h})
    src = source(home, yf)
    with at("2024-03-08 22:00Z"):
        frame = src.hourly("AAPL", pd.Timestamp("2020-01-01"), pd.Timestamp("2024-03-08"))
    [(_, _, start, _)] = [c for c in yf.calls if c[0] == "history-1h"]
    # 729 days back is 2022-03-10 17:00 in New York; the next midnight is under 729 days back
    assert pd.Timestamp(start) == pd.Timestamp("2022-03-11")
    assert frame["session"].iloc[0] == pd.Timestamp("2022-03-11")
    # Yahoo counting differently (a limit of 700 days here) is Yahoo's reason, said plainly
    strict = HourlyYF({"AAPL": daily_of(h)}, {"AAPL": h}, limit_days=700)
    with at("2024-03-08 22:00Z"):
        _, [res] = run(db, home, strict, ["AAPL"])
    assert res.status == "no-data"
    assert "The requested range must be within the last 700 days" in res.message
    assert hourly.count(db, "AAPL") == 0


def test_rate_limit_backs_off_then_gives_up_writing_nothing(db, home):
    symbols.add(db, ["AAPL", "MSFT"], "yahoo")
    h = hourly_frame("2024-03-01", "2024-03-08")
    answers = {"AAPL": h, "MSFT": h}
    sleeps: list[float] = []
    yf = HourlyYF({s: daily_of(h) for s in answers}, answers, limited={1})
    with at("2024-03-08 22:00Z"):
        hours = collect(
            db,
            settings(),
            ["AAPL", "MSFT"],
            source=YahooSource(home, yf=yf, sleep=sleeps.append, backoff_s=7.0),
            hourly=(got := []),
        )
    assert hours and [h_.status for h_ in got] == ["added", "added"]
    assert 7.0 in sleeps  # one back-off, then the retried batch got through
    symbols.add(db, ["IBM"], "yahoo")
    yf = HourlyYF(
        {s: daily_of(h) for s in ("AAPL", "MSFT", "IBM")},
        {"AAPL": h, "MSFT": h, "IBM": h},
        limited={1, 2, 3},
    )
    with at("2024-03-12 22:00Z"):
        _, out = run(db, home, yf, ["IBM", "MSFT"], backoff_s=1.0, retries=2)
    assert [o.status for o in out] == ["failed", "failed"]
    assert all("rate limit" in o.message for o in out)
    assert hourly.count(db, "IBM") == 0


def test_an_empty_answer_is_no_data(db, home):
    symbols.add(db, ["ZZZZ"], "yahoo")
    yf = HourlyYF({"ZZZZ": None}, {"ZZZZ": None})
    with at("2024-03-08 22:00Z"):
        _, [res] = run(db, home, yf, ["ZZZZ"])
    assert res.status == "no-data" and "no data" in res.message.lower()
    assert hourly.count(db, "ZZZZ") == 0


def test_the_hour_still_forming_is_left_for_the_next_run(db, home):
    symbols.add(db, ["AAPL"], "yahoo")
    h = hourly_frame("2024-03-06", "2024-03-08")
    yf = HourlyYF({"AAPL": daily_of(h)}, {"AAPL": h})
    with at("2024-03-08 16:45Z"):  # 11:45 in New York: 9:30 and 10:30 are over
        _, [res] = run(db, home, yf, ["AAPL"])
    today = hourly.load(db, "AAPL", "America/New_York", start="2024-03-08")
    assert today["slot"].tolist() == [0, 1]
    assert "1 bar of an hour not over yet" in res.message
    assert bars.load(db, "AAPL")["provisional"].iloc[-1] == 1
    with at("2024-03-08 21:30Z"):  # after the close: the rest of the day, and it rolls up
        _, [res] = run(db, home, yf, ["AAPL"])
    today = hourly.load(db, "AAPL", "America/New_York", start="2024-03-08")
    assert today["slot"].tolist() == list(range(7))
    assert res.flagged == 0 and res.added == 5
    np.testing.assert_allclose(today["close"].iloc[-1], h["Close"].iloc[-1])


def test_hours_that_do_not_roll_up_are_flagged_and_cleared_when_they_do(db, home):
    symbols.add(db, ["AAPL"], "yahoo")
    h = hourly_frame("2024-03-04", "2024-03-08")
    d = daily_of(h)
    d.loc[d.index[2], "High"] *= 1.02  # the daily high 2% above every hour's
    yf = HourlyYF({"AAPL": d}, {"AAPL": h})
    with at("2024-03-08 22:00Z"):
        _, [res] = run(db, home, yf, ["AAPL"])
    assert res.flagged == 1 and "2024-03-06" in res.message and "0.5%" in res.message
    assert hourly.flagged_sessions(db, "AAPL") == ["2024-03-06"]
    frame = hourly.load(db, "AAPL", "America/New_York")
    assert frame.loc[frame["session"] == "2024-03-06", "flagged"].tolist() == [1] * 7
    # within 0.5% is the vendors' noise, not a contradiction
    with db.conn:
        db.execute("UPDATE bars SET high = high / 1.02 * 1.004 WHERE date = '2024-03-06'")
    roll = check_rollup(db, "AAPL", "XNYS")
    assert (roll.checked, roll.flagged) == (5, []) and hourly.flagged_sessions(db, "AAPL") == []


@pytest.mark.parametrize("when", ["2024-03-08 22:00Z"])
def test_daily_fakes_still_answer_daily_requests(db, home, when):
    # the hourly fake leaves the daily path as it was
    symbols.add(db, ["AAPL"], "yahoo")
    yf = HourlyYF({"AAPL": yahoo_frame("2024-03-01", "2024-03-08")}, {})
    with at(when):
        results = collect(db, settings(hourly=False), ["AAPL"], source=source(home, yf))
    assert results[0].status == "added" and not [c for c in yf.calls if "1h" in c[0]]


def test_a_split_re_fetches_every_hour_so_nothing_is_left_contradicting(db, home):
    symbols.add(db, ["AAPL"], "yahoo")
    h = hourly_frame("2024-02-26", "2024-03-08")
    yf = HourlyYF({"AAPL": daily_of(h)}, {"AAPL": h})
    with at("2024-03-08 22:00Z"):
        run(db, home, yf, ["AAPL"])
    # a 2:1 split on 2024-03-11: Yahoo re-scales every earlier price, daily and hourly
    after = hourly_frame("2024-03-11", "2024-03-12", base=h["Close"].iloc[-1] / 2)
    split = pd.concat([h.assign(**{c: h[c] / 2 for c in HOURLY_COLS[:5]}), after])
    yf = HourlyYF({"AAPL": daily_of(split)}, {"AAPL": split})
    with at("2024-03-12 22:00Z"):
        [daily], [res] = run(db, home, yf, ["AAPL"])
    assert "re-adjusted" in daily.message
    assert res.flagged == 0 and hourly.flagged_sessions(db, "AAPL") == []
    first = [c for c in yf.calls if c[0] == "history-1h"][0]
    assert pd.Timestamp(first[2]) <= pd.Timestamp("2024-02-26")  # all of them again
    np.testing.assert_allclose(
        hourly.load(db, "AAPL", "America/New_York")["close"].iloc[0], h["Close"].iloc[0] / 2
    )


def test_a_rate_limit_on_the_daily_bars_stops_the_hourly_requests_of_the_run(db, home):
    symbols.add(db, ["AAPL"], "yahoo")
    h = hourly_frame("2024-03-04", "2024-03-08")
    yf = HourlyYF({"AAPL": yfe.YFRateLimitError()}, {"AAPL": h})
    with at("2024-03-08 22:00Z"):
        [daily], [res] = run(db, home, yf, ["AAPL"])
    assert daily.status == "failed" and res.status == "failed"
    assert "rate limit" in res.message and not [c for c in yf.calls if "1h" in c[0]]
    assert hourly.count(db, "AAPL") == 0


def test_unusable_rows_of_a_live_feed_are_dropped_not_stored(db, home):
    """Yahoo's slips in a 1h answer: a row with one price missing, a zero price, a bar
    after the close (seen on early closes), a high under the close (widened)."""
    symbols.add(db, ["AAPL"], "yahoo")
    h = hourly_frame("2023-11-22", "2023-11-24")
    h.iloc[1, h.columns.get_loc("High")] = np.nan
    h.iloc[2, h.columns.get_loc("Low")] = 0.0
    h.iloc[3, h.columns.get_loc("High")] = h["Close"].iloc[3] - 0.1
    late = h.iloc[[-1]].copy()
    late.index = pd.DatetimeIndex([pd.Timestamp("2023-11-24 13:30", tz="America/New_York")])
    yf = HourlyYF({"AAPL": daily_of(h)}, {"AAPL": pd.concat([h, late])})
    with at("2023-11-24 22:00Z"):
        _, [res] = run(db, home, yf, ["AAPL"])
    frame = hourly.load(db, "AAPL", "America/New_York")
    assert res.status == "added" and len(frame) == len(h) - 2  # the NaN and the zero rows
    assert frame.index.max() == pd.Timestamp("2023-11-24 12:30", tz="America/New_York")
    widened = frame.loc[h.index[3]]
    assert widened["high"] == widened["close"]


def test_during_the_session_each_run_brings_the_hours_over_since_the_last(db, home):
    symbols.add(db, ["AAPL"], "yahoo")
    h = hourly_frame("2024-03-06", "2024-03-08")
    yf = HourlyYF({"AAPL": daily_of(h)}, {"AAPL": h})
    with at("2024-03-08 16:45Z"):  # 11:45 in New York
        run(db, home, yf, ["AAPL"])
    with at("2024-03-08 16:50Z"):  # no hour over since: nothing asked
        n = len(yf.calls)
        _, [res] = run(db, home, yf, ["AAPL"])
        assert res.status == "current" and not [c for c in yf.calls[n:] if "1h" in c[0]]
    with at("2024-03-08 18:35Z"):  # 13:35: 11:30 and 12:30 are over now
        _, [res] = run(db, home, yf, ["AAPL"])
    assert res.status == "added" and res.added == 2
    today = hourly.load(db, "AAPL", "America/New_York", start="2024-03-08")
    assert today["slot"].tolist() == [0, 1, 2, 3]


def test_a_batch_across_zones_comes_back_in_one_zone_and_is_stored_in_each_own(db, home):
    # download() converts every ticker to the most common zone and reindexes all of them
    # to the union of bar starts: Tokyo's bars arrive in New York time among NaN rows
    symbols.add(db, ["AAPL", "MSFT", "7203.T"], "yahoo")
    ny = hourly_frame("2024-03-04", "2024-03-08")
    tokyo = hourly_frame("2024-03-04", "2024-03-08", exchange="XTKS", base=3500)
    tokyo.index = tokyo.index.tz_convert("Asia/Tokyo")
    yf = HourlyYF(
        {"AAPL": daily_of(ny), "MSFT": daily_of(ny), "7203.T": daily_of(tokyo)},
        {"AAPL": ny, "MSFT": ny, "7203.T": tokyo},
    )
    with at("2024-03-08 22:00Z"):
        _, out = run(db, home, yf, ["AAPL", "MSFT", "7203.T"])
    assert [c[0] for c in yf.calls if "1h" in c[0]] == ["download-1h"]
    assert [(o.symbol, o.status, o.added, o.flagged) for o in out] == [
        ("AAPL", "added", 35, 0),
        ("MSFT", "added", 35, 0),
        ("7203.T", "added", 30, 0),  # 9:00-15:00 until November 2024: six hours
    ]
    stamps = hourly.load(db, "7203.T", "Asia/Tokyo").index
    assert stamps[0].isoformat() == "2024-03-04T09:00:00+09:00"
