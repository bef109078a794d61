"""`train` fits the evaluation's and the serving fits of every kind as one set of tasks
(`fit_both`): each model is the one fitted in a wave of its own kinds, file for file, with
the threads per job that wave gave it, never more threads than cores."""

from __future__ import annotations

import json
import threading

import pytest

from assistant.ingest.sources.synthetic import synthetic_bars
from assistant.modeling import compute, training
from models import dataset

SPEED = "train_samples_per_s"  # the torch fits' measured speed: a timing, not a weight


def _files(model) -> dict[str, bytes]:
    files = compute.pack(model)
    meta = json.loads(files.pop("meta.json"))
    meta["info"].pop(SPEED, None)
    return {**files, "meta": json.dumps(meta, sort_keys=True).encode()}


@pytest.mark.slow  # four small torch fits and two xgboost ones (~10 s)
def test_both_fits_side_by_side_equal_the_fits_of_each_wave():
    bars = {f"S{i}": synthetic_bars(360, seed=i, edge=0.6) for i in range(3)}
    data = dataset.panel(bars, (1, 3))
    kinds = ["xgboost", "lstm", "gru", "markov"]
    inputs = training.Inputs(
        kinds,
        False,
        None,
        (1, 3),
        bars,
        {},
        data.n,
        dataset.split(data, start=dataset.recent_start(data, 600)),
        dataset.walk_split(data, max_rows=600),
        {"window": 10, "epochs": 2},
        600,
        1,
        None,
    )
    quiet = lambda *a: None  # noqa: E731
    both, serving, ranked = training.fit_both(inputs, quiet, None, compute.LocalRunner())
    assert ranked is None  # no universe given
    split, walk = inputs.split, inputs.walk
    run = compute.LocalRunner()
    old = training.fit_all(kinds, (split.train, split.val), inputs.params, quiet, None, run)
    old_serving = training.fit_all(kinds, (walk.train, walk.val), inputs.params, quiet, None, run)
    assert list(both) == list(serving) == kinds  # the kinds' order (an ensemble's members)
    for new, want in ((both, old), (serving, old_serving)):
        for kind in kinds:
            assert _files(new[kind]) == _files(want[kind]), kind
    assert _files(both["lstm"]) != _files(serving["lstm"])  # two fits, not one twice


def test_a_wider_wave_keeps_each_task_s_threads_and_the_cores(monkeypatch):
    import threadpoolctl

    monkeypatch.setattr(compute, "usable_cores", lambda: 16)
    lock, running, seen = threading.Lock(), [0], []

    def threads() -> int:  # numpy's BLAS pool, capped by the runner as torch's is
        return max(p["num_threads"] for p in threadpoolctl.threadpool_info())

    def task() -> dict:
        with lock:
            running[0] += 1
            seen.append((threads(), running[0]))
        with lock:
            running[0] -= 1
        return {}

    wide = [compute.Task(f"t{i}", task, width=6) for i in range(12)]
    compute.LocalRunner().run(wide)
    assert {threads for threads, _ in seen} == {16 // 6}  # as in a wave of 6
    assert max(n for _, n in seen) <= 16 // 2  # jobs x threads <= cores
    seen.clear()
    compute.LocalRunner().run([compute.Task(f"t{i}", task) for i in range(12)])
    assert {threads for threads, _ in seen} == {1}  # its own wave of 12: one thread each


def _saved(model, where) -> dict[str, bytes]:
    model.save(where)
    return {p.name: p.read_bytes() for p in sorted(where.iterdir())}


def test_the_ranking_fitted_beside_the_forecasters_is_the_one_fitted_after(tmp_path):
    from assistant.modeling import ranking

    bars = {f"S{i}": synthetic_bars(620, seed=i, edge=0.55) for i in range(6)}
    data = dataset.panel(bars, (1, 3))
    kinds = ["markov", "rules"]
    inputs = training.Inputs(
        kinds,
        True,
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
    said = []
    _, _, ranked = training.fit_both(
        inputs, lambda *a: said.append(a), None, compute.LocalRunner(), bars
    )
    model, record, ranges = ranking.fit_ranking(bars, (1, 3))
    assert not isinstance(ranked, Exception) and ranked is not None
    assert ranked[1] == record and ranked[2] == ranges
    assert _saved(ranked[0], tmp_path / "a") == _saved(model, tmp_path / "b")
    assert ("ranking", 0.0, "fitting the ranking on its universe") in said
    # what fit_ranking raises is reported as before: too few symbols, no ranking
    few = {s: bars[s] for s in ("S0", "S1")}
    outcome = compute.ranking_task(few, (1, 3))
    assert isinstance(outcome["fitted"], ValueError)
    with pytest.raises(ValueError):
        ranking.fit_ranking(few, (1, 3))


def test_a_ranking_fit_that_raised_beside_is_skipped_as_when_fitted_after(home, db):
    from assistant.modeling import ranking

    few = {f"S{i}": synthetic_bars(400, seed=i) for i in range(2)}
    raised = compute.ranking_task(few, (1, 3))["fitted"]
    assert isinstance(raised, Exception)
    after = ranking.train_ranking(db, home, few, (1, 3), None)
    beside = ranking.train_ranking(db, home, few, (1, 3), None, None, raised)
    assert beside == after and after[:2] == (None, "skipped")
