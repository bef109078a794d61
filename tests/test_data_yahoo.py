"""The yahoo source against a fake yfinance that behaves like yfinance 1.7 at its public surface.

The fake mirrors what yfinance really does (read from its source): `Ticker.history()`
returns an empty frame and logs when `config.debug.hide_exceptions` is on, raises
YFPricesMissingError / YFTzMissingError when it is off, and always raises
YFRateLimitError; its index is tz-aware in the exchange's zone. `download()` never
raises per ticker: a failed ticker becomes all-NaN columns on the union of dates, the
index is tz-naive, the columns are a (Price, Ticker) MultiIndex.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import time_machine
import yfinance.exceptions as yfe
from curl_cffi.requests.exceptions import Timeout
from yfinance.utils import empty_df

from assistant.config import Settings
from assistant.errors import NoDataError, TemporaryError
from assistant.ingest.collect import collect
from assistant.ingest.sources.yahoo import YahooSource
from store import bars, symbols

COLS = ["Open", "High", "Low", "Close", "Adj Close", "Volume", "Dividends", "Stock Splits"]


def yahoo_frame(
    start: str, end: str, *, tz: str = "America/New_York", base: float = 100.0, adj: float = 0.98
) -> pd.DataFrame:
    days = pd.bdate_range(start, end)
    close = base + np.arange(len(days), dtype=float)
    frame = pd.DataFrame(
        {
            "Open": close - 0.5,
            "High": close + 1,
            "Low": close - 1,
            "Close": close,
            "Adj Close": close * adj,
            "Volume": 1e6,
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=pd.DatetimeIndex(days.tz_localize(tz), name="Date"),
    )
    return frame[COLS]


class FakeTicker:
    def __init__(self, yf: FakeYF, symbol: str):
        self.yf, self.symbol = yf, symbol

    @property
    def news(self) -> list[dict]:  # yfinance's Ticker.news: no headlines in these tests
        self.yf.calls.append(("news", self.symbol))
        return []

    def history(
        self, start=None, end=None, interval="1d", auto_adjust=True, actions=True, timeout=10, **_
    ):
        self.yf.calls.append(("history", self.symbol, start, end, auto_adjust))
        answer = self.yf.answers.get(self.symbol)
        if isinstance(answer, yfe.YFRateLimitError):
            raise answer  # yfinance re-raises rate limits even when hiding exceptions
        if isinstance(answer, Exception) or answer is None:
            if self.yf.config.debug.hide_exceptions:
                return empty_df()
            raise (
                answer
                if isinstance(answer, Exception)
                else yfe.YFPricesMissingError(self.symbol, f"(1d {start} -> {end})")
            )
        lo = pd.Timestamp(start, tz=answer.index.tz)
        hi = pd.Timestamp(end, tz=answer.index.tz)
        return answer[(answer.index >= lo) & (answer.index < hi)].copy()


class FakeYF:
    exceptions = yfe

    def __init__(self, answers: dict):
        self.answers = answers
        self.calls: list = []
        self.cache_dir = None
        self.config = SimpleNamespace(debug=SimpleNamespace(hide_exceptions=True))

    def set_tz_cache_location(self, path: str) -> None:
        self.cache_dir = path

    def Ticker(self, symbol: str) -> FakeTicker:  # noqa: N802 - yfinance's name
        return FakeTicker(self, symbol)

    def download(self, tickers, start=None, end=None, auto_adjust=True, **_):
        self.calls.append(("download", tuple(tickers), start, end))
        dfs = {}
        for t in tickers:
            answer = self.answers.get(t)
            if isinstance(answer, pd.DataFrame):
                part = FakeTicker(self, t).history(start=start, end=end)
                self.calls.pop()
                part.index = part.index.tz_localize(None)  # download(): tz-naive for daily bars
                dfs[t] = part
            else:
                dfs[t] = empty_df()  # errors only logged
        idx = None
        for df in dfs.values():
            if not df.empty:
                idx = df.index if idx is None else idx.union(df.index)
        idx = pd.DatetimeIndex([]) if idx is None else idx
        dfs = {k: v.reindex(idx) for k, v in dfs.items()}
        data = pd.concat(
            dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"]
        )
        data.columns = data.columns.swaplevel(0, 1)
        return data.sort_index(level=0, axis=1)


def settings(**collect):
    return Settings().replace("collect", source="yahoo", history_years=1, **collect)


def at(when: str):
    return time_machine.travel(pd.Timestamp(when).to_pydatetime(), tick=False)


def source(home, yf):
    return YahooSource(home, yf=yf)


def test_tz_aware_history_becomes_session_dates_and_cache_lives_in_home(home):
    yf = FakeYF({"7203.T": yahoo_frame("2024-03-01", "2024-03-08", tz="Asia/Tokyo")})
    src = source(home, yf)
    frame = src.history("7203.T", pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-08"))
    assert frame.index.tz is None
    assert list(frame.index.strftime("%d")) == ["01", "04", "05", "06", "07", "08"]
    assert yf.cache_dir == str(home / "yfinance-cache") and (home / "yfinance-cache").is_dir()
    assert yf.config.debug.hide_exceptions is False
    assert yf.calls[0][4] is False  # auto_adjust off: raw close and factor both kept
    assert frame["raw_close"].iloc[0] == 100.0 and frame["adj_factor"].iloc[0] == pytest.approx(
        0.98
    )


def test_yfinance_is_configured_lazily(home):
    yf = FakeYF({})
    YahooSource(home, yf=yf)
    assert yf.cache_dir is None and not (home / "yfinance-cache").exists()


def test_unknown_symbol_is_no_data_and_rate_limit_is_temporary(home):
    yf = FakeYF({"AAPL": yfe.YFRateLimitError()})
    src = source(home, yf)
    with pytest.raises(NoDataError, match="no price data found"):
        src.history("NOPE", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))
    with pytest.raises(TemporaryError, match="rate limit"):
        src.history("AAPL", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))
    n = len(yf.calls)
    with pytest.raises(TemporaryError):  # no new request while rate limited
        src.history("MSFT", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))
    assert len(yf.calls) == n


def test_timeout_and_missing_timezone_are_told_apart(home):
    yf = FakeYF(
        {
            "AAPL": Timeout("Operation timed out after 10001 milliseconds"),
            "GONE": yfe.YFTzMissingError("GONE"),
        }
    )
    src = source(home, yf)
    with pytest.raises(TemporaryError, match="timeout"):
        src.history("AAPL", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))
    with pytest.raises(NoDataError, match="no timezone found"):
        src.history("GONE", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))


def test_duplicate_dates_keep_the_latest_row(home):
    frame = yahoo_frame("2024-01-02", "2024-01-05")
    dup = frame.iloc[[-1]].copy()
    dup["Close"] += 1
    dup["Adj Close"] = dup["Close"] * 0.98
    dup["High"] += 1
    yf = FakeYF({"AAPL": pd.concat([frame, dup])})
    got = source(home, yf).history("AAPL", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))
    assert len(got) == 4 and got["raw_close"].iloc[-1] == frame["Close"].iloc[-1] + 1


def test_batch_download_with_all_nan_ticker_asks_it_again_alone(home):
    yf = FakeYF(
        {
            "AAPL": yahoo_frame("2024-01-02", "2024-01-12"),
            "MSFT": yahoo_frame("2024-01-02", "2024-01-12", base=300),
            "NOPE": None,
            "SLOW": Timeout("timed out"),
        }
    )
    out = source(home, yf).history_many(
        ["AAPL", "MSFT", "NOPE", "SLOW"], pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-12")
    )
    assert len(out["AAPL"]) == 9 and out["MSFT"]["raw_close"].iloc[0] == 300
    assert isinstance(out["NOPE"], NoDataError) and isinstance(out["SLOW"], TemporaryError)
    assert [c[0] for c in yf.calls] == ["download", "history", "history"]


def test_collect_rate_limited_writes_nothing_and_retries_next_run(db, home):
    symbols.add(db, ["AAPL"], "yahoo")
    yf = FakeYF({"AAPL": yfe.YFRateLimitError()})
    with at("2024-03-08 22:00Z"):
        [r] = collect(db, settings(), source=source(home, yf))
    assert r.status == "failed" and "rate limit" in r.message and bars.count(db, "AAPL") == 0
    assert symbols.get(db, "AAPL")["active"] == 1
    yf.answers["AAPL"] = yahoo_frame("2023-03-01", "2024-03-08")
    with at("2024-03-08 22:00Z"):
        [r] = collect(db, settings(), source=source(home, yf))
    assert r.status == "added" and bars.count(db, "AAPL") == r.added > 200
    assert symbols.get(db, "AAPL")["last_error"] is None


def test_partial_bar_for_today_is_provisional_until_the_close(db, home):
    symbols.add(db, ["AAPL"], "yahoo")
    yf = FakeYF({"AAPL": yahoo_frame("2023-03-01", "2024-03-08")})
    with at("2024-03-08 15:00Z"):  # 10:00 in New York: the session is open
        [r] = collect(db, settings(), source=source(home, yf))
    assert r.status == "added" and "1 provisional" in r.message
    stored = bars.load(db, "AAPL")
    assert stored["provisional"].tolist()[-2:] == [0, 1]
    assert bars.last_date(db, "AAPL", final_only=True) == "2024-03-07"
    # After the close the bar is re-fetched (last sessions) and becomes final with new values.
    final = yahoo_frame("2023-03-01", "2024-03-08")
    final.iloc[-1, final.columns.get_loc("Close")] += 0.5
    final.iloc[-1, final.columns.get_loc("Adj Close")] = final["Close"].iloc[-1] * 0.98
    yf.answers["AAPL"] = final
    yf.calls.clear()
    with at("2024-03-08 22:00Z"):
        [r] = collect(db, settings(refetch_sessions=3), source=source(home, yf))
    assert r.status == "current" and r.updated >= 1
    assert yf.calls[0][2] == "2024-03-05"  # re-fetched the last 3 sessions only
    stored = bars.load(db, "AAPL")
    assert (
        stored["provisional"].iloc[-1] == 0
        and stored["raw_close"].iloc[-1] == final["Close"].iloc[-1]
    )
    yf.calls.clear()
    with at("2024-03-09 12:00Z"):  # Saturday: nothing new can exist, no request is made
        [r] = collect(db, settings(), source=source(home, yf))
    assert r.status == "current" and yf.calls == []


def test_empty_answers_deactivate_only_after_the_configured_count(db, home):
    symbols.add(db, ["GONE"], "yahoo")
    yf = FakeYF({"GONE": None})
    for day in ["2024-03-04", "2024-03-05"]:
        with at(f"{day} 22:00Z"):
            [r] = collect(db, settings(deactivate_after_empty=2), source=source(home, yf))
        assert r.status == "no-data"
    row = symbols.get(db, "GONE")
    assert row["active"] == 0 and "deactivated: no data on 2 consecutive" in row["last_error"]
    assert "taken off the watchlist" in r.message


def test_split_since_last_run_re_fetches_the_whole_history(db, home):
    symbols.add(db, ["AAPL"], "yahoo")
    yf = FakeYF({"AAPL": yahoo_frame("2023-03-01", "2024-03-07")})
    with at("2024-03-07 22:00Z"):
        collect(db, settings(), source=source(home, yf))
    n = bars.count(db, "AAPL")
    yf.answers["AAPL"] = yahoo_frame("2023-03-01", "2024-03-08", adj=0.49)  # a new adjustment
    with at("2024-03-08 22:00Z"):
        [r] = collect(db, settings(), source=source(home, yf))
    assert "re-adjusted" in r.message and r.added == 1 and r.updated == n
    stored = bars.load(db, "AAPL")
    assert np.allclose(stored["adj_factor"], 0.49)


def test_collect_batches_requests_for_several_symbols(db, home):
    symbols.add(db, ["AAPL", "MSFT", "NOPE"], "yahoo")
    yf = FakeYF(
        {
            "AAPL": yahoo_frame("2023-03-01", "2024-03-08"),
            "MSFT": yahoo_frame("2023-03-01", "2024-03-08", base=300),
            "NOPE": None,
        }
    )
    with at("2024-03-08 22:00Z"):
        results = collect(db, settings(), source=source(home, yf))
    assert [(r.symbol, r.status) for r in results] == [
        ("AAPL", "added"),
        ("MSFT", "added"),
        ("NOPE", "no-data"),
    ]
    assert [c[0] for c in yf.calls] == ["download", "history"]


def test_make_source_yahoo_points_cache_at_home(home):
    from assistant.ingest.collect import make_source

    src = make_source(settings(), "yahoo", home=home)
    assert isinstance(src, YahooSource) and src.home == home
    assert not (home / "yfinance-cache").exists()


def test_an_absurd_row_from_yahoo_is_never_stored(home):
    """The live feed drops what validation refuses (1e308, inf, 1e-300) and keeps the rest."""
    frame = yahoo_frame("2024-01-02", "2024-01-08")
    frame.iloc[1, frame.columns.get_loc("Close")] = 1e308
    frame.iloc[2, frame.columns.get_loc("Volume")] = np.inf
    frame.iloc[3, frame.columns.get_loc("Low")] = 1e-300
    got = source(home, FakeYF({"AAPL": frame})).history(
        "AAPL", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-08")
    )
    assert list(got.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-08"]
    assert np.isfinite(got.to_numpy(dtype=float)).all()


def test_yfinances_own_log_lines_and_prints_stay_out_of_collects_output(home, monkeypatch, capfd):
    """yfinance logs a failed download on its `yfinance` logger (and prints now and then);
    `assistant collect` says per symbol what happened, in its own words, and nothing else."""
    import logging
    import sys

    from assistant.cli import main

    class ChattyYF(FakeYF):  # what yfinance does around a cookie/crumb refresh
        def _chatter(self) -> None:
            logging.getLogger("yfinance").error(
                "Failed to get ticker 'NOPE' reason: Invalid Cookie/crumb, refreshing"
            )
            print("Cookie/crumb: fetched a new crumb")

        def Ticker(self, symbol: str) -> FakeTicker:  # noqa: N802 - yfinance's name
            self._chatter()
            return super().Ticker(symbol)

        def download(self, tickers, **kw):
            self._chatter()
            return super().download(tickers, **kw)

    yf = ChattyYF({"AAPL": yahoo_frame("2023-03-01", "2024-03-08"), "NOPE": None})
    monkeypatch.setitem(sys.modules, "yfinance", yf)
    monkeypatch.setenv("ASSISTANT_COLLECT_SOURCE", "yahoo")
    monkeypatch.setenv("ASSISTANT_COLLECT_HISTORY_YEARS", "1")
    db = symbols_db(home)
    symbols.add(db, ["AAPL", "NOPE"], "yahoo")
    db.close()
    with at("2024-03-08 22:00Z"):
        main(["--home", str(home), "collect"])
    out = capfd.readouterr()
    assert yf.calls, "the fake was not asked"
    assert "AAPL" in out.out and "NOPE" in out.out + out.err
    assert "crumb" not in (out.out + out.err).lower(), out
    assert "Failed to get ticker" not in out.out + out.err


def symbols_db(home):
    from store.db import open_db

    return open_db(home)


def _split_4_for_1(frame: pd.DataFrame, effective: str) -> pd.DataFrame:
    """What Yahoo answers once a 4-for-1 split is effective: every price before it divided
    by 4 (Close and Adj Close are split-adjusted), the volume times 4."""
    out = frame.copy()
    before = out.index < pd.Timestamp(effective, tz=out.index.tz)
    for col in ("Open", "High", "Low", "Close", "Adj Close"):
        out.loc[before, col] = out.loc[before, col] / 4
    out.loc[before, "Volume"] = out.loc[before, "Volume"] * 4
    after = ~before
    for col in ("Open", "High", "Low", "Close", "Adj Close"):  # trading at a quarter
        out.loc[after, col] = out.loc[after, col] / 4
    out.loc[pd.Timestamp(effective, tz=out.index.tz), "Stock Splits"] = 4.0
    return out


def test_a_split_between_a_call_and_its_target_does_not_score_the_split_as_the_move(db, home):
    """A watched stock splits 4-for-1 while a call on it is pending (NVDA 10-for-1 in 2024,
    AAPL 4-for-1 in 2020): collect re-adjusts the stored history, and the call, stated
    from the pre-split close, was scored as a 75% fall: a miss outside both ranges, fed
    to the weights, the calibration and the drift check. The pending call's prices are
    re-scaled with its history, so the call is scored on the move that happened."""
    from assistant.cycle.learn import verify
    from store.predictions import CallRow, insert_many

    symbols.add(db, ["AAPL"], "yahoo")
    before = yahoo_frame("2023-03-01", "2024-03-07", base=400.0, adj=1.0)
    yf = FakeYF({"AAPL": before})
    with at("2024-03-07 22:00Z"):
        collect(db, settings(), source=source(home, yf))
    base = float(bars.load(db, "AAPL")["close"].iloc[-1])
    assert base == before["Close"].iloc[-1]
    with db.conn:
        insert_many(
            db,
            [
                CallRow(
                    "AAPL",
                    "2024-03-07",
                    1,
                    "rules-v1",
                    "2024-03-07T22:05:00Z",
                    "2024-03-08",
                    base,
                    0.5,
                    base * 1.005,
                    base * 0.98,
                    base * 1.02,
                    base * 0.97,
                    base * 1.03,
                    0.01,
                    0.6,
                    0.1,
                    0.3,
                    "up",
                    0.6,
                    "bullish",
                    "{}",
                )
            ],
        )
    # the next session: 4-for-1 effective, the stock up 1 (pre-split) dollar on the day
    yf.answers["AAPL"] = _split_4_for_1(
        yahoo_frame("2023-03-01", "2024-03-08", base=400.0, adj=1.0), "2024-03-08"
    )
    with at("2024-03-08 22:00Z"):
        [r] = collect(db, settings(), source=source(home, yf))
        assert "re-adjusted" in r.message
        assert "1 pending call re-scaled" in r.message
        verify(db, Settings(), as_of=pd.Timestamp("2024-03-08").date())
    row = db.execute(
        "SELECT status, base_price, actual_price, hit, covered80, covered95, error_pct "
        "FROM predictions"
    ).fetchone()
    status, base_now, actual, hit, covered80, covered95, error = row
    assert status == "verified"
    assert base_now == pytest.approx(base / 4)
    assert actual == pytest.approx((base + 1) / 4)
    assert (hit, covered80, covered95) == (1, 1, 1)  # up 0.25%: called up, inside both ranges
    assert abs(error) < 1


def test_a_split_of_a_held_stock_leaves_the_paper_books_money_where_it_was(db, home):
    """The paper account holds a stock that splits 4-for-1: the re-adjusted history marked
    its shares at a quarter of their price, three quarters of the holding lost in every
    book, and the next orders sized from that. The books now hold four times the shares at a
    quarter of the price: the same money."""
    from assistant.paper import step_session
    from store.predictions import CallRow, insert_many

    symbols.add(db, ["AAPL"], "yahoo")
    whole = yahoo_frame("2023-03-01", "2024-03-11", base=400.0, adj=1.0)
    cfg = Settings().replace("collect", source="yahoo", history_years=1)
    cfg = cfg.replace("paper", policy="long", band=0.0)

    def session(day: str, frame: pd.DataFrame) -> str:
        yf = FakeYF({"AAPL": frame[frame.index <= pd.Timestamp(day, tz=frame.index.tz)]})
        with at(f"{day} 22:00Z"):
            [r] = collect(db, cfg, source=source(home, yf))
        base = float(bars.load(db, "AAPL")["close"].iloc[-1])
        target = str(pd.Timestamp(day) + pd.offsets.BDay(1))[:10]
        with db.conn:
            insert_many(
                db,
                [
                    CallRow(
                        "AAPL",
                        day,
                        1,
                        "rules-v1",
                        f"{day}T22:05:00Z",
                        target,
                        base,
                        0.1,
                        base * 1.001,
                        base * 0.98,
                        base * 1.02,
                        base * 0.97,
                        base * 1.03,
                        0.01,
                        0.5,
                        0.1,
                        0.4,
                        "up",
                        0.5,
                        "bullish",
                        "{}",
                    )
                ],
            )
        step_session(db, cfg, as_of=pd.Timestamp(day).date())
        return r.message

    session("2024-03-07", whole)  # decides the first orders
    session("2024-03-08", whole)  # fills them at the open: AAPL held
    said = session("2024-03-11", _split_4_for_1(whole, "2024-03-11"))
    assert "the paper books' AAPL shares re-scaled with it" in said
    equity = dict(
        db.execute("SELECT session, equity FROM paper_days WHERE book = 'paper'").fetchall()
    )
    assert equity["2024-03-11"] / equity["2024-03-08"] == pytest.approx(1.0, abs=0.01)
    held = json.loads(
        db.execute(
            "SELECT account FROM paper_days WHERE book = 'paper' AND session = '2024-03-11'"
        ).fetchone()[0]
    )["positions"]["AAPL"]
    pre_split = float(whole["Close"].iloc[-2])  # ~666 on 2024-03-08
    assert pre_split / 4 * 0.99 < held["entry_price"] < pre_split / 4 * 1.01
