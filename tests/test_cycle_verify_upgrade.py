"""m021_verify on a home with data: the index it drops was read by no query, so every reader
answers the same after the upgrade, and a verify pass afterwards writes what it wrote before."""

from __future__ import annotations

import shutil
from datetime import date

from store import alerts, predictions
from store.db import DB_FILENAME, connect, immediate, open_db
from store.schema import MIGRATIONS
from store.views import dashboard, pending, trend
from tests.tui_fixture import FIXED_NOW, fill

SINCE = "2018-05-01"
ALERT_READS = (  # the only queries that name verified_at (store.alerts)
    "SELECT * FROM predictions WHERE status = 'verified' AND verified_at >= ? ORDER BY id",
    "SELECT * FROM predictions WHERE status = 'verified' AND verified_at BETWEEN ? AND ? "
    "ORDER BY id",
)


def _reads(db) -> dict[str, object]:
    """What the ledger, report, alerts and dashboard read from the calls."""
    return {
        "listing": predictions.listing(db),
        "scored": predictions.scored(db),
        "counts": predictions.counts(db),
        "residuals": predictions.residuals(db, [], date(2018, 6, 29)),
        "live": predictions.live_record(db, "signals-v1"),
        "since": alerts.verified_since(db, SINCE),
        "between": alerts.verified_between(db, SINCE, "2018-06-30"),
        "pending": pending.pending(db, "2018-06-29"),
        "trend": trend.accuracy_trend(db),
        "dashboard": dashboard.dashboard(db, now=FIXED_NOW)["watchlist"],
        "plans": [
            [
                r[3]
                for r in db.execute("EXPLAIN QUERY PLAN " + sql, [SINCE, SINCE][: sql.count("?")])
            ]
            for sql in ALERT_READS
        ],
    }


def _pass(db) -> list[tuple]:
    """Verify half the pending calls, expire the rest; the calls as stored after it."""
    pending = [r[0] for r in db.execute("SELECT id FROM predictions WHERE status = 'pending'")]
    half = pending[: len(pending) // 2]
    with immediate(db):
        predictions.mark_verified(
            db,
            [
                predictions.Verdict(101.0, 0.5, i % 2, "up", 1, 0, i % 3 % 2, 1, "2018-07-02", i)
                for i in half
            ],
        )
        predictions.mark_expired(db, pending[len(half) :], "2018-07-03")
    return db.execute("SELECT * FROM predictions ORDER BY id").fetchall()


def test_a_home_with_pending_and_verified_calls_upgrades_and_reads_the_same(home):
    home.mkdir(parents=True)
    older = connect(home / DB_FILENAME)
    MIGRATIONS.apply(older, stop_before="m021_verify")  # a home from before it
    fill(older)
    counts = predictions.counts(older)
    assert counts["verified"] and counts["pending"]
    before = _reads(older)
    older.close()
    kept = home.parent / "kept"  # the same home, left at the older schema
    shutil.copytree(home, kept)

    db = open_db(home)  # what the CLI, the daemon and the TUI do first
    try:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "predictions_verified_at" not in names and "predictions_status_target" in names
        assert _reads(db) == before
        upgraded = _pass(db)
    finally:
        db.close()
    old = connect(kept / DB_FILENAME)
    try:
        assert _pass(old) == upgraded  # the same pass on the older schema stores the same
    finally:
        old.close()
