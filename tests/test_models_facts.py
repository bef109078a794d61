"""A model's fitted facts (models.base.Facts) are typed fields, saved as meta.json's "info"
with the keys the untyped dict had: artifacts on users' disks load and serve as before."""

from __future__ import annotations

import json

from assistant import config
from assistant.ingest.sources.synthetic import synthetic_bars
from assistant.modeling.serving import clear_cache, forecast, load_serving
from assistant.modeling.training import train
from models import artifacts, catalog, dataset
from models.base import Facts
from store import bars as store_bars
from store import registry, symbols
from store.db import immediate

# what the untyped dict held for a model trained before this version (every key it knew,
# one it did not, and a fact saved as null)
OLD_INFO = {
    "thresholds": {"1": 0.125, "3": None},
    "trained_through": "2020-06-30",
    "epochs": 7,
    "best_val_loss": 1.25,
    "train_samples_per_s": None,
    "rounds": {"reg_h1": 12},
    "weights": {"markov": [0.25, 0.75]},
    "note": ["from", "a later version"],
}


def _rewrite_info(directory, info):
    meta = json.loads((directory / artifacts.META).read_text())
    meta["info"] = info
    (directory / artifacts.META).write_text(json.dumps(meta, indent=1, sort_keys=True))


def test_a_model_saved_with_the_old_info_dict_loads_with_typed_facts(tmp_path):
    bars = {f"S{i}": synthetic_bars(400, seed=i) for i in range(2)}
    split = dataset.split(dataset.panel(bars, (1, 3)))
    catalog.make("markov", (1, 3)).fit(split.train, split.val).save(tmp_path / "old")
    _rewrite_info(tmp_path / "old", OLD_INFO)
    model = catalog.load(tmp_path / "old")
    assert model.info.thresholds == {"1": 0.125, "3": None}
    assert model.info.trained_through == "2020-06-30" and model.info.epochs == 7
    assert model.info.rounds == {"reg_h1": 12} and model.info.weights == {"markov": [0.25, 0.75]}
    assert model.info.other == {"note": ["from", "a later version"], "train_samples_per_s": None}
    # saved again, it writes the same "info" it was read from
    model.save(tmp_path / "again")
    meta = json.loads((tmp_path / "again" / artifacts.META).read_text())
    assert meta["info"] == OLD_INFO
    assert Facts.from_dict({}).to_dict() == {}


def test_a_serving_model_saved_the_old_way_serves_with_its_thresholds(db, home):
    symbols.add(db, ["AAA", "BBB"], "synthetic")
    for i, s in enumerate(["AAA", "BBB"]):
        with immediate(db):
            store_bars.upsert(db, s, synthetic_bars(700, seed=i, edge=0.6), "synthetic")
    train(db, home, config.load(home), kinds=["markov"])
    row = registry.serving(db, "markov")[0]
    bars = {s: store_bars.load(db, s) for s in ("AAA", "BBB")}
    as_of = bars["AAA"].index[-1]
    # saved before thresholds existed: its calls are not gated
    _rewrite_info(home / row["artifact_path"], {})
    clear_cache()
    assert forecast(load_serving(db, home), bars, as_of, (1, 3, 5))["AAA"].thresholds is None
    # saved with the untyped dict: its thresholds gate its calls, per horizon
    _rewrite_info(home / row["artifact_path"], {"thresholds": {"1": 0.2, "3": None, "5": 0.05}})
    clear_cache()
    out = forecast(load_serving(db, home), bars, as_of, (1, 3, 5))
    assert out["AAA"].thresholds == {1: 0.2, 3: None, 5: 0.05}


def _scores(acc: float | None) -> dict:
    return {"1": {"dir_accuracy": acc, "profit_factor": 1.2, "max_drawdown": 0.1}}


def test_the_promotion_decision_is_a_pure_rule_on_what_was_read():
    from assistant.modeling.training import Candidate, Incumbent, decide

    rules = config.Models()
    new = Candidate(
        "markov", ["AAA", "BBB"], "2020-01-01", "2020-03-31", "2020-06-30", _scores(0.55)
    )
    same_rows = Incumbent(
        "markov-v1", ["AAA", "BBB"], "2020-01-01", "2020-03-31", "2020-06-30", _scores(0.6)
    )
    assert decide(new, None, [], rules).promote
    worse = decide(new, same_rows, [], rules)
    assert not worse.promote and "worse than the serving model" in worse.reason
    newer = Incumbent("markov-v1", ["AAA"], "2020-02-01", "2020-04-30", "2020-09-30", _scores(0.9))
    staler = decide(new, newer, [], rules)
    assert not staler.promote and "is more recent than this model's" in staler.reason
    older = Incumbent("markov-v1", ["AAA"], "2019-02-01", "2019-04-30", "2019-09-30", _scores(0.9))
    assert "the more recent data serves" in decide(new, older, [], rules).reason
    broken = Incumbent("markov-v1", ["AAA"], None, None, None, None, unusable="truncated")
    assert decide(new, broken, [], rules).reason.endswith("serving markov-v1 was unusable")
    left_out = decide(new, None, ["CCC"], rules)
    assert not left_out.promote and "also serves CCC" in left_out.reason
