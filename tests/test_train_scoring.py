"""`train`'s evaluation forecasts validation and test once per model (and pools an
ensemble's from its members'): its weights, thresholds and scores are those of predicting
anew at every step, as before."""

from __future__ import annotations

import json

import pytest

from assistant.ingest.sources.synthetic import synthetic_bars
from assistant.modeling import compute, training
from models import catalog, dataset

KINDS = ("xgboost", "markov", "rules")


@pytest.fixture(scope="module")
def inputs() -> training.Inputs:
    bars = {f"S{i}": synthetic_bars(400, seed=i, edge=0.6) for i in range(3)}
    data = dataset.panel(bars, (1, 3))
    return training.Inputs(
        list(KINDS),
        False,
        None,
        (1, 3),
        bars,
        {},
        data.n,
        dataset.split(data),
        dataset.walk_split(data),
        {"window": 10, "epochs": 1},
        10**6,
        1,
        None,
    )


def test_scores_equal_predicting_anew_at_every_step(inputs, monkeypatch):
    split = inputs.split
    fitted = {
        k: catalog.make(k, inputs.horizons, **inputs.params).fit(split.train, split.val)
        for k in KINDS
    }
    # the old way: the ensemble's weights, each model's threshold, validation and test
    # scores, each from a forecast made for it
    models = {**fitted, **catalog.combine(fitted, split.val)}
    want = {}
    for kind, model in models.items():
        gates = training.choose_gates(model, split.val)
        want[kind] = {
            "val": training.part_metrics(model, split.val, gates),
            "test": training.part_metrics(model, split.test, gates),
            "thresholds": gates,
        }
    monkeypatch.setattr(training, "fit_all", lambda kinds, *a, **k: dict(fitted))
    got = training.evaluate(inputs, lambda k, f, m: None, None, compute.LocalRunner())
    assert got is not None and list(got.scores) == [*KINDS, "ensemble"]
    assert json.dumps(got.scores, sort_keys=True) == json.dumps(want, sort_keys=True)
    assert got.scores["ensemble"]["val"] != got.scores["xgboost"]["val"]  # not one model's
