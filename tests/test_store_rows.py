"""The store's named rows name what SQLite holds: each row type read with SELECT * has
exactly the columns of its table after every migration (a column added by a new migration
and not to its row type fails here, not at a reader's KeyError)."""

from __future__ import annotations

import pytest

from store import commands, daemon_state, hourly_calls, jobs, market, predictions, symbols
from store import weights as weight_store

ROWS = {
    "job_runs": jobs.JobRun,
    "weight_changes": weight_store.WeightChange,
    "symbols": symbols.SymbolRow,
    "call_context": market.CallContext,
    "predictions": predictions.PredictionRecord,
    "hourly_predictions": hourly_calls.HourlyCallRecord,
    "commands": commands.CommandRow,
    "daemon": daemon_state.DaemonRow,
}


@pytest.mark.parametrize("table", sorted(ROWS))
def test_row_type_has_the_tables_columns(db, table):
    columns = {r[1] for r in db.execute(f"PRAGMA table_info({table})").fetchall()}
    row = ROWS[table]
    assert row.__required_keys__ | row.__optional_keys__ == columns


def test_watchlist_and_scored_rows_have_their_named_keys(db):
    symbols.add(db, ["AAPL"], "sample")
    (row,) = symbols.watchlist(db)
    assert set(row) == symbols.WatchlistRow.__required_keys__
    assert row["status"] == "watched" and row["bars"] == 0
    scored = predictions.ScoredCall.__required_keys__
    assert scored < predictions.PredictionRecord.__required_keys__
    db.execute(
        "INSERT INTO predictions (symbol, as_of, horizon, model_version, made_at, target_date, "
        "base_price, pred_change_pct, pred_price, direction, status, actual_price, error_pct, "
        "hit, outcome) VALUES ('AAPL', '2024-01-02', 1, 'rules', 'now', '2024-01-03', 100, 1, "
        "101, 'up', 'verified', 102, 1, 1, 'up')"
    )
    (call,) = predictions.scored(db)
    assert set(call) == scored
