"""Layout snapshots of the dashboard and the symbol screen on fixed data and a frozen clock.

Update after an intended layout change with:
`.venv/bin/python -m pytest tests/test_tui_snapshots.py --snapshot-update` (and look at the SVGs).
"""

from __future__ import annotations

import pytest

from tests.tui_fixture import FIXED_NOW, fill, settle
from tui.app import make_app

SIZE = (160, 45)
# readable at 100x30, usable at 120x40 (the README's pictures), everything at 200x50
SIZES = [(100, 30), (120, 40), (200, 50)]


@pytest.fixture
def filled(home, db):
    fill(db)
    return home


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_snapshot(snap_compare, filled, size):
    app = make_app(filled, clock=lambda: FIXED_NOW)
    assert snap_compare(app, terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_symbol_screen_snapshot(snap_compare, filled, size):
    app = make_app(filled, clock=lambda: FIXED_NOW)

    async def open_aapl(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)

    assert snap_compare(app, terminal_size=size, run_before=open_aapl)


def test_offline_dashboard_snapshot(snap_compare, home, db):
    fill(db, heartbeat_age_s=600, job=False)
    app = make_app(home, clock=lambda: FIXED_NOW)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)
