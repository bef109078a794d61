"""The cycle with a real (tiny) trained model serving, and the fall back to rules when it breaks."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest

from assistant.cycle.learn import verify
from assistant.cycle.run import run_cycle
from store import predictions as ledger
from store import weights
from tests.cycle_fixture import synthetic_home


@pytest.mark.slow
def test_a_trained_model_serves_then_a_broken_artifact_hands_back_to_rules(home):
    from assistant.modeling.training import train

    db, settings = synthetic_home(home, n=600)
    train(db, home, settings, kinds=["xgboost"], as_of=date(2024, 2, 1))
    version = db.execute("SELECT id FROM models WHERE status = 'serving'").fetchone()[0]

    calls = run_cycle(db, home, settings, as_of=date(2024, 3, 1))
    assert calls and all(c.model_version == version and not c.rules_only for c in calls)
    # the held-out record in words: hit rate on its calls next to always-up, or abstains
    assert all(re.search(r"held-out: (hit .* vs always-up|no call on any)", c.skill) for c in calls)
    assert not any("dir_accuracy" in c.skill for c in calls)
    stored = json.loads(ledger.listing(db)[0]["signals"])
    assert stored["serving"] == "model" and "model" in stored["contributions"]

    # verification scores the model's calls and adapts the model's own weight too
    verify(db, settings, as_of=date(2024, 3, 15))
    assert any(
        k[2] == "model"
        for k in [(c["symbol"], c["regime"], c["signal"]) for c in weights.changes(db)]
    )

    # break the artifact: the cycle goes on with the rules and says why
    artifact = (
        home / db.execute("SELECT artifact_path FROM models WHERE id = ?", [version]).fetchone()[0]
    )
    for f in Path(artifact).rglob("*"):
        if f.is_file():
            f.write_bytes(b"\x00garbage")
    calls = run_cycle(db, home, settings, as_of=date(2024, 3, 4))
    assert calls and all(c.rules_only and c.model_version == "signals-v1" for c in calls)
    assert all("rules serve" in c.note for c in calls)
    status = db.execute("SELECT status FROM models WHERE id = ?", [version]).fetchone()[0]
    assert status == "quarantined"
