"""Hourly bars as data: the store's summaries, the refusals of bad hours, the roll-up flag
against the daily bars, simulated hours for the offline sample, and `collect` / `import`
of hourly bars through the CLI."""

from __future__ import annotations

import pandas as pd

from assistant.ingest.sources.intraday import synthetic_hours
from assistant.ingest.sources.synthetic import synthetic_bars
from store import hourly
from store.db import open_db


def test_store_summary_last_session_and_flagged_sessions(tmp_path) -> None:
    db = open_db(tmp_path / "assistant.db")
    db["symbols"].insert({"symbol": "AAA", "added_at": "2020-01-01"})
    assert hourly.last_session(db, "AAA") is None and hourly.summary(db) == []
    hours = synthetic_hours(synthetic_bars(5, start="2019-11-20"), "XNYS")
    with db.conn:
        hourly.upsert(db, "AAA", hours, "simulated")
        hourly.flag_sessions(db, "AAA", ["2019-11-21", "2019-11-22"], True)
    assert hourly.last_session(db, "AAA") == f"{hours['session'].iloc[-1]:%Y-%m-%d}"
    assert hourly.flagged_sessions(db, "AAA") == ["2019-11-21", "2019-11-22"]
    (row,) = hourly.summary(db)
    assert (row.symbol, row.bars, row.sessions, row.flagged_sessions, row.sources) == (
        "AAA",
        len(hours),
        hours["session"].nunique(),
        2,
        "simulated",
    )
    assert row.first == "2019-11-20" and pd.Timestamp(row.last) == hours["session"].iloc[-1]
