"""Drift: fires on a planted shift and queues one retrain with its reason; quiet on stationary data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from assistant.cycle.drift import check_drift
from store import commands
from tests.cycle_fixture import add_call, make_home, price_path
from vocab import commands as cmd


def random_walk(n: int, seed: int, vol: float = 0.01, shift_last: int = 0, factor: float = 1.0):
    rng = np.random.default_rng(seed)
    rets = rng.normal(0, vol, n)
    if shift_last:
        rets[-shift_last:] *= factor
    return price_path(100 * np.exp(np.cumsum(rets)), start="2022-01-03")


def test_stationary_markets_raise_nothing(home):
    db, settings = make_home(home, {f"S{i}": random_walk(500, seed=i) for i in range(5)})
    assert check_drift(db, settings, as_of=date(2024, 12, 31)) == []
    assert commands.recent(db) == []


def test_planted_volatility_shift_queues_one_retrain_with_its_reason(home):
    db, settings = make_home(
        home,
        {
            "CALM": random_walk(500, seed=1),
            "SHOCK": random_walk(500, seed=2, shift_last=126, factor=2.5),
        },
    )
    found = check_drift(db, settings, as_of=date(2024, 12, 31))
    assert found and {f.symbol for f in found} == {"SHOCK"}
    assert any(f.kind == "psi" and f.value > settings.cycle.psi_threshold for f in found)
    queued = commands.recent(db)
    assert len(queued) == 1 and queued[0]["kind"] == "retrain"
    args = cmd.parse("retrain", queued[0]["args"])
    assert (
        isinstance(args, cmd.Retrain) and args.scheduled
    )  # the drift check's own: a replay's end cancels it
    assert args.symbols == ("SHOCK",) and "PSI" in args.reason and "SHOCK" in args.reason
    # checking again the same day does not flood the queue
    again = check_drift(db, settings, as_of=date(2024, 12, 31))
    assert again and len(commands.recent(db)) == 1 and again[0].command_id == found[0].command_id


def test_rolling_accuracy_decay_queues_a_retrain(home):
    closes = 100 * np.exp(np.cumsum(np.full(260, 0.001)))
    db, settings = make_home(home, {"AAA": price_path(closes)})
    dates = pd.bdate_range("2024-01-02", periods=260).strftime("%Y-%m-%d")
    rng = np.random.default_rng(0)
    for i in range(1, 241):
        good = rng.random() < (0.6 if i <= 180 else 0.3)  # accuracy decays in the last 60 calls
        add_call(
            db,
            "AAA",
            dates[i - 1],
            dates[i],
            base=closes[i - 1],
            direction="up" if good else "down",
        )
    from assistant.cycle.learn import verify

    verify(db, settings, as_of=date.fromisoformat(dates[241]))
    found = [
        f
        for f in check_drift(db, settings, as_of=date.fromisoformat(dates[241]))
        if f.kind == "accuracy"
    ]
    assert len(found) == 1 and "hit rate of the last 60 calls" in found[0].reason
    queued = cmd.parse("retrain", commands.recent(db)[0]["args"])
    assert isinstance(queued, cmd.Retrain) and queued.symbols == ("AAA",) and queued.scheduled


def test_a_shift_right_after_a_retrain_is_reported_but_queues_nothing(home):
    db, settings = make_home(home, {"SHOCK": random_walk(500, seed=2, shift_last=126, factor=2.5)})
    db.execute(
        "INSERT INTO models (id, kind, version, trained_at, feature_hash, artifact_path, status, "
        "train_start, train_end, test_end) VALUES ('m1', 'xgboost', 1, '2024-12-20', 'h', '/x', "
        "'serving', '2022-01-03', '2024-06-28', '2024-12-20')"
    )
    db.conn.commit()
    found = check_drift(db, settings, as_of=date(2024, 12, 31))
    assert found and all(f.command_id is None for f in found)
    assert commands.recent(db) == []
    # a quarter later the cooldown is over and the same shift queues a retrain
    later = check_drift(db, settings, as_of=date(2025, 4, 30))
    assert later and later[0].command_id is not None
