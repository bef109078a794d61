"""The paper account as a user meets it: a real replay daemon steps it after each cycle
(kill -9 in the middle of its write must not trade twice), `assistant paper` shows it,
`assistant backtest --paper` runs it on the walk-forward calls."""

from __future__ import annotations

import json
import signal

import pytest

from assistant import calendar
from tests.daemon_fixture import (
    assert_died_inside,
    cli,
    integrity_ok,
    job_running,
    kill9,
    query,
    spawn,
    wait_for,
    wait_inside,
)

FROM, END = "2013-02-01", "2013-03-01"
REPLAY = ("daemon", "--replay", "--speed", "0")
# band 0: the books re-size every session, so every step has fills to write
COSTS = {
    "ASSISTANT_PAPER_COST_BPS": "10",
    "ASSISTANT_PAPER_POLICY": "long",
    "ASSISTANT_PAPER_BAND": "0",
}

pytestmark = pytest.mark.slow


def _state(home):
    rows = query(home, "SELECT state, sim_date FROM daemon")
    return rows[0] if rows else (None, None)


def _assert_books_add_up(home):
    """Each book's cash moves only by its own fills (a session stepped twice, or fills
    applied twice, would break this) and holds one row per session."""
    days = query(home, "SELECT session, book, cash FROM paper_days ORDER BY book, session")
    fills = query(
        home, "SELECT session, book, SUM(shares * price + cost) FROM paper_fills GROUP BY 1, 2"
    )
    spent = {(s, b): v for s, b, v in fills}
    books: dict[str, list[tuple[str, float]]] = {}
    for s, b, cash in days:
        books.setdefault(b, []).append((s, cash))
    assert set(books) == {"paper", "hold", "long"}
    for b, rows in books.items():
        sessions = [s for s, _ in rows]
        assert len(sessions) == len(set(sessions)), f"{b}: a session stepped twice"
        assert rows[0][1] == pytest.approx(100_000.0)  # the first session fills nothing
        for (_, before), (s, after) in zip(rows, rows[1:], strict=False):
            assert after == pytest.approx(before - spent.get((s, b), 0.0), rel=1e-9), (b, s)
    assert spent, "the books never traded"
    orphans = query(
        home,
        "SELECT f.session, f.book FROM paper_fills f LEFT JOIN paper_days d "
        "ON d.session = f.session AND d.book = f.book WHERE d.session IS NULL",
    )
    assert not orphans, f"fills without their session's account row: {orphans[:5]}"


def test_kill9_in_the_paper_write_then_restart_trades_once_per_session(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC", "^IXIC").returncode == 0
    proc = spawn(home, *REPLAY, "--from", FROM, slow="paper", slow_s=2, extra_env=COSTS)

    def stepped_count() -> int:
        return query(home, "SELECT COUNT(DISTINCT session) FROM paper_days")[0][0]

    # a step after the books hold positions (so it has fills to write), caught mid-write
    wait_for(
        lambda: stepped_count() >= 3 and job_running(home, "paper"), 120, "a 4th paper step", proc
    )
    wait_inside(home, proc, 60)  # inside write_session's transaction: the session is not written
    kill9(proc)
    assert_died_inside(home, proc)
    assert integrity_ok(home)
    assert query(home, "SELECT COUNT(*) FROM paper_fills") != [(0,)]

    again = spawn(home, *REPLAY, "--from", FROM, extra_env=COSTS)
    wait_for(lambda: _state(home)[0] == "finished", 120, "the replay to finish", again)
    again.send_signal(signal.SIGTERM)
    assert again.wait(30) == 0
    assert integrity_ok(home)
    _assert_books_add_up(home)
    stepped = {s for (s,) in query(home, "SELECT DISTINCT session FROM paper_days")}
    sessions = {d.strftime("%Y-%m-%d") for d in calendar.sessions("XNYS", FROM, END)}
    assert stepped <= sessions and len(stepped) >= len(sessions) - 2
    # the order decided at one close is filled at the next session's open, never before
    for session, symbol, price in query(
        home, "SELECT session, symbol, price FROM paper_fills WHERE book = 'long'"
    ):
        opened = query(
            home, "SELECT open FROM bars WHERE symbol = ? AND date = ?", (symbol, session)
        )
        assert price == opened[0][0]
    assert query(home, "SELECT MIN(session) FROM paper_fills")[0][0] > min(stepped)

    shown = cli(home, "paper", "--json")
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    books = {r["book"]: r for r in data["report"]}
    assert set(books) == {"paper", "hold", "long"}
    assert 0 <= books["paper"]["p_vs_hold"] <= 1
    assert books["hold"]["costs"] > 0 and books["paper"]["costs"] > 0
    last = max(stepped)
    assert data["accounts"]["paper"]["session"] == last
    equity = query(
        home, "SELECT equity FROM paper_days WHERE book = 'paper' AND session = ?", (last,)
    )
    assert data["accounts"]["paper"]["equity"] == pytest.approx(equity[0][0])
    text = cli(home, "paper", "--history")
    assert text.returncode == 0, text.stderr
    assert f"paper account as of {last}" in text.stdout
    assert "p vs hold" in text.stdout and "^GSPC" in text.stdout


def test_paper_on_a_home_without_an_account_says_so(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "AAPL").returncode == 0  # a home, with no account yet
    out = cli(home, "paper")
    assert out.returncode == 0, out.stderr
    assert "no paper account yet" in out.stdout


def test_a_bad_paper_setting_is_one_error_line(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[paper]\npolicy = "momentum"\n')
    out = cli(home, "paper")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"error: {home / 'config.toml'}: [paper] policy = 'momentum' is not allowed: it must be "
        "one of volatility, calls, hold, long, ranking"
    ]


def test_backtest_paper_follows_the_walk_forward_calls_next_to_buy_and_hold(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC", "^IXIC").returncode == 0
    assert cli(home, "collect").returncode == 0
    args = ("backtest", "--models", "markov", "--from", "2012-06-01", "--to", "2013-02-28")
    out = cli(
        home, *args, "--horizons", "1", "--retrain-every", "126", "--paper", "--json", timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    paper = json.loads(out.stdout)["paper"]
    assert paper["model"] == "markov" and paper["horizon"] == 1
    rows = {r["book"]: r for r in paper["report"]}
    assert set(rows) == {"paper", "hold", "long"}
    hold = rows["hold"]
    assert hold["from"] > "2012-06-01" and hold["to"] <= "2013-02-28"
    assert hold["trades"] == 2 and hold["costs"] > 0  # bought once, never sold
    assert rows["paper"]["p_vs_hold"] is not None
    bad = cli(home, *args, "--horizons", "1", "--paper", "--paper-model", "gru", timeout=600)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].startswith("error: --paper-model gru: not among")


def test_the_ranking_policy_without_a_ranking_model_is_one_error_line(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC", "^IXIC").returncode == 0
    assert cli(home, "collect").returncode == 0
    (home / "config.toml").write_text('[paper]\npolicy = "ranking"\n')
    args = ("backtest", "--models", "rules", "--from", "2013-01-02", "--horizons", "1", "--paper")
    out = cli(home, *args, timeout=600)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "error: [paper] policy = ranking: the ranking policy needs a per-symbol score "
        "(no ranking model yet)"
    )
    # a horizon the backtest does not call: refused before any work
    (home / "config.toml").write_text("[paper]\nhorizon = 3\n")
    out = cli(home, *args, timeout=600)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "error: --paper follows the h=3 calls ([paper] horizon): add it to --horizons"
    ]


def test_a_paper_horizon_the_models_never_call_is_refused(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[paper]\nhorizon = 2\n")
    out = cli(home, "paper")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"error: [paper] horizon = 2 is not one of [models] horizons [1, 3, 5] "
        f"({home / 'config.toml'})"
    ]


def test_the_ranking_policy_holds_the_top_of_the_ranking_models_walk_forward_scores(tmp_path):
    """`[paper] policy = "ranking"` with the ranking model backtested: the paper book holds
    the top-scored symbol of each session (the model's walk-forward score, as of the call)."""
    home = tmp_path / "home"
    assert (
        cli(home, "watch", "add", "^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT").returncode == 0
    )
    assert cli(home, "collect").returncode == 0
    (home / "config.toml").write_text('[paper]\npolicy = "ranking"\ntop_n = 1\n')
    args = ("backtest", "--models", "rules,ranking", "--from", "2012-09-04", "--horizons", "1")
    csv = tmp_path / "calls.csv"
    out = cli(
        home, *args, "--retrain-every", "63", "--paper", "--paper-model", "rules",
        "--predictions-out", str(csv), "--json", timeout=900,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    paper = json.loads(out.stdout)["paper"]
    rows = {r["book"]: r for r in paper["report"]}
    assert rows["paper"]["trades"] > 0
    import pandas as pd

    # the same books in-process from the calls file: every buy is the top-scored symbol of
    # the session the order was decided on
    from assistant.modeling.training import load_bars
    from assistant.paper import from_backtest
    from models import paper as accounts
    from store.db import open_db

    calls = pd.read_csv(csv)
    db = open_db(home)
    try:
        bars = load_bars(db, sorted(set(calls["symbol"])), None)
    finally:
        db.close()
    rules = accounts.Rules(policy="ranking", top_n=1, horizon=1)
    _, books = from_backtest(calls, bars, rules, "rules")
    ranked = calls[calls["model"] == "rules"].dropna(subset=["rank_score"])
    top = ranked.loc[ranked.groupby("as_of")["rank_score"].idxmax()]
    tops = dict(zip(pd.to_datetime(top["as_of"]), top["symbol"], strict=True))
    buys = [f for f in books["paper"].fills if f["shares"] > 0]
    assert buys
    for f in buys:
        decided = max(d for d in tops if d < pd.Timestamp(f["date"]))
        assert tops[decided] == f["symbol"], (f, tops[decided])
