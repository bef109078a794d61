"""The shared vocabulary: one definition of each fact, read the same by every layer."""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd

from vocab.dates import session_date, session_text
from vocab.horizons import at_horizon, horizon_key
from vocab.scoring import BASELINE_LABEL, stale_sessions, stronger_baseline
from vocab.text import move_pct


def test_a_session_is_one_date_whatever_shape_it_comes_in():
    day = date(2024, 3, 8)
    for value in ("2024-03-08", day, datetime(2024, 3, 8, 21, 5), pd.Timestamp("2024-03-08 16:00")):
        assert session_date(value) == day
        assert session_text(value) == "2024-03-08"


def test_a_horizon_reads_back_from_json_and_from_memory():
    # metrics stored as JSON in SQLite have text keys; ones built in memory have int keys
    stored = json.loads(json.dumps({horizon_key(3): {"n": 7}}))
    assert at_horizon(stored, 3) == {"n": 7}
    assert at_horizon({3: {"n": 7}}, 3) == {"n": 7}
    assert at_horizon(stored, 5) is None
    assert at_horizon(stored, 5, {}) == {}


def test_the_stronger_baseline_and_its_tie():
    assert stronger_baseline(0.55, 0.52) == "always_up"
    assert stronger_baseline(0.50, 0.52) == "majority"
    assert stronger_baseline(10, 10) == "always_up"  # a tie goes to always-up
    assert BASELINE_LABEL[stronger_baseline(1, 2)] == "majority"


def test_a_small_move_keeps_its_direction_visible():
    assert move_pct(0.8) == "+0.80%"
    assert move_pct(-0.004) == "-0.004%"
    assert move_pct(-0.0004) == "-<0.001%"
    assert move_pct(0.0) == "+0.00%"


def test_data_is_stale_past_three_sessions():
    assert [stale_sessions(age) for age in (0, 3, 4, 10)] == [0, 0, 4, 10]
