"""Replay walks the bars stored in the home when the source has none (imported CSVs)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assistant import calendar
from assistant.ingest.sources.synthetic import synthetic_bars
from models import outcomes
from store import commands
from tests.daemon_fixture import cli, job_running, query, spawn, wait_for
from vocab import commands as cmd

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


@pytest.mark.slow  # a real daemon process
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


@pytest.mark.slow  # a real daemon process
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


@pytest.mark.slow  # a real daemon process
def test_nothing_trains_after_the_replay_ends_unless_asked(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC").returncode == 0
    args = ("daemon", "--replay", "--speed", "0", "--from", "2012-10-01", "--retrain-every", "500")
    # The replay's own due retrain (its first session) runs at full speed, and the clock waits
    # for it; every later training (drift's, once that model is older than drift's cooldown)
    # would take 600 s: far longer than the replay.
    daemon = spawn(home, *args, slow="train", slow_s=600, extra_env={"SLOW_AFTER": "1"})
    wait_for(
        lambda: query(home, "SELECT 1 FROM daemon WHERE state = 'finished'"),
        300,
        "the replay to finish",
        daemon,
    )
    # the job's run row and its command's row are written one after the other: wait for both
    wait_for(
        lambda: (
            not job_running(home, "retrain")
            and not query(home, "SELECT 1 FROM commands WHERE status IN ('queued', 'running')")
        ),
        60,
        "the training to be cancelled",
        daemon,
    )
    runs = query(home, "SELECT status, message FROM job_runs WHERE job = 'retrain' ORDER BY id")
    assert runs[0][0] == "ok", runs  # the due retrain: done before its session's calls
    assert len(runs) >= 2 and all(status == "interrupted" for status, _ in runs[1:]), runs
    # Drift queued retrains during the replay: after it, none waits or runs.
    drift = query(home, "SELECT status, error FROM commands WHERE kind = 'retrain'")
    assert drift and all(s == "failed" and "replay ended" in e for s, e in drift), drift
    daemon.terminate()
    assert daemon.wait(30) == 0
    log = (home / "logs" / "daemon.log").read_text()
    # the whole burst of cancellations is one line
    said = [ln for ln in log.splitlines() if "cancelled" in ln]
    assert len(said) == 1 and "scheduled training(s) cancelled: nobody asked for them" in said[0]


def test_a_retrain_is_queued_once_per_symbols_and_reason(db):
    first = commands.enqueue(db, cmd.Retrain(("AAPL",), reason="drift: PSI 0.3", scheduled=True))
    again = commands.enqueue(db, cmd.Retrain(("AAPL",), reason="drift: PSI 0.4", scheduled=True))
    assert again == first
    other = commands.enqueue(db, cmd.Retrain(("AAPL",)))  # requested by a user
    both = commands.enqueue(db, cmd.Retrain(("AAPL", "MSFT"), reason="drift: x", scheduled=True))
    everything = commands.enqueue(db, cmd.Retrain())
    assert len({first, other, both, everything}) == 4
    assert commands.enqueue(db, cmd.Retrain((" aapl",))) == other
    claimed = commands.claim_next(db)
    assert claimed is not None and claimed.id == first  # running: still the one entry
    assert commands.enqueue(db, cmd.Retrain(("AAPL",), reason="drift: y", scheduled=True)) == first
    commands.finish(db, first, result=cmd.Retrained({}))
    assert commands.enqueue(db, cmd.Retrain(("AAPL",), reason="drift: z", scheduled=True)) > first
    assert commands.enqueue(db, cmd.Predict()) != commands.enqueue(db, cmd.Predict())


@pytest.mark.slow
def test_a_replay_calls_what_the_backtest_calls_for_the_same_settings(tmp_path):
    """A small home replayed at speed 0 to the end, then `backtest --predictions-out` with
    the same settings: the same model calls (symbol, as_of, horizon), trained through the
    same session, with the same direction and hits.

    Drift is turned off ([cycle] psi_threshold and accuracy_drop out of reach): a drift
    retrain is the one thing a replay does that a backtest has no counterpart for.
    The ledger's `direction` pools the model with the rule signals and drift under the
    adaptive weights; the backtest scores the model alone, so the row's `model_call`
    (stored with every model-served call) is what is compared."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[collect]\nsource = "sample"\n[models]\nkinds = ["markov"]\nhorizons = [1, 3]\n'
        "[cycle]\npsi_threshold = 100.0\naccuracy_drop = 1.0\n"  # the largest allowed: off
    )
    # Four symbols with a planted, learnable signal: validation has enough rows (200) for a
    # threshold to qualify, so the models make UP/DOWN calls, not only FLAT ones.
    names = ("KO", "PEP", "XOM", "JNJ")  # none is in the offline sample: stored bars replay
    paths = []
    days = calendar.sessions("XNYS", "2018-01-02", "2021-12-31")[:800]  # as real bars fall
    for i, sym in enumerate(names):
        frame = synthetic_bars(800, seed=40 + i, edge=0.6, start="2018-01-02")
        frame.index = days.rename(frame.index.name)
        out = frame.rename(columns=str.title)[["Open", "High", "Low", "Close", "Volume"]]
        out.index.name = "Date"
        out.to_csv(tmp_path / f"{sym}.csv", float_format="%.4f")
        paths.append(str(tmp_path / f"{sym}.csv"))
    assert cli(home, "import", *paths).returncode == 0
    assert cli(home, "watch", "add", *names).returncode == 0
    kinds = {"ASSISTANT_MODELS_KINDS": "markov"}
    every, start = 20, "2020-11-02"
    daemon = spawn(
        home,
        *("daemon", "--replay", "--speed", "0", "--from", start, "--retrain-every", str(every)),
        extra_env=kinds,
    )
    wait_for(
        lambda: query(home, "SELECT 1 FROM daemon WHERE state = 'finished'"),
        300,
        "the replay to finish",
        daemon,
    )
    daemon.terminate()
    assert daemon.wait(30) == 0
    end = query(home, "SELECT MAX(sim_date) FROM daemon")[0][0]
    out = tmp_path / "bt.csv"
    done = cli(
        home,
        *("backtest", "--from", start, "--to", end, "--retrain-every", str(every)),
        *("--models", "markov", "--horizons", "1,3", "--predictions-out", str(out)),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    bt = pd.read_csv(out, dtype={"as_of": str, "trained_through": str})
    rows = query(
        home,
        "SELECT p.symbol, p.as_of, p.horizon, p.signals, p.base_price, p.actual_price, "
        "p.status, m.metrics FROM predictions p JOIN models m ON m.id = p.model_version",
    )
    calls = query(home, "SELECT COUNT(*) FROM predictions")[0][0]
    assert len(rows) == calls  # every call was made by a walk-forward model: none stale
    ledger = pd.DataFrame(
        [
            {
                "symbol": s,
                "as_of": d,
                "horizon": h,
                "call_replay": json.loads(sig)["model_call"],
                "trained_replay": json.loads(metrics)["info"]["trained_through"],
                "return_replay": math.log(actual / base) if status == "verified" else np.nan,
            }
            for s, d, h, sig, base, actual, status, metrics in rows
        ]
    )
    both = ledger.merge(bt, on=["symbol", "as_of", "horizon"], how="outer", indicator=True)
    assert (both["_merge"] == "both").all(), both[both["_merge"] != "both"].head()
    assert len(both) == len(bt) == len(names) * 2 * len(set(bt["as_of"]))
    assert (both["trained_replay"] == both["trained_through"]).all()
    assert len(set(both["trained_through"])) >= 2  # retrained along the way
    assert (both["call_replay"] == both["call"]).all(), both[both["call_replay"] != both["call"]]
    assert set(both["call"]) - {"flat"}  # some directional calls to score
    scored = both[np.isfinite(both["return_replay"])]
    assert len(scored) > len(both) // 2
    np.testing.assert_allclose(scored["return_replay"], scored["actual_return"], rtol=1e-4)
    replay_hit = outcomes.hit(scored["call_replay"].to_numpy(), scored["return_replay"].to_numpy())
    np.testing.assert_array_equal(np.nan_to_num(replay_hit, nan=-1), scored["hit"].fillna(-1))
