"""Training into a real home: registry rows, promotion gates, safe artifacts, serving."""

from __future__ import annotations

import io
import json
import pickle
import threading
from datetime import date

import pandas as pd
import pytest

from assistant import config
from assistant.cli import main
from assistant.ingest.sources.synthetic import synthetic_bars
from assistant.modeling.serving import forecast, load_serving
from assistant.modeling.training import train
from models import artifacts, catalog, dataset
from store import bars as store_bars
from store import registry, symbols
from store.db import immediate


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    import torch  # here, not at the top: collecting the suite does not import torch

    torch.set_num_threads(1)


FAST = ["markov", "rules"]


def seed(db, names=("AAA", "BBB"), n=700, edge=0.6):
    symbols.add(db, list(names), "synthetic")
    for i, s in enumerate(names):
        with immediate(db):
            store_bars.upsert(db, s, synthetic_bars(n, seed=i, edge=edge), "synthetic")


def test_train_registers_promotes_and_serves(db, home):
    seed(db)
    settings = config.load(home)
    report = train(db, home, settings, kinds=FAST)
    assert {r.kind: r.status for r in report.results} == {
        "markov": "serving",
        "rules": "serving",
        "ensemble": "serving",
    }
    assert all(r.metrics["test"]["1"]["n_rows"] == report.rows["test"] for r in report.results)
    row = registry.serving(db, "markov")[0]
    assert (home / row["artifact_path"] / "meta.json").is_file()
    assert row["metrics"]["test"]["1"]["baselines"]["majority"]["dir_accuracy"] is not None
    serving = load_serving(db, home)
    bars = {s: store_bars.load(db, s) for s in ("AAA", "BBB")}
    as_of = bars["AAA"].index[-1]
    out = forecast(serving, bars, as_of, (1, 3, 5))
    assert set(out) == {"AAA", "BBB"}
    f = out["AAA"]
    assert f.model_version == "ensemble-v1" and set(f.probs) == {1, 3, 5}
    assert abs(sum(f.probs[5]) - 1) < 1e-9 and {"markov", "rules"} <= set(f.per_model)
    assert f.skill[1]["n_rows"] > 0 and f.skill[1]["majority"] is not None
    assert set(f.thresholds) == {1, 3, 5}  # chosen on validation; None means it abstains


def test_second_model_replaces_only_if_no_worse_and_thresholds_gate(db, home):
    seed(db)
    settings = config.load(home)
    train(db, home, settings, kinds=["markov"])
    again = train(db, home, settings, kinds=["markov"])  # same data: equal skill, no worse
    assert again.results[0].promoted and "no worse" in again.results[0].reason
    statuses = {r["id"]: r["status"] for r in registry.list_models(db, kind="markov")}
    assert statuses == {"markov-v1": "retired", "markov-v2": "serving"}
    settings = settings.replace("models", min_dir_accuracy=0.99)
    strict = train(db, home, settings, kinds=["markov"])
    assert not strict.results[0].promoted and "dir accuracy" in strict.results[0].reason
    assert registry.serving(db, "markov")[0]["id"] == "markov-v2"


def test_truncated_artifact_is_quarantined_and_previous_model_serves(db, home):
    seed(db)
    settings = config.load(home)
    train(db, home, settings, kinds=["xgboost"])
    train(db, home, settings, kinds=["xgboost"])
    current = registry.serving(db, "xgboost")[0]
    assert current["id"] == "xgboost-v2"
    victim = next((home / current["artifact_path"]).glob("*.ubj"))
    victim.write_bytes(victim.read_bytes()[:50])
    serving = load_serving(db, home)
    assert serving.models["xgboost"][0]["id"] == "xgboost-v1"
    assert serving.quarantined == ["xgboost-v2"]
    row = registry.get(db, "xgboost-v2")
    assert row["status"] == "quarantined" and "checksum" in row["reason"]
    bars = {"AAA": store_bars.load(db, "AAA")}
    assert "AAA" in forecast(serving, bars, bars["AAA"].index[-1], (1,))


class Evil:
    def __reduce__(self):
        import os

        return (os.system, ("touch EVIL_MARKER",))


def test_crafted_pickle_artifact_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bars = {"S0": synthetic_bars(300, seed=0)}
    split = dataset.split(dataset.panel(bars, (1,)))
    model = catalog.make("gru", (1,), epochs=1, hidden=4, window=4).fit(split.train, split.val)
    model.save(tmp_path / "m")
    weights = tmp_path / "m" / "weights.pt"
    buf = io.BytesIO()
    pickle.dump({"rnn.weight_ih_l0": Evil()}, buf)
    weights.write_bytes(buf.getvalue())
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    meta["files"]["weights.pt"] = artifacts.sha256(
        weights
    )  # checksum made to match: loader must still refuse
    (tmp_path / "m" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(artifacts.ArtifactError):
        catalog.load(tmp_path / "m")
    assert not (tmp_path / "EVIL_MARKER").exists()


def test_stop_registers_nothing(db, home):
    seed(db)
    stop = threading.Event()
    stop.set()
    report = train(db, home, config.load(home), kinds=["lstm", "markov"], stop=stop)
    assert report.stopped and registry.list_models(db) == []


def test_train_as_of_uses_only_past_bars(db, home):
    seed(db)
    report = train(db, home, config.load(home), kinds=["markov"], as_of=date(2012, 1, 31))
    assert pd.Timestamp(report.ranges["test"][1]) <= pd.Timestamp("2012-01-31")


def test_cli_train_json_and_bad_input(db, home, capsys):
    seed(db)
    assert main(["train", "--models", "markov,rules", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {r["kind"] for r in out["results"]} == {"markov", "rules", "ensemble"}
    assert main(["train", "--models", "wavenet"]) == 1
    assert capsys.readouterr().err.startswith("error: unknown model kind 'wavenet'")
    assert main(["train", "NOPE"]) == 1
    assert "unknown symbol NOPE" in capsys.readouterr().err


def test_cli_train_table_shows_baselines_and_promotion(db, home, capsys):
    seed(db)
    assert main(["train", "--models", "markov"]) == 0
    text = capsys.readouterr().out
    assert "always up" in text and "majority" in text and "last move" in text
    assert "Newey-West" in text  # the test behind p is named
    assert "markov-v1: PROMOTED" in text and "confusion" in text
