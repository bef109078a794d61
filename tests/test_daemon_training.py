"""Training in the daemon, for real (torch LSTM, XGBoost): off the loop thread, killed or
stopped midway it registers nothing partial, and model calls take over when it lands."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from store import commands
from store.db import open_db
from tests.daemon_fixture import cli, integrity_ok, job_running, kill9, query, spawn, wait_for
from vocab import commands as cmd

pytestmark = pytest.mark.slow

REPLAY = ("daemon", "--replay", "--speed", "20", "--from", "2012-06-01")


def _training(home: Path, kind: str) -> bool:
    rows = query(
        home,
        "SELECT message FROM job_runs WHERE job = 'retrain' AND status = 'running' "
        "AND progress > 0",
    )
    return any(kind in (m or "") for (m,) in rows)


def _models(home: Path) -> list[tuple]:
    return query(home, "SELECT id, kind, status, artifact_path FROM models ORDER BY id")


def test_training_killed_or_stopped_midway_registers_nothing_then_models_take_over(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC", "^IXIC").returncode == 0
    lstm = {"ASSISTANT_MODELS_KINDS": "lstm", "ASSISTANT_MODELS_EPOCHS": "50"}

    # 1. kill -9 while the LSTM trains: nothing registered, the store intact.
    proc = spawn(home, *REPLAY, extra_env=lstm)
    wait_for(lambda: _training(home, "lstm"), 60, "LSTM training in progress", proc)
    # The loop keeps going while it trains (heartbeats), but the replay's clock waits for
    # the retrain due at its first session: no call is made before it is done.
    beat = query(home, "SELECT heartbeat_at FROM daemon")[0][0]
    wait_for(
        lambda: query(home, "SELECT heartbeat_at FROM daemon")[0][0] != beat,
        10,
        "a heartbeat during training",
        proc,
    )
    assert query(home, "SELECT COUNT(*) FROM predictions") == [(0,)]
    kill9(proc)
    assert integrity_ok(home)
    assert _models(home) == []

    # 2. Restart with XGBoost: the first session's retrain runs first, the model is
    #    registered whole, and it makes the calls.
    proc = spawn(
        home,
        "daemon",
        "--replay",
        "--speed",
        "20",
        extra_env={"ASSISTANT_MODELS_KINDS": "xgboost,rules"},
    )
    wait_for(
        lambda: [m for m in _models(home) if m[1] == "xgboost" and m[2] == "serving"],
        90,
        "a serving XGBoost model",
        proc,
    )
    for _id, _kind, _status, path in _models(home):
        assert (home / path).is_dir() and any((home / path).iterdir())
    assert query(home, "SELECT status FROM job_runs WHERE job = 'retrain' ORDER BY id")[0] == (
        "interrupted",
    )
    wait_for(
        lambda: query(home, "SELECT 1 FROM predictions WHERE model_version != 'signals-v1'"),
        30,
        "a call made by a trained model",
        proc,
    )
    assert query(home, "SELECT COUNT(*) FROM predictions WHERE model_version = 'signals-v1'") == [
        (0,)
    ]

    # 3. SIGTERM during a requested LSTM retrain: exit 0, nothing registered, the command
    #    back in the queue marked re-queued (the training was cut short, not finished and
    #    then dropped). How fast the stop is depends on the machine's load: no time bound
    #    here beyond a generous wait.
    db = open_db(home)
    cid = commands.enqueue(db, cmd.Retrain(kinds=("lstm",), reason="test"))
    wait_for(lambda: _training(home, "lstm"), 60, "the requested LSTM training", proc)
    proc.terminate()
    assert proc.wait(90) == 0
    assert not [m for m in _models(home) if m[1] == "lstm"]
    row = commands.get(db, cid)
    assert row["status"] == "queued" and "stopped during training" in row["error"], row
    db.close()
    assert integrity_ok(home)
    assert os.path.exists(home / "logs" / "daemon.log")


def test_a_retrain_asked_for_one_symbol_retrains_the_watchlists_models(tmp_path):
    """`r` on ^GSPC in the dashboard queues `retrain {"symbols": ["^GSPC"]}`: the daemon
    retrains the watchlist's models, so ^IXIC is never served by a model that never saw it."""
    import json

    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC", "^IXIC").returncode == 0
    proc = spawn(home, "daemon", "--replay", "--speed", "0", "--from", "2013-02-01")
    wait_for(
        lambda: query(home, "SELECT 1 FROM daemon WHERE state = 'finished'"),
        120,
        "the replay to finish",
        proc,
    )
    db = open_db(home)
    cid = commands.enqueue(db, cmd.Retrain(("^GSPC",)))  # what the TUI's `r` writes
    row = wait_for(
        lambda: (r := commands.get(db, cid))["status"] in ("done", "failed") and r,
        180,
        "the retrain command to finish",
        proc,
    )
    assert row["status"] == "done", row
    result = json.loads(row["result"])
    assert result["symbols"] == ["^GSPC", "^IXIC"]
    trained = [r["model_id"] for r in result["results"] if r["model_id"]]
    assert trained
    for model_id in trained:
        (symbols,) = query(home, "SELECT symbols FROM models WHERE id = ?", (model_id,))[0]
        assert json.loads(symbols) == ["^GSPC", "^IXIC"], model_id
    assert (
        "requested for ^GSPC"
        in query(home, "SELECT scheduled_for FROM job_runs WHERE job = 'retrain' ORDER BY id DESC")[
            0
        ][0]
    )
    proc.terminate()
    assert proc.wait(30) == 0
    db.close()
    # ^IXIC's call now comes from a model trained on it.
    done = cli(home, "predict", "^IXIC", "--json")
    assert done.returncode == 0, done.stderr
    versions = {c["model_version"] for c in json.loads(done.stdout)}
    assert versions and versions != {"signals-v1"}
    for version in versions:
        (symbols,) = query(home, "SELECT symbols FROM models WHERE id = ?", (version,))[0]
        assert "^IXIC" in json.loads(symbols)


def test_predict_as_of_a_replayed_session_repeats_the_replays_calls(tmp_path):
    """A model the replay trained on data through S but registered sessions later never
    serves a call as of a session before it was registered: `predict --as-of D` afterwards
    says what the replay said at D."""
    import json

    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC", "^IXIC").returncode == 0
    args = ("daemon", "--replay", "--speed", "5", "--from", "2012-12-03", "--retrain-every", "5")
    # every artifact kept: a pruned model cannot answer for its sessions (README, Pruning)
    proc = spawn(home, *args, extra_env={"ASSISTANT_MODELS_KEEP_VERSIONS": "100"})
    wait_for(
        lambda: query(home, "SELECT 1 FROM daemon WHERE state = 'finished'"),
        300,
        "the replay to finish",
        proc,
    )
    proc.terminate()
    assert proc.wait(30) == 0
    models = query(  # the first three ensembles the replay trained (they make the calls)
        home,
        "SELECT id, data_end FROM models WHERE status IN ('serving', 'retired') "
        "AND kind = 'ensemble' ORDER BY version LIMIT 3",
    )
    assert models, "no model was registered during the replay"
    said = {}
    for symbol, as_of, horizon, version in query(
        home, "SELECT symbol, as_of, horizon, model_version FROM predictions"
    ):
        said.setdefault(as_of, set()).add((symbol, horizon, version))
    days = sorted(said)
    # The first sessions after each model's last bar: a model trained through S but
    # registered sessions later must not serve them in hindsight.
    probe = set()
    for _id, data_end in models:
        probe.update([d for d in days if d > data_end][:2])
    assert probe
    for day in sorted(probe):
        done = cli(home, "predict", "--as-of", day, "--json")
        assert done.returncode == 0, done.stderr
        again = {(c["symbol"], c["horizon"], c["model_version"]) for c in json.loads(done.stdout)}
        assert again == said[day], day


def test_one_training_at_a_time_and_waiting_retrains_stay_queued(tmp_path):
    """Retrains asked while one trains stay `queued` (other commands go past them); each
    starts only when the training before it has ended, so at most one runs at a time, and
    the queued ones for the same kinds are served by one training."""
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC").returncode == 0
    # Every training takes 2 s more: a live daemon starts one at once (nothing trained yet).
    proc = spawn(home, "daemon", slow="train", slow_s=2.0)
    wait_for(lambda: job_running(home, "retrain"), 120, "the first training", proc)
    db = open_db(home)
    first = commands.enqueue(db, cmd.Retrain(("^GSPC",)))
    other = commands.enqueue(db, cmd.Retrain(kinds=("rules",)))
    same = commands.enqueue(db, cmd.Retrain(reason="requested again"))
    predict = commands.enqueue(db, cmd.Predict())
    wait_for(
        lambda: commands.get(db, predict)["status"] in ("done", "failed"), 120, "predict", proc
    )
    # The predict went past the retrains while the first training ran.
    if job_running(home, "retrain"):
        assert {commands.get(db, c)["status"] for c in (first, other, same)} <= {"queued"}

    def finished() -> list | None:
        rows = [commands.get(db, c) for c in (first, other, same)]
        return rows if all(r["finished_at"] for r in rows) else None

    rows = wait_for(finished, 240, "the retrains to finish", proc)
    proc.terminate()
    assert proc.wait(30) == 0
    db.close()
    assert [r["status"] for r in rows] == ["done", "done", "done"], rows
    # `first` and `same` (same kinds: all) were claimed together and served by one training.
    assert rows[0]["claimed_at"] == rows[2]["claimed_at"]
    spans = sorted(
        query(
            home,
            "SELECT started_at, finished_at FROM job_runs WHERE job = 'retrain' ORDER BY id",
        )
    )
    assert len(spans) == 3, spans  # the start's own training, then one per kind set
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        assert start >= end, spans  # never two at once
    one, two = sorted([rows[0], rows[1]], key=lambda r: r["claimed_at"])
    assert two["claimed_at"] >= one["finished_at"], rows  # claimed when the other had ended


def test_a_training_that_keeps_killing_the_daemon_is_not_started_again_on_its_own(tmp_path):
    """A small machine: the first training runs out of memory and the kernel kills the
    daemon (SIGKILL); systemd starts it again (Restart=on-failure), it trains again at once
    (nothing trained yet) and dies again, every ten seconds, for good. After two trainings
    in a row died with the daemon, it does not start another on its own and says why; one
    asked for explicitly still runs."""
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC").returncode == 0

    def training_after(run: int) -> int:  # a retrain run newer than `run`, running now
        rows = query(
            home, "SELECT MAX(id) FROM job_runs WHERE job = 'retrain' AND status = 'running'"
        )
        return rows[0][0] if rows and rows[0][0] and rows[0][0] > run else 0

    run = 0
    for _ in range(2):  # two deaths in the middle of the training
        proc = spawn(home, "daemon", slow="train", slow_s=600)
        run = wait_for(lambda: training_after(run), 120, "the training", proc)  # noqa: B023
        kill9(proc)
    proc = spawn(home, "daemon", slow="train", slow_s=600)
    out = Path(f"{home}.out")
    said = (
        "the last 2 trainings died with the daemon (killed for memory? `journalctl -k` or "
        "`dmesg` says); it does not start another on its own: `assistant train` in a shell "
        "shows what happens, fewer [models] kinds or max_train_rows use less memory, and a "
        "retrain asked for (the dashboard's key, `assistant train`) still runs"
    )
    wait_for(lambda: said in out.read_text(), 120, "the refusal", proc)
    assert not training_after(run)
    db = open_db(home)
    commands.enqueue(db, cmd.Retrain(reason="asked by the user"))
    db.close()
    wait_for(lambda: training_after(run), 120, "the asked-for training", proc)
    proc.terminate()
    assert proc.wait(30) == 0
