"""`assistant backfill` on a fresh home: a first session ends with scored calls and baselines."""

from __future__ import annotations

import json

import pytest

from tests.cli_fixture import cli
from tests.daemon_fixture import query


def _ok(proc) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow  # trains, then two 30-session backfills
def test_backfill_gives_a_new_home_verified_calls_with_baselines_and_is_idempotent(tmp_path):
    home = tmp_path / "home"
    _ok(cli(home, "watch", "add", "AAPL", "MSFT"))
    _ok(cli(home, "collect", timeout=300))
    _ok(cli(home, "train", "--models", "markov,rules", timeout=600))
    before = json.loads(_ok(cli(home, "report", "--json")))
    assert before["counts"].get("verified", 0) == 0  # train alone scores nothing

    out = _ok(cli(home, "backfill", "--sessions", "30", timeout=600))
    assert "backfilled 30 sessions" in out and "verified" in out
    report = json.loads(_ok(cli(home, "report", "--json")))
    assert report["counts"]["verified"] > 0
    assert report["groups"], "verified calls are reported per symbol and horizon"
    for g in report["groups"]:
        assert {"always_up", "majority"} <= set(g["baselines"])
        assert g["n"] >= 0
    # each call is as of one of the 30 sessions, never later than its stored history
    (last,) = query(home, "SELECT MAX(date) FROM bars")[0]
    assert query(home, "SELECT COUNT(*) FROM predictions WHERE as_of > ?", (last,)) == [(0,)]
    # no model trained on data past a call's session served it
    leaks = query(
        home,
        "SELECT COUNT(*) FROM predictions p JOIN models m ON m.id = p.model_version "
        "WHERE m.test_end > p.as_of",
    )
    assert leaks == [(0,)]
    total = query(home, "SELECT COUNT(*) FROM predictions")

    again = _ok(cli(home, "backfill", "--sessions", "30", timeout=600))
    assert "(0 new)" in again
    assert query(home, "SELECT COUNT(*) FROM predictions") == total
    dupes = query(
        home,
        "SELECT COUNT(*) FROM (SELECT 1 FROM predictions "
        "GROUP BY symbol, as_of, horizon, model_version HAVING COUNT(*) > 1)",
    )
    assert dupes == [(0,)]


def test_backfill_refuses_bad_input(tmp_path):
    home = tmp_path / "home"
    home.mkdir()  # a missing one is refused first
    proc = cli(home, "backfill", "--sessions", "0")
    assert proc.returncode != 0 and proc.stderr.startswith("error: --sessions")
    proc = cli(home, "backfill")
    assert proc.returncode != 0 and "no stored bars" in proc.stderr
