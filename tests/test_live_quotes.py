"""Live quotes (issue 35): polled at [live] poll_minutes while the symbol's exchange is open
and never while it is closed (an injected clock, no sleeps), through YahooSource against a
fake yfinance that answers `Ticker.history(period="1d", interval="1m")` as yfinance 1.7
does (a tz-aware minute frame; YFPricesMissingError for an empty answer once
hide_exceptions is off; YFRateLimitError always raised); read against the day's call (move,
sigmas, 80% / 95% bands), stale after N polls with nothing newer, an alert once per symbol
and session across a restart, the dashboard's Live column, `status --json`, and a replay
that steps through a session's hours."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest
import time_machine
import yfinance.exceptions as yfe
from yfinance.utils import empty_df

from assistant import config
from assistant.alerts import events
from assistant.daemon import replay_clock
from assistant.daemon.loop import Daemon
from assistant.daemon.replay_driver import ReplayDriver, ReplayOptions, ReplayRun
from assistant.ingest.quotes import QuotePoller
from assistant.ingest.sources.intraday import synthetic_hours
from assistant.ingest.sources.yahoo import YahooSource
from store import hourly, quotes
from store import jobs as job_runs
from store import symbols as watch
from store.daemon_state import State
from store.db import immediate, open_db
from tests.cli_fixture import run_cli
from tests.tui_fixture import FIXED_NOW, fill, screen_text, settle, sync, wait_for
from tui.app import make_app
from tui.widgets.watchlist import WatchlistTable
from vocab import live

NY = "America/New_York"


# ---- the fake yfinance: one-minute history of today's session ----


class FakeTicker:
    def __init__(self, yf: FakeYF, symbol: str):
        self.yf, self.symbol = yf, symbol

    def history(self, period=None, interval="1d", **_):
        if (period, interval) != ("1d", "1m"):  # daily bars (a collection): none here
            raise yfe.YFPricesMissingError(self.symbol, "(1d)")
        self.yf.calls.append((self.symbol, self.yf.clock()))
        answer = self.yf.answers.get(self.symbol, "walk")
        if isinstance(answer, yfe.YFRateLimitError):
            raise answer  # raised even when yfinance hides exceptions
        if answer is None:  # nothing for today: empty frame, or raised once not hidden
            if self.yf.config.debug.hide_exceptions:
                return empty_df()
            raise yfe.YFPricesMissingError(self.symbol, "(period=1d)")
        now = pd.Timestamp(self.yf.clock()).tz_convert(NY)
        walk = answer in ("walk", "nan-last")
        last = now.floor("min") if walk else pd.Timestamp(answer).tz_convert(NY)
        minutes = pd.date_range(last - pd.Timedelta(minutes=4), last, freq="min")
        price = self.yf.price.get(self.symbol, 100.0)
        frame = pd.DataFrame(
            {"Open": price, "High": price, "Low": price, "Close": price, "Volume": 1000},
            index=pd.DatetimeIndex(minutes, name="Datetime"),  # yfinance's intraday index
        )
        if answer == "nan-last":  # the minute still forming, without a price yet
            frame.iloc[-1, :4] = float("nan")
        return frame


class FakeYF:
    exceptions = yfe

    def __init__(self, clock, answers=None):
        self.clock, self.answers = clock, answers or {}
        self.calls: list = []
        self.price: dict[str, float] = {}
        self.config = SimpleNamespace(debug=SimpleNamespace(hide_exceptions=True))

    def set_tz_cache_location(self, path: str) -> None:
        pass

    def Ticker(self, symbol: str) -> FakeTicker:  # noqa: N802 - yfinance's name
        return FakeTicker(self, symbol)


class Clock:
    def __init__(self, start: str):
        self.t = pd.Timestamp(start, tz="UTC").to_pydatetime()

    def __call__(self) -> datetime:
        return self.t

    def step(self, minutes: float = 1) -> None:
        self.t += timedelta(minutes=minutes)


def poller_for(db, home, clock, answers=None, **live_settings):
    settings = config.Settings().replace("live", **live_settings) if live_settings else None
    settings = settings or config.Settings()
    yf = FakeYF(clock, answers)
    source = YahooSource(home, yf=yf)
    return QuotePoller(db, settings, lambda: source, clock), yf


def add_call(db, symbol, session, base=100.0, sigma=0.01, as_of="2024-03-04"):
    """A one-session call targeting `session`: 80% and 95% ranges of a N(0, sigma) log move."""
    lo80, hi80 = base * math.exp(-1.2816 * sigma), base * math.exp(1.2816 * sigma)
    lo95, hi95 = base * math.exp(-1.96 * sigma), base * math.exp(1.96 * sigma)
    with db.conn:
        db.execute(
            "INSERT INTO predictions (symbol, as_of, horizon, model_version, made_at, "
            "target_date, base_price, pred_change_pct, pred_price, direction, lower, upper, "
            "lower95, upper95, vol_sigma) VALUES (?, ?, 1, 'rules', ?, ?, ?, 0.0, ?, 'flat', "
            "?, ?, ?, ?, ?)",
            [symbol, as_of, f"{as_of}T21:00:00+00:00", session, base, base, lo80, hi80, lo95,
             hi95, sigma],
        )  # fmt: skip


# ---- the read, on hand-built numbers ----


def test_the_move_in_sigmas_and_the_bands_on_hand_built_numbers():
    r80, r95 = (98.0, 102.0), (97.0, 103.0)
    assert live.band(101.9, r80, r95) == "inside80"
    assert live.band(98.0, r80, r95) == "inside80"  # bounds are inside
    assert live.band(102.5, r80, r95) == "inside95"
    assert live.band(96.99, r80, r95) == "outside95"
    assert live.band(103.01, r80, r95) == "outside95"
    assert live.band(103.01, r80, (None, None)) is None  # no 95% range: unknown
    assert live.move_pct(102.0, 100.0) == pytest.approx(2.0)
    assert live.sigmas(100 * math.exp(0.02), 100.0, 0.01) == pytest.approx(2.0)
    assert live.sigmas(100.0, 100.0, None) is None and live.sigmas(101.0, 100.0, 0.0) is None
    assert live.move_pct(101.0, None) is None


def test_a_quote_as_traded_reads_against_a_call_in_adjusted_prices(db):
    # A 2:1 split since: the stored (adjusted) close of 2024-11-26 is 50, as traded it was
    # 100, and the call made then is in adjusted prices. Quotes (Yahoo's minutes, hourly
    # bars) are as traded: the read is in ratios of the call's base, applied to 100.
    watch.add(db, ["XYZ"], "yahoo")
    with db.conn:
        db.execute(
            "INSERT INTO bars (symbol, date, open, high, low, close, volume, raw_close, "
            "adj_factor, source) VALUES ('XYZ', '2024-11-26', 50, 51, 49, 50, 1, 100, 0.5, 'y')"
        )
    add_call(db, "XYZ", "2024-11-27", base=50.0, sigma=0.01, as_of="2024-11-26")
    at = datetime(2024, 11, 27, 15, 0, tzinfo=UTC)
    with immediate(db):
        quotes.record(
            db, "XYZ", session="2024-11-27", price=101.0, at=at, polled_at=at, source="yahoo",
            closes_at=at + timedelta(hours=6), fresh_for=timedelta(minutes=15), stale_polls=3,
        )  # fmt: skip
    read = quotes.read_all(db, at, {"XYZ": "2024-11-26"})["XYZ"]
    assert read["last_close"] == 100.0 and read["move_pct"] == pytest.approx(1.0)
    assert read["sigmas"] == pytest.approx(math.log(1.01) / 0.01)
    assert read["band"] == "inside80" and read["upper95"] == pytest.approx(101.98, abs=0.01)
    with immediate(db):
        quotes.record(
            db, "XYZ", session="2024-11-27", price=97.0, at=at + timedelta(minutes=5),
            polled_at=at + timedelta(minutes=5), source="yahoo", closes_at=at + timedelta(hours=6),
            fresh_for=timedelta(minutes=15), stale_polls=3,
        )  # fmt: skip
    assert quotes.get(db, "XYZ")["left95_price"] == 97.0  # below 98.06 as traded


# ---- polling: pace, closed-exchange silence ----


def test_polls_at_its_pace_only_while_the_exchange_is_open(db, home):
    # Wednesday 2024-11-27 a full session (14:30-21:00 UTC); Thursday Thanksgiving, closed;
    # Friday an early close at 13:00 New York (18:00 UTC); Saturday morning (Tokyo's hours)
    # nothing. 7203.T trades
    # in Tokyo, 00:00-06:30 UTC (15:30 local since November 2024) with a lunch break
    # 02:30-03:30, on its own calendar.
    watch.add(db, ["AAPL", "7203.T"], "yahoo")
    clock = Clock("2024-11-27 13:00")
    poller, yf = poller_for(db, home, clock)
    while clock() < pd.Timestamp("2024-11-30 07:00", tz="UTC"):  # Saturday in Tokyo too
        poller.run_due()
        clock.step(1)
    asked = [t for sym, t in yf.calls if sym == "AAPL"]
    tokyo = [t for sym, t in yf.calls if sym == "7203.T"]
    assert {t.date().isoformat() for t in tokyo} == {"2024-11-28", "2024-11-29"}
    hhmm = [t.strftime("%H:%M") for t in tokyo]
    assert all(h < "06:30" and not ("02:30" <= h < "03:30") for h in hhmm)
    assert len(tokyo) == 2 * (30 + 36)  # 00:00-02:25 and 03:30-06:25, every 5 minutes
    days = {}
    for t in asked:
        days.setdefault(t.date().isoformat(), []).append(t)
    assert set(days) == {"2024-11-27", "2024-11-29"}  # nothing on Thanksgiving
    wed, fri = days["2024-11-27"], days["2024-11-29"]
    assert wed[0].strftime("%H:%M") == "14:30" and wed[-1].strftime("%H:%M") == "20:55"
    assert fri[0].strftime("%H:%M") == "14:30" and fri[-1].strftime("%H:%M") == "17:55"
    assert len(wed) == 78 and len(fri) == 42  # one poll every 5 minutes, none after the close
    assert all(b - a == timedelta(minutes=5) for a, b in zip(wed, wed[1:], strict=False))
    row = quotes.get(db, "AAPL")
    assert row is not None and row["session"] == "2024-11-29"
    assert row["at"] == "2024-11-29T17:55:00+00:00" and row["stale"] == 0


def test_a_pace_of_zero_polls_nothing_and_the_pace_is_configurable(db, home):
    watch.add(db, ["AAPL"], "yahoo")
    clock = Clock("2024-11-27 15:00")
    off, yf_off = poller_for(db, home, clock, poll_minutes=0)
    fast, yf_fast = poller_for(db, home, clock, poll_minutes=15)
    for _ in range(60):
        off.run_due()
        fast.run_due()
        clock.step(1)
    assert yf_off.calls == []
    assert [t.strftime("%H:%M") for _, t in yf_fast.calls] == ["15:00", "15:15", "15:30", "15:45"]


@pytest.mark.slow  # a whole daemon start (its catch-up slot, a rules training): ~7 s
def test_the_live_daemon_polls_between_its_slots_on_its_own_clock(home, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MODELS_KINDS", "rules")
    settings = config.load(home).replace("collect", source="yahoo")
    db = open_db(home)
    watch.add(db, ["AAPL"], "yahoo")
    db.close()
    clock = Clock("2024-11-27 14:20")
    yf = FakeYF(clock)
    daemon = Daemon(home, settings, source=YahooSource(home, yf=yf), now=clock, log_to_stderr=False)

    def sleep(_: float) -> None:  # the loop idles: a minute passes on the daemon's clock
        clock.step(1)
        if clock() >= datetime(2024, 11, 27, 15, 0, tzinfo=UTC):
            daemon.stop.set()

    daemon.sleep = sleep
    daemon.run()
    daemon.worker.join(30)
    asked = [t.strftime("%H:%M") for _, t in yf.calls]
    assert asked == ["14:30", "14:35", "14:40", "14:45", "14:50", "14:55"]
    db = open_db(home)
    try:
        assert quotes.get(db, "AAPL")["at"] == "2024-11-27T14:55:00+00:00"
    finally:
        db.close()


# ---- staleness ----


def test_a_quote_with_nothing_newer_for_n_polls_is_stale_with_its_age(db, home):
    watch.add(db, ["AAPL"], "yahoo")
    clock = Clock("2024-11-27 15:00")
    poller, yf = poller_for(db, home, clock, stale_polls=3)
    poller.run_due()
    yf.answers["AAPL"] = "2024-11-27 15:00"  # the same last minute from now on
    ref = lambda: clock().astimezone(UTC)  # noqa: E731
    states = []
    for _ in range(3):
        clock.step(5)
        poller.run_due()
        row = quotes.get(db, "AAPL")
        states.append(quotes.state_at(row, ref()))
    assert states == ["live", "live", "stale"]
    read = quotes.live_read(quotes.get(db, "AAPL"), quotes.day_range(db, "AAPL", "x"), ref())
    assert read["state"] == "stale" and read["misses"] == 3 and read["age_s"] == 15 * 60
    yf.answers["AAPL"] = "walk"  # a newer quote: live again
    clock.step(5)
    poller.run_due()
    assert quotes.state_at(quotes.get(db, "AAPL"), ref()) == "live"
    # no poll at all (a stopped daemon): stale once stale_polls polls' time has passed
    later = ref() + timedelta(minutes=16)
    assert quotes.state_at(quotes.get(db, "AAPL"), later) == "stale"


def test_an_empty_answer_and_a_rate_limit_are_misses_and_nothing_more_is_asked(db, home):
    watch.add(db, ["AAPL", "MSFT"], "yahoo")
    clock = Clock("2024-11-27 15:00")
    poller, yf = poller_for(db, home, clock, stale_polls=2)
    poller.run_due()  # both quoted
    yf.answers["AAPL"] = None  # empty answer: YFPricesMissingError
    clock.step(5)
    poller.run_due()
    assert quotes.get(db, "AAPL")["misses"] == 1
    assert "no data" in quotes.get(db, "AAPL")["last_error"]
    yf.answers["AAPL"] = yfe.YFRateLimitError()
    clock.step(5)
    before = len(yf.calls)
    result = poller.run_due()
    assert result is not None and result.rate_limited and result.asked == ["AAPL"]
    assert len(yf.calls) == before + 1  # MSFT was not asked after the 429
    assert quotes.get(db, "MSFT")["misses"] == 1 and quotes.get(db, "AAPL")["stale"] == 1
    clock.step(5)
    poller.run_due()  # Yahoo is not asked again for a while (the source's pause)
    assert len(yf.calls) == before + 1
    assert quotes.get(db, "MSFT")["stale"] == 1


def test_yesterdays_last_minute_is_no_quote_and_a_minute_without_a_price_is_skipped(db, home):
    watch.add(db, ["AAPL"], "yahoo")
    clock = Clock("2024-11-27 14:30")  # the open: Yahoo's 1d range may still be yesterday's
    poller, yf = poller_for(db, home, clock)
    yf.answers["AAPL"] = "2024-11-26 20:59"
    poller.run_due()
    assert quotes.get(db, "AAPL") is None  # nothing traded this session yet: nothing stored
    yf.answers["AAPL"] = "nan-last"
    clock.step(5)
    poller.run_due()
    assert quotes.get(db, "AAPL")["at"] == "2024-11-27T14:34:00+00:00"  # the minute before


# ---- the alert: once per symbol and session, across a restart ----


def test_leaving_the_95_range_alerts_once_per_symbol_and_session_across_a_restart(home):
    cfg = config.Settings().alerts
    db = open_db(home)
    watch.add(db, ["AAPL"], "yahoo")
    add_call(db, "AAPL", "2024-11-27", base=100.0, sigma=0.01)  # 95%: 98.06 .. 101.98
    add_call(db, "AAPL", "2024-11-29", base=100.0, sigma=0.01, as_of="2024-11-27")
    clock = Clock("2024-11-27 15:00")
    poller, yf = poller_for(db, home, clock)
    yf.price["AAPL"] = 101.0  # inside
    poller.run_due()
    events.scan(db, cfg)  # a first scan sets the other sources' marks
    assert events.scan(db, cfg) == 0
    yf.price["AAPL"] = 102.5  # out
    clock.step(5)
    poller.run_due()
    assert events.scan(db, cfg) == 1
    clock.step(5)
    poller.run_due()  # still out
    yf.price["AAPL"] = 101.0
    clock.step(5)
    poller.run_due()  # back in: the dashboard says it left the range earlier
    assert quotes.get(db, "AAPL")["left95_at"] == "2024-11-27T15:05:00+00:00"
    assert events.scan(db, cfg) == 0
    db.close()
    db = open_db(home)  # the daemon restarts
    poller, yf = poller_for(db, home, clock)
    yf.price["AAPL"] = 97.0  # out again, below
    clock.step(5)
    poller.run_due()
    assert events.scan(db, cfg) == 0  # once per symbol and session
    clock.t = datetime(2024, 11, 29, 15, 0, tzinfo=UTC)  # the next session
    poller.run_due()
    assert events.scan(db, cfg) == 1
    off = config.Settings().replace("alerts", live_range=False).alerts
    add_call(db, "AAPL", "2024-12-02", base=100.0, sigma=0.01, as_of="2024-11-29")
    clock.t = datetime(2024, 12, 2, 15, 0, tzinfo=UTC)  # Monday, out again: switched off
    poller.run_due()
    assert quotes.get(db, "AAPL")["left95_price"] == 97.0
    assert events.scan(db, off) == 0
    rows = db.execute("SELECT key, title, body FROM alerts ORDER BY id").fetchall()
    db.close()
    assert [r[0] for r in rows] == ["live95:AAPL:2024-11-27", "live95:AAPL:2024-11-29"]
    assert rows[0][1] == "AAPL left today's 95% range"
    assert "traded 102.50" in rows[0][2] and "above 98.06 .. 101.98" in rows[0][2]


# ---- the dashboard and `status` ----


def _quote(db, symbol, price, session="2018-07-02", at="2018-07-02T15:00:00+00:00", **over):
    row = {
        "symbol": symbol, "session": session, "price": price, "at": at, "polled_at": at,
        "updated_at": at, "source": "yahoo", "misses": 0, "stale": 0,
        "fresh_until": "2018-07-02T15:15:00+00:00", "closes_at": "2018-07-02T20:00:00+00:00",
        "low": price, "high": price, "left95_at": None, "left95_price": None,
        "last_error": None,
    }  # fmt: skip
    row.update(over)
    with db.conn:
        db["quotes"].insert(row, replace=True)


@sync
async def test_the_dashboard_shows_the_live_column_only_with_quotes_and_says_stale(home, db):
    fill(db)  # replay at 2018-06-29: the calls made then target 2018-07-02
    with db.conn:
        db.execute("UPDATE predictions SET vol_sigma = 0.01 WHERE horizon = 1")
    base = {
        s: db.execute(
            "SELECT base_price FROM predictions WHERE symbol = ? AND horizon = 1 "
            "AND target_date = '2018-07-02'",
            [s],
        ).fetchone()[0]
        for s in ("AAPL", "^GSPC", "^IXIC")
    }
    app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "Live" not in screen_text(pilot.app)  # no quote: no column, no hint
        assert "more columns" in screen_text(pilot.app)
        _quote(db, "AAPL", round(base["AAPL"] * 1.01, 2))  # +1%: inside 80% (+-2%)
        _quote(db, "^GSPC", round(base["^GSPC"] * 1.04, 2))  # +4%: outside 95% (+-3%)
        _quote(db, "^IXIC", base["^IXIC"], stale=1, misses=3, at="2018-07-02T14:40:00+00:00")
        assert await wait_for(pilot, lambda: "OUT 95%" in screen_text(pilot.app))
        await settle(pilot)
        text = screen_text(pilot.app)
        table = pilot.app.screen.query_one(WatchlistTable)
        shown = [c.label.plain for c in table.ordered_columns]
    assert shown[:5] == ["Symbol", "Close", "Chg", "Live", "Today"]
    line = {s: next(t for t in text.splitlines() if f" {s} " in t and "UTC" not in t) for s in base}
    assert "+1.00% +1.0σ" in line["AAPL"] and "in 80%" in line["AAPL"]
    assert "+4.00% +3.9σ" in line["^GSPC"] and "OUT 95%" in line["^GSPC"]
    assert "stale 20m" in line["^IXIC"] and "+0.00%" not in line["^IXIC"]
    assert "Live 2018-07-02 15:00 UTC · STALE ^IXIC · OUT 95% ^GSPC" in text
    assert all(len(t) <= 120 for t in text.splitlines())


@sync
async def test_the_symbol_screen_says_the_live_read_in_full(home, db):
    fill(db)
    with db.conn:
        db.execute("UPDATE predictions SET vol_sigma = 0.01 WHERE horizon = 1")
    (base,) = db.execute(
        "SELECT base_price FROM predictions WHERE symbol = 'AAPL' AND horizon = 1 "
        "AND target_date = '2018-07-02'"
    ).fetchone()
    _quote(db, "AAPL", round(base * 0.975, 2))  # -2.5%: outside 80% (+-2%), inside 95% (+-3%)
    async with make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05).run_test(
        size=(120, 40)
    ) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the first row: AAPL
        assert await wait_for(pilot, lambda: "live -2.50%" in screen_text(pilot.app))
        text = screen_text(pilot.app)
    assert f"live -2.50% -2.5σ in 95% ({round(base * 0.975, 2):,.2f} at 15:00 UTC)" in text


@sync
async def test_the_live_column_fits_a_narrow_dashboard(home, db):
    fill(db)
    _quote(db, "AAPL", 150.0)
    async with make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05).run_test(
        size=(80, 30)
    ) as pilot:
        await settle(pilot)
        shown = [c.label.plain for c in pilot.app.screen.query_one(WatchlistTable).ordered_columns]
        text = screen_text(pilot.app)
    assert "Live" in shown and "Symbol" in shown
    header = next(t for t in text.splitlines() if " Symbol " in t)
    assert all(name in header for name in shown)


def test_status_json_carries_the_live_fields(home, db):
    watch.add(db, ["AAPL"], "yahoo")
    add_call(db, "AAPL", "2024-11-27", base=100.0, sigma=0.01)
    _quote(
        db, "AAPL", 101.5, session="2024-11-27", at="2024-11-27T15:00:00+00:00",
        fresh_until="2024-11-27T15:15:00+00:00", closes_at="2024-11-27T21:00:00+00:00",
    )  # fmt: skip
    with time_machine.travel(datetime(2024, 11, 27, 15, 3, tzinfo=UTC), tick=False):
        r = run_cli(home, "status", "--json")
        text = run_cli(home, "status")
    assert r.returncode == 0, r.stderr
    (q,) = json.loads(r.stdout)["live"]
    assert q["symbol"] == "AAPL" and q["state"] == "live" and q["age_s"] == 180
    assert q["move_pct"] == pytest.approx(1.5) and q["sigmas"] == pytest.approx(1.489, abs=1e-3)
    assert q["band"] == "inside95" and q["inside80"] is False and q["inside95"] is True
    assert q["lower95"] == pytest.approx(98.06, abs=0.01) and q["left95"] is False
    assert "live: AAPL 101.50 +1.50% since the last close (+1.5 sigma); inside today's 95%" in (
        text.stdout
    )
    with time_machine.travel(datetime(2024, 11, 27, 15, 20, tzinfo=UTC), tick=False):
        r = run_cli(home, "status", "--json")
        text = run_cli(home, "status")
    (q,) = json.loads(r.stdout)["live"]
    assert q["state"] == "stale" and q["age_s"] == 20 * 60  # no poll came: the daemon is down
    assert "live: AAPL 101.50 STALE: 20m old" in text.stdout


# ---- a replay steps through a session's hours ----


class Host:
    def __init__(self, db, settings):
        self.db, self.settings = db, settings
        self.stop = SimpleNamespace(is_set=lambda: False)
        self.worker = SimpleNamespace(busy=False)
        self.state = State.RUNNING
        self.t = 0.0

    def clock(self) -> float:
        return self.t

    def set_state(self, state, sim_date=None) -> None:
        self.state = state


def test_a_replay_quotes_each_hour_of_a_session_before_its_cycle(db):
    watch.add(db, ["AAA"], "sample")
    days = pd.DatetimeIndex(["2024-03-05", "2024-03-06"])
    daily = pd.DataFrame(
        {"open": [100.0, 101.0], "high": [102.0, 103.0], "low": [99.0, 100.0],
         "close": [101.0, 102.5], "volume": [7e5, 7e5]},
        index=days,
    )  # fmt: skip
    bars = synthetic_hours(daily, "XNYS", seed=3)
    with db.conn:
        hourly.upsert(db, "AAA", bars, "synthetic")
    add_call(db, "AAA", "2024-03-06", base=101.0, sigma=0.01, as_of="2024-03-05")
    host = Host(db, config.Settings())
    driver = ReplayDriver(host, ReplayOptions(speed=0), "XNYS")
    clock = replay_clock.ReplayClock("XNYS", date(2024, 3, 5), date(2024, 3, 6))
    driver.run = ReplayRun(clock, job_runs.start(db, "replay"), lambda f, m: None)
    seen: list[str] = []
    driver._reveal = lambda c, sim: seen.append(f"reveal {sim}") or True  # type: ignore[method-assign]
    driver._step = lambda c, sim: seen.append(f"step {sim}") or True  # type: ignore[method-assign]
    quoted: list[tuple[str, str, float]] = []
    while clock.current is not None:
        driver.run_due()  # speed 0: one hour, or one session step, a pass
        row = quotes.get(db, "AAA")
        if row is not None and (not quoted or quoted[-1][1] != row["at"]):
            quoted.append((row["session"], row["at"], row["price"]))
            seen.append(f"quote {row['session']}")
    assert seen == [
        "reveal 2024-03-05", *["quote 2024-03-05"] * 7, "step 2024-03-05",
        "reveal 2024-03-06", *["quote 2024-03-06"] * 7, "step 2024-03-06",
    ]  # fmt: skip
    day6 = bars[bars["session"] == "2024-03-06"]
    assert [p for d, _, p in quoted if d == "2024-03-06"] == pytest.approx(day6["close"].tolist())
    # the last hour is the session's close: read as closed, against the day's call
    row = quotes.get(db, "AAA")
    assert row["at"] == "2024-03-06T21:00:00+00:00" and row["price"] == pytest.approx(102.5)
    ref = quotes.reference_time(db, True, datetime.now(UTC))
    read = quotes.live_read(row, quotes.day_range(db, "AAA", "2024-03-06"), ref)
    assert read["state"] == "closed" and read["move_pct"] == pytest.approx(102.5 / 101 * 100 - 100)


@pytest.mark.slow  # a real replay daemon process
def test_a_replay_daemon_moves_the_live_read_through_each_session(tmp_path):
    from tests.daemon_fixture import query, spawn, wait_for
    from tests.test_daemon_replay import STOCKS, _import_csvs

    home = tmp_path / "home"
    _import_csvs(home, tmp_path)
    db = open_db(home)
    try:
        for i, sym in enumerate(STOCKS):
            daily = db.execute(
                "SELECT date, open, high, low, close, volume FROM bars WHERE symbol = ? "
                "AND date >= '2019-05-01' ORDER BY date",
                [sym],
            ).fetchall()
            frame = pd.DataFrame(
                [r[1:] for r in daily],
                index=pd.DatetimeIndex([r[0] for r in daily]),
                columns=["open", "high", "low", "close", "volume"],
            )
            with db.conn:
                hourly.upsert(db, sym, synthetic_hours(frame, "XNYS", seed=i), "synthetic")
    finally:
        db.close()
    last = query(home, "SELECT MAX(date) FROM bars")[0][0]
    daemon = spawn(home, "daemon", "--replay", "--from", "2019-05-01", "--speed", "0")
    wait_for(
        lambda: query(home, "SELECT 1 FROM daemon WHERE state = 'finished'"),
        180,
        "the replay to finish",
        daemon,
    )
    daemon.terminate()
    assert daemon.wait(30) == 0
    rows = query(home, "SELECT symbol, session, at, source FROM quotes ORDER BY symbol")
    close = calendar_close(last)
    assert rows == [(s, last, close, "replay") for s in sorted(STOCKS)]
    r = run_cli(home, "status", "--json")
    assert r.returncode == 0, r.stderr
    reads = json.loads(r.stdout)["live"]
    assert [q["symbol"] for q in reads] == sorted(STOCKS)
    for q in reads:  # the last session's close, read against the call made the session before
        assert q["state"] == "closed" and q["call_as_of"] is not None and q["call_as_of"] < last
        assert q["band"] in live.BANDS and q["sigmas"] is not None
        bar = query(
            home, "SELECT close FROM bars WHERE symbol = ? AND date = ?", (q["symbol"], last)
        )
        assert q["price"] == pytest.approx(bar[0][0])


def calendar_close(day: str) -> str:
    from assistant import calendar

    return calendar.session_close("XNYS", day).isoformat()


def test_status_in_a_replay_reads_on_the_replays_clock_whatever_later_bars_are_stored(home, db):
    watch.add(db, ["AAPL"], "sample")
    with db.conn:  # imported history runs past the replay's clock (it replays stored bars)
        for day in ("2024-11-26", "2024-11-27", "2024-11-29"):
            db.execute(
                "INSERT INTO bars (symbol, date, open, high, low, close, volume, raw_close, "
                "source) VALUES ('AAPL', ?, 100, 101, 99, 100, 1000, 100, 'csv')",
                [day],
            )
        db.execute(
            "INSERT OR REPLACE INTO daemon (id, pid, started_at, heartbeat_at, mode, sim_date, "
            "version) VALUES (1, 1, '2024-11-01T00:00:00+00:00', '2024-11-01T00:00:00+00:00', "
            "'replay', '2024-11-26', '0')"
        )
    add_call(db, "AAPL", "2024-11-27", base=100.0, sigma=0.01, as_of="2024-11-26")
    _quote(
        db, "AAPL", 99.0, session="2024-11-27", at="2024-11-27T16:30:00+00:00",
        fresh_until="2024-11-27T19:30:00+00:00", closes_at="2024-11-27T21:00:00+00:00",
    )  # fmt: skip
    r = run_cli(home, "status", "--json")  # the wall clock is years later: the replay's counts
    (q,) = json.loads(r.stdout)["live"]
    assert q["state"] == "live" and q["age_s"] == 0 and q["band"] == "inside80"
    assert q["move_pct"] == pytest.approx(-1.0) and q["call_as_of"] == "2024-11-26"
