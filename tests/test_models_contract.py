"""Contract tests run over EVERY forecaster kind: shapes, save/load round trip, inputs not
mutated, and the canary (a forecast at t ignores everything after t)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assistant.ingest.sources.synthetic import synthetic_bars
from models import catalog, dataset, features
from models.base import Forecaster


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    import torch  # here, not at the top: collecting the suite does not import torch

    torch.set_num_threads(1)


TINY = {"epochs": 2, "hidden": 8, "window": 8, "rounds": 15, "patience": 5}
KINDS = sorted(catalog.KINDS)


def make(kind: str) -> Forecaster:
    if kind == "ensemble":
        members = [{"kind": "markov", "params": {}}, {"kind": "xgboost", "params": {"rounds": 10}}]
        return catalog.make("ensemble", (1, 3, 5), members=members)
    return catalog.make(kind, (1, 3, 5), **TINY)


@pytest.fixture(scope="module")
def bars():
    return {f"S{i}": synthetic_bars(420, seed=i, edge=0.6) for i in range(2)}


@pytest.fixture(scope="module")
def split(bars):
    return dataset.split(dataset.panel(bars, (1, 3, 5)))


@pytest.fixture(scope="module")
def fitted(split):
    return {kind: make(kind).fit(split.train, split.val) for kind in KINDS}


def test_every_kind_is_covered():
    assert set(KINDS) == {"lstm", "gru", "transformer", "xgboost", "markov", "rules", "ensemble"}


@pytest.mark.parametrize("kind", KINDS)
def test_predict_shapes_and_probabilities(kind, fitted, split):
    fc = fitted[kind].predict(split.test.X)
    assert fc.expected_return.shape == (len(split.test.X), 3)
    assert fc.probs.shape == (len(split.test.X), 3, 3)
    np.testing.assert_allclose(fc.probs.sum(axis=-1), 1.0, atol=1e-9)
    assert np.isfinite(fc.expected_return).all()


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip_predicts_identically(kind, fitted, split, tmp_path):
    model = fitted[kind]
    model.save(tmp_path / "m")
    back = catalog.load(tmp_path / "m")
    a, b = model.predict(split.test.X), back.predict(split.test.X)
    assert type(back) is type(model)
    np.testing.assert_array_equal(a.expected_return, b.expected_return)
    np.testing.assert_array_equal(a.probs, b.probs)
    assert not list(tmp_path.glob(".*")), "temp files left behind"


@pytest.mark.parametrize("kind", KINDS)
def test_fit_and_predict_do_not_mutate_inputs(kind, split):
    before = (
        split.train.X.copy(),
        split.train.Y.copy(),
        split.train.rows.copy(),
        split.val.X.copy(),
    )
    model = make(kind).fit(split.train, split.val)
    X = split.test.X.copy()
    model.predict(split.test.X)
    pd.testing.assert_frame_equal(split.train.X, before[0])
    pd.testing.assert_frame_equal(split.train.Y, before[1])
    np.testing.assert_array_equal(split.train.rows, before[2])
    pd.testing.assert_frame_equal(split.val.X, before[3])
    pd.testing.assert_frame_equal(split.test.X, X)


def _altered_future(frame: pd.DataFrame, t: pd.Timestamp, seed: int) -> pd.DataFrame:
    out = frame.copy()
    after = out.index > t
    factor = np.random.default_rng(seed).uniform(0.5, 1.5, after.sum())
    for col in ("open", "high", "low", "close"):
        out.loc[after, col] = out.loc[after, col] * factor
    out.loc[after, "volume"] = out.loc[after, "volume"] * 3
    return out


def test_features_canary(bars):
    frame = bars["S0"]
    for t in frame.index[[40, 250, 400]]:
        full = features.build(frame).loc[t]
        cut = features.build(frame.loc[:t]).loc[t]
        alt = features.build(_altered_future(frame, t, 1)).loc[t]
        np.testing.assert_allclose(cut.to_numpy(), full.to_numpy(), rtol=1e-12, equal_nan=True)
        np.testing.assert_allclose(alt.to_numpy(), full.to_numpy(), rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("kind", KINDS)
def test_canary_prediction_at_t_ignores_the_future(kind, fitted, bars):
    model = fitted[kind]
    t = bars["S0"].index[330]

    def at_t(variant: dict[str, pd.DataFrame]) -> tuple[np.ndarray, np.ndarray]:
        X = features.build_panel(variant)
        fc = model.predict(X)
        i = X.index.get_loc(("S0", t))
        return fc.expected_return[i], fc.probs[i]

    full = at_t(bars)
    removed = at_t({s: b.loc[:t] for s, b in bars.items()})
    altered = at_t({s: _altered_future(b, t, 2) for s, b in bars.items()})
    for other in (removed, altered):
        np.testing.assert_allclose(other[0], full[0], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(other[1], full[1], rtol=1e-9, atol=1e-12)


def test_split_is_chronological_with_a_purge_gap(split):
    r = split.ranges
    train_end, val_start = pd.Timestamp(r["train"][1]), pd.Timestamp(r["val"][0])
    val_end, test_start = pd.Timestamp(r["val"][1]), pd.Timestamp(r["test"][0])
    parts = (split.train, split.val, split.test)
    dates = pd.DatetimeIndex(sorted({d for p in parts for d in p.X.index.get_level_values("date")}))
    assert dates.get_loc(val_start) - dates.get_loc(train_end) > 5  # > max(h) sessions apart
    assert dates.get_loc(test_start) - dates.get_loc(val_end) > 5
    assert split.train.dates().max() == train_end and split.test.dates().min() == test_start


def test_predict_refuses_unsorted_or_incomplete_input(fitted, split):
    model = fitted["markov"]
    with pytest.raises(ValueError):
        model.predict(split.test.X.iloc[::-1])
    with pytest.raises(ValueError):
        model.predict(split.test.X.drop(columns=["ret_1"]))
