"""store.views, the TUI's read API: the numbers the dashboard shows, on small hand-made data."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from store import symbols
from store.views.dashboard import dashboard
from store.views.pending import pending
from store.views.symbol import signal_contributions, symbol_detail
from store.views.trend import accuracy_trend
from store.views.watchlist import watchlist
from tests.tui_fixture import FIXED_NOW, fill
from vocab import status


def test_sessions_left_count_stored_sessions_since_the_call(db):
    symbols.add(db, ["AAA"], "sample")
    # a 3-session call made on Thursday 2018-06-28; Friday's bar is in, July 4th is a holiday
    for day in ["2018-06-28", "2018-06-29"]:
        db.execute(
            "INSERT INTO bars (symbol, date, open, high, low, close, raw_close, source) "
            "VALUES ('AAA', ?, 1, 1, 1, 1, 1, 'sample')",
            [day],
        )
    db.execute(
        "INSERT INTO predictions (symbol, as_of, horizon, model_version, made_at, target_date, "
        "base_price, pred_change_pct, pred_price, direction) "
        "VALUES ('AAA', '2018-06-28', 3, 'm', 'x', '2018-07-03', 1, 0, 1, 'up')"
    )
    assert pending(db, "2018-06-29")[0]["sessions_left"] == 2
    for day in ["2018-07-02", "2018-07-03"]:
        db.execute(
            "INSERT INTO bars (symbol, date, open, high, low, close, raw_close, source) "
            "VALUES ('AAA', ?, 1, 1, 1, 1, 1, 'sample')",
            [day],
        )
    assert pending(db, "2018-07-03")[0]["sessions_left"] == 0


def test_daemon_online_offline_rules():
    row = {
        "heartbeat_at": FIXED_NOW.isoformat(),
        "mode": "replay",
        "sim_date": "2018-01-02",
        "pid": 1,
        "stopped_at": None,
    }
    assert status.classify_daemon(row, FIXED_NOW + timedelta(seconds=15), 5)["online"]
    late = status.classify_daemon(row, FIXED_NOW + timedelta(seconds=16), 5)
    assert not late["online"] and late["reason"] == "no heartbeat for over 15s"
    gone = status.classify_daemon({**row, "stopped_at": FIXED_NOW.isoformat()}, FIXED_NOW, 5)
    assert not gone["online"] and gone["reason"] == "the daemon stopped"
    assert status.classify_daemon(None, FIXED_NOW)["reason"] == "the daemon has never run here"
    # the clock set back an hour (a dual-boot machine's RTC, an NTP step) under a dead
    # daemon: its last beat lies ahead; it read online for that hour
    back = FIXED_NOW - timedelta(hours=1)
    ahead = status.classify_daemon(row, back, 5)
    assert not ahead["online"]
    assert (
        ahead["reason"] == "its last heartbeat is 60m ahead of this clock (was the clock set back?)"
    )
    assert status.classify_daemon(row, FIXED_NOW - timedelta(seconds=15), 5)["online"]  # jitter


def test_signal_contributions_accept_the_cycle_format_and_plain_maps():
    cycle = {"contributions": {"rsi": 0.1, "macd": -0.3, "model": 0.2}, "votes": {"rsi": 1}}
    assert signal_contributions(cycle) == [("macd", -0.3), ("model", 0.2), ("rsi", 0.1)]
    assert signal_contributions({"cross": {"vote": -1, "weight": 0.5}}) == [("cross", -0.5)]
    assert signal_contributions("not a dict") == []


def _pred(db, sym, as_of, target, hit, up, status="verified"):
    db.execute(
        "INSERT INTO predictions (symbol, as_of, horizon, model_version, made_at, target_date, base_price, "
        "pred_change_pct, pred_price, direction, signals, status, actual_price, hit, outcome, "
        "up_hit, majority_hit) VALUES (?, ?, 1, 'm', ?, ?, 100, 1, 101, 'up', ?, ?, ?, ?, ?, ?, ?)",
        [
            sym,
            as_of,
            as_of,
            target,
            json.dumps({}),
            status,
            None if status == "pending" else (101 if up else 99),
            hit,
            None if up is None else ("up" if up else "down"),
            up,
            up,
        ],
    )


def test_hit_rate_and_always_up_baseline_use_the_same_verified_calls(db):
    symbols.add(db, ["AAA"], "sample")
    # 4 verified: hits 3/4; realized up 1/4 -> the model beats always-up here
    for i, (hit, up) in enumerate([(1, 0), (1, 0), (1, 1), (0, 0)]):
        _pred(db, "AAA", f"2018-01-0{i + 1}", f"2018-01-0{i + 2}", hit, up)
    _pred(db, "AAA", "2018-01-09", "2018-01-10", None, None, status="pending")
    db.conn.commit()
    row = watchlist(db)[0]
    assert (row["n"], row["hit_rate"], row["baseline"]) == (4, 0.75, 0.25)
    assert row["call"]["as_of"] == "2018-01-09"  # the latest call, pending
    trend = accuracy_trend(db, window=2)
    assert trend["n"] == 4 and trend["hit_rate"] == 0.75 and trend["base_rate"] == 0.25
    assert trend["dates"] == [
        "2018-01-03",
        "2018-01-04",
        "2018-01-05",
    ]  # full 2-session windows only
    assert trend["hit"] == [1.0, 1.0, 0.5] and trend["base"] == [0.0, 0.5, 0.5]


def test_dashboard_snapshot_reads_everything_in_one_go(db):
    fill(db)
    data = dashboard(db, now=FIXED_NOW)
    assert [r["symbol"] for r in data["watchlist"]] == ["AAPL", "^GSPC", "^IXIC"]
    assert data["daemon"]["online"] and data["daemon"]["sim_date"] == "2018-06-29"
    assert all(p["sessions_left"] >= 1 for p in data["pending"])
    assert [j["job"] for j in data["jobs"]] == ["train"]
    assert data["queued"] == 0 and not db.conn.in_transaction  # the read transaction is closed
    detail = symbol_detail(db, "AAPL")
    assert len(detail["bars"]) == 120 and detail["bars"][-1]["date"] == "2018-06-29"
    assert detail["signals"][0][0] in ("rsi", "macd", "cross", "regime")


def test_a_small_expected_move_shows_its_sign_and_size_not_minus_zero():
    """A DOWN call expecting -0.004% printed as '-0.00%' (a direction with no visible size),
    on the dashboard and in `predict`."""
    from assistant.cli.cycle import predict_table
    from assistant.cycle.run import Call
    from tui.widgets import fmt

    down = {"direction": "down", "pred_change_pct": -0.004, "horizon": 1}
    assert str(fmt.call(down)) == "▼ -0.004% 1d"
    assert str(fmt.call({**down, "pred_change_pct": -0.0002})) == "▼ -<0.001% 1d"
    assert str(fmt.call({**down, "pred_change_pct": -1.234})) == "▼ -1.23% 1d"
    call = Call(
        "AAA", "2013-03-01", 1, "2013-03-04", 100.0, "down", -0.004, 99.996, 99.0, 101.0,
        98.0, 102.0, 0.01, 0.5, 0.1, 0.4, 0.55, "sideways", "xgboost-v1", False,
    )  # fmt: skip
    assert " DOWN  -0.004% " in predict_table([call])


def test_with_no_directional_call_the_trend_charts_the_ranges_coverage(db):
    """Every verified call is FLAT: the accuracy panel has no hit rate to draw, so it charts
    the rolling coverage of the 80% and 95% ranges, which every call carries."""
    symbols.add(db, ["AAA"], "sample")
    covered = [(1, 1), (0, 1), (1, 1), (1, 0)]  # (in 80%, in 95%) per target session
    for i, (c80, c95) in enumerate(covered):
        _pred(db, "AAA", f"2018-01-0{i + 1}", f"2018-01-0{i + 2}", None, None)
        db.execute(
            "UPDATE predictions SET direction = 'flat', hit = NULL, covered80 = ?, covered95 = ? "
            "WHERE as_of = ?",
            [c80, c95, f"2018-01-0{i + 1}"],
        )
    db.conn.commit()
    trend = accuracy_trend(db, window=2)
    assert trend["n"] == 0 and trend["dates"] == []
    assert trend["range_dates"] == ["2018-01-03", "2018-01-04", "2018-01-05"]
    assert trend["cov80"] == [0.5, 0.5, 1.0] and trend["cov95"] == [1.0, 1.0, 0.5]
    from tui.widgets.trend import title_of

    title = title_of(trend)
    assert title.startswith("80% range covered 75% of 4 calls (no UP/DOWN calls yet)")
    assert "coverage of the 80% and 95% ranges" in title


def test_a_command_to_paste_names_the_home_only_when_the_cli_would_not_pick_it(
    tmp_path, monkeypatch
) -> None:
    from tui.home import command

    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "mine"))
    assert command(tmp_path / "mine", "report") == "assistant report"
    other = tmp_path / "demo home"
    assert command(other, "report") == f"assistant --home '{other}' report"


# What the accuracy trend sums per target session, straight from the verified calls: the
# per-session sums the triggers keep (verified_by_target) must always equal it.
SUMS_OVER_CALLS = (
    "SELECT target_date, COUNT(*), COUNT(hit), COALESCE(SUM(hit), 0), "
    "COALESCE(SUM(CASE WHEN hit IS NOT NULL THEN up_hit END), 0), "
    "COALESCE(SUM(CASE WHEN hit IS NOT NULL THEN majority_hit END), 0), "
    "COUNT(covered80), COALESCE(SUM(covered80), 0), COUNT(covered95), COALESCE(SUM(covered95), 0) "
    "FROM predictions WHERE status = 'verified' GROUP BY target_date ORDER BY target_date"
)
KEPT_SUMS = (
    "SELECT target_date, calls, n, hits, ups, majs, n80, in80, n95, in95 "
    "FROM verified_by_target ORDER BY target_date"
)


def test_the_per_session_sums_follow_every_write_to_the_calls(db):
    from store import predictions
    from store.db import immediate

    fill(db)
    assert db.execute(KEPT_SUMS).fetchall() == db.execute(SUMS_OVER_CALLS).fetchall()
    pending = [r[0] for r in db.execute("SELECT id FROM predictions WHERE status = 'pending'")]
    with immediate(db):  # verify (hit, miss, FLAT with no hit, no range), then expire
        predictions.mark_verified(
            db,
            [
                predictions.Verdict(
                    1.0, 0.5, 1, "up", 0, 1, 1, 1, "2018-07-02T21:30:00+00:00", pending[0]
                ),
                predictions.Verdict(
                    1.0, 0.5, 0, "down", 1, 0, 0, 1, "2018-07-02T21:30:00+00:00", pending[1]
                ),
                predictions.Verdict(
                    1.0,
                    0.5,
                    None,
                    "flat",
                    1,
                    1,
                    None,
                    None,
                    "2018-07-02T21:30:00+00:00",
                    pending[2],
                ),
            ],
        )
        predictions.mark_expired(db, pending[3:5], "2018-07-09")
    assert db.execute(KEPT_SUMS).fetchall() == db.execute(SUMS_OVER_CALLS).fetchall()
    with immediate(db):  # rescored, moved to another session, reopened, deleted
        db.execute("UPDATE predictions SET hit = 1 - hit WHERE id % 7 = 0 AND hit IS NOT NULL")
        db.execute("UPDATE predictions SET covered95 = NULL WHERE id % 5 = 0")
        db.execute("UPDATE predictions SET target_date = '2018-08-01' WHERE id % 11 = 0")
        db.execute("UPDATE predictions SET status = 'pending' WHERE id % 13 = 0")
        db.execute("DELETE FROM predictions WHERE id % 17 = 0")
    assert db.execute(KEPT_SUMS).fetchall() == db.execute(SUMS_OVER_CALLS).fetchall()
    trend = accuracy_trend(db)
    n, hits = db.execute(
        "SELECT COUNT(hit), SUM(hit) FROM predictions WHERE status = 'verified'"
    ).fetchone()
    assert trend["n"] == n and trend["hit_rate"] == hits / n


def test_opening_an_older_database_fills_the_per_session_sums(home):
    from store.db import DB_FILENAME, connect, open_db
    from store.schema import MIGRATIONS

    home.mkdir(parents=True)
    older = connect(home / DB_FILENAME)
    MIGRATIONS.apply(older, stop_before="m015_verified_by_target")  # a home from before it
    fill(older)
    expected = older.execute(SUMS_OVER_CALLS).fetchall()
    older.close()
    db = open_db(home)  # what the CLI, the daemon and the TUI do first
    try:
        assert expected and db.execute(KEPT_SUMS).fetchall() == expected
        assert accuracy_trend(db)["n"] == sum(row[2] for row in expected)
    finally:
        db.close()


def test_a_verify_pass_adds_each_call_once_and_a_failed_pass_changes_nothing(db, monkeypatch):
    from store import predictions, schema
    from store.db import immediate

    fill(db)
    pending = [r[0] for r in db.execute("SELECT id FROM predictions WHERE status = 'pending'")]
    row = predictions.Verdict(
        1.0, 0.5, 1, "up", 0, 1, 1, 1, "2018-07-02T21:30:00+00:00", pending[0]
    )
    with immediate(db):
        predictions.mark_verified(db, [row])
    before = db.execute(KEPT_SUMS).fetchall()
    with immediate(db):  # the same call again (already verified): no second count
        predictions.mark_verified(db, [row])
    assert db.execute(KEPT_SUMS).fetchall() == before == db.execute(SUMS_OVER_CALLS).fetchall()
    # a pass that fails halfway (at its sums, or after its UPDATE) leaves the calls
    # pending, the sums as they were and the update triggers on
    monkeypatch.setattr(schema, "verified_sums_of", lambda table, **_: "SELECT no_such_column")
    with pytest.raises(sqlite3.OperationalError), immediate(db):
        predictions.mark_verified(db, [row._replace(id=pending[1])])
    monkeypatch.undo()
    db.execute(  # fails where the pass lifts its pause, after the UPDATE
        "CREATE TEMP TRIGGER fail_after_update BEFORE DELETE ON sums_paused "
        "BEGIN SELECT RAISE(ABORT, 'injected'); END"
    )
    with pytest.raises(sqlite3.IntegrityError), immediate(db):
        predictions.mark_verified(db, [row._replace(id=pending[1])])
    db.execute("DROP TRIGGER temp.fail_after_update")
    status = db.execute("SELECT status FROM predictions WHERE id = ?", [pending[1]]).fetchone()
    assert status == ("pending",) and db.execute("SELECT * FROM sums_paused").fetchall() == []
    assert db.execute(KEPT_SUMS).fetchall() == before
    with immediate(db):  # a plain update outside a pass still moves the sums
        db.execute("UPDATE predictions SET hit = 0 WHERE id = ?", [pending[0]])
    assert db.execute(KEPT_SUMS).fetchall() == db.execute(SUMS_OVER_CALLS).fetchall() != before


def test_every_row_a_view_reads_names_exactly_its_types_keys(db):
    """The views read rows by name (store.views.read.rows): each SELECT must give exactly its
    TypedDict's keys, or the type the screens rely on says something the row does not hold."""
    from store.views.activity import CommandLine, RunningJob, recent_commands, running_jobs
    from store.views.calls import LatestCall
    from store.views.pending import PendingCall
    from store.views.symbol import HistoryCall

    fill(db)
    db.execute(
        "INSERT INTO commands (kind, args, created_at, status) "
        "VALUES ('predict', '{}', '2018-06-29T21:00:00+00:00', 'queued')"
    )
    data = dashboard(db, now=FIXED_NOW)
    detail = symbol_detail(db, "AAPL")
    read = {
        RunningJob: running_jobs(db),
        CommandLine: recent_commands(db),
        LatestCall: [r["call"] for r in data["watchlist"] if r["call"]],
        PendingCall: data["pending"],
        HistoryCall: detail["history"],
    }
    for row_type, got in read.items():
        assert got, row_type.__name__  # something was read, so the check below can fail
        keys = row_type.__required_keys__ | row_type.__optional_keys__
        assert all(set(r) == keys for r in got), (row_type.__name__, set(got[0]) ^ keys)
