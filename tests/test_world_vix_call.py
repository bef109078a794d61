"""Each call carries the VIX it saw: `predict --json` gives its level and percentile beside
the events, from the stored ^VIX up to the call's date only; without ^VIX they are null and
nothing else changes; the dashboard shows the same level and percentile after a cycle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assistant import calendar
from assistant.ingest.sources.synthetic import synthetic_bars
from store import bars as store_bars
from store import market, symbols
from store.db import immediate, open_db
from tests.cli_fixture import run_cli
from tests.test_tui_app import SIZE, app_for
from tests.tui_fixture import screen_text, settle, sync

BARS = synthetic_bars(300, seed=7)
DAY = BARS.index[-1]  # the call's date (the bars end here)
# the VIX settles on the exchange's sessions (the percentile's window counts those)
SESSIONS = calendar.sessions("XNYS", BARS.index[0], DAY)
# a level per session: a slow wave, so the last value's percentile is neither 0 nor 1
LEVEL = 20.0 + 6.0 * np.sin(np.arange(len(SESSIONS)) / 23.0)


def _home(tmp_path: Path, *, with_vix: bool, later: float | None = None) -> Path:
    home = tmp_path / "home"
    db = open_db(home)
    symbols.add(db, ["AAA"], "synthetic")
    with immediate(db):
        store_bars.upsert(db, "AAA", BARS, "synthetic")
    if with_vix:
        rows = [(d.strftime("%Y-%m-%d"), float(v)) for d, v in zip(SESSIONS, LEVEL, strict=True)]
        if later is not None:  # a value dated after the call: must not move anything
            rows.append(((DAY + pd.Timedelta(days=1)).strftime("%Y-%m-%d"), later))
        market.add_values(db, "^VIX", rows, "test")
    db.close()
    return home


def _calls(home: Path) -> list[dict]:
    done = run_cli(home, "predict", "AAA", "--as-of", DAY.strftime("%Y-%m-%d"), "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _expected() -> tuple[float, float]:
    window = LEVEL[-252:]  # models.vix.PCT_WINDOW sessions up to the call's date
    return float(LEVEL[-1]), float((window <= LEVEL[-1]).mean())


def test_predict_json_carries_the_vix_level_and_percentile_known_at_the_call(tmp_path):
    calls = _calls(_home(tmp_path, with_vix=True, later=80.0))
    level, pct = _expected()
    assert 0.05 < pct < 0.95  # the check below could tell a wrong window from the right one
    assert calls and {c["horizon"] for c in calls} == {1, 3, 5}
    for c in calls:
        assert c["vix"] == pytest.approx(level)
        assert c["vix_pct"] == pytest.approx(pct)
        assert f"VIX {level:.1f} (pct {100 * pct:.0f} of 1y)" in c["context"]


def test_without_a_stored_vix_the_fields_are_null_and_the_calls_stand(tmp_path):
    calls = _calls(_home(tmp_path, with_vix=False))
    assert calls and {c["horizon"] for c in calls} == {1, 3, 5}
    for c in calls:
        assert c["vix"] is None and c["vix_pct"] is None
        assert "VIX" not in c["context"]
        assert c["lower"] < c["target_price"] < c["upper"]


@sync
async def test_the_dashboard_shows_the_vix_a_cycle_saw(tmp_path):
    home = _home(tmp_path, with_vix=True)
    _calls(home)
    level, pct = _expected()
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert f"VIX {level:.1f} (pct {100 * pct:.0f} of 1y)" in screen_text(app)
