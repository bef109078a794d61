"""Hour-ahead calls: targets counted in session hours, no look-ahead, ranges that know the hour
of the session, written and verified through their own ledger with the daily scoring, in the
report, and on the daemon's hourly slots."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from assistant import calendar
from assistant.cycle import hourly
from assistant.daemon import scheduler
from assistant.ingest.sources.intraday import synthetic_hours
from assistant.ingest.sources.synthetic import synthetic_bars
from models import intraday, outcomes
from store import hourly as hourly_bars
from store import hourly_calls
from store.db import immediate, open_db
from tests.cli_fixture import run_cli
from tests.cycle_fixture import make_home

NY = ZoneInfo("America/New_York")


def ny(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="America/New_York")


@pytest.mark.parametrize(
    ("bar", "h", "target"),
    [
        # the call made at 15:30 (the close of the 14:30 bar) of a 7-bar day, h=3: the
        # 15:30-16:00 bar, then the next session's first and second bars
        ("2024-11-26 14:30", 3, "2024-11-27 10:30"),
        ("2024-11-26 14:30", 1, "2024-11-26 15:30"),
        # Thanksgiving (Thursday 2024-11-28) is no session: Wednesday's last bar, h=1, is
        # Friday's first
        ("2024-11-27 15:30", 1, "2024-11-29 09:30"),
        # Friday 2024-11-29 closes at 13:00 (4 bars, the last half an hour): after its 11:30
        # bar, h=3 is the 12:30 bar, then Monday's first and second
        ("2024-11-29 11:30", 3, "2024-12-02 10:30"),
        # a weekend is no hours either; a full session is 7 of them
        ("2024-03-08 09:30", 7, "2024-03-11 09:30"),
    ],
)
def test_hour_targets_count_session_hours_only(bar, h, target):
    got = calendar.add_hours("XNYS", ny(bar), h)
    assert got == ny(target)
    assert got.tz is not None


def test_an_early_close_has_fewer_bars_and_a_short_last_one():
    grid = calendar.bar_grid("XNYS", "2024-11-29", "2024-11-29")
    assert grid["slot"].tolist() == [0, 1, 2, 3]
    assert grid["close"].iloc[-1] == ny("2024-11-29 13:00")
    assert len(calendar.bar_grid("XNYS", "2024-11-28", "2024-11-28")) == 0  # Thanksgiving


def _hours(n_days: int = 260, seed: int = 1, start: str = "2023-01-02") -> pd.DataFrame:
    return synthetic_hours(synthetic_bars(n_days, seed=seed, start=start), "XNYS", seed=seed)


def _grid(bars: pd.DataFrame) -> pd.DataFrame:
    first, last = bars["session"].iloc[0], bars["session"].iloc[-1]
    return calendar.bar_grid("XNYS", first, last + pd.Timedelta(days=14))


FORECAST = ["mu", "sigma", "band", "p_down", "p_flat", "p_up", "call", "majority", "last_move"]


def test_a_forecast_is_the_same_when_the_data_are_cut_at_its_bar():
    bars = _hours(120)
    grid = _grid(bars)
    full = intraday.forecasts(bars, grid, 3)
    for t in (501, len(bars) - 40):
        cut = intraday.forecasts(bars.iloc[: t + 1], grid, 3)
        # the cycle's shortcut for its one call gives the same multipliers
        last = intraday.forecasts(bars.iloc[: t + 1], grid, 3, last_only=True).iloc[-1]
        assert last[["q80", "q95"]].tolist() == cut.iloc[t][["q80", "q95"]].tolist()
        pd.testing.assert_series_equal(
            full.iloc[t][FORECAST], cut.iloc[t][FORECAST], check_names=False
        )
        # the ranges' multipliers use only outcomes whose target bar had closed by the call
        assert full.iloc[t][["q80", "q95"]].tolist() == cut.iloc[t][["q80", "q95"]].tolist()
        assert np.isnan(cut["realized"].iloc[t])  # its own outcome lies after the cut
    # and the test can fail: a later bar changed moves the level of the call after it only
    shaken = bars.copy()
    shaken.iloc[450, shaken.columns.get_loc("close")] *= 1.05
    moved = intraday.forecasts(shaken, grid, 3)
    assert moved["sigma"].iloc[449] == full["sigma"].iloc[449]
    assert moved["sigma"].iloc[450] != full["sigma"].iloc[450]


def _coverage_by_slot(f: pd.DataFrame) -> pd.Series:
    b = intraday.bounds(f)
    r = f["realized"].to_numpy(float)
    ok = np.isfinite(r) & np.isfinite(b["lower"])
    inside = (r >= b["lower"]) & (r <= b["upper"])
    return pd.Series(inside[ok]).groupby(f["target_slot"].to_numpy()[ok]).mean()


def test_the_ranges_follow_the_hour_of_the_session():
    bars = _hours(260)
    grid = _grid(bars)
    shaped = intraday.forecasts(bars, grid, 1)
    flat = intraday.forecasts(bars, grid, 1, flat=True, by_slot=False)  # one variance, one pool
    late = shaped.index >= shaped.index[1000]  # once the profile and the pool are known
    # a call into the first hour (it holds the overnight gap) is wider than one into midday
    first = shaped[late & (shaped["target_slot"] == 0)]["sigma"].median()
    midday = shaped[late & (shaped["target_slot"] == 3)]["sigma"].median()
    assert first > 1.5 * midday
    flat_first = flat[late & (flat["target_slot"] == 0)]["sigma"].median()
    flat_mid = flat[late & (flat["target_slot"] == 3)]["sigma"].median()
    assert flat_first < 1.2 * flat_mid  # one variance for every hour
    with_profile, without = _coverage_by_slot(shaped[late]), _coverage_by_slot(flat[late])
    assert 0.70 <= with_profile[0] <= 0.90  # the 80% range holds in the first hour
    assert without[0] < 0.65  # the flat one misses there
    assert without[3] > 0.83  # and is too wide at midday


def _home(home, n_days: int = 130, start: str = "2024-06-03"):
    daily = synthetic_bars(n_days, seed=3, start=start)
    db, settings = make_home(home, {"AAA": daily})
    settings = dataclasses.replace(
        settings, cycle=dataclasses.replace(settings.cycle, hourly_horizons=(1, 3, 5))
    )
    with immediate(db):
        hourly_bars.upsert(db, "AAA", synthetic_hours(daily, "XNYS", seed=3), "synthetic")
    return db, settings


def test_the_cycle_writes_hourly_calls_once_and_verifies_them(home):
    db, settings = _home(home)
    # 15:35 on Wednesday 2024-11-27: the 14:30 bar closed at 15:30, the 15:30 one has not
    calls = hourly.run_hourly(db, settings, at="2024-11-27 15:35-05:00")
    assert [(c.as_of, c.horizon, c.target) for c in calls] == [
        ("2024-11-27T14:30:00-05:00", 1, "2024-11-27T15:30:00-05:00"),
        ("2024-11-27T14:30:00-05:00", 3, "2024-11-29T10:30:00-05:00"),
        ("2024-11-27T14:30:00-05:00", 5, "2024-11-29T12:30:00-05:00"),
    ]
    stored = hourly_bars.load(db, "AAA", "America/New_York")
    base = float(stored.loc[ny("2024-11-27 14:30"), "close"])
    assert all(c.base_price == base and c.new for c in calls)
    assert all(c.lower95 < c.lower < c.upper < c.upper95 for c in calls)
    again = hourly.run_hourly(db, settings, at="2024-11-27 15:40-05:00")
    assert [c.new for c in again] == [False] * 3 and len(hourly_calls.listing(db)) == 3
    # Friday 11:00: the 1-hour and 3-hour targets have closed; the 5-hour one (12:30) not
    report = hourly.verify_hourly(db, settings, at="2024-11-29 11:31-05:00")
    assert (report.verified, report.pending, report.expired) == (2, 1, 0)
    rows = {r["horizon"]: r for r in hourly_calls.listing(db)}
    assert rows[5]["status"] == "pending"
    for h in (1, 3):
        r = rows[h]
        actual = float(stored.loc[pd.Timestamp(r["target"]), "close"])
        realized = np.log(actual / base)
        assert r["status"] == "verified" and r["actual_price"] == actual
        want = outcomes.hit(np.array([r["direction"]], dtype=object), np.array([realized]))[0]
        assert (r["hit"] is None) if np.isnan(want) else r["hit"] == want
        assert r["up_hit"] == int(realized > 0)
        assert r["covered80"] == int(r["lower"] <= actual <= r["upper"])
    assert hourly.verify_hourly(db, settings, at="2024-11-29 11:31-05:00").verified == 0
    assert hourly.verify_hourly(db, settings, at="2024-12-02 09:00-05:00").verified == 1


def test_a_missing_target_bar_stays_pending_then_expires(home):
    db, settings = _home(home)
    hourly.run_hourly(db, settings, ["AAA"], at="2024-11-27 15:35-05:00")
    db.execute("DELETE FROM hourly_bars WHERE ts = '2024-11-27T15:30:00-05:00'")
    assert hourly.verify_hourly(db, settings, at="2024-11-29 10:00-05:00").pending == 3
    report = hourly.verify_hourly(db, settings, at="2024-12-10 10:00-05:00")
    assert (report.expired, report.verified) == (1, 2)  # expired, never a miss
    assert {r["status"] for r in hourly_calls.listing(db) if r["horizon"] == 1} == {"expired"}


def test_no_call_from_a_bar_that_is_not_stored(home):
    db, settings = _home(home)
    # the hourly bars end on 2024-12-06 (the daily ones do): a call at 11:00 on 2024-12-09
    # would be made from the 09:30 bar of that day, which is not stored
    assert hourly.run_hourly(db, settings, at="2024-12-09 11:00-05:00") == []
    off = dataclasses.replace(
        settings, cycle=dataclasses.replace(settings.cycle, hourly_horizons=())
    )
    assert hourly.run_hourly(db, off, at="2024-11-27 15:35-05:00") == []  # off by default


def test_report_json_shows_coverage_per_hour_of_the_session(home):
    db, settings = _home(home)
    # from the last bar of Wednesday to the 14:30 bar of Thursday: h=1 targets every hour
    for t in ["2024-11-20 16:05", *pd.date_range("2024-11-21 10:35", periods=6, freq="h")]:
        hourly.run_hourly(db, settings, at=pd.Timestamp(t, tz="America/New_York"))
    hourly.verify_hourly(db, settings, at="2024-12-06 17:00-05:00")
    db.close()
    ran = run_cli(home, "report", "--json")
    assert ran.returncode == 0, ran.stderr
    record = json.loads(ran.stdout)["hourly"]
    assert record["counts"] == {"verified": 21, "pending": 0, "expired": 0}
    by_h = {hz["horizon"]: hz for hz in record["horizons"]}
    assert sorted(by_h) == [1, 3, 5]
    slots = {s["slot"]: s for s in by_h[1]["by_slot"]}
    assert sorted(slots) == list(range(7))
    assert all(s["range80"]["n"] and s["range95"]["n"] for s in slots.values())
    assert sum(s["range80"]["n"] for s in slots.values()) == by_h[1]["range80"]["n"]
    g = {(r["symbol"], r["horizon"]): r for r in record["groups"]}[("AAA", 1)]
    assert {"always_up", "majority", "last_move", "zero_change"} <= set(g["baselines"])
    assert g["verdict"] in ("edge", "no edge", "too few calls to tell") and "n" in g
    text = run_cli(home, "report")
    assert text.returncode == 0 and "by hour of the target bar" in text.stdout


def test_a_home_without_hourly_calls_reports_as_before(home):
    db, _ = _home(home)
    db.close()
    assert "hourly" not in json.loads(run_cli(home, "report", "--json").stdout)


def test_bad_hourly_horizons_are_one_error_line(home):
    home.mkdir(parents=True)
    (home / "config.toml").write_text("[cycle]\nhourly_horizons = [0, 3]\n")
    ran = run_cli(home, "report")
    assert ran.returncode != 0
    assert ran.stderr.strip().count("\n") == 0 and "hourly_horizons" in ran.stderr
    assert "Traceback" not in ran.stderr
    env = run_cli(home, "report", env={"ASSISTANT_CYCLE_HOURLY_HORIZONS": "1,3,5"})
    assert env.returncode == 0, env.stderr  # the environment overrides the file's value


def _schedule(hourly_horizons=(1, 3, 5)):
    from assistant import config

    settings = config.Settings()
    settings = dataclasses.replace(
        settings, cycle=dataclasses.replace(settings.cycle, hourly_horizons=hourly_horizons)
    )
    return scheduler.LiveSchedule(settings, lambda name, slot: None, lambda: NOW[0])


NOW = [datetime(2024, 11, 29, 9, 0, tzinfo=NY)]


def test_the_hourly_slot_fires_after_each_bar_closes_early_close_included():
    NOW[0] = datetime(2024, 11, 29, 9, 0, tzinfo=NY)
    live = _schedule()
    due = live.due(datetime(2024, 12, 2, 11, 0, tzinfo=NY))
    hours = [s.isoformat() for name, s in due if name == "hourly"]
    assert hours == [
        "2024-11-29T10:35:00-05:00",
        "2024-11-29T11:35:00-05:00",
        "2024-11-29T12:35:00-05:00",
        "2024-11-29T13:05:00-05:00",  # the early close's half-hour bar
        "2024-12-02T10:35:00-05:00",  # nothing over the weekend
    ]
    NOW[0] = datetime(2024, 11, 29, 9, 0, tzinfo=NY)
    off = _schedule(())
    assert {n for n, _ in off.due(datetime(2024, 12, 2, 11, 0, tzinfo=NY))} == {"daily", "drift"}


def test_missed_hourly_slots_are_caught_up_with_a_bound():
    NOW[0] = datetime(2024, 12, 6, 12, 0, tzinfo=NY)
    live = _schedule()
    ran = {"2024-12-02T11:35-05:00"}  # the last hourly run: Monday late morning
    missed = live.missed(NOW[0], lambda name, key: key in ran, lambda name: True)
    hours = [scheduler.slot_key(s) for name, s in missed if name == "hourly"]
    assert len(hours) == scheduler.MAX_HOURLY_CATCH_UP  # not the 4 days in between
    assert hours[-1] == "2024-12-06T11:35-05:00" and hours == sorted(hours)
    ran.add("2024-12-06T10:35-05:00")
    missed = live.missed(NOW[0], lambda name, key: key in ran, lambda name: True)
    assert [scheduler.slot_key(s) for n, s in missed if n == "hourly"] == ["2024-12-06T11:35-05:00"]
    first = live.missed(NOW[0], lambda name, key: False, lambda name: False)
    assert [scheduler.slot_key(s) for n, s in first if n == "hourly"] == ["2024-12-06T11:35-05:00"]


class _Host:
    """What the live driver uses of the daemon loop, on an injected clock."""

    def __init__(self, db, home, settings, clock):
        from assistant.daemon import jobs

        self.ctx = jobs.Context(db, home, settings)
        self.settings, self._db, self.now = settings, db, clock
        self.stop = __import__("threading").Event()

    @property
    def db(self):
        return self._db


def test_the_daemon_calls_after_each_bar_and_verifies_matured_hourly_calls(home):
    from assistant.daemon.live_driver import LiveDriver
    from store import jobs as job_runs

    db, settings = _home(home)
    clock = [datetime(2024, 11, 27, 10, 0, tzinfo=NY)]
    driver = LiveDriver(_Host(db, home, settings, lambda: clock[0]))
    driver.schedule = scheduler.LiveSchedule(settings, driver.fire_slot, lambda: clock[0])
    clock[0] = datetime(2024, 11, 27, 11, 40, tzinfo=NY)  # the 9:30 and 10:30 bars closed
    driver.schedule.run_pending()
    runs = db.execute(
        "SELECT job, scheduled_for, status FROM job_runs WHERE job LIKE 'hourly%' ORDER BY id"
    ).fetchall()
    assert runs == [
        ("hourly_cycle", "2024-11-27T10:35-05:00", "ok"),
        ("hourly_verify", "2024-11-27T10:35-05:00", "ok"),
        ("hourly_cycle", "2024-11-27T11:35-05:00", "ok"),
        ("hourly_verify", "2024-11-27T11:35-05:00", "ok"),
    ]
    calls = hourly_calls.listing(db)
    assert sorted({c["as_of"] for c in calls}) == [
        "2024-11-27T09:30:00-05:00",
        "2024-11-27T10:30:00-05:00",
    ]
    # the 9:30 bar's 1-hour call targets the 10:30 bar, closed at 11:30: verified at 11:35
    verified = [c for c in calls if c["status"] == "verified"]
    assert [(c["as_of"], c["horizon"]) for c in verified] == [("2024-11-27T09:30:00-05:00", 1)]
    assert job_runs.ran_for(db, "hourly_cycle", "2024-11-27T11:35-05:00")
    driver.fire_slot("hourly", datetime(2024, 11, 27, 11, 35, tzinfo=NY))  # done: not again
    assert db.execute("SELECT COUNT(*) FROM job_runs WHERE job = 'hourly_cycle'").fetchone()[0] == 2


def test_the_hourly_slot_collects_the_hour_that_closed_before_calling_on_it(home):
    """Live on Yahoo: the stored hours end with yesterday's session; the 10:35 slot fetches
    the bar that closed at 10:30 (the 10:30 one, still forming, left out) and calls on it.
    A rate limit at the next slot fails the collection only: the calls and the verification
    still run on what is stored."""
    import time_machine
    import yfinance.exceptions as yfe

    from assistant.daemon.live_driver import LiveDriver
    from assistant.ingest.sources.yahoo import YahooSource
    from tests.test_hourly_yahoo import HOURLY_COLS, HourlyYF, daily_of

    daily = synthetic_bars(130, seed=3, start="2024-06-03")
    hours = synthetic_hours(daily, "XNYS", seed=3)
    db, settings = make_home(home, {"AAA": daily[daily.index <= "2024-11-26"]})
    settings = settings.replace("collect", source="yahoo").replace("cycle", hourly_horizons=(1, 3))
    with immediate(db):
        hourly_bars.upsert(db, "AAA", hours[hours["session"] <= "2024-11-26"], "yahoo")
    sent = hours[(hours["session"] >= "2024-11-20") & (hours["session"] <= "2024-11-27")]
    yahoo = sent[["open", "high", "low", "close", "close", "volume"]].copy()
    yahoo.columns = HOURLY_COLS
    yahoo.index.name = "Datetime"
    yf = HourlyYF({"AAA": daily_of(yahoo)}, {"AAA": yahoo})
    clock = [datetime(2024, 11, 27, 10, 0, tzinfo=NY)]
    host = _Host(db, home, settings, lambda: clock[0])
    driver = LiveDriver(host)
    driver.schedule = scheduler.LiveSchedule(settings, driver.fire_slot, lambda: clock[0])

    def step(to: datetime) -> list[tuple[str, str]]:
        clock[0] = to
        # a source per run, as the daemon's jobs make one (a rate limit's pause ends with it)
        host.ctx.source = YahooSource(home, yf=yf, sleep=lambda s: None, retries=0)
        with time_machine.travel(to, tick=False):  # Yahoo's clock: the same instant
            driver.schedule.run_pending()
        return db.execute(
            "SELECT job, status FROM job_runs WHERE scheduled_for = ? ORDER BY id",
            [f"{to:%Y-%m-%dT%H}:35-05:00"],
        ).fetchall()

    ran = step(datetime(2024, 11, 27, 10, 36, tzinfo=NY))
    assert ran == [("hourly_collect", "ok"), ("hourly_cycle", "ok"), ("hourly_verify", "ok")]
    assert [c[0] for c in yf.calls] == ["history-1h"]
    today = hourly_bars.load(db, "AAA", "America/New_York", start="2024-11-27")
    assert [t.isoformat() for t in today.index] == ["2024-11-27T09:30:00-05:00"]
    assert today["close"].iloc[0] == pytest.approx(
        float(hours.loc[ny("2024-11-27 09:30"), "close"])
    )
    calls = hourly_calls.listing(db)
    assert {(c["as_of"], c["horizon"]) for c in calls} == {
        ("2024-11-27T09:30:00-05:00", 1),
        ("2024-11-27T09:30:00-05:00", 3),
    }
    yf.hours["AAA"] = yfe.YFRateLimitError()
    ran = step(datetime(2024, 11, 27, 11, 36, tzinfo=NY))
    assert ran == [("hourly_collect", "failed"), ("hourly_cycle", "ok"), ("hourly_verify", "ok")]
    assert len(hourly_calls.listing(db)) == 2  # no 10:30 bar stored: no call on it
    yf.hours["AAA"] = yahoo  # the next slot fetches both hours missed
    ran = step(datetime(2024, 11, 27, 12, 36, tzinfo=NY))
    assert [r[1] for r in ran] == ["ok", "ok", "ok"]
    today = hourly_bars.load(db, "AAA", "America/New_York", start="2024-11-27")
    assert [f"{t:%H:%M}" for t in today.index] == ["09:30", "10:30", "11:30"]
    assert max(c["as_of"] for c in hourly_calls.listing(db)) == "2024-11-27T11:30:00-05:00"


def test_a_cycle_call_is_the_same_when_the_stored_bars_are_cut_at_its_as_of(home):
    db, settings = _home(home)
    bar = ny("2024-11-21 11:30")
    with_future = hourly.calls_as_of(db, "AAA", "XNYS", bar, [1, 3, 5])
    db.execute(
        "DELETE FROM hourly_bars WHERE session > '2024-11-21' "
        "OR (session = '2024-11-21' AND slot > 2)"
    )
    assert hourly_bars.load(db, "AAA", "America/New_York").index[-1] == bar
    assert hourly.calls_as_of(db, "AAA", "XNYS", bar, [1, 3, 5]) == with_future


def test_predict_and_verify_hourly_from_the_cli(home):
    db, _ = _home(home)
    db.close()
    on = {"ASSISTANT_CYCLE_HOURLY_HORIZONS": "1,3"}
    ran = run_cli(home, "predict", "--hourly", "--at", "2024-11-27T15:35", "--json", env=on)
    assert ran.returncode == 0, ran.stderr
    calls = json.loads(ran.stdout)
    assert [(c["as_of"], c["horizon"], c["target"]) for c in calls] == [
        ("2024-11-27T14:30:00-05:00", 1, "2024-11-27T15:30:00-05:00"),
        ("2024-11-27T14:30:00-05:00", 3, "2024-11-29T10:30:00-05:00"),
    ]
    text = run_cli(home, "predict", "--hourly", "--at", "2024-11-27T15:35", env=on)
    assert "2 hour-ahead calls (0 new, 2 already recorded)" in text.stdout
    done = run_cli(home, "verify", "--hourly", "--at", "2024-12-02T12:00", "--json", env=on)
    assert json.loads(done.stdout)["verified"] == 2
    for args, env in (
        (("predict", "--hourly"), {}),  # off: says how to turn it on
        (("predict", "--hourly", "--at", "soon"), on),
        (("predict", "--at", "2024-11-27T15:35"), on),
    ):
        bad = run_cli(home, *args, env=env)
        assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0, bad.stderr
        assert "Traceback" not in bad.stderr


def test_status_lists_the_hourly_jobs_only_when_hourly_calls_are_on(home):
    from assistant.daemon import service

    db, settings = _home(home)
    off = dataclasses.replace(
        settings, cycle=dataclasses.replace(settings.cycle, hourly_horizons=())
    )
    assert "hourly_cycle" not in service.status(home, off, db)["jobs"]
    jobs = service.status(home, settings, db)["jobs"]
    assert {"hourly_cycle", "hourly_verify"} <= set(jobs)
    assert "hourly_collect" not in jobs  # the sample has no hours of the session under way
    yahoo = settings.replace("collect", source="yahoo")
    assert "hourly_collect" in service.status(home, yahoo, db)["jobs"]
    assert jobs["hourly_cycle"]["next"] is None  # no daemon runs: nothing is scheduled


def test_at_that_is_not_a_dated_time_is_one_error_line(home):
    """A user typed `--at ''`, `--at 10:00` or `--at now`: pandas read '' as NaT (a traceback
    in calendar.local_today) and '10:00'/'now' as today's clock, so a sample home said
    "no watched symbol has a stored bar" instead of what was wrong with the option; a local
    time a clock change skips or repeats was pandas' ValueError traceback."""
    db, _ = _home(home)
    db.close()
    on = {"ASSISTANT_CYCLE_HOURLY_HORIZONS": "1,3"}
    for command in ("predict", "verify"):
        for at in ("", "10:00", "now", "15:35 2024-11-27"):
            bad = run_cli(home, command, "--hourly", "--at", at, env=on)
            assert bad.returncode == 1, (command, at, bad.stdout)
            assert bad.stderr == f"error: --at {at!r} is not a time like 2024-11-27T15:35\n"
    for at in ("2024-03-10T02:30", "2024-11-03T01:30"):  # skipped / repeated by a clock change
        bad = run_cli(home, "predict", "--hourly", "--at", at, env=on)
        assert bad.returncode == 1 and bad.stderr.count("\n") == 1, bad.stderr
        assert "a clock change in America/New_York skips or repeats that time" in bad.stderr
    zoned = run_cli(home, "predict", "--hourly", "--at", "2024-11-27T20:35Z", "--json", env=on)
    assert zoned.returncode == 0, zoned.stderr
    assert {c["as_of"] for c in json.loads(zoned.stdout)} == {"2024-11-27T14:30:00-05:00"}


def test_no_hourly_calls_says_why_and_the_way_on(home, tmp_path):
    """`predict --hourly` on a home without hourly bars, or past its newest hour, said only
    "no watched symbol has a stored bar for the hour that closed last": nothing about there
    being no hours at all, or which hour is the newest and how to call from it."""
    on = {"ASSISTANT_CYCLE_HOURLY_HORIZONS": "1,3"}
    bare = tmp_path / "bare"
    make_home(bare, {"AAA": synthetic_bars(30, seed=3, start="2024-06-03")})[0].close()
    none = run_cli(bare, "predict", "--hourly", "--at", "2024-07-01T12:00", env=on)
    assert none.returncode == 0, none.stderr
    assert "no watched symbol has hourly bars" in none.stdout
    assert "`assistant import --hourly FILE`" in none.stdout
    db, _ = _home(home)
    last = hourly_bars.last_session(db, "AAA")
    db.close()
    late = run_cli(home, "predict", "--hourly", "--at", "2025-06-02T12:00", env=on)
    assert late.returncode == 0, late.stderr
    assert f"AAA's session of {last}" in late.stdout, late.stdout
    hint = late.stdout.split("--at ")[1].split()[0]
    made = run_cli(home, "predict", "--hourly", "--at", hint, "--json", env=on)
    assert made.returncode == 0 and len(json.loads(made.stdout)) == 2, made.stdout


def test_a_tokyo_symbol_gets_afternoon_calls_on_the_bars_after_its_lunch_break(home, tmp_path):
    """Hour-ahead calls on 7203.T: the hours are stored as Yahoo sends them (09:00, 10:00,
    11:00, then 12:30, 13:30, 14:30 after the 11:30-12:30 break), but the calls' hour grid
    ran on through the break (12:00, 13:00, 14:00): no call came after 11:30, and a morning
    call aimed at a 12:00 bar that never comes."""
    times = ["09:00", "10:00", "11:00", "12:30", "13:30", "14:30"]
    rows, price = [], 3700.0
    for day in pd.bdate_range("2024-03-04", "2024-03-15"):
        for t in times:
            rows.append(f"{day:%Y-%m-%d} {t},{price},{price + 5},{price - 5},{price + 1},1000")
            price += 1 + (len(rows) % 3 == 0) * -2.5
    path = tmp_path / "7203.T.csv"
    path.write_text("Datetime,Open,High,Low,Close,Volume\n" + "\n".join(rows) + "\n")
    assert run_cli(home, "import", "--hourly", str(path)).returncode == 0
    on = {"ASSISTANT_CYCLE_HOURLY_HORIZONS": "1,3"}
    noon = run_cli(home, "predict", "--hourly", "--at", "2024-03-14T12:00+09:00", "--json", env=on)
    assert [(c["as_of"][11:16], c["target"][11:16]) for c in json.loads(noon.stdout)] == [
        ("11:00", "12:30"),
        ("11:00", "14:30"),
    ], noon.stdout
    late = run_cli(home, "predict", "--hourly", "--at", "2024-03-15T14:00+09:00", "--json", env=on)
    assert [(c["as_of"][11:16], c["target"]) for c in json.loads(late.stdout)] == [
        ("12:30", "2024-03-15T13:30:00+09:00"),
        ("12:30", "2024-03-18T09:00:00+09:00"),
    ], late.stdout
    done = run_cli(home, "verify", "--hourly", "--at", "2024-03-16T00:00+09:00", "--json", env=on)
    assert json.loads(done.stdout)["verified"] == 3, done.stdout


def test_no_hourly_calls_for_a_crypto_symbol_says_it_trades_around_the_clock(tmp_path):
    """`predict --hourly BTC-USD` answered that no watched symbol has hourly bars (or no bar
    for the hour), when such a symbol gets no hour-ahead calls at all (docs/intraday.md)."""
    make_home(tmp_path, {"BTC-USD": synthetic_bars(30, seed=3, start="2024-06-03")})[0].close()
    on = {"ASSISTANT_CYCLE_HOURLY_HORIZONS": "1,3"}
    ran = run_cli(tmp_path, "predict", "--hourly", "BTC-USD", "--at", "2024-07-01T12:00", env=on)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == (
        "no hour-ahead calls: BTC-USD trade around the clock, and hour-ahead calls follow "
        "exchange sessions (docs/intraday.md)\n"
    )


def test_at_in_the_future_is_refused_before_it_expires_a_pending_call(home):
    """`verify --hourly --at 2100-01-04T10:00` (2010 mistyped) expired the pending calls for
    good, as if their bars had never come; `--at 1900-01-01T10:00` (before the calendar)
    was a TypeError traceback in latest_bar."""
    db, _ = _home(home)
    db.close()
    on = {"ASSISTANT_CYCLE_HOURLY_HORIZONS": "1,3"}
    made = run_cli(home, "predict", "--hourly", "--at", "2024-11-27T15:35", "--json", env=on)
    assert len(json.loads(made.stdout)) == 2, made.stderr
    for command in ("predict", "verify"):
        bad = run_cli(home, command, "--hourly", "--at", "2100-01-04T10:00", env=on)
        assert bad.returncode == 1, bad.stdout
        assert (
            bad.stderr
            == "error: --at '2100-01-04T10:00' is in the future: give a time that has passed\n"
        )
    db = open_db(home)
    assert [r["status"] for r in hourly_calls.listing(db)] == ["pending", "pending"]
    db.close()
    old = run_cli(home, "predict", "--hourly", "--at", "1900-01-01T10:00", env=on)
    assert old.returncode == 0 and old.stdout.startswith("no hour-ahead calls"), old.stderr


def test_the_help_of_at_says_whose_local_time_it_is(tmp_path):
    """`--at` said "exchange-local": a Tokyo symbol's user read it as Tokyo time, while a
    TIME without an offset is the [calendar] exchange's (New York by default)."""
    for command in ("predict", "verify"):
        text = " ".join(run_cli(tmp_path, command, "--help").stdout.split())
        assert "the local time of [calendar] exchange (New York by default" in text, text


def test_no_call_is_made_from_an_hour_of_a_session_flagged_as_not_rolling_up(home):
    """A session whose hours contradict its daily bar (flagged by the roll-up check) gives
    no call from its hours; the same hour unflagged gives one per horizon."""
    db, _ = _home(home)
    bar = ny("2024-11-21 11:30")
    assert len(hourly.calls_as_of(db, "AAA", "XNYS", bar, [1, 3, 5])) == 3
    with immediate(db):
        hourly_bars.flag_sessions(db, "AAA", ["2024-11-21"], True)
    assert hourly.calls_as_of(db, "AAA", "XNYS", bar, [1, 3, 5]) == []


def test_calls_made_before_hourly_calls_were_turned_off_are_still_scored(home):
    """A user turned `hourly_horizons` off with hour-ahead calls pending: their slot stopped,
    `verify --hourly` refused ("hour-ahead calls are off"), and the calls stayed pending for
    good. Now the CLI and the live daemon's daily verification score them; with nothing
    pending, `verify --hourly` still says they are off."""
    from assistant.daemon import jobs
    from assistant.daemon.live_driver import _daily

    db, settings = _home(home)
    hourly.run_hourly(db, settings, ["AAA"], at="2024-11-27 15:35-05:00")
    db.close()
    ran = run_cli(home, "verify", "--hourly", "--at", "2024-11-29T11:31")  # off by default
    assert ran.returncode == 0, ran.stderr
    assert "verified 2" in ran.stdout and "waiting 1" in ran.stdout
    db = open_db(home)
    off = dataclasses.replace(
        settings, cycle=dataclasses.replace(settings.cycle, hourly_horizons=())
    )
    daily = _daily(jobs.Context(db, home, off), None, datetime(2024, 12, 2, 17, tzinfo=NY))
    _, said = daily["verify"](lambda f, m: None)
    assert "hour-ahead calls left from before they were turned off: verified 1" in said
    assert hourly_calls.counts(db) == {"pending": 0, "verified": 3, "expired": 0}
    db.close()
    none_left = run_cli(home, "verify", "--hourly")
    assert none_left.returncode == 1 and "hour-ahead calls are off" in none_left.stderr
