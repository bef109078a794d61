"""Replay walks the bars stored in the home when the source has none (imported CSVs)."""

from __future__ import annotations

from pathlib import Path

from assistant.ingest.sources.synthetic import synthetic_bars
from store import commands
from tests.daemon_fixture import cli, job_running, query, spawn, wait_for

STOCKS = ("KO", "XOM", "PEP")  # none of them is in the offline sample


def _import_csvs(home: Path, tmp: Path) -> None:
    paths = []
    for i, sym in enumerate(STOCKS):
        frame = synthetic_bars(120, seed=i, start="2019-01-02")
        out = frame.rename(columns=str.title)[["Open", "High", "Low", "Close", "Volume"]]
        out.index.name = "Date"
        path = tmp / f"{sym}.csv"
        out.to_csv(path, float_format="%.4f")
        paths.append(str(path))
    (home).mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[collect]\nsource = "sample"\n')
    done = cli(home, "import", *paths)
    assert done.returncode == 0, done.stderr
    done = cli(home, "watch", "add", *STOCKS)
    assert done.returncode == 0, done.stderr


def test_replay_walks_imported_bars_to_the_last_stored_session(tmp_path):
    home = tmp_path / "home"
    _import_csvs(home, tmp_path)
    last = query(home, "SELECT MAX(date) FROM bars")[0][0]
    daemon = spawn(home, "daemon", "--replay", "--from", "2019-05-01", "--speed", "0")
    wait_for(
        lambda: query(home, "SELECT 1 FROM daemon WHERE state = 'finished'"),
        120,
        "the replay to finish",
        daemon,
    )
    assert query(home, "SELECT MAX(sim_date) FROM daemon")[0][0] == last
    days = {r[0] for r in query(home, "SELECT DISTINCT as_of FROM predictions")}
    assert min(days) == "2019-05-01" and max(days) == last
    called = {r[0] for r in query(home, "SELECT DISTINCT symbol FROM predictions")}
    assert called == set(STOCKS)
    # The source was never asked for them, so none was counted empty or taken off the list.
    assert query(home, "SELECT COUNT(*) FROM symbols WHERE active = 1")[0][0] == 3
    assert not query(home, "SELECT 1 FROM job_runs WHERE job = 'collect'")
    daemon.terminate()
    assert daemon.wait(30) == 0
    log = (home / "logs" / "daemon.log").read_text()
    assert "replaying stored bars of KO, PEP, XOM" in log
    assert "replay waiting" not in log


def test_nothing_to_replay_exits_at_once_with_one_clear_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[collect]\nsource = "sample"\n')
    assert cli(home, "watch", "add", "KO").returncode == 0
    done = cli(home, "daemon", "--replay", "--speed", "0", timeout=60)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr
    assert "nothing to replay" in errors[0] and "KO" in errors[0], errors
    assert query(home, "SELECT state FROM daemon") == [("stopped",)]


def test_nothing_trains_after_the_replay_ends_unless_asked(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC").returncode == 0
    args = ("daemon", "--replay", "--speed", "0", "--from", "2013-02-01", "--retrain-every", "2")
    # The first training would take 600 s: far longer than the 20-session replay.
    daemon = spawn(home, *args, slow="train", slow_s=600)
    wait_for(lambda: job_running(home, "retrain"), 60, "the first training to start", daemon)
    wait_for(
        lambda: query(home, "SELECT 1 FROM daemon WHERE state = 'finished'"),
        120,
        "the replay to finish",
        daemon,
    )
    wait_for(lambda: not job_running(home, "retrain"), 60, "the training to be cancelled", daemon)
    runs = query(home, "SELECT status, message FROM job_runs WHERE job = 'retrain'")
    assert runs and all(status == "interrupted" for status, _ in runs), runs
    # Drift queued retrains during the replay: after it, none waits or runs.
    drift = query(home, "SELECT status, error FROM commands WHERE kind = 'retrain'")
    assert drift and all(s == "failed" and "replay ended" in e for s, e in drift), drift
    daemon.terminate()
    assert daemon.wait(30) == 0
    log = (home / "logs" / "daemon.log").read_text()
    assert "scheduled training(s) cancelled: nobody asked for them" in log


def test_a_retrain_is_queued_once_per_symbols_and_reason(db):
    first = commands.enqueue(db, "retrain", {"symbols": ["AAPL"], "reason": "drift: PSI 0.3"})
    again = commands.enqueue(db, "retrain", {"symbols": ["AAPL"], "reason": "drift: PSI 0.4"})
    assert again == first
    other = commands.enqueue(db, "retrain", {"symbols": ["AAPL"]})  # requested by a user
    both = commands.enqueue(db, "retrain", {"symbols": ["AAPL", "MSFT"], "reason": "drift: x"})
    everything = commands.enqueue(db, "retrain", {})
    assert len({first, other, both, everything}) == 4
    assert commands.enqueue(db, "retrain", {"symbols": "aapl"}) == other
    claimed = commands.claim_next(db)
    assert claimed["id"] == first  # running: still the one entry
    assert commands.enqueue(db, "retrain", {"symbols": ["AAPL"], "reason": "drift: y"}) == first
    commands.finish(db, first, result={})
    assert commands.enqueue(db, "retrain", {"symbols": ["AAPL"], "reason": "drift: z"}) > first
    assert commands.enqueue(db, "predict", {}) != commands.enqueue(db, "predict", {})
