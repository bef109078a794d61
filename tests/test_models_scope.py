"""A model serves only the symbols it was trained on: `train SYM` on a multi-symbol home
never swaps another symbol's model, and a symbol no serving model saw gets the rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_fixture import cli
from tests.daemon_fixture import query

pytestmark = pytest.mark.slow

KEEP = ("note", "new")  # the second run of the same call is not new; notes may say more


def _run(home: Path, *args: str) -> str:
    done = cli(home, *args, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _calls(home: Path) -> dict[tuple[str, int], dict]:
    out = json.loads(_run(home, "predict", "--json"))
    return {(c["symbol"], c["horizon"]): c for c in out}


def _same(call: dict) -> dict:
    return {k: v for k, v in call.items() if k not in KEEP}


def test_train_one_symbol_never_serves_or_swaps_another_symbols_model(tmp_path):
    home = tmp_path / "home"
    _run(home, "watch", "add", "AAPL", "GOOG")
    _run(home, "collect")

    # 1. A model trained on AAPL alone serves AAPL only: GOOG's calls come from the rules,
    #    and say why.
    first = json.loads(_run(home, "train", "AAPL", "--json"))
    assert first["symbols"] == ["AAPL"]
    assert all(r["promoted"] for r in first["results"])  # the first of their kinds
    calls = _calls(home)
    assert {calls["AAPL", h]["model_version"] for h in (1, 3, 5)} == {"ensemble-v1"}
    for h in (1, 3, 5):
        goog = calls["GOOG", h]
        assert goog["model_version"] == "signals-v1" and goog["rules_only"]
        assert "no serving model was trained on GOOG" in goog["note"]
    assert query(home, "SELECT symbols FROM models WHERE id = 'ensemble-v1'") == [('["AAPL"]',)]

    # 2. Training the watchlist replaces it: every symbol is served by a model that saw it.
    second = json.loads(_run(home, "train", "--json"))
    assert second["symbols"] == ["AAPL", "GOOG"] and all(r["promoted"] for r in second["results"])
    before = _calls(home)
    assert {c["model_version"] for c in before.values()} == {"ensemble-v2"}

    # 3. Retraining AAPL alone registers a candidate that does not serve: GOOG's calls (and
    #    AAPL's) are exactly what they were.
    third = json.loads(_run(home, "train", "AAPL", "--json"))
    assert third["symbols"] == ["AAPL"]
    for r in third["results"]:
        assert not r["promoted"] and r["status"] == "candidate", r
        assert "also serves GOOG" in r["reason"], r["reason"]
    after = _calls(home)
    assert after.keys() == before.keys()
    for key, call in before.items():
        assert _same(after[key]) == _same(call), key
    assert query(home, "SELECT id FROM models WHERE status = 'serving' ORDER BY id") == [
        ("ensemble-v2",),
        ("markov-v2",),
        ("rules-v2",),
    ]
