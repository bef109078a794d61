"""The paper account's arithmetic on cases small enough to check by hand (models/paper.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import paper
from vocab.dates import session_date


def panel(opens: list[float], closes: list[float], symbol: str = "AAA") -> tuple[pd.DataFrame, ...]:
    days = pd.bdate_range("2024-01-01", periods=len(opens))
    return pd.DataFrame({symbol: opens}, days), pd.DataFrame({symbol: closes}, days)


def test_a_fill_pays_costs_and_slippage_per_side_on_the_traded_notional() -> None:
    rules = paper.Rules(cash=10_000, cost_bps=8, slippage_bps=2, band=0)
    acct = paper.Account(10_000)
    # buy half the account at 100: 50 shares, 5,000 notional, 10 bps = 5.00
    day = paper.step(acct, "d1", {"AAA": 100.0}, {"AAA": 100.0}, {"AAA": 0.5}, rules)
    assert day.fills[0]["shares"] == pytest.approx(50)
    assert day.costs == pytest.approx(5.0)
    assert acct.cash == pytest.approx(4_995.0)
    assert day.equity == pytest.approx(9_995.0)
    # sell it all at 110: 5,500 notional, 5.50 in costs; the round trip hit
    day = paper.step(acct, "d2", {"AAA": 110.0}, {"AAA": 110.0}, {"AAA": 0.0}, rules)
    assert day.costs == pytest.approx(5.5)
    assert acct.cash == pytest.approx(4_995.0 + 5_500 - 5.5)
    assert acct.positions == {}
    assert day.trips == [
        {
            "symbol": "AAA",
            "side": "long",
            "entry_date": "d1",
            "entry_price": 100.0,
            "exit_date": "d2",
            "exit_price": 110.0,
            "hit": True,
        }
    ]


def test_a_short_earns_when_the_price_falls_and_its_trip_is_a_hit() -> None:
    rules = paper.Rules(cash=1_000, cost_bps=0, slippage_bps=0, band=0)
    acct = paper.Account(1_000)
    paper.step(acct, "d1", {"AAA": 10.0}, {"AAA": 10.0}, {"AAA": -0.5}, rules)  # short 50
    assert acct.positions["AAA"].shares == pytest.approx(-50)
    assert acct.cash == pytest.approx(1_500)
    day = paper.step(acct, "d2", {"AAA": 8.0}, {"AAA": 8.0}, {"AAA": 0.0}, rules)
    assert day.equity == pytest.approx(1_100)  # 50 x 2 gained
    assert day.trips[0]["side"] == "short" and day.trips[0]["hit"] is True


def test_a_call_fills_at_the_next_sessions_open_never_at_the_close_it_knew() -> None:
    opens, closes = panel([100, 104, 108], [102, 106, 110])
    rules = paper.Rules(cash=10_000, cost_bps=0, slippage_bps=0, band=0)
    decided = opens.index[0]  # after the close of day 0 (102), the call says: all in
    book = paper.run("paper", opens, closes, {decided: {"AAA": 1.0}}, rules)
    assert [f["date"] for f in book.fills] == [str(opens.index[1].date())]
    assert book.fills[0]["price"] == 104  # day 1's open, not day 0's close
    shares = 10_000 / 104
    assert book.equity.iloc[-1] == pytest.approx(shares * 110)
    # day 0 itself: nothing held, equity is the cash
    assert book.equity.loc[opens.index[0]] == pytest.approx(10_000)


def test_no_lookahead_a_decision_cannot_trade_at_a_price_it_knew() -> None:
    """Whatever the prices up to and including the decision's session, its fill is the next
    session's open; and the account up to a session is the same whether the panel ends
    there or goes on."""
    rng = np.random.default_rng(3)
    n = 40
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n))
    opens, closes = panel(list(open_), list(close))
    rules = paper.Rules(cash=1_000, cost_bps=5, slippage_bps=1, band=0)
    decisions = {opens.index[i]: {"AAA": float((-1) ** i) * 0.5} for i in range(0, n, 3)}
    full = paper.run("paper", opens, closes, decisions, rules)
    for f in full.fills:
        day = pd.Timestamp(f["date"])
        known = max(d for d in decisions if d < day)  # the decision it filled
        assert f["price"] == pytest.approx(opens.loc[day, "AAA"])
        assert day == opens.index[opens.index > known][0]
        assert f["price"] not in set(closes.loc[:known, "AAA"]) | set(opens.loc[:known, "AAA"])
    cut = 25
    part = paper.run("paper", opens.iloc[:cut], closes.iloc[:cut], decisions, rules)
    pd.testing.assert_series_equal(part.equity, full.equity.iloc[: cut + 1])
    # a decision after the panel's last session never fills
    last = paper.run("paper", opens, closes, {opens.index[-1]: {"AAA": 1.0}}, rules)
    assert last.fills == []


def test_max_drawdown_is_the_largest_fall_from_a_peak() -> None:
    equity = pd.Series([100.0, 120, 90, 130, 65, 100])
    assert paper.max_drawdown(equity) == pytest.approx(0.5)  # 130 -> 65
    assert paper.max_drawdown(pd.Series([1.0, 2, 3])) == 0.0


def test_volatility_target_sizing_with_the_per_symbol_cap_and_no_leverage() -> None:
    rules = paper.Rules(vol_target=0.15, max_weight=0.3)
    d = pd.Series([1, -1, 1], index=["A", "B", "C"])
    sigma = pd.Series({"A": 0.30, "B": 0.15, "C": 0.05})
    w = paper.target_weights(d, sigma, rules, 3)
    assert w["A"] == pytest.approx(0.15 / 0.30 / 3)  # 1/6
    assert w["B"] == pytest.approx(-1 / 3 * 0.9)  # 1/3, capped at 0.3
    assert w["C"] == pytest.approx(0.3)  # 1.0, capped
    unlevered = paper.Rules(vol_target=1.0, max_weight=1.0, max_exposure=1.0)
    w = paper.target_weights(d, sigma, unlevered, 1)
    assert sum(abs(v) for v in w.values()) == pytest.approx(1.0)  # never levered
    w = paper.target_weights(d, pd.Series({"A": np.nan}), rules, 3)
    assert w == {"A": 0.0, "B": 0.0, "C": 0.0}  # no forecast, no position


def test_the_band_keeps_a_small_resize_from_paying_costs() -> None:
    rules = paper.Rules(cash=1_000, band=0.05)
    acct = paper.Account(1_000)
    paper.step(acct, "d1", {"A": 10.0}, {"A": 10.0}, {"A": 0.5}, rules)
    day = paper.step(acct, "d2", {"A": 10.0}, {"A": 10.0}, {"A": 0.52}, rules)
    assert day.fills == []
    day = paper.step(acct, "d3", {"A": 10.0}, {"A": 10.0}, {"A": 0.6}, rules)
    assert len(day.fills) == 1


def test_policies_follow_the_calls_of_one_horizon_long_only_or_long_short() -> None:
    rows = pd.DataFrame({"call": ["up", "down", "flat"]}, index=["A", "B", "C"])
    assert paper.directions("calls", rows, False).tolist() == [1, 0, 0]
    assert paper.directions("calls", rows, True).tolist() == [1, -1, 0]
    assert paper.directions("long", rows, False).tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="ranking"):
        paper.directions("ranking", rows, False)
    scored = rows.assign(score=[0.1, 0.9, 0.5])
    assert paper.directions("ranking", scored, True, 1).tolist() == [-1, 1, 0]


def test_compare_puts_the_policy_next_to_buy_and_hold_and_always_long() -> None:
    days = pd.bdate_range("2024-01-01", periods=6)
    opens = pd.DataFrame({"A": [10, 10, 11, 12, 11, 12.0], "B": [20, 20, 20, 21, 22, 22.0]}, days)
    closes = opens * 1.0
    calls = pd.DataFrame(
        [(d, s, "up" if s == "A" else "flat", 1) for d in days[:-1] for s in ("A", "B")],
        columns=["as_of", "symbol", "call", "horizon"],
    )
    sigma = pd.DataFrame(0.15, index=days, columns=["A", "B"])
    # the direction policy (opt-in since the default became `volatility`)
    rules = paper.Rules(
        cash=1_000, policy="calls", cost_bps=10, slippage_bps=0, band=0, max_weight=1.0
    )
    books = paper.compare(opens, closes, calls, sigma, rules)
    assert set(books) == {"paper", "hold", "long"}
    # paper holds A only (half the account), hold/long hold both
    assert {f["symbol"] for f in books["paper"].fills} == {"A"}
    assert {f["symbol"] for f in books["hold"].fills} == {"A", "B"}
    # buy-and-hold trades once: 1,000 notional at 10 bps
    assert books["hold"].costs == pytest.approx(1.0)
    rows = paper.report(books)
    assert rows[0]["book"] == "paper" and 0 <= rows[0]["p_vs_hold"] <= 1
    assert rows[1]["trades"] == 2 and rows[1]["hit_rate"] is None  # still open
    years = paper.by_year(books)
    assert years.loc[2024, "hold"] == pytest.approx(books["hold"].equity.iloc[-1] / 1_000 - 1)


def test_the_alerts_digest_carries_the_paper_account_line(tmp_path) -> None:
    from assistant.alerts import events
    from assistant.config import Settings
    from store import jobs as job_runs
    from store import paper as ledger
    from store.db import open_db

    def book(equity: float, positions: dict) -> dict:
        return {
            "cash": equity, "equity": equity, "costs": 0.0, "traded": 0.0, "pending": None,
            "account": {"cash": equity, "positions": positions, "last": {}},
            "fills": [], "trips": [],
        }  # fmt: skip

    held = {"AAA": {"shares": 10.0, "entry_price": 100.0, "entry_date": "2024-01-02"}}
    db = open_db(tmp_path)
    try:
        alerts = Settings().replace("alerts", urls=("json://127.0.0.1:9/",), daemon=False).alerts
        events.scan(db, alerts)  # the first scan marks history as seen
        ledger.write_session(db, "2024-01-02", {"paper": book(1000, {}), "hold": book(1000, {})})
        assert not ledger.write_session(db, "2024-01-02", {"paper": book(5, {})})  # never twice
        ledger.write_session(
            db, "2024-01-03", {"paper": book(1010, held), "hold": book(1005, held)}
        )
        verify = job_runs.start(db, "verify", scheduled_for="2024-01-03")
        job_runs.finish(db, verify, "ok", "0 scored")
        assert events.scan(db, alerts) == 1
        (body,) = db.execute("SELECT body FROM alerts WHERE event = 'digest'").fetchone()
    finally:
        db.close()
    assert (
        "Paper account 2024-01-03: equity 1,010 (+1.0%), 1 position(s); buy-and-hold +0.5%" in body
    )


def test_the_daemons_ranking_policy_orders_the_top_ranked_symbol(tmp_path) -> None:
    """After a cycle stored the ranking model's ranks, the daemon's paper step with
    `policy = "ranking"` orders the session's top-ranked symbol, and only it."""
    import json

    from assistant.config import load as load_settings
    from assistant.paper import step_session
    from store.db import open_db
    from tests.tui_fixture import fill

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[paper]\npolicy = "ranking"\ntop_n = 1\nhorizon = 1\n')
    db = open_db(home)
    fill(db, names=("^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT"))
    with db.conn:  # the volatility forecast each call carries sizes the position
        db.execute("UPDATE predictions SET vol_sigma = 0.01")
    session = db.execute("SELECT MAX(as_of) FROM rankings").fetchone()[0]
    best = db.execute(
        "SELECT symbol FROM rankings WHERE as_of = ? AND horizon = 1 ORDER BY relative DESC",
        [session],
    ).fetchone()[0]
    step_session(db, load_settings(home), as_of=session_date(session))
    pending = json.loads(
        db.execute(
            "SELECT pending FROM paper_days WHERE book = 'paper' AND session = ?", [session]
        ).fetchone()[0]
    )
    db.close()
    assert [s for s, w in pending.items() if w] == [best]


def test_sessions_the_daemon_missed_are_stepped_in_order_and_orders_fill_the_next_open(
    tmp_path,
) -> None:
    """The daemon was stopped for three sessions: when it steps the newest again, the orders
    decided at the last stepped close fill at the next session's open (not days later) and
    every missed session is marked to market, in every book."""
    from assistant.config import load as load_settings
    from assistant.paper import step_session
    from store.db import open_db
    from tests.tui_fixture import fill

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[paper]\npolicy = "long"\nhorizon = 1\n')
    db = open_db(home)
    fill(db, names=("AAPL", "MSFT"))
    with db.conn:
        db.execute("UPDATE predictions SET vol_sigma = 0.01")
    days = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT as_of FROM predictions WHERE horizon = 1 ORDER BY as_of"
        ).fetchall()
    ]
    first, later = days[-10], days[-6]
    settings = load_settings(home)
    step_session(db, settings, as_of=session_date(first))
    said = step_session(db, settings, as_of=session_date(later))
    stepped = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT session FROM paper_days WHERE book = 'paper' ORDER BY session"
        )
    ]
    fills = [r[0] for r in db.execute("SELECT DISTINCT session FROM paper_fills ORDER BY 1")]
    books = db.execute("SELECT book, COUNT(*) FROM paper_days GROUP BY book").fetchall()
    db.close()
    assert stepped == days[-10:-5]
    assert fills[0] == days[-9]  # the first orders fill at the next session's open
    assert {n for _, n in books} == {5}
    assert "3 missed session(s)" in said


def test_the_sharpe_test_finds_a_real_difference_and_not_a_spurious_one():
    rng = np.random.default_rng(11)
    n = 1500
    common = rng.normal(0.0, 0.01, n)
    better = common + 0.0012  # the same risk, 30% a year more return: Sharpe +1.9
    diff, p = paper.sharpe_test(better, common)
    assert diff is not None and diff > 1.5 and p is not None and p < 0.01
    assert paper.sharpe_test(better, common) == (diff, p)  # seeded: the same every run
    same, p_same = paper.sharpe_test(common, common)
    assert same == 0 and p_same is not None and p_same > 0.5
    # two books of the same distribution: the 5% test rejects about 5% of the time
    rejected = 0
    for i in range(60):
        a, b = rng.normal(0.0003, 0.01, (2, 500))
        rejected += (paper.sharpe_test(a, b, seed=i)[1] or 1.0) < 0.05
    assert rejected <= 9, rejected
    assert paper.sharpe_test(common[:30], common[:30]) == (None, None)  # under two blocks


def test_sortino_counts_only_the_losing_days():
    r = np.array([0.01, -0.01, 0.02, -0.02, 0.0])
    down = np.sqrt(np.mean(np.minimum(r, 0) ** 2))
    assert paper.sortino(r) == pytest.approx(r.mean() * np.sqrt(252) / down)
    assert paper.sortino(np.array([0.01, 0.02])) is None


def test_a_change_of_the_paper_settings_starts_the_figures_anew_and_says_so(tmp_path) -> None:
    """A person tries another policy (or sizing) in config.toml while the account runs: the
    report's Sharpe and p-values covered both settings under the newest policy's name. They
    now cover the sessions since the change, in every book, and say so; a changed cash
    (which only starts an account) is said, not silently ignored."""
    import json

    from assistant.config import load as load_settings
    from assistant.paper import step_session
    from store.db import open_db
    from tests.cli_fixture import run_cli
    from tests.tui_fixture import fill

    home = tmp_path / "home"
    home.mkdir()
    config = home / "config.toml"
    config.write_text('[paper]\npolicy = "long"\nband = 0.0\n')
    db = open_db(home)
    fill(db, names=("AAPL", "MSFT"))
    with db.conn:
        db.execute("UPDATE predictions SET vol_sigma = 0.01")
    days = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT as_of FROM predictions WHERE horizon = 1 ORDER BY as_of"
        ).fetchall()
    ]
    for day in days[-12:-6]:
        step_session(db, load_settings(home), as_of=session_date(day))
    config.write_text('[paper]\npolicy = "volatility"\nband = 0.0\nvol_target = 0.3\n')
    for day in days[-6:]:
        step_session(db, load_settings(home), as_of=session_date(day))
    db.close()

    out = run_cli(home, "paper", "--json")
    got = json.loads(out.stdout)
    assert got["settings_changed"] == {
        "after": days[-7],
        "from": days[-6],
        "what": ["policy long -> volatility", "vol_target 0.15 -> 0.3"],
    }
    assert {r["book"]: (r["from"], r["sessions"]) for r in got["report"]} == {
        b: (days[-6], 6) for b in ("paper", "hold", "long")
    }
    text = run_cli(home, "paper").stdout
    assert (
        f"the [paper] settings changed after the close of {days[-7]} (policy long -> "
        "volatility; vol_target 0.15 -> 0.3): the figures below are for the 6 sessions since, "
        "in every book (equity and positions carry on)"
    ) in text
    assert "[paper] cash" not in text
    config.write_text('[paper]\npolicy = "volatility"\nband = 0.0\nvol_target = 0.3\ncash = 5000\n')
    text = run_cli(home, "paper").stdout
    assert (
        f"[paper] cash = 5,000.00 starts a new account only: this one started with "
        f"100,000.00 on {days[-12]}"
    ) in text
