"""Hourly bars: the table round-trips, writes are idempotent, and simulated hours roll up
to their daily bars on the exchange's real session hours (early closes included)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assistant import calendar
from assistant.ingest.sources.intraday import synthetic_hours
from assistant.ingest.sources.synthetic import synthetic_bars
from store import hourly
from store.db import open_db


def test_session_hours_follow_the_calendar() -> None:
    assert len(calendar.session_hours("XNYS", "2019-11-27")) == 7
    half_day = calendar.session_hours("XNYS", "2019-11-29")  # day after Thanksgiving
    assert [t.strftime("%H:%M") for t in half_day] == ["09:30", "10:30", "11:30", "12:30"]
    assert len(calendar.session_hours("XNYS", "2019-11-28")) == 0  # Thanksgiving
    assert str(calendar.session_hours("XNYS", "2019-07-01").tz) == "America/New_York"
    assert len(calendar.session_hours("24/7", "2019-07-06")) == 24


def test_simulated_hours_roll_up_to_the_daily_bar() -> None:
    daily = synthetic_bars(30, start="2019-11-20", seed=3)
    hours = synthetic_hours(daily, "XNYS", seed=1)
    rolled = hours.groupby("session").agg(
        open=("open", "first"),
        high=("high", "max"),
        low=("low", "min"),
        close=("close", "last"),
        volume=("volume", "sum"),
    )
    for column in rolled:
        np.testing.assert_allclose(rolled[column], daily.loc[rolled.index, column])
    assert (hours["high"] >= hours[["open", "close"]].max(axis=1)).all()
    assert (hours["low"] <= hours[["open", "close"]].min(axis=1)).all()


def test_hourly_bars_round_trip_and_are_idempotent(tmp_path) -> None:
    db = open_db(tmp_path / "assistant.db")
    db["symbols"].insert({"symbol": "AAA", "added_at": "2020-01-01"})
    hours = synthetic_hours(synthetic_bars(10, start="2019-11-20"), "XNYS")
    with db.conn:
        first = hourly.upsert(db, "AAA", hours, "synthetic")
    with db.conn:
        again = hourly.upsert(db, "AAA", hours, "synthetic")
    assert (first.added, again.added, again.unchanged) == (len(hours), 0, len(hours))
    back = hourly.load(db, "AAA", "America/New_York", start="2019-11-21", end="2019-11-22")
    assert list(back.index) == [
        t for t in hours.index if t.strftime("%F") in ("2019-11-21", "2019-11-22")
    ]
    assert back["slot"].tolist() == list(range(7)) * 2
    assert back.index[0].isoformat() == "2019-11-21T09:30:00-05:00"
    assert hourly.flag_sessions(db, "AAA", ["2019-11-21"], True) == 7
    assert hourly.load(db, "AAA", "America/New_York", end="2019-11-21")["flagged"].sum() == 7
    assert pd.Timestamp(hourly.sessions(db, "AAA")[0]) == pd.Timestamp("2019-11-20")
