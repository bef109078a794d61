"""The command queue as the daemon serves it: in order, each with a result or an error;
a failing job does not stop the loop; a flood is capped with a clear message."""

from __future__ import annotations

import json
import time

import pytest

from assistant import config
from assistant.daemon.loop import Daemon
from store import commands
from store.db import immediate, utcnow
from vocab import commands as cmd


@pytest.fixture
def fast(home, monkeypatch):
    monkeypatch.setenv("ASSISTANT_MODELS_KINDS", "rules")
    return home


def _serve_until_idle(home, timeout=60.0):
    """Run an in-process daemon until the queue is empty and training is idle."""
    daemon = Daemon(home, config.load(home), log_to_stderr=False)
    deadline = time.monotonic() + timeout

    def sleep(_s):
        db = daemon.db
        idle = not db.execute(
            "SELECT 1 FROM commands WHERE status IN ('queued', 'running')"
        ).fetchone()
        if (idle and not daemon.worker.busy) or time.monotonic() > deadline:
            daemon.stop.set()
        time.sleep(0.01)

    daemon.sleep = sleep
    assert daemon.run() == 0
    return daemon


def _insert(db, kind: str, args: str) -> int:
    """A command row as an older version (or another program) wrote it, past enqueue."""
    with immediate(db):
        cur = db.execute(
            "INSERT INTO commands (kind, args, created_at) VALUES (?, ?, ?)", [kind, args, utcnow()]
        )
    return int(cur.lastrowid)


@pytest.mark.slow
def test_commands_run_in_order_each_with_a_result_or_an_error(fast, db, monkeypatch):
    from assistant.daemon.worker import TrainingWorker

    # The daemon's own first training (nothing serves yet) would register a model between
    # the two predicts on a slow machine, and the second would rightly be new calls.
    monkeypatch.setattr(TrainingWorker, "submit", lambda self, request: None)
    ids = [
        commands.enqueue(db, cmd.WatchAdd(("^GSPC",))),
        commands.enqueue(db, cmd.WatchAdd(("not a ticker!",))),
        commands.enqueue(db, cmd.WatchRemove(("ZZZZ",))),
        commands.enqueue(db, cmd.Collect()),
        commands.enqueue(db, cmd.Predict(("^GSPC",))),
        commands.enqueue(db, cmd.Verify()),
        # a row written by another program: one symbol as text, a key no kind has
        _insert(db, "predict", '{"symbols": "^GSPC", "extra": 1}'),
    ]
    _serve_until_idle(fast)
    rows = [commands.get(db, i) for i in ids]
    assert [r["status"] for r in rows] == [
        "done",
        "failed",
        "failed",
        "done",
        "done",
        "done",
        "done",
    ]
    assert "not a ticker" in rows[1]["error"]
    assert "not on the watchlist: ZZZZ" in rows[2]["error"]
    assert json.loads(rows[0]["result"])["added"] == ["^GSPC"]
    calls = json.loads(rows[4]["result"])
    assert {c["symbol"] for c in calls} == {"^GSPC"} and sorted(c["horizon"] for c in calls) == [
        1,
        3,
        5,
    ]
    claimed = [r["claimed_at"] for r in rows]
    assert claimed == sorted(claimed)
    # The second predict is the same call again: idempotent, nothing new in the ledger.
    assert db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 3


def test_a_job_that_raises_does_not_stop_the_loop(fast, db, monkeypatch):
    import assistant.cycle.run

    def boom(*a, **k):
        raise RuntimeError("boom in the cycle")

    monkeypatch.setattr(assistant.cycle.run, "run_cycle", boom)
    first = commands.enqueue(db, cmd.Predict())
    after = commands.enqueue(db, cmd.Verify())
    _serve_until_idle(fast)
    assert commands.get(db, first)["status"] == "failed"
    assert commands.get(db, first)["error"] == "RuntimeError: boom in the cycle"
    assert commands.get(db, after)["status"] == "done"
    failed = db.execute(
        "SELECT message FROM job_runs WHERE job = 'cycle' AND status = 'failed'"
    ).fetchall()
    assert ("RuntimeError: boom in the cycle",) in failed


def test_a_flood_of_10k_commands_is_capped_with_a_clear_message_then_served(fast, db):
    accepted, refused = [], []
    for _ in range(10_000):
        try:
            accepted.append(commands.enqueue(db, cmd.Verify()))
        except commands.CommandError as exc:
            refused.append(str(exc))
    assert len(accepted) == commands.MAX_QUEUED == 1000
    assert len(refused) == 9000
    assert refused[0] == (
        "the command queue is full (1000 waiting); is the daemon running? see `assistant status`"
    )
    _serve_until_idle(fast, timeout=100)
    assert commands.counts(db) == {"done": 1000}
    commands.enqueue(db, cmd.Verify())  # room again once served


def test_retrain_rows_stored_before_the_scheduled_field_still_read_as_before(db):
    """A home's database keeps rows an older version queued: its drift check said
    "scheduled" only in the reason's prefix. Such rows still dedupe with the drift check's
    new ones, and a replay's end still cancels them and nothing a user asked for."""
    old_drift = _insert(db, "retrain", '{"symbols": ["AAPL"], "reason": "drift: PSI 0.3"}')
    old_user = _insert(db, "retrain", '{"symbols": ["AAPL"]}')
    old_named = _insert(db, "retrain", '{"symbol": "msft", "reason": "requested for MSFT"}')
    assert cmd.parse("retrain", commands.get(db, old_drift)["args"]) == cmd.Retrain(
        ("AAPL",), reason="drift: PSI 0.3", scheduled=True
    )
    assert not cmd.parse("retrain", commands.get(db, old_named)["args"]).scheduled
    # the drift check's next finding joins the waiting old row; a user's `r` joins the user's
    drift_again = cmd.Retrain(("AAPL",), reason="drift: PSI 0.5", scheduled=True)
    assert commands.enqueue(db, drift_again) == old_drift
    assert commands.enqueue(db, cmd.Retrain(("aapl",))) == old_user
    assert commands.enqueue(db, cmd.Retrain(("MSFT",))) == old_named
    assert commands.cancel_scheduled_retrains(db, "cancelled: the replay ended") == 1
    status = {i: commands.get(db, i)["status"] for i in (old_drift, old_user, old_named)}
    assert status == {old_drift: "failed", old_user: "queued", old_named: "queued"}


def test_a_command_row_another_program_wrote_badly_fails_with_the_reason(fast, db):
    """Arguments that do not fit their kind fail that one row, with why; the rest run."""
    bad = [
        _insert(db, "predict", "not json"),
        _insert(db, "collect", '["AAPL"]'),
        _insert(db, "watch.add", "{}"),
        _insert(db, "retrain", '{"kinds": "lstm"}'),
        _insert(db, "retrain", '{"symbols": 5}'),
        _insert(db, "dance", "{}"),
    ]
    after = commands.enqueue(db, cmd.Verify())
    _serve_until_idle(fast)
    errors = [commands.get(db, i)["error"] for i in bad]
    assert errors[0].startswith("arguments are not valid JSON")
    assert errors[1:] == [
        "command arguments must be a JSON object",
        "this command needs `symbols`",
        "`kinds` must be a list of model kinds",
        "`symbols` must be a list of tickers",
        "unknown command 'dance'",
    ]
    assert {commands.get(db, i)["status"] for i in bad} == {"failed"}
    assert commands.get(db, after)["status"] == "done"
