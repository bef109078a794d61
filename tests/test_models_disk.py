"""Model artifacts on disk over months of retraining, as a user meets them through the CLI:
orphans a kill leaves behind, pruning to [models] keep_versions, ensembles whose members are
swapped, and quarantines said everywhere a user looks."""

from __future__ import annotations

import functools
import json
import logging
import random
import shutil
import signal
from pathlib import Path

import pytest

from assistant import config
from assistant.daemon import jobs
from assistant.ingest.sources.synthetic import synthetic_bars
from store import bars as store_bars
from store import registry, symbols
from store.db import immediate
from tests.cli_fixture import cli
from tests.daemon_fixture import query, spawn, wait_for
from vocab.dates import session_date

TRAIN = ("train", "--models", "markov,rules")


def seed(db, names=("AAA", "BBB"), n=700):
    symbols.add(db, list(names), "synthetic")
    for i, s in enumerate(names):
        with immediate(db):
            store_bars.upsert(db, s, synthetic_bars(n, seed=i, edge=0.6), "synthetic")


def train_ok(home: Path, *args: str) -> str:
    out = cli(home, *(args or TRAIN), timeout=300)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr[-2000:]
    return out.stdout


def statuses(home: Path, kind: str) -> dict[str, str]:
    return dict(
        query(home, "SELECT id, status FROM models WHERE kind = ? ORDER BY version", (kind,))
    )


def test_orphans_a_kill_leaves_never_block_training(db, home):
    seed(db)
    train_ok(home)  # markov-v1, rules-v1, ensemble-v1
    models = home / "models"
    # A kill between publish and register leaves the newest artifact of a kind without a row.
    with immediate(db):
        db.execute("DELETE FROM models WHERE id = 'rules-v1'")
    (models / "markov-v2").mkdir()  # `mkdir`: an orphan that is not a model at all
    (models / ".ensemble-v2.tmp-k1ll3d").mkdir()  # a save killed midway
    first = train_ok(home)
    assert "moved rules-v1 aside to models/orphaned/rules-v1." in first, first
    assert "removed markov-v2: an orphan artifact that does not load" in first
    assert "removed .ensemble-v2.tmp-k1ll3d: an unfinished save" in first
    # every kind registered; version numbers skip the orphan moved aside
    assert statuses(home, "rules") == {"rules-v2": "serving"}
    assert statuses(home, "markov") == {"markov-v1": "retired", "markov-v2": "serving"}
    assert statuses(home, "ensemble") == {"ensemble-v1": "retired", "ensemble-v2": "serving"}
    assert [p.name.split(".")[0] for p in (models / "orphaned").iterdir()] == ["rules-v1"]
    assert not (models / ".ensemble-v2.tmp-k1ll3d").exists()
    train_ok(home)  # and the next retrain simply goes on
    assert statuses(home, "rules") == {"rules-v2": "retired", "rules-v3": "serving"}
    assert next(iter(statuses(home, "markov").values())) == "retired"


def test_pruning_keeps_the_serving_model_and_keep_versions_older_ones(db, home, caplog):
    seed(db)
    (home / "config.toml").write_text("[models]\nkeep_versions = 1\n")
    for _ in range(3):
        out = train_ok(home)
    # three retrains of markov + rules (+ their ensemble): 2 artifacts per kind stay, not 3
    dirs = sorted(p.name for p in (home / "models").iterdir() if p.is_dir())
    assert dirs == [f"{k}-v{v}" for k in ("ensemble", "markov", "rules") for v in (2, 3)]
    line = next(x for x in out.splitlines() if "pruned" in x)
    assert "pruned 3 artifact(s)" in line and all(
        f"{k}-v1" in line for k in ("ensemble", "markov", "rules")
    )
    # the rows stay, so the ledger's model versions stay readable
    assert statuses(home, "markov") == {
        "markov-v1": "pruned",
        "markov-v2": "retired",
        "markov-v3": "serving",
    }
    reason = query(home, "SELECT reason FROM models WHERE id = 'markov-v1'")[0][0]
    assert "keep_versions = 1" in reason and "was retired" in reason
    # the daemon's retrain job says it in its log line and its job_runs row
    with caplog.at_level(logging.INFO, logger="assistant"):
        ctx = jobs.Context(db, home, config.load(home))
        done = jobs.run_job(db, "retrain", functools.partial(jobs.retrain, ctx, kinds=["markov"]))
    assert done.ok and "retrain: trained; promoted: markov-v4; pruned 1 artifact(s)" in caplog.text
    assert "markov-v2" in query(home, "SELECT message FROM job_runs WHERE job = 'retrain'")[0][0]
    # a bad value is one clear line, before anything trains
    (home / "config.toml").write_text("[models]\nkeep_versions = -1\n")
    bad = cli(home, *TRAIN)
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1
    assert "[models] keep_versions = -1 is not allowed" in bad.stderr
    assert len(statuses(home, "markov")) == 4


def test_as_of_calls_inside_the_kept_history_are_unchanged_by_pruning():
    """The rule in disk.keep_set, over many random registries: at every date after the first
    a kept model that served was known on (here: its data end), the model an --as-of call
    uses is the same after pruning."""
    from assistant.modeling import disk

    rng = random.Random(7)
    days = [f"2012-{m:02d}-01" for m in range(1, 13)]
    for _ in range(2000):
        n = rng.randint(1, 9)
        rows = [
            {
                "id": f"k-v{v}",
                "version": v,
                "status": rng.choice(["retired", "candidate", "quarantined", "pruned"]),
                "data_end": rng.choice(days),
            }
            for v in range(1, n + 1)
        ]
        if rng.random() < 0.9:
            rng.choice(rows)["status"] = "serving"
        keep = rng.randint(0, 3)
        kept_ids = disk.keep_set(rows, keep)
        after = [
            r if r["id"] in kept_ids or r["status"] == "pruned" else {**r, "status": "pruned"}
            for r in rows
        ]
        served = ("serving", "retired")
        ends = [r["data_end"] for r in rows if r["id"] in kept_ids and r["status"] in served]
        for day in days:
            if ends and day > min(ends):
                on = session_date(day)
                assert registry.choose_as_of(after, on) == registry.choose_as_of(rows, on), (
                    rows,
                    keep,
                    day,
                )


def _swap_members(home: Path, ensemble: str) -> None:
    """Swap an ensemble's two member directories: each is a valid model, of the other kind."""
    root = home / "models" / ensemble
    (root / "member_0").rename(root / "swap")
    (root / "member_1").rename(root / "member_0")
    (root / "swap").rename(root / "member_1")


def test_a_swapped_ensemble_member_is_quarantined_and_the_previous_ensemble_serves(db, home):
    seed(db)
    train_ok(home)
    train_ok(home)  # ensemble-v2 serves, ensemble-v1 retired
    _swap_members(home, "ensemble-v2")
    out = cli(home, "predict")
    assert out.returncode == 0, out.stderr
    assert "model ensemble-v1 (" in out.stdout and "model ensemble-v2 (" not in out.stdout
    reason = query(home, "SELECT status, reason FROM models WHERE id = 'ensemble-v2'")[0]
    assert reason[0] == "quarantined" and "member_0: not the model" in reason[1]


def test_a_quarantine_is_said_in_predict_status_and_the_dashboard(db, home):
    seed(db)
    train_ok(home, "train", "--models", "markov")
    train_ok(home, "train", "--models", "markov")  # markov-v2 serves, markov-v1 retired
    meta = home / "models" / "markov-v2" / "meta.json"
    meta.write_bytes(meta.read_bytes()[:40])  # truncated
    out = cli(home, "predict")
    assert out.returncode == 0, out.stderr
    notice = "QUARANTINED: model markov-v2 is quarantined (unusable artifact: meta.json: unreadable"
    assert notice in out.stdout and "markov-v1 serves instead" in out.stdout, out.stdout
    assert "model markov-v1 (" in out.stdout
    # --json: every call says which model is quarantined and what serves instead
    calls = json.loads(cli(home, "predict", "--json").stdout)
    assert calls and all(
        "markov-v2 is quarantined" in c["note"] and c["model_version"] == "markov-v1" for c in calls
    )
    status = cli(home, "status")
    assert status.returncode == 0 and notice in status.stdout, status.stdout
    info = json.loads(cli(home, "status", "--json").stdout)
    assert [(q["id"], q["serves"]) for q in info["quarantined"]] == [("markov-v2", "markov-v1")]
    screen = dashboard_text(home)
    assert "QUARANTINED: markov-v2 (markov-v1 serves)" in screen, screen
    # a newer model that serves ends the notice
    train_ok(home, "train", "--models", "markov")
    assert json.loads(cli(home, "status", "--json").stdout)["quarantined"] == []


def dashboard_text(home: Path) -> str:
    """The dashboard on the home, as a user reads it."""
    from tests.tui_fixture import FIXED_NOW, screen_text, settle, sync
    from tui.app import make_app

    @sync
    async def run() -> str:
        app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05)
        async with app.run_test(size=(200, 45)) as pilot:
            await settle(pilot)
            return screen_text(app)

    return run()


@pytest.mark.slow  # a real daemon process
def test_the_daemon_logs_a_quarantine_and_keeps_serving(tmp_path):
    home = tmp_path / "home"
    assert cli(home, "watch", "add", "^GSPC", "^IXIC").returncode == 0
    assert cli(home, "collect", "--until", "2013-01-31").returncode == 0
    train_ok(home)
    train_ok(home)
    _swap_members(home, "ensemble-v2")
    # A replay retrains at its first session (the backtest's first block): markov alone
    # here, so the ensembles trained above stay the ensembles that can serve.
    daemon = spawn(
        home,
        *("daemon", "--replay", "--speed", "0", "--from", "2013-02-04", "--retrain-every", "500"),
        extra_env={"ASSISTANT_MODELS_KINDS": "markov"},
    )
    wait_for(
        lambda: query(home, "SELECT 1 FROM daemon WHERE state = 'finished'"),
        180,
        "the replay to finish",
        daemon,
    )
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(30) == 0
    log = (home / "logs" / "daemon.log").read_text()
    assert "model ensemble-v2 quarantined (unusable artifact: member_0" in log, log[-3000:]
    assert "ensemble-v1 serves again" in log
    used = {r[0] for r in query(home, "SELECT DISTINCT model_version FROM predictions")}
    assert "ensemble-v1" in used and "ensemble-v2" not in used, used
    # the next start says it again, for whoever reads only the newest log lines
    again = spawn(home, "daemon", "--replay", "--speed", "0")
    wait_for(
        lambda: "daemon started" in (home / "logs" / "daemon.log").read_text()[len(log) :],
        60,
        "the second start",
    )
    again.send_signal(signal.SIGTERM)
    again.wait(30)
    tail = (home / "logs" / "daemon.log").read_text()[len(log) :]
    assert "model ensemble-v2 is quarantined" in tail and "ensemble-v1 serves instead" in tail


def test_a_stale_member_digest_check_accepts_nothing_else(tmp_path):
    """An ensemble whose member directory holds a byte-identical copy still loads (the
    digests match), and one whose member was retrained elsewhere does not."""
    from models import artifacts, catalog, dataset
    from models.forecasters.ensemble import EnsembleForecaster

    bars = {f"S{i}": synthetic_bars(400, seed=i) for i in range(2)}
    split = dataset.split(dataset.panel(bars, (1,)))
    members = [catalog.make(k, (1,)).fit(split.train, split.val) for k in ("markov", "rules")]
    EnsembleForecaster.of(members, split.val).save(tmp_path / "e")
    shutil.copytree(tmp_path / "e" / "member_0", tmp_path / "copy")
    shutil.rmtree(tmp_path / "e" / "member_0")
    shutil.copytree(tmp_path / "copy", tmp_path / "e" / "member_0")
    assert catalog.load(tmp_path / "e").members[0].kind == "markov"
    other = dataset.split(dataset.panel({"S9": synthetic_bars(400, seed=9)}, (1,)))
    shutil.rmtree(tmp_path / "e" / "member_0")
    catalog.make("markov", (1,)).fit(other.train, other.val).save(tmp_path / "e" / "member_0")
    try:
        catalog.load(tmp_path / "e")
    except artifacts.ArtifactError as exc:
        assert "member_0: not the model this ensemble was saved with" in str(exc)
    else:
        raise AssertionError("a retrained member was accepted")


def test_a_retrain_that_stores_no_model_is_a_failed_run(db, home):
    """A models folder that cannot be written (as a full disk leaves it) fails every kind:
    the daemon's retrain job is recorded failed with each kind's reason, not 'ok'."""
    seed(db)
    shutil.rmtree(home / "models", ignore_errors=True)
    (home / "models").write_text("not a folder")  # nothing can be stored under it
    ctx = jobs.Context(db, home, config.load(home))
    done = jobs.run_job(db, "retrain", functools.partial(jobs.retrain, ctx, kinds=["markov"]))
    status, message = query(home, "SELECT status, message FROM job_runs WHERE job = 'retrain'")[0]
    assert not done.ok and status == "failed"
    assert message.startswith("no model was stored: markov: could not store the artifact")


def _row(db, model_id: str, artifact_path: str, status: str) -> None:
    kind, version = model_id.split("-v")
    registry.register(
        db,
        model_id=model_id,
        kind=kind,
        version=int(version),
        symbols=["AAA"],
        horizons=[1],
        ranges={"train": ("2005-01-01", "2005-06-30")},  # known before any model trained here
        feature_hash="x",
        metrics={},
        artifact_path=artifact_path,
        status=status,
    )


def _outside(tmp_path: Path, name: str) -> Path:
    victim = tmp_path / name
    victim.mkdir()
    (victim / "precious.txt").write_text("not the assistant's")
    return victim


def test_a_registry_path_outside_the_home_is_never_deleted_or_loaded(db, home, tmp_path, caplog):
    from assistant.modeling import disk, serving

    # Rows anything may have edited: `..` out of the home, an absolute path, and a link
    # inside models/ that leads out.
    up, absolute, linked = (_outside(tmp_path, n) for n in ("up", "absolute", "linked"))
    (home / "models").mkdir()
    (home / "models" / "markov-v3").symlink_to(linked)
    _row(db, "markov-v1", "../up", "retired")
    _row(db, "markov-v2", str(absolute), "retired")
    _row(db, "markov-v3", "models/markov-v3", "retired")
    with caplog.at_level(logging.WARNING, logger="assistant"):
        assert disk.prune(db, home, ["markov"], keep=0) == []
    for victim in (up, absolute, linked):
        assert (victim / "precious.txt").read_text() == "not the assistant's"
    assert set(statuses(home, "markov").values()) == {"retired"}  # nothing marked pruned
    assert "artifact path '../up' of model markov-v1 is outside" in caplog.text
    # loading one is refused the same way: the model is quarantined, nothing is read
    _row(db, "markov-v4", "../up", "serving")
    loaded = serving.load_serving(db, home)
    # each model the fallback picks next is refused alike: none serves
    assert "markov" not in loaded.models and loaded.quarantined[0] == "markov-v4"
    assert sorted(loaded.quarantined) == [f"markov-v{v}" for v in (1, 2, 3, 4)]
    reason = query(home, "SELECT reason FROM models WHERE id = 'markov-v4'")[0][0]
    assert "is outside" in reason
    for victim in (up, absolute, linked):
        assert (victim / "precious.txt").read_text() == "not the assistant's"


def test_train_never_deletes_a_directory_outside_the_home(db, home, tmp_path):
    seed(db)
    (home / "config.toml").write_text("[models]\nkeep_versions = 0\n")
    train_ok(home)  # markov-v1, rules-v1, ensemble-v1 serve
    victim = _outside(tmp_path, "victim")
    _row(db, "markov-v7", str(victim), "retired")  # an edited row train will prune
    out = train_ok(home)
    assert (victim / "precious.txt").read_text() == "not the assistant's"
    assert statuses(home, "markov")["markov-v7"] == "retired"
    assert "pruned 3 artifact(s)" in out and "markov-v1" in out  # the ordinary ones still go
