"""The shared vocabulary: one definition of each fact, read the same by every layer."""

from __future__ import annotations

import json
from datetime import date, datetime

import pandas as pd
import pytest

from vocab import commands as cmd
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


def test_every_command_reads_back_as_it_was_written():
    for command in (
        cmd.WatchAdd(("AAPL", "MSFT")),
        cmd.WatchRemove(("^GSPC",)),
        cmd.Collect(),
        cmd.Collect(("AAPL",)),
        cmd.Predict(("AAPL",)),
        cmd.Verify(),
        cmd.Retrain(),
        cmd.Retrain(("AAPL",), kinds=("lstm", "rules"), reason="drift: PSI 0.3", scheduled=True),
    ):
        assert cmd.parse(command.KIND, cmd.dump(command)) == command
    # the explicit field wins over the reason's wording
    assert not cmd.parse(
        "retrain", '{"reason": "drift: said by hand", "scheduled": false}'
    ).scheduled


def test_older_and_hand_written_arguments_parse_into_the_same_types():
    assert cmd.parse("watch.add", '{"symbol": "BRK-B"}') == cmd.WatchAdd(("BRK-B",))
    assert cmd.parse("predict", '{"symbols": "^GSPC", "extra": 1}') == cmd.Predict(("^GSPC",))
    assert cmd.parse("collect", None) == cmd.Collect()
    assert cmd.parse("retrain", '{"reason": "drift: x"}').scheduled  # written before the field
    with pytest.raises(cmd.CommandArgsError, match="needs `symbols`"):
        cmd.parse("watch.remove", '{"symbols": []}')


def test_results_read_back_and_job_reports_are_stored_as_the_job_gave_them():
    watched = cmd.Watched(("AAPL",), ("MSFT",), collected=False, collect_error="offline")
    assert cmd.parse_result("watch.add", cmd.dump_result(watched)) == watched
    report = [{"symbol": "AAPL", "added": 3, "status": "ok"}, {"symbol": "X", "status": "failed"}]
    text = cmd.dump_result(cmd.Collected(report))
    assert text is not None and json.loads(text) == report
    collected = cmd.parse_result("collect", text)
    assert isinstance(collected, cmd.Collected)
    assert (collected.bars_added, collected.failed) == (3, ("X",))
    assert cmd.dump_result(cmd.Retrained(None)) is None  # a job that reported nothing: NULL
    assert cmd.parse_result("collect", '{"not": "a list"}') is None
