"""The catalog, not the callers, knows which kinds are built from other fitted models."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.ingest.sources.synthetic import synthetic_bars
from models import catalog, dataset
from models.forecasters.ensemble import EnsembleForecaster


@pytest.fixture(scope="module")
def split():
    bars = {f"S{i}": synthetic_bars(300, seed=i, edge=0.6) for i in range(2)}
    return dataset.split(dataset.panel(bars, (1, 5)))


@pytest.fixture(scope="module")
def fitted(split):
    return {k: catalog.make(k, (1, 5)).fit(split.train, split.val) for k in ("markov", "rules")}


def test_the_catalog_names_the_kinds_that_take_members():
    assert catalog.COMBINERS == ("ensemble",)
    assert catalog.takes_members("ensemble")
    assert not any(catalog.takes_members(k) for k in (*catalog.TRAINABLE, "nope"))


def test_combine_builds_the_ensemble_of_two_or_more(fitted, split):
    assert catalog.combine({"markov": fitted["markov"]}, split.val) == {}
    combined = catalog.combine(fitted, split.val)
    assert list(combined) == ["ensemble"]
    direct = EnsembleForecaster.of(list(fitted.values()), split.val)
    np.testing.assert_array_equal(
        combined["ensemble"].predict(split.test.X).probs, direct.predict(split.test.X).probs
    )


def test_a_kind_that_takes_no_members_is_not_built_of_them(fitted, split):
    with pytest.raises(TypeError, match="markov: takes no members"):
        catalog.KINDS["markov"].of(list(fitted.values()), split.val)
