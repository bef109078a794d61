"""Verdicts that survive multiple testing: Holm over the rows shown together, and words."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests

from models import metrics
from models.metrics import EDGE, NO_EDGE, TOO_FEW


def test_holm_matches_an_independent_implementation():
    rng = np.random.default_rng(7)
    for m in (1, 2, 5, 21, 147):
        p = rng.uniform(0, 0.2, m) ** 2
        ours = metrics.holm([float(x) for x in p])
        theirs = multipletests(p, method="holm")[1]
        assert ours == pytest.approx([float(f"{x:.3g}") for x in theirs], rel=2e-3)


def test_holm_leaves_rows_without_a_test_out_of_the_count():
    assert metrics.holm([0.01, None, 0.04]) == [0.02, None, 0.04]


def _row(n: int, dates: int, edge: float, p: float | None, se: float | None) -> dict:
    return {"n": n, "n_dates": dates, "edge": edge, "p_value": p, "edge_se": se}


def test_a_small_p_among_many_rows_tested_together_is_no_edge():
    # the backtest printed "ALL ensemble h1 edge 2.7% p 0.0096" among 7 models x 7 symbol
    # rows x 3 horizons: alone it would pass; as one of 147 rows it does not
    rows = [_row(3000, 700, 0.0, 0.5, 0.01) for _ in range(146)]
    rows.append(_row(3000, 700, 0.027, 0.0096, 0.01))
    metrics.judge(rows)
    assert rows[-1]["p_adjusted"] == pytest.approx(1.0)
    assert rows[-1]["verdict"] == NO_EDGE and rows[-1]["adjustment"] == "holm over 147 rows"
    alone = [_row(3000, 700, 0.027, 0.0096, 0.01)]
    metrics.judge(alone)
    assert alone[0]["verdict"] == EDGE and alone[0]["p_adjusted"] == pytest.approx(0.0096)


def test_too_few_calls_to_tell():
    few_dates = [_row(40, 12, 0.2, 0.001, 0.05)]  # 12 call dates: below MIN_DATES
    metrics.judge(few_dates)
    assert few_dates[0]["verdict"] == TOO_FEW
    noisy = [_row(200, 60, 0.01, 0.4, 0.06)]  # 2.49 x 6 points: a 15-point edge undetectable
    metrics.judge(noisy)
    assert noisy[0]["verdict"] == TOO_FEW
    precise = [_row(5000, 1500, 0.01, 0.4, 0.012)]  # 3-point detectable: a real "no edge"
    metrics.judge(precise)
    assert precise[0]["verdict"] == NO_EDGE
    none = [_row(0, 0, 0.0, None, None)]
    metrics.judge(none)
    assert none[0]["verdict"] == TOO_FEW and none[0]["p_adjusted"] is None


def test_an_edge_made_in_one_year_says_so():
    # 237 DOWN calls on 71 dates, most in 2008: the row says how concentrated it is
    dates = np.array(["2008-10-01"] * 184 + ["2011-08-08"] * 30 + ["2015-08-24"] * 23)
    n_dates, year, share = metrics.date_spread(dates.astype("datetime64[D]"))
    assert (n_dates, year, share) == (3, "2008", pytest.approx(184 / 237, abs=1e-4))
    row = {
        **_row(237, 71, 0.08, 0.001, 0.02),
        "top_year": year,
        "top_year_share": share,
        "verdict": EDGE,
        "p_adjusted": 0.001,
    }
    assert metrics.verdict_text(row, "always-up") == (
        "edge over always-up (Holm p=0.001, n=237, 71 dates, 78% of calls in 2008)"
    )


def test_directional_carries_the_dates_and_the_standard_error():
    rng = np.random.default_rng(3)
    n = 400
    ret = rng.normal(0.0005, 0.01, n)
    call = np.where(rng.uniform(size=n) < 0.5, "up", "down").astype(object)
    dates = np.repeat(np.arange("2019-01-01", "2019-07-20", dtype="datetime64[D]")[:200], 2)
    m = metrics.directional(
        call, ret, majority=1, last_move=np.sign(ret), h=1, dates=dates.astype(str)
    )
    assert m["n_dates"] == 200 and m["top_year"] == "2019" and m["top_year_share"] == 1.0
    assert m["edge_se"] is not None and 0 < m["edge_se"] < 0.1


def _panel(days: int = 700, symbols: int = 30, seed: int = 5):
    """Closes with a planted one-session reversal, and each date's next-session return."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    r = np.zeros((days, symbols))
    r[0] = rng.normal(0, 0.01, symbols)
    for t in range(1, days):
        r[t] = -0.15 * r[t - 1] + rng.normal(0, 0.01, symbols)
    dates = pd.bdate_range("2010-01-04", periods=days)
    names = [f"S{i:02d}" for i in range(symbols)]
    closes = pd.DataFrame(100 * np.exp(np.cumsum(r, axis=0)), index=dates, columns=names)
    nxt = np.log(closes).diff().shift(-1)  # realized over the next session, known later
    long = nxt.stack().rename("realized").reset_index()
    long.columns = ["date", "symbol", "realized"]
    return closes, long


def test_a_ranking_that_is_only_the_reversal_factor_is_not_an_edge():
    from models import scorecard

    closes, long = _panel()
    last = -np.log(closes).diff()  # the reversal factor itself, as the "model"
    frame = long.assign(
        expected=last.stack()
        .reindex(list(zip(long["date"], long["symbol"], strict=True)))
        .to_numpy()
    )
    frame = frame.dropna()
    skill = scorecard.ranking_skill(frame, 1)
    assert scorecard.ranking_edge(skill)  # alone it looks like an edge: IC > 0, t >= 2
    versus = scorecard.versus_factors(frame, closes, 1)
    assert versus["better"] == "reversal" and versus["factors"]["reversal"]["t"] > 2
    assert versus["diff"] == pytest.approx(0.0, abs=1e-9) and not versus["beats"]
    judged = scorecard.judged(skill, versus)
    assert judged is not None and judged["edge"] is False and judged["versus"] is versus


def test_a_ranking_that_knows_more_than_the_factors_beats_them():
    from models import scorecard

    closes, long = _panel()
    rng = np.random.default_rng(9)
    frame = long.dropna().assign(
        expected=lambda f: f["realized"] + rng.normal(0, 0.02, len(f))  # partly informed
    )
    versus = scorecard.versus_factors(frame, closes, 1)
    assert versus["beats"] and versus["diff_t"] >= 2
    judged = scorecard.judged(scorecard.ranking_skill(frame, 1), versus)
    assert judged is not None and judged["edge"] is True
