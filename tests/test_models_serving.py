"""Serving fast paths: loaded models are cached until the serving set or its files change,
`predict_last` equals `predict` at each symbol's last row, and one stacked forecast over
many symbols equals forecasting each symbol alone (ensemble pooled from its members)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from assistant import config
from assistant.ingest.sources.synthetic import synthetic_bars
from assistant.modeling.serving import TAIL, forecast, load_serving
from assistant.modeling.training import train
from models import catalog, dataset, features
from models.forecasters.ensemble import EnsembleForecaster
from store import bars as store_bars
from store import registry, symbols
from store.db import immediate, open_db


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    import torch  # here, not at the top: collecting the suite does not import torch

    torch.set_num_threads(1)


NAMES = ("AAA", "BBB", "CCC")


def seed(db, n=600):
    symbols.add(db, list(NAMES), "synthetic")
    with immediate(db):
        for i, s in enumerate(NAMES):
            store_bars.upsert(db, s, synthetic_bars(n, seed=i, edge=0.6), "synthetic")


def tiny_settings(home):
    return config.load(home).replace("models", epochs=1, window=8)


@pytest.mark.parametrize("kind", ["gru", "transformer", "xgboost", "markov", "ensemble"])
def test_predict_last_equals_predict_at_each_symbols_last_row(kind):
    bars = {f"S{i}": synthetic_bars(360, seed=i, edge=0.6) for i in range(3)}
    split = dataset.split(dataset.panel(bars, (1, 3)))
    tiny = {"epochs": 1, "hidden": 8, "window": 8, "rounds": 10}
    if kind == "ensemble":
        members = [
            catalog.make(k, (1, 3), **(tiny if k == "gru" else {})).fit(split.train, split.val)
            for k in ("gru", "markov")
        ]
        model = EnsembleForecaster.of(members, split.val)
    else:
        params = {k: v for k, v in tiny.items() if k in catalog.KINDS[kind].defaults}
        model = catalog.make(kind, (1, 3), **params).fit(split.train, split.val)
    X = split.test.X
    sym = X.index.get_level_values("symbol").to_numpy()
    last = np.flatnonzero(np.r_[sym[1:] != sym[:-1], True])
    full, fast = model.predict(X), model.predict_last(X)
    assert len(last) == 3 and fast.expected_return.shape == (3, 2)
    np.testing.assert_allclose(
        fast.expected_return, full.expected_return[last], rtol=1e-6, atol=1e-9
    )
    np.testing.assert_allclose(fast.probs, full.probs[last], rtol=1e-6, atol=1e-9)


def test_loaded_models_are_reused_until_the_serving_set_or_its_files_change(db, home):
    seed(db)
    settings = tiny_settings(home)
    train(db, home, settings, kinds=["markov", "rules"])
    first = load_serving(db, home)
    again = load_serving(db, home)
    assert again.models["markov"][1] is first.models["markov"][1]  # not read from disk again
    assert again.version == first.version == "ensemble-v1" and again.quarantined == []

    train(db, home, settings, kinds=["markov"])  # markov-v2 replaces markov-v1
    newer = load_serving(db, home)
    assert newer.models["markov"][0]["id"] == "markov-v2"
    assert newer.models["markov"][1] is not first.models["markov"][1]

    # A serving artifact altered on disk is read again, quarantined, and v1 serves again.
    meta = home / registry.get(db, "markov-v2")["artifact_path"] / "meta.json"
    meta.write_text("{broken")
    broken = load_serving(db, home)
    assert broken.quarantined == ["markov-v2"] and broken.models["markov"][0]["id"] == "markov-v1"
    assert registry.get(db, "markov-v2")["status"] == "quarantined"


def test_concurrent_loads_share_one_set_of_models(db, home):
    seed(db)
    train(db, home, tiny_settings(home), kinds=["markov", "rules"])
    got, errors = [], []

    def load() -> None:
        conn = open_db(home)  # one connection per thread, as the daemon does
        try:
            got.append(load_serving(conn, home))
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(got) == 4
    assert len({id(s.models["ensemble"][1]) for s in got}) == 1


def test_one_stacked_forecast_equals_predicting_each_symbols_rows(db, home):
    seed(db)
    train(db, home, tiny_settings(home), kinds=["gru", "markov", "rules"])
    serving = load_serving(db, home)
    assert set(serving.models) == {"gru", "markov", "rules", "ensemble"}
    bars = {s: store_bars.load(db, s) for s in NAMES}
    as_of = bars["AAA"].index[-20]
    together = forecast(serving, bars, as_of, (1, 3, 5))
    assert set(together) == set(NAMES)
    # the panel's features (each symbol's own and its market context), cut at as_of
    panel = features.build_panel({s: b.loc[:as_of] for s, b in bars.items()})
    for s in NAMES:
        both = together[s]
        assert both.model_version == "ensemble-v1"
        assert both.per_model.keys() >= {"gru", "markov", "rules", "ensemble"}
        # the ensemble's pooled forecast is what predicting the ensemble itself gives
        X = panel.loc[[s]].tail(TAIL)
        direct = serving.models["ensemble"][1].predict(X)
        for i, h in enumerate((1, 3, 5)):
            assert both.expected_return[h] == pytest.approx(
                float(direct.expected_return[-1, i]), rel=1e-6, abs=1e-12
            )
            assert both.probs[h] == pytest.approx(tuple(direct.probs[-1, i]), rel=1e-6, abs=1e-12)
