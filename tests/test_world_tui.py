"""The dashboard and the symbol screen show the context the calls saw (real app, Pilot)."""

from __future__ import annotations

from store import market
from store import news as news_store
from store.db import immediate
from tests.test_tui_app import SIZE, app_for
from tests.tui_fixture import fill, screen_text, settle, sync
from vocab.market import describe


@sync
async def test_context_on_the_dashboard_and_headlines_on_the_symbol_screen(home, db):
    fill(db)
    with immediate(db):
        market.save_context(
            db,
            [
                (
                    *("AAPL", "2018-06-29", 16.1, 0.62, "2018-06-29", "FOMC", "2018-08-01", 22),
                    *(2, 0.5, "2018-07-12", 8),
                ),
                (
                    "^GSPC",
                    "2018-06-29",
                    16.1,
                    0.62,
                    "2018-06-29",
                    "FOMC",
                    "2018-08-01",
                    22,
                    0,
                    None,
                    "2018-07-12",
                    8,
                ),
            ],
        )
    news_store.add_many(
        db,
        [
            ("AAPL", "k1", "2018-06-28T13:00:00Z", "Apple beats estimates", "Reuters", None, 1.0),
            ("AAPL", "k2", "2018-06-29T13:00:00Z", "Apple faces probe", "AP", None, -1.0),
        ],
    )
    app = app_for(home)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        # the title shows the nearer event: the CPI release (est.) before the FOMC decision
        assert "Regimes · VIX 16.1 (pct 62 of 1y); CPI in 8 sessions (est.)" in text
        await pilot.press("enter")
        await settle(pilot)
        text = screen_text(app)
        assert "Context of the call as of 2018-06-29: VIX 16.1" in text
        assert "CPI in 8 sessions (est. 2018-07-12)" in text
        # the context line is long enough to wrap at 160 columns: read it as one
        assert "2 headlines, sentiment +0.50" in " ".join(text.split())
        assert "shown, not used by the models: 2 of the 250 days" in text
        assert "-1.00  Apple faces probe  — AP" in text
        assert "+1.00  Apple beats estimates" in text


def test_the_dashboard_title_names_the_nearer_event(db):
    from store.views.market_line import market_context
    from tui.widgets.regimes import market_line

    with immediate(db):
        market.save_context(
            db,
            [
                ("SPY", "2016-03-14", 20.0, 0.5, "2016-03-14", "FOMC", "2016-03-16", 2)
                + (0, None, "2016-04-12", 20)
            ],
        )
    ctx = market_context(db)
    assert ctx is not None
    line = market_line(ctx)
    assert line == "VIX 20.0 (pct 50 of 1y); FOMC in 2 sessions"
    # the full line (predict, report, the symbol screen) names both, with their dates
    full = describe(market.context_of(db)["SPY"])
    assert "FOMC in 2 sessions (2016-03-16); CPI in 20 sessions (est. 2016-04-12)" in full
