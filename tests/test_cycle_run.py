"""The cycle end to end in a real SQLite home: analyze -> plan -> predict -> act -> verify."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from assistant.cli import main
from assistant.cycle.learn import verify
from assistant.cycle.run import run_cycle
from assistant.ingest.sources.synthetic import synthetic_bars
from store import predictions as ledger
from store import regimes, symbols
from tests.cycle_fixture import make_home, price_path, synthetic_home


def test_cycle_over_synthetic_history_records_calls_and_regimes(home):
    db, settings = synthetic_home(home)
    calls = run_cycle(db, home, settings, as_of=date(2024, 3, 28))
    assert {(c.symbol, c.horizon) for c in calls} == {
        (s, h) for s in ("AAA", "BBB") for h in (1, 3, 5)
    }
    for c in calls:
        assert c.as_of == date(2024, 3, 28) and c.rules_only and c.model_version == "signals-v1"
        assert c.direction in ("up", "down", "flat")
        assert c.confidence is None if c.direction == "flat" else 0 < c.confidence < 1
        assert c.lower < c.target_price < c.upper
        assert "no measured edge yet, n=0" in c.skill and "rules serve" in c.note
    # Good Friday 2024-03-29 is no NYSE session: h=1 lands on Monday
    assert {c.target_date for c in calls if c.horizon == 1} == {date(2024, 4, 1)}
    rows = ledger.listing(db)
    assert len(rows) == 6 and {r["status"] for r in rows} == {"pending"}
    assert json.loads(rows[0]["signals"])["serving"] == "rules"
    hist = regimes.history(db, "AAA")
    assert hist[-1]["date"] == "2024-03-28" and len(hist) > 200


def test_the_cycle_sees_no_bar_after_as_of(home):
    db, settings = synthetic_home(home)
    first = run_cycle(db, home, settings, ["AAA"], as_of=date(2024, 1, 31))
    # rewrite the future: calls as of 2024-01-31 must not change
    from store import bars
    from store.db import immediate

    future = bars.load(db, "AAA", start="2024-02-01")
    future[["open", "high", "low", "close", "raw_close"]] *= 3.0
    with immediate(db):
        db.execute("DELETE FROM predictions")
        bars.upsert(db, "AAA", future, "synthetic")
    again = run_cycle(db, home, settings, ["AAA"], as_of=date(2024, 1, 31))
    assert [(c.change_pct, c.target_price, c.confidence) for c in first] == [
        (c.change_pct, c.target_price, c.confidence) for c in again
    ]


def test_running_twice_adds_nothing(home):
    db, settings = synthetic_home(home)
    first = run_cycle(db, home, settings, as_of=date(2024, 3, 1))
    second = run_cycle(db, home, settings, as_of=date(2024, 3, 1))
    assert all(c.new for c in first) and not any(c.new for c in second)
    assert ledger.counts(db)["pending"] == 6
    assert db.execute("SELECT COUNT(*) FROM regimes WHERE date = '2024-03-01'").fetchone()[0] == 2


def test_holiday_moves_the_target_to_the_next_session(home):
    dates = pd.bdate_range("2024-01-02", "2024-07-03")
    db, settings = make_home(
        home, {"HOL": price_path(100 + np.arange(len(dates)) * 0.1, dates=dates)}
    )
    calls = {c.horizon: c for c in run_cycle(db, home, settings, as_of=date(2024, 7, 3))}
    assert calls[1].target_date == date(2024, 7, 5)  # July 4th is skipped
    assert calls[3].target_date == date(2024, 7, 9)


def test_removed_symbol_keeps_its_history(home):
    db, settings = synthetic_home(home)
    run_cycle(db, home, settings, as_of=date(2024, 3, 1))
    symbols.remove(db, "BBB")
    calls = run_cycle(db, home, settings, as_of=date(2024, 3, 4))
    assert {c.symbol for c in calls} == {"AAA"}
    report = verify(db, settings, as_of=date(2024, 3, 20))
    assert report.verified == 9  # BBB's old calls are still scored
    assert ledger.counts(db, ["BBB"])["verified"] == 3
    assert len(regimes.history(db, "BBB")) > 0


def test_predict_command_prints_each_call(home, capsys):
    synthetic_home(home)[0].close()
    assert main(["--home", str(home), "predict", "AAA", "--as-of", "2024-03-01"]) == 0
    out = capsys.readouterr().out
    assert "AAA" in out and "target date" in out and "80% range" in out
    assert "signals-v1" in out and "no measured edge yet" in out and "regime" in out
    # no verified past yet: the rules make no directional call, and say why
    assert " no call " in out and "no edge: the rules' own verified calls" in out
    # said once, under the table, not as a column of "no edge"
    assert out.count("no call on direction: no model has a measured edge") == 1
    assert " no edge " not in out
    assert "3 calls (3 new, 0 already recorded)" in out
    assert main(["--home", str(home), "predict", "AAA", "--as-of", "2024-03-01", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == 3 and not any(c["new"] for c in data)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["predict", "--as-of", "not-a-date"], "is not a date"),
        (["predict", "A$B"], "not a ticker"),
        (["predict", "ZZZ"], "unknown symbol ZZZ"),
    ],
)
def test_predict_refuses_bad_input_in_one_line(home, capsys, argv, message):
    synthetic_home(home)[0].close()
    assert main(["--home", str(home), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    from store.db import open_db

    assert ledger.counts(open_db(home))["pending"] == 0


def test_flat_calls_carry_no_confidence_in_predict_or_the_ledger(home):
    import csv
    import io

    from tests.cli_fixture import cli

    # a planted, learnable signal on four symbols: the model's calls can clear its gate
    names = ("AAA", "BBB", "CCC", "DDD")
    bars = {s: synthetic_bars(700, seed=40 + i, edge=0.6) for i, s in enumerate(names)}
    db, _ = make_home(home, bars)
    db.close()
    done = cli(home, "train", "--models", "markov", timeout=300)
    assert done.returncode == 0, done.stderr
    last = bars["AAA"].index[-1]
    calls = []
    for args in (("--as-of", str((last - pd.Timedelta(days=60)).date())), ()):
        done = cli(home, "predict", *args, "--json")
        assert done.returncode == 0, done.stderr
        calls += json.loads(done.stdout)
    flat = [c for c in calls if c["direction"] == "flat"]
    assert flat and len(flat) < len(calls)
    # FLAT claims no direction: no confidence (it would be P(flat), not a hit probability)
    assert all(c["confidence"] is None for c in flat)
    # a directional call's confidence is its calibrated hit probability, never below the
    # stronger baseline's hit rate (itself at least 50%): calls below it are not made
    assert all(0.5 <= c["confidence"] < 1 for c in calls if c["direction"] != "flat")
    done = cli(home, "predictions", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == len(calls)
    assert all(r["confidence"] == "" for r in rows if r["direction"] == "flat")
    assert all(r["confidence"] != "" for r in rows if r["direction"] != "flat")


def test_calls_say_models_are_training_not_that_none_is_usable(home):
    from store import jobs
    from tests.cli_fixture import cli

    db, _ = synthetic_home(home)

    def note(*when: str) -> str:
        done = cli(home, "predict", "AAA", *when, "--json")
        assert done.returncode == 0, done.stderr
        notes = [c["note"] for c in json.loads(done.stdout)]
        # every call says why the rules serve (after any "no edge" of its own)
        whys = {n.split("; ")[-1] for n in notes}
        assert len(whys) == 1, notes
        return whys.pop()

    first = note()
    assert "no model trained yet" in first and "artifact" not in first
    run = jobs.start(db, "retrain")  # the daemon's training worker is at it
    training = note()
    assert "models training" in training and "artifact" not in training
    jobs.finish(db, run, "ok")
    db.close()
    done = cli(home, "train", "--models", "markov", timeout=300)
    assert done.returncode == 0, done.stderr
    for path in (home / "models").rglob("*"):
        if path.is_file():
            path.write_bytes(b"broken")
    broken = note()  # as of its data end, where the model would serve: it cannot be loaded
    assert "artifacts are unusable (quarantined" in broken and "training" not in broken


def test_a_call_before_the_models_were_known_says_so_not_that_an_artifact_broke(home):
    """`backfill` and `predict --as-of` a day before any model was known: the rules serve,
    and the call says why in true words (no model known by then), not "artifact broken"."""
    from tests.cli_fixture import cli

    synthetic_home(home)[0].close()
    done = cli(home, "train", "--models", "markov", timeout=300)
    assert done.returncode == 0, done.stderr
    done = cli(home, "predict", "AAA", "--as-of", "2023-06-01", "--json")
    assert done.returncode == 0, done.stderr
    calls = json.loads(done.stdout)
    assert calls and all(c["model_version"] == "signals-v1" for c in calls)
    for c in calls:
        assert "no model was known by this date" in c["note"], c["note"]
        assert "artifact broken" not in c["note"], c["note"]


def test_a_cycle_decides_from_what_it_read_alone(home):
    """read -> decide -> write: the decision needs no store (its connection is closed), is
    the same every time, and the write stores exactly the calls decided."""
    from assistant.cycle.run import decide, read_cycle, write_cycle
    from store.db import open_db

    db, settings = synthetic_home(home)
    read = read_cycle(db, home, settings, as_of=date(2024, 3, 28))
    db.close()
    writes = decide(read)
    assert [c for c, _ in writes.calls] == [c for c, _ in decide(read).calls]
    assert len(writes.calls) == 6 and all(c.note for c, _ in writes.calls)
    db = open_db(home)
    assert write_cycle(db, writes) == set()  # nothing was in the ledger before
    assert write_cycle(db, writes) == {
        (c.symbol, c.as_of, c.horizon, c.model_version) for c, _ in writes.calls
    }
    assert {(r["symbol"], r["horizon"]) for r in ledger.listing(db)} == {
        (c.symbol, c.horizon) for c, _ in writes.calls
    }


def test_a_call_row_is_written_column_by_name(db):
    from store.db import immediate

    symbols.add(db, ["AAA"], "synthetic")
    row = ledger.CallRow(
        symbol="AAA",
        as_of="2024-01-02",
        horizon=1,
        model_version="signals-v1",
        made_at="2024-01-02T21:00:00+00:00",
        target_date="2024-01-03",
        base_price=100.0,
        pred_change_pct=0.5,
        pred_price=100.5,
        lower=99.0,
        upper=101.0,
        lower95=98.0,
        upper95=102.0,
        vol_sigma=None,
        p_up=0.5,
        p_flat=0.2,
        p_down=0.3,
        direction="up",
        confidence=0.6,
        regime="bull",
        signals="{}",
    )
    with immediate(db):
        assert ledger.insert_many(db, [row]) == 1
        assert ledger.insert_many(db, [row]) == 0  # the same call again adds nothing
    stored = next(db.query(f"SELECT {', '.join(ledger.INSERT_COLUMNS)} FROM predictions"))
    assert stored == row._asdict()


def test_regime_and_rank_rows_are_written_column_by_name(db):
    from store import rankings
    from store.db import immediate

    symbols.add(db, ["AAA"], "synthetic")
    regime = regimes.RegimeRow(
        symbol="AAA", date="2024-01-02", regime="bullish", trend=0.01, volatility=None
    )
    rank = rankings.RankRow(
        symbol="AAA",
        as_of="2024-01-02",
        horizon=5,
        model_version="ranking-v1",
        rank=2,
        of=7,
        relative=-0.003,
    )
    with immediate(db):
        regimes.upsert_many(db, [regime])
        rankings.upsert_many(db, [rank, rank._replace(rank=1)])  # the same key: replaced
    fields = ", ".join(regimes.RegimeRow._fields)
    assert next(db.query(f"SELECT {fields} FROM regimes")) == regime._asdict()
    stored = list(db.query(f"SELECT {', '.join(rankings.COLUMNS)} FROM rankings"))
    assert stored == [rank._replace(rank=1)._asdict()]
