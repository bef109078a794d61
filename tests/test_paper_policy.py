"""Issue 33: the paper account is driven by what the product has measured. The default
policy is volatility-managed (always long, sized by the volatility forecast); the direction
calls drive nothing; the ranking tilts it only when its verdict passed; the CLI and the
dashboard name the policy; a bad new setting is one error line."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest

from models import paper
from vocab.dates import session_date


def _calls(days: pd.DatetimeIndex, call: str) -> pd.DataFrame:
    return pd.DataFrame(
        [(d, s, call, 1) for d in days[:-1] for s in ("A", "B")],
        columns=["as_of", "symbol", "call", "horizon"],
    )


def test_the_default_policy_is_volatility_managed_and_the_direction_calls_drive_nothing():
    assert paper.Rules().policy == "volatility"
    days = pd.bdate_range("2024-01-01", periods=6)
    opens = pd.DataFrame({"A": [10, 10, 11, 12, 11, 12.0], "B": [20, 20, 20, 21, 22, 22.0]}, days)
    # B's forecast is twice A's: half the weight
    sigma = pd.DataFrame({"A": 0.20, "B": 0.40}, index=days)
    rules = paper.Rules(cash=1_000, vol_target=0.15, max_weight=1.0, band=0, cost_bps=0)
    up = paper.decisions_from_calls(_calls(days, "up"), sigma, rules, ["A", "B"])
    down = paper.decisions_from_calls(_calls(days, "down"), sigma, rules, ["A", "B"])
    assert up == down  # every call DOWN or every call UP: the same orders
    first = up[days[0]]
    assert first["A"] == pytest.approx(0.15 / 0.20 / 2)
    assert first["B"] == pytest.approx(0.15 / 0.40 / 2)
    # the old direction policy, opt-in, does follow them: all DOWN is flat when long-only
    calls = dataclass_replace(rules, policy="calls")
    flat = paper.decisions_from_calls(_calls(days, "down"), sigma, calls, ["A", "B"])
    assert flat[days[0]] == {"A": 0.0, "B": 0.0}
    books = paper.compare(opens, opens, _calls(days, "down"), sigma, rules)
    assert {f["symbol"] for f in books["paper"].fills} == {"A", "B"}


def dataclass_replace(rules: paper.Rules, **kw: object) -> paper.Rules:
    import dataclasses

    return dataclasses.replace(rules, **kw)  # type: ignore[arg-type]


def test_max_exposure_caps_the_gross_weight_and_never_levers():
    d = pd.Series([1, 1, 1], index=["A", "B", "C"])
    sigma = pd.Series({"A": 0.05, "B": 0.05, "C": 0.05})
    w = paper.target_weights(d, sigma, paper.Rules(vol_target=0.15, max_exposure=0.6), 3)
    assert sum(w.values()) == pytest.approx(0.6)  # 0.25 each uncapped: 0.75 gross
    w = paper.target_weights(d, sigma, paper.Rules(vol_target=0.15, max_exposure=1.0), 3)
    assert sum(w.values()) == pytest.approx(0.75)  # under the cap: untouched


def test_the_tilt_moves_weight_to_the_better_ranked_and_keeps_the_exposure():
    rules = paper.Rules(tilt=0.5, max_weight=1.0)
    w = paper.tilted(
        pd.Series([0.2, 0.2, 0.2]).to_numpy(), pd.Series([3.0, 1.0, 2.0]).to_numpy(), rules
    )
    assert w.sum() == pytest.approx(0.6)  # the forecast set the exposure; the tilt splits it
    assert w[0] == pytest.approx(0.3) and w[1] == pytest.approx(0.1) and w[2] == pytest.approx(0.2)
    # no score for a symbol (or fewer than two): untouched
    same = paper.tilted(
        pd.Series([0.2, 0.2]).to_numpy(), pd.Series([1.0, float("nan")]).to_numpy(), rules
    )
    assert same.tolist() == pytest.approx([0.2, 0.2])
    # target_weights tilts only the volatility policy, and only when given scores
    d = pd.Series([1, 1, 1], index=["A", "B", "C"])
    sigma = pd.Series(0.15, index=["A", "B", "C"])
    scores = pd.Series({"A": 3.0, "B": 1.0, "C": 2.0})
    base = paper.target_weights(d, sigma, rules, 5)
    tilted = paper.target_weights(d, sigma, rules, 5, scores)
    assert tilted["A"] > base["A"] > tilted["B"]
    long = paper.target_weights(d, sigma, dataclass_replace(rules, policy="long"), 5, scores)
    assert long == base


def _home(tmp_path, config: str = ""):
    from assistant.config import load as load_settings
    from store.db import open_db
    from tests.tui_fixture import fill

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[paper]\nhorizon = 1\nband = 0\n" + config)
    db = open_db(home)
    fill(db, names=("^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT"))
    with db.conn:  # the volatility forecast each call carries sizes the positions
        db.execute("UPDATE predictions SET vol_sigma = 0.01")
    return home, db, load_settings(home)


def _ranking(db, session: str, edge: bool) -> None:
    from store import registry

    registry.register(
        db,
        model_id="ranking-v1",
        kind="ranking",
        version=1,
        symbols=["^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT"],
        horizons=[1, 5],
        ranges={"train": ("2018-01-01", "2018-01-31"), "test": ("2018-02-01", "2018-02-28")},
        feature_hash="x",
        metrics={"test": {"1": {"mean": 0.05, "t": 3.0, "spread": 0.01, "edge": edge}}},
        artifact_path="models/ranking-v1",
        data_end="2018-02-28",
        known_on=date(2018, 2, 28),
    )
    registry.promote(db, "ranking-v1", "test")


def _pending(db, session: str) -> dict[str, dict[str, float]]:
    return {
        book: json.loads(p) if p else {}
        for book, p in db.execute(
            "SELECT book, pending FROM paper_days WHERE session = ?", [session]
        ).fetchall()
    }


@pytest.mark.parametrize("edge", [None, False, True])
def test_the_daemon_tilts_by_the_ranking_only_when_its_verdict_passed(tmp_path, edge):
    """Default settings: the paper book is the volatility policy; with no ranking model, or
    one whose verdict did not pass, it orders exactly what always-long orders; with one that
    passed, it leans to the session's top-ranked symbol (and stores which policy it used)."""
    from assistant.paper import step_session
    from store import paper as ledger

    home, db, settings = _home(tmp_path)
    assert settings.paper.policy == "volatility"
    session = db.execute("SELECT MAX(as_of) FROM rankings").fetchone()[0]
    if edge is not None:
        _ranking(db, session, edge)
    said = step_session(db, settings, as_of=session_date(session))
    pending = _pending(db, session)
    best, worst = (
        db.execute(
            f"SELECT symbol FROM rankings WHERE as_of = ? AND horizon = 1 ORDER BY relative {o}",
            [session],
        ).fetchone()[0]
        for o in ("DESC", "ASC")
    )
    label = ledger.latest(db)["paper"].get("policy")
    db.close()
    assert set(pending["paper"]) == {"^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT"}
    assert all(v > 0 for v in pending["paper"].values())  # long every symbol
    if edge:
        assert label == "volatility+tilt"
        assert "tilt: ranking-v1 passed its verdict at h=1" in said
        assert pending["paper"][best] > pending["long"][best]
        assert pending["paper"][worst] < pending["long"][worst]
        assert sum(pending["paper"].values()) == pytest.approx(sum(pending["long"].values()))
    else:
        assert label == "volatility"
        assert pending["paper"] == pending["long"]
        why = "no ranking model" if edge is None else "ranking-v1: no edge at h=1"
        assert f"tilt: {why}" in said


def test_paper_and_the_dashboard_panel_name_the_policy(tmp_path):
    from assistant.paper import step_session
    from store import paper as ledger
    from tests.cli_fixture import cli
    from tui.widgets.equity import title_of

    home, db, settings = _home(tmp_path)
    days = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT as_of FROM predictions WHERE horizon = 1 ORDER BY as_of DESC LIMIT 2"
        )
    ]
    for day in reversed(days):
        step_session(db, settings, as_of=session_date(day))
    panel = ledger.panel(db)
    db.close()
    assert panel is not None and panel["policy"] == "volatility"
    assert " · policy volatility" in title_of(panel).splitlines()[0]
    out = cli(home, "paper")
    assert out.returncode == 0, out.stderr
    assert (
        "policy volatility: volatility-managed: always long, sized by the volatility forecast; "
        "no ranking tilt (only a ranking whose verdict passed tilts it)"
    ) in out.stdout
    as_json = json.loads(cli(home, "paper", "--json").stdout)
    assert as_json["policy"] == "volatility"


@pytest.mark.parametrize(
    ("line", "shown", "allowed"),
    [
        ("max_exposure = 1.5", "1.5", "a number above 0 and at most 1"),
        ("max_exposure = 0", "0.0", "a number above 0 and at most 1"),
        ("tilt = -0.1", "-0.1", "a number at least 0 and at most 1"),
        ('policy = "vol"', "'vol'", "one of volatility, calls, hold, long, ranking"),
    ],
)
def test_a_bad_new_paper_setting_is_one_error_line(tmp_path, line, shown, allowed):
    from tests.cli_fixture import cli

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f"[paper]\n{line}\n")
    out = cli(home, "paper")
    key = line.split(" = ")[0]
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        f"error: {home / 'config.toml'}: [paper] {key} = {shown} is not allowed: it must be "
        f"{allowed}"
    ]


def test_the_opt_in_calls_policy_follows_only_directions_with_a_passed_verdict(tmp_path):
    """`policy = "calls"`: a symbol's direction calls drive its position only when they
    passed their verdict in `report` at [paper] horizon; every other symbol stays flat."""
    from assistant.paper import step_session

    home, db, settings = _home(tmp_path, 'policy = "calls"\n')
    with db.conn:  # verified calls carry their realized class, as `verify` stores it
        db.execute(
            "UPDATE predictions SET outcome = CASE WHEN actual_price >= base_price THEN 'up' "
            "ELSE 'down' END WHERE status = 'verified'"
        )
    days = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT as_of FROM predictions WHERE horizon = 1 ORDER BY as_of DESC LIMIT 2"
        )
    ]
    with db.conn:  # every symbol is called UP on both sessions
        db.execute("UPDATE predictions SET direction = 'up' WHERE as_of IN (?, ?)", days)
    said = step_session(db, settings, as_of=session_date(days[1]))
    assert "direction calls followed for 0 of 6 symbols" in said
    assert set(_pending(db, days[1])["paper"].values()) == {0.0}  # no verdict: all flat
    with db.conn:  # AAPL's verified calls were all right: its verdict passes
        db.execute(
            "UPDATE predictions SET direction = outcome, hit = 1 "
            "WHERE symbol = 'AAPL' AND status = 'verified'"
        )
    said = step_session(db, settings, as_of=session_date(days[0]))
    pending = _pending(db, days[0])["paper"]
    db.close()
    assert "direction calls followed for 1 of 6 symbols" in said
    assert pending["AAPL"] > 0
    assert {s for s, w in pending.items() if w != 0} == {"AAPL"}


def test_a_ledger_stepped_before_policies_were_named_says_so():
    from vocab.paper import policy_text

    assert policy_text(None) == "not recorded (the account was stepped before it named its policy)"
    assert policy_text("volatility+tilt").startswith("volatility+tilt: volatility-managed")


def test_a_catch_up_step_judges_the_calls_on_what_was_verified_by_its_session(tmp_path):
    """`policy = "calls"` stepping missed sessions: each missed session follows the verdicts
    of the calls verified by then, never those of calls verified later (look-ahead)."""
    from assistant.paper import step_session

    home, db, settings = _home(tmp_path, 'policy = "calls"\n')
    days = [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT as_of FROM predictions WHERE horizon = 1 ORDER BY as_of DESC LIMIT 3"
        )
    ][::-1]
    first, missed, last = days
    with db.conn:  # every symbol is called UP; AAPL's calls come right only after `missed`
        db.execute(
            "UPDATE predictions SET outcome = CASE WHEN actual_price >= base_price THEN 'up' "
            "ELSE 'down' END WHERE status = 'verified'"
        )
        db.execute("UPDATE predictions SET direction = 'up' WHERE as_of IN (?, ?, ?)", days)
        db.execute(
            "UPDATE predictions SET direction = outcome, hit = 1, status = 'verified', "
            "target_date = ? WHERE symbol = 'AAPL' AND status = 'verified'",
            [last],
        )
    step_session(db, settings, as_of=session_date(first))
    said = step_session(db, settings, as_of=session_date(last))  # steps `missed` on the way
    missed_pending = _pending(db, missed)["paper"]
    last_pending = _pending(db, last)["paper"]
    db.close()
    assert "direction calls followed for 1 of 6 symbols" in said
    assert last_pending["AAPL"] > 0
    assert set(missed_pending.values()) == {0.0}  # AAPL's record came after `missed`
