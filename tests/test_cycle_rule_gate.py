"""The untrained rule pool faces the gate a trained model faces: it calls UP or DOWN only
past an evidence threshold chosen on its own verified past; until then, and while none
qualifies, its calls are FLAT and the dashboard says so once."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd

from assistant.cycle.plan import RULES_VERSION, plan
from store import predictions as ledger
from store import symbols
from store.db import immediate, open_db
from store.views.dashboard import dashboard
from tests.cli_fixture import run_cli
from tests.cycle_fixture import synthetic_home
from tests.test_cycle_plan import evidence
from tests.tui_fixture import FIXED_NOW, screen_text, settle, sync
from tui.app import make_app
from vocab.scoring import NO_EDGE_LINE


def _predict(home) -> list[dict]:
    run = run_cli(home, "predict", "--json")
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_rules_without_measured_evidence_make_no_directional_call(home):
    db, _ = synthetic_home(home, names=("AAA", "BBB", "CCC"), n=400)
    db.close()
    calls = _predict(home)
    assert len(calls) == 9 and all(c["model_version"] == RULES_VERSION for c in calls)
    assert {c["direction"] for c in calls} == {"flat"}
    assert all("no edge: the rules' own verified calls" in c["note"] for c in calls)


def _verified_rule_calls(db, n: int, informative: bool, seed: int = 3) -> None:
    """n verified signals-v1 calls at horizon 1 (hand-made ledger rows): the evidence
    P(up) - P(down) says which way the close went on 3 of 4 (`informative`), else the
    opposite way on 3 of 4 (rules that keep being wrong)."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2020-01-02", periods=n + 1)
    rows, verified = [], []
    for i in range(n):
        move = 0.01 if rng.random() < 0.5 else -0.01
        right = rng.random() < 0.75
        lean = np.sign(move) * (1 if right == informative else -1)
        up = 0.45 + 0.15 * lean * rng.random()
        down = 0.9 - up
        as_of, target = str(days[i].date()), str(days[i + 1].date())
        rows.append(
            (
                "AAA",
                as_of,
                1,
                RULES_VERSION,
                "2020-01-01T00:00:00+00:00",
                target,
                100.0,
                0.0,
                100.0,
                99.0,
                101.0,
                98.0,
                102.0,
                None,
                up,
                0.1,
                down,
                "flat",
                0.5,
                "sideways",
                json.dumps({"majority": 1}),
            )
        )
        verified.append(100.0 * np.exp(move))
    with immediate(db):
        ledger.insert_many(db, rows)
        ids = [r[0] for r in db.execute("SELECT id FROM predictions ORDER BY as_of")]
        db.execute("UPDATE predictions SET status = 'verified'")
        for pid, actual in zip(ids, verified, strict=True):
            db.execute("UPDATE predictions SET actual_price = ? WHERE id = ?", [actual, pid])


def test_the_rule_gate_opens_only_on_measured_evidence(db):
    from assistant.cycle.predict import rule_thresholds

    symbols.add(db, ["AAA"], "synthetic")
    assert rule_thresholds(db, [1], date(2030, 1, 1)) == {1: None}  # no past: never call
    _verified_rule_calls(db, 600, informative=False)
    assert rule_thresholds(db, [1], date(2030, 1, 1)) == {
        1: None
    }  # wrong more often than not: still never
    db.execute("DELETE FROM predictions")
    _verified_rule_calls(db, 600, informative=True)
    t = rule_thresholds(db, [1], date(2030, 1, 1))[1]
    assert t is not None and 0 <= t < 0.15
    # only calls whose target session had passed count: none had by the first day
    assert rule_thresholds(db, [1], date(2020, 1, 2)) == {1: None}
    strong = plan(evidence(rules_gated=True, rules_threshold=0.0), {})
    assert strong.direction == "up" and not strong.abstained
    shut = plan(evidence(rules_gated=True, rules_threshold=None), {})
    assert shut.direction == "flat" and shut.abstained


@sync
async def test_the_dashboard_says_no_measured_edge_once(home):
    db, _ = synthetic_home(home, names=("AAA", "BBB", "CCC"), n=400)
    db.close()
    _predict(home)
    db = open_db(home)
    snap = dashboard(db, now=FIXED_NOW)
    db.close()
    calls = [r["call"] for r in snap["watchlist"]]
    assert calls and all(c is not None and c["direction"] == "flat" for c in calls)
    app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert text.count(NO_EDGE_LINE) == 1
    watch = text.split("Pending predictions")[0]
    assert "no edge" not in watch.replace(NO_EDGE_LINE, "")
