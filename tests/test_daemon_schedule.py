"""Live scheduling under a controlled clock: after the close in the exchange's zone, across
DST, sessions only; every run missed while the daemon was down is caught up once at start,
and every run a jump of the wall clock (a suspend, a paused VM) crossed while it ran."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from assistant import config
from assistant.daemon import scheduler
from assistant.daemon.loop import Daemon
from store.db import open_db

NY = ZoneInfo("America/New_York")


pytestmark = pytest.mark.usefixtures("fresh_calendars")


def _fired_at(settings):
    fired = []
    live = scheduler.LiveSchedule(
        settings, lambda name, slot: fired.append((name, slot.isoformat()))
    )
    return live, fired


def test_collection_fires_after_the_close_in_new_york_across_dst(tmp_path):
    settings = config.load(tmp_path)
    # Friday 2024-03-08 is EST (UTC-5); DST starts Sunday 2024-03-10; Monday is EDT (UTC-4).
    with time_machine.travel(datetime(2024, 3, 8, 16, 0, tzinfo=NY), tick=False) as clock:
        live, fired = _fired_at(settings)
        live.run_pending()
        clock.move_to(datetime(2024, 3, 8, 16, 29, tzinfo=NY))
        live.run_pending()
        assert fired == []
        clock.move_to(datetime(2024, 3, 8, 16, 31, tzinfo=NY))
        live.run_pending()
        assert fired == [("daily", "2024-03-08T16:30:00-05:00")]
        # The weekend passes: `schedule` wakes on Saturday and Sunday, no session, nothing runs.
        for day in (9, 10):
            clock.move_to(datetime(2024, 3, day, 18, 0, tzinfo=NY))
            live.run_pending()
        assert [f for f in fired if f[0] == "daily"] == [("daily", "2024-03-08T16:30:00-05:00")]
        # Monday, EDT: 16:29 New York is 20:29 UTC -- still before the close.
        clock.move_to(datetime(2024, 3, 11, 16, 29, tzinfo=NY))
        live.run_pending()
        assert [f for f in fired if f[0] == "daily"] == [("daily", "2024-03-08T16:30:00-05:00")]
        clock.move_to(datetime(2024, 3, 11, 16, 31, tzinfo=NY))
        live.run_pending()
        daily = [f for f in fired if f[0] == "daily"]
        assert daily[-1] == ("daily", "2024-03-11T16:30:00-04:00")
        assert datetime.fromisoformat(daily[-1][1]).astimezone(UTC).hour == 20
        assert len(daily) == 2


def test_slots_follow_the_exchange_calendar():
    # Good Friday 2024-03-29: NYSE closed. The last slot before Monday's close is Thursday's.
    now = datetime(2024, 4, 1, 12, 0, tzinfo=NY)
    last = scheduler.last_slot(now, "16:30", "America/New_York", "XNYS")
    nxt = scheduler.next_slot(now, "16:30", "America/New_York", "XNYS")
    assert last.isoformat() == "2024-03-28T16:30:00-04:00"
    assert nxt.isoformat() == "2024-04-01T16:30:00-04:00"


def _run_once(home, settings):
    """Start the daemon, let it do its start-up (catch-up) and one tick, then stop."""
    daemon = Daemon(home, settings, log_to_stderr=False)
    daemon.sleep = lambda s: daemon.stop.set()
    daemon.run()


def _collect_runs(home):
    db = open_db(home)
    try:
        return [
            r[0]
            for r in db.execute(
                "SELECT scheduled_for FROM job_runs WHERE job = 'collect' ORDER BY id"
            )
        ]
    finally:
        db.close()


def test_a_missed_run_is_caught_up_once_at_start(home, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MODELS_KINDS", "rules")
    settings = config.load(home)
    open_db(home).close()
    # Down since before Tuesday's close; started at 18:00 New York: Tuesday's run is caught up.
    with time_machine.travel(datetime(2024, 3, 12, 18, 0, tzinfo=NY), tick=False):
        _run_once(home, settings)
        assert _collect_runs(home) == ["2024-03-12T16:30-04:00"]
        _run_once(home, settings)  # a restart the same evening: already done, not again
        assert _collect_runs(home) == ["2024-03-12T16:30-04:00"]
    # Down all Wednesday and Thursday: both sessions are caught up, in order.
    with time_machine.travel(datetime(2024, 3, 15, 9, 0, tzinfo=NY), tick=False):
        _run_once(home, settings)
    assert _collect_runs(home) == [
        "2024-03-12T16:30-04:00",
        "2024-03-13T16:30-04:00",
        "2024-03-14T16:30-04:00",
    ]
    assert _runs(home, "drift") == [
        ("2024-03-12T17:30-04:00", "no drift"),
        ("2024-03-13T17:30-04:00", "no drift"),
        ("2024-03-14T17:30-04:00", "no drift"),
    ]
    # A session a later one passed is predicted as of itself; the newest from the latest
    # final bars, as on time.
    assert [m for _, m in _runs(home, "cycle")][1:] == [
        "0 calls (0 new) as of 2024-03-13",
        "0 calls (0 new)",
    ]


def _runs(home, job):
    db = open_db(home)
    try:
        return [
            tuple(r)
            for r in db.execute(
                "SELECT scheduled_for, message FROM job_runs WHERE job = ? ORDER BY id", [job]
            )
        ]
    finally:
        db.close()


def _run_across(home, settings, start, *wake_at):
    """Run the daemon from `start`; each time the loop goes idle the host 'sleeps' and
    wakes at the next of `wake_at` (the wall clock jumps; the process never noticed the
    time pass); after the last, it stops. Returns the job runs in the order they ran."""
    open_db(home).close()
    with time_machine.travel(start, tick=False) as clock:
        daemon = Daemon(home, settings, log_to_stderr=False)
        wakes = list(wake_at)

        def sleep(_seconds):
            if wakes:
                clock.move_to(wakes.pop(0))
            else:
                daemon.stop.set()

        daemon.sleep = sleep
        daemon.run()
    db = open_db(home)
    try:
        return [
            tuple(r)
            for r in db.execute(
                "SELECT job, scheduled_for FROM job_runs "
                "WHERE job IN ('collect', 'cycle', 'drift') ORDER BY id"
            )
        ]
    finally:
        db.close()


def test_a_suspend_across_the_daily_slot_runs_the_missed_session(home, monkeypatch, caplog):
    monkeypatch.setenv("ASSISTANT_MODELS_KINDS", "rules")
    settings = config.load(home)
    # Monday 16:29 New York, a minute before the close's slot; the laptop sleeps until
    # Tuesday 10:00. Monday is a session: it is collected and predicted (from its close).
    runs = _run_across(
        home,
        settings,
        datetime(2024, 3, 11, 16, 29, tzinfo=NY),
        datetime(2024, 3, 12, 10, 0, tzinfo=NY),
    )
    monday = [r for r in runs if r[1].startswith("2024-03-11")]
    assert monday == [
        ("collect", "2024-03-11T16:30-04:00"),
        ("cycle", "2024-03-11T16:30-04:00"),
        ("drift", "2024-03-11T17:30-04:00"),
    ]
    assert "is not a trading session" not in caplog.text


def test_a_pause_across_several_sessions_runs_each_in_order(home, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MODELS_KINDS", "rules")
    settings = config.load(home)
    # A VM paused from Monday 16:29 to Thursday 10:00, then from Thursday 10:00 to the next
    # Tuesday 09:00 (a weekend between): every session it crossed runs once, oldest first.
    runs = _run_across(
        home,
        settings,
        datetime(2024, 3, 11, 16, 29, tzinfo=NY),
        datetime(2024, 3, 14, 10, 0, tzinfo=NY),
        datetime(2024, 3, 19, 9, 0, tzinfo=NY),
    )
    after_start = [r for r in runs if r[1] >= "2024-03-11"]
    expected = []
    for day in ("11", "12", "13", "14", "15", "18"):
        expected += [
            ("collect", f"2024-03-{day}T16:30-04:00"),
            ("cycle", f"2024-03-{day}T16:30-04:00"),
            ("drift", f"2024-03-{day}T17:30-04:00"),
        ]
    assert after_start == expected
    cycles = [m for _, m in _runs(home, "cycle")]
    assert cycles[-6:] == [
        "0 calls (0 new) as of 2024-03-11",
        "0 calls (0 new) as of 2024-03-12",
        "0 calls (0 new)",  # the newest when the VM woke on Thursday
        "0 calls (0 new) as of 2024-03-14",
        "0 calls (0 new) as of 2024-03-15",
        "0 calls (0 new)",
    ]
