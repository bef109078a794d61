"""`mark_verified` takes a pass's verdicts as rows (`Verdict`, one per call: the hourly
ledger, tools) or as columns (`Verdicts`: the daily pass, 100k calls in a backlog); both
store the same scores and per-session sums, and a call no longer pending is left alone."""

from __future__ import annotations

from store import predictions as ledger
from store.db import immediate
from tests.cycle_fixture import add_call, make_home, price_path

ROWS = [
    ledger.Verdict(101.0, 0.5, 1, "up", 1, 1, 1, 1, "2024-01-09T00:00:00+00:00", 1),
    ledger.Verdict(99.0, -1.5, None, "down", 0, None, None, 0, "2024-01-09T00:00:00+00:00", 2),
    ledger.Verdict(100.0, -0.5, 0, "flat", 0, 0, 1, None, "2024-01-09T00:00:00+00:00", 3),
]


def _home(path):
    db, _ = make_home(path, {"AAA": price_path([100.0, 101.0, 99.0, 100.0, 102.0])})
    for as_of, target in (("2024-01-02", "2024-01-03"), ("2024-01-03", "2024-01-04")):
        add_call(db, "AAA", as_of, target, base=100.0)
    add_call(db, "AAA", "2024-01-04", "2024-01-05", base=100.0, direction="flat")
    with immediate(db):  # the third call was expired before this pass: it stays so
        ledger.mark_expired(db, [3], "2024-01-08T00:00:00+00:00")
    return db


def _stored(db):
    calls = db.execute(
        "SELECT id, status, actual_price, error_pct, hit, outcome, up_hit, majority_hit, "
        "covered80, covered95, verified_at FROM predictions ORDER BY id"
    ).fetchall()
    return calls, db.execute("SELECT * FROM verified_by_target ORDER BY 1").fetchall()


def test_verdicts_as_columns_store_what_the_same_rows_store(tmp_path):
    by_rows, by_columns = _home(tmp_path / "rows"), _home(tmp_path / "columns")
    with immediate(by_rows):
        ledger.mark_verified(by_rows, ROWS)
    with immediate(by_columns):
        ledger.mark_verified(by_columns, ledger.Verdicts(*zip(*ROWS, strict=True)))
    calls, sums = _stored(by_columns)
    assert (calls, sums) == _stored(by_rows)
    assert [c[1] for c in calls] == ["verified", "verified", "expired"]
    assert calls[1][2:] == tuple(ROWS[1][:-1])  # None stays NULL, floats as given
    assert sums == [
        ("2024-01-03", 1, 1, 1, 1, 1, 1, 1, 1, 1),
        ("2024-01-04", 1, 0, 0, 0, 0, 0, 0, 1, 0),
    ]


def test_no_verdicts_as_columns_write_nothing(tmp_path):
    db = _home(tmp_path / "home")
    before = _stored(db)
    with immediate(db):
        ledger.mark_verified(db, ledger.Verdicts(*([()] * len(ledger.Verdicts._fields))))
    assert _stored(db) == before
