"""The ranking model: a planted cross-sectional signal is found, a panel without one shows
no edge, the factors are causal (the canary), and the scoring of ranks is hand-checkable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import artifacts, ranking, scorecard


def synthetic_panel(
    sessions: int = 1300, symbols: int = 20, signal: float = 0.0, seed: int = 0
) -> pd.DataFrame:
    """Closes of `symbols` stocks driven by a market factor with mixed betas and vols. With
    `signal` > 0 each stock's next-session return carries -signal x its centred cross-sectional
    rank of the last 5 sessions' return (in its own daily sigma): a planted one-week reversal."""
    rng = np.random.default_rng(seed)
    beta = rng.uniform(0.6, 1.4, symbols)
    sigma = rng.uniform(0.01, 0.025, symbols)
    market = rng.normal(0.0003, 0.01, sessions)
    r = np.zeros((sessions, symbols))
    for t in range(1, sessions):
        past5 = r[max(t - 5, 0) : t].sum(axis=0)
        centred = (np.argsort(np.argsort(past5)) + 0.5) / symbols - 0.5
        r[t] = beta * market[t] + sigma * (rng.standard_normal(symbols) - signal * centred)
    dates = pd.bdate_range("2010-01-04", periods=sessions)
    return pd.DataFrame(
        50 * np.exp(np.cumsum(r, axis=0)),
        index=dates,
        columns=[f"S{i:02d}" for i in range(symbols)],
    )


def walk(closes: pd.DataFrame) -> pd.DataFrame:
    return ranking.walk_forward(closes, start=closes.index[700], retrain_every=300)


def skill(scores: pd.DataFrame, h: int) -> dict:
    rows = scores[scores["horizon"] == h].rename(columns={"score": "expected"})
    out = scorecard.ranking_skill(rows, h)
    assert out is not None
    return out


def test_a_planted_reversal_is_found_out_of_sample():
    scores = walk(synthetic_panel(signal=0.5, seed=1))
    one = skill(scores, 1)
    assert one["mean"] > 0.05 and one["t"] > 3, one
    assert one["spread"] > 0 and one["spread_t"] > 3, one
    assert one["years"] and all(y["n_days"] > 0 for y in one["years"].values())
    assert scorecard.ranking_edge(one)


@pytest.mark.parametrize("seed", [2, 3])
def test_a_panel_without_a_signal_shows_no_edge(seed):
    scores = walk(synthetic_panel(signal=0.0, seed=seed))
    for h in (1, 3, 5):
        s = skill(scores, h)
        assert abs(s["t"]) < 3, s
        assert not scorecard.ranking_edge(s), s


def test_too_few_symbols_make_no_ranking():
    closes = synthetic_panel(sessions=400, symbols=4)
    with pytest.raises(ranking.TooFewSymbols, match="at least 5 symbols"):
        ranking.walk_forward(closes, start=closes.index[300])


def _altered_after(closes: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    out = closes.copy()
    later = out.index > t
    out.loc[later] = out.loc[later] * np.linspace(0.5, 3.0, later.sum())[:, None]
    return out


def test_ranking_features_canary():
    closes = synthetic_panel(sessions=420, symbols=8, signal=0.3, seed=4)
    index = closes.mean(axis=1)
    for t in closes.index[[30, 300, 400]]:
        for ix in (None, index):
            full = ranking.features(closes, ix).loc[t]
            cut = ranking.features(closes.loc[:t], None if ix is None else ix.loc[:t]).loc[t]
            alt = ranking.features(_altered_after(closes, t), None if ix is None else ix * 1.0).loc[
                t
            ]
            pd.testing.assert_frame_equal(cut, full)
            pd.testing.assert_frame_equal(alt, full)
    assert ranking.features(closes).loc[closes.index[400]].notna().all().all()


def test_ranking_prediction_canary_and_save_load(tmp_path):
    closes = synthetic_panel(sessions=700, symbols=8, signal=0.5, seed=5)
    t = closes.index[650]
    model = ranking.fit_at(ranking.panel(closes, None, (1, 3, 5)), t)

    def at_t(c: pd.DataFrame) -> np.ndarray:
        X = ranking.features(c)
        return model.predict(X.loc[[t]])

    np.testing.assert_allclose(at_t(closes.loc[:t]), at_t(closes))
    np.testing.assert_allclose(at_t(_altered_after(closes, t)), at_t(closes))
    model.save(tmp_path / "ranking-v1")
    back = ranking.Ranker.load(tmp_path / "ranking-v1")
    X = ranking.features(closes).loc[[t]]
    np.testing.assert_allclose(back.predict(X), model.predict(X))
    (tmp_path / "ranking-v1" / "rank_h1.ubj").write_bytes(b"tampered")
    with pytest.raises(artifacts.ArtifactError, match="checksum"):
        ranking.Ranker.load(tmp_path / "ranking-v1")


def test_quintile_spread_and_ic_by_hand():
    dates = np.repeat(pd.to_datetime(["2020-01-02", "2021-01-04"]), 10)
    expected = np.tile(np.arange(10.0), 2)
    realized = np.r_[np.arange(10.0) / 100, -np.arange(10.0) / 100]
    frame = pd.DataFrame({"date": dates, "expected": expected, "realized": realized})
    spread = scorecard.quintile_spread(frame)
    # top fifth: symbols 8, 9; bottom: 0, 1
    assert spread.iloc[0] == pytest.approx(0.085 - 0.005)
    assert spread.iloc[1] == pytest.approx(-(0.085 - 0.005))
    s = scorecard.ranking_skill(frame, 1)
    assert s is not None
    assert s["years"]["2020"]["mean"] == pytest.approx(1.0)
    assert s["years"]["2021"]["mean"] == pytest.approx(-1.0)
    assert s["mean"] == pytest.approx(0.0)
