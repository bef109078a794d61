"""The scheduled-event calendar (FOMC decisions) and the world context a call shows.

The CLI test runs as a user would: a real CSV on disk imported, the offline VIX collected
with `collect --until`, `predict --as-of` (the CLI in-process), and what it prints checked.
"""

from __future__ import annotations

import json
import re
from datetime import date

import numpy as np
import pandas as pd
import pytest

from models import events
from tests.cli_fixture import run_cli


def xnys(start: str, end: str) -> pd.DatetimeIndex:
    from assistant import calendar

    return calendar.sessions("XNYS", start, end)


def test_next_fomc_in_sessions():
    s = xnys("2016-03-10", "2016-05-31")
    dist, when = events.sessions_to_next(s)
    i = s.get_loc(pd.Timestamp("2016-03-14"))
    assert dist[i] == 2 and pd.Timestamp(when[i]) == pd.Timestamp("2016-03-16")
    j = s.get_loc(pd.Timestamp("2016-03-16"))  # on the day: the decision has been seen
    assert pd.Timestamp(when[j]) == pd.Timestamp("2016-04-27")
    within = events.event_within(s, 3)
    assert within[i] == 1.0 and events.event_within(s, 1)[i] == 0.0


def test_event_feature_canary_and_the_table_end():
    s = xnys("2015-01-02", "2016-12-30")
    full = {h: events.event_within(s, h) for h in (1, 3, 5)}
    for t in (100, 250, 400):
        cut = s[: t + 6]  # the calendar up to t + h is all a call at t needs
        for h, values in full.items():
            assert events.event_within(cut, h)[t] == values[t]
    late = xnys("2026-12-01", "2027-01-29")
    flags = events.event_within(late, 5)
    assert flags[late.get_loc(pd.Timestamp("2026-12-03"))] == 1.0  # 2026-12-09 is 4 sessions on
    assert np.isnan(flags[late.get_loc(pd.Timestamp("2026-12-28"))])  # past the table: unknown


def test_cpi_estimates_weekday_on_or_after_the_12th_and_moved_releases():
    cpi = pd.to_datetime(list(events.EVENTS["CPI"]))
    assert cpi.is_monotonic_increasing and (cpi.dayofweek < 5).all()
    assert "2016-04-12" in events.EVENTS["CPI"]  # a Tuesday
    assert "2016-03-14" in events.EVENTS["CPI"]  # the 12th is a Saturday: Monday
    assert "2013-10-30" in events.EVENTS["CPI"] and "2013-10-14" not in events.EVENTS["CPI"]
    assert not [d for d in events.EVENTS["CPI"] if d.startswith("2025-11")]
    s = xnys("2016-03-01", "2016-04-29")
    dist, when = events.sessions_to_next(s, "CPI")
    i = s.get_loc(pd.Timestamp("2016-04-08"))
    assert dist[i] == 2 and pd.Timestamp(when[i]) == pd.Timestamp("2016-04-12")
    full = events.event_within(s, 3, "CPI")
    for t in (5, 20, 30):  # the canary: the calendar up to t + h is all a call at t needs
        assert events.event_within(s[: t + 4], 3, "CPI")[t] == full[t]


def test_table_is_sorted_weekdays_eight_a_year():
    dates = pd.to_datetime(list(events.FOMC))
    assert dates.is_monotonic_increasing and (dates.dayofweek < 5).all()
    per_year = pd.Series(dates.year).value_counts()
    assert set(per_year.drop(2020)) == {8} and per_year[2020] == 7


def run(home, *args, check=True):
    out = run_cli(home, *args)
    if check:
        assert out.returncode == 0, out.stderr
    return out


@pytest.fixture
def vix_home(tmp_path):
    import arch.data.sp500

    frame = arch.data.sp500.load().loc["2014-01-01":"2016-12-30"]
    csv = tmp_path / "gspc.csv"
    frame.to_csv(csv, index_label="Date")
    home = tmp_path / "home"
    run(home, "import", str(csv), "--symbol", "^GSPC")
    out = run(home, "collect", "--until", "2016-12-30")
    assert re.search(r"market series \^VIX: \d+ values added", out.stdout)
    assert re.search(r"macro CPILFESL: \d+ values added", out.stdout)  # offline, to --until
    return home


def test_a_call_shows_the_vix_and_the_next_fomc(vix_home):
    out = run(vix_home, "predict", "--as-of", "2016-03-14", "--json")
    calls = {c["horizon"]: c for c in json.loads(out.stdout)}
    assert "FOMC in 2 sessions (2016-03-16)" in calls[1]["context"]
    assert calls[1]["event_within"] is False and calls[3]["event_within"] is True
    assert "within the horizon" in calls[5]["context"]
    # the next CPI release, by the rule (an estimate, said so): 2016-04-12, 20 sessions on
    assert "CPI in 20 sessions (est. 2016-04-12)" in calls[1]["context"]
    import arch.data.vix

    level = arch.data.vix.load().loc["2016-03-14", "vix"]
    assert f"VIX {level:.1f}" in calls[1]["context"]
    text = run(vix_home, "predict", "--as-of", "2016-03-14").stdout
    assert re.search(r"context \^GSPC( 1d)?: VIX", text)
    report = run(vix_home, "report").stdout
    assert "context the latest calls saw:" in report
    assert f"^GSPC    as of 2016-03-14: VIX {level:.1f} (pct " in report
    ctx = json.loads(run(vix_home, "report", "--json").stdout)["context"]["^GSPC"]
    assert ctx["vix"] == level and ctx["next_event_date"] == "2016-03-16"
    assert ctx["event_sessions"] == 2
    assert (ctx["cpi_date"], ctx["cpi_sessions"]) == ("2016-04-12", 20)
    # the stored VIX is a regressor of the calls' variance forecast (bench_context kept it)
    ledger = run(vix_home, "predictions", "--format", "jsonl").stdout.splitlines()
    models = {json.loads(line)["signals"]["vol"]["model"] for line in ledger}
    assert models == {"har+x"}


def test_fomc_dates_past_the_table_come_from_config_and_bad_ones_are_one_error_line(tmp_path):
    """The table ends with 2026: a call as of 2026-12-10 (after its last meeting) says the
    calendar ended; with 2027's published dates added in config.toml it names the next
    decision. A date that is not one is refused with one error line."""
    from assistant.config import load
    from assistant.cycle.context import world_context
    from store.db import open_db

    home = tmp_path / "home"
    home.mkdir()
    db = open_db(home)
    plain = load(home).events.fomc
    before = world_context(db, {"SPY": date(2026, 12, 10)}, "XNYS", plain)["SPY"]
    assert before.calendar_ends == "2026-12-31" and before.next_event is None
    (home / "config.toml").write_text('[events]\nfomc = ["2027-01-27", "2027-03-17"]\n')
    added = load(home).events.fomc
    after = world_context(db, {"SPY": date(2026, 12, 10)}, "XNYS", added)["SPY"]
    db.close()
    assert (after.next_event, after.next_event_date) == ("FOMC", date(2027, 1, 27))
    assert after.event_sessions == len(xnys("2026-12-11", "2027-01-27"))
    assert after.calendar_ends is None
    assert events.calendar_end(added) == "2027-12-31"

    (home / "config.toml").write_text('[events]\nfomc = ["2027-02-30"]\n')
    bad = run(home, "config", check=False)
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines() == [
        f"error: {home / 'config.toml'}: [events] fomc = ['2027-02-30'] is not allowed: "
        "it must be a list of distinct dates YYYY-MM-DD"
    ]
