"""Train and backtest tasks on a real Dask cluster (LocalCluster, worker processes) give the
same results as in-process; failures fail the run cleanly; a dead worker is retried."""

from __future__ import annotations

import json
import os
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest

from assistant import config
from assistant.cli import main
from assistant.errors import AssistantError
from assistant.ingest.sources.synthetic import synthetic_bars
from assistant.modeling import compute
from assistant.modeling.backtest import backtest
from assistant.modeling.training import train
from store import bars as store_bars
from store import registry, symbols
from store.db import immediate, open_db

distributed = pytest.importorskip("distributed")

NAMES = ("AAA", "BBB", "CCC")


@pytest.fixture(scope="module")
def cluster():
    # A worker lost twice fails its task (KilledWorker); once is retried.
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=40,
        ) as c:
            yield c.scheduler_address


def seeded_home(path: Path, n: int = 700, edge: float = 0.55):
    db = open_db(path)
    symbols.add(db, list(NAMES), "synthetic")
    for i, s in enumerate(NAMES):
        with immediate(db):
            store_bars.upsert(db, s, synthetic_bars(n, seed=40 + i, edge=edge), "synthetic")
    return db


def close(a, b, path="") -> None:
    """Equal JSON-like values, floats within tolerance."""
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9, nan_ok=True), path
    else:
        assert a == b, path


@pytest.mark.slow  # a real Dask cluster: worker processes
def test_train_on_the_cluster_equals_local(tmp_path, cluster):
    kinds = ["xgboost", "markov"]
    homes = {name: tmp_path / name for name in ("local", "dask")}
    reports = {}
    for name, home in homes.items():
        db = seeded_home(home)
        try:
            reports[name] = train(
                db,
                home,
                config.load(home, environ={}),
                kinds=kinds,
                scheduler=cluster if name == "dask" else "local",
            ).to_dict()
            rows = {r["id"]: r for r in registry.list_models(db)}
        finally:
            db.close()
        assert set(rows) == {"xgboost-v1", "markov-v1", "ensemble-v1"}
        for r in rows.values():  # artifacts are in the home, whole, loadable
            assert (home / r["artifact_path"] / "meta.json").is_file()
    local, dask_ = reports["local"], reports["dask"]
    assert [r["status"] for r in dask_["results"]] == ["serving"] * 3
    assert local["results"][0]["metrics"]["test"]["1"]["n_rows"] > 100
    close(local, dask_)


@pytest.mark.slow  # a real Dask cluster: worker processes
def test_backtest_on_the_cluster_equals_local(tmp_path, cluster):
    db = seeded_home(tmp_path / "home")
    settings = config.load(tmp_path / "home", environ={})
    try:
        args = dict(kinds=["xgboost", "markov"], retrain_every=126, horizons=(1, 3))
        local = backtest(db, settings, scheduler="local", **args)
        remote = backtest(db, settings, scheduler=cluster, **args)
    finally:
        db.close()
    assert local.retrains >= 2 and local.n_predictions > 500
    close(local.to_dict(), remote.to_dict())
    pd.testing.assert_frame_equal(local.predictions, remote.predictions, rtol=1e-6)


@pytest.mark.slow  # a real Dask cluster: worker processes
def test_cli_train_with_scheduler_and_config(tmp_path, cluster, capsys, monkeypatch):
    home = tmp_path / "home"
    seeded_home(home).close()
    (home / "config.toml").write_text(f'[compute]\nscheduler = "{cluster}"\n')
    monkeypatch.delenv(compute.ENV, raising=False)
    assert compute.scheduler_address(config.load(home, environ={})) == cluster
    assert main(["--home", str(home), "train", "--models", "markov", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["results"][0]["model_id"] == "markov-v1"
    monkeypatch.setenv(compute.ENV, "local")
    assert compute.scheduler_address(config.load(home)) is None


@pytest.mark.parametrize("bad", ["localhost:8786", "tcp://host", "http://h:1", "tcp://a b:1"])
def test_bad_scheduler_address_is_one_clear_error(tmp_path, capsys, bad):
    home = tmp_path / "home"
    seeded_home(home).close()
    code = main(["--home", str(home), "train", "--models", "markov", "--scheduler", bad])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and err[0].startswith("error:") and "scheduler" in err[0]


@pytest.mark.slow  # over 10 s: a connect timeout / every calendar built / real sockets and daemons
def test_unreachable_scheduler_is_one_clear_error(tmp_path, capsys):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tmp_path / "home"
    seeded_home(home).close()
    args = ["--home", str(home), "backtest", "--models", "markov", "--retrain-every", "200"]
    code = main([*args, "--scheduler", f"tcp://127.0.0.1:{port}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and err[-1].startswith("error: cannot reach the Dask scheduler")


# ---- failures ---------------------------------------------------------------------------


def fit_or_fail(kind, horizons, params, split, **hooks):
    """xgboost's task fails outright (not a model failure: the task itself raises)."""
    if kind == "xgboost":
        raise RuntimeError("worker out of disk")
    return compute.fit_task(kind, horizons, params, split, **hooks)


@pytest.mark.slow  # a real Dask cluster: worker processes
def test_failed_task_fails_the_run_and_registers_nothing(tmp_path, cluster, monkeypatch):
    home = tmp_path / "home"
    db = seeded_home(home)
    monkeypatch.setattr(compute, "fit_task", fit_or_fail)
    try:
        with pytest.raises(
            AssistantError, match=r"task xgboost failed on the cluster.*out of disk"
        ):
            train(
                db,
                home,
                config.load(home, environ={}),
                kinds=["markov", "xgboost"],
                scheduler=cluster,
            )
        assert registry.list_models(db) == []
    finally:
        db.close()
    assert not (home / "models").exists() or not any((home / "models").iterdir())


def die_once(marker: str) -> int:
    """Kills its worker process the first time it runs; returns the pid of its second run."""
    if not os.path.exists(marker):
        Path(marker).write_text("dying")
        os._exit(1)
    return os.getpid()


def die_always() -> None:
    os._exit(1)


@pytest.mark.slow  # a real Dask cluster: worker processes
def test_worker_dying_mid_task_is_retried(tmp_path, cluster):
    run = compute.DaskRunner(cluster)
    marker = str(tmp_path / "died")
    out = run.run([compute.Task("flaky", die_once, (marker,))])
    assert Path(marker).exists() and out["flaky"] != os.getpid()


@pytest.mark.slow  # a real Dask cluster: worker processes
def test_worker_dying_every_time_fails_the_run(cluster):
    with pytest.raises(AssistantError, match=r"task doomed failed on the cluster.*KilledWorker"):
        compute.DaskRunner(cluster).run([compute.Task("doomed", die_always)])


def test_local_runner_resolves_refs_and_shared_inputs():
    shared = compute.Shared(np.arange(4))
    tasks = [
        compute.Task("a", np.sum, (shared,), keep=False),
        compute.Task("b", np.multiply, (compute.Ref("a"), 2)),
    ]
    assert compute.LocalRunner().run(tasks) == {"b": 12}
    with pytest.raises(ValueError, match="does not come before"):
        compute.LocalRunner().run(list(reversed(tasks)))
