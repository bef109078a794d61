"""Quarantine only what is proven broken; lift what proves whole.

The OS refusing to read a model's files (EMFILE under a low open-files limit, EIO) is not
a broken artifact: nothing is quarantined, the load is logged and tried again next cycle.
A quarantine recorded for such an error (before this rule) is lifted once the artifact
reads back whole, and the newest model serves again.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from assistant import config
from assistant.modeling import quarantine
from assistant.modeling.serving import clear_cache, load_serving
from assistant.modeling.training import train
from models import artifacts
from store import registry
from tests.test_models_registry import seed


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    import torch  # here, not at the top: collecting the suite does not import torch

    torch.set_num_threads(1)


EMFILE = "meta.json: unreadable ([Errno 24] Too many open files: 'meta.json')"


def refuse_meta_reads(
    monkeypatch: pytest.MonkeyPatch, home: Path, err: int = errno.EMFILE
) -> list[str]:
    """Every read of a meta.json in the home fails as the OS fails it (the injected opener)."""
    refused: list[str] = []
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == artifacts.META and str(self).startswith(str(home)):
            refused.append(str(self))
            raise OSError(err, os.strerror(err), str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    return refused


def two_markov_versions(db, home) -> None:
    seed(db)
    settings = config.load(home)
    train(db, home, settings, kinds=["markov"])
    train(db, home, settings, kinds=["markov"])
    assert registry.serving(db, "markov")[0]["id"] == "markov-v2"
    clear_cache()


@pytest.mark.parametrize("err", [errno.EMFILE, errno.EIO, errno.EACCES])
def test_a_transient_read_error_quarantines_nothing_and_is_retried(
    db, home, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, err: int
) -> None:
    two_markov_versions(db, home)
    with monkeypatch.context() as m:
        refused = refuse_meta_reads(m, home, err)
        with caplog.at_level(logging.WARNING):
            first = load_serving(db, home)
    assert refused  # the fault was hit
    assert first.quarantined == [] and "markov" not in first.models
    assert first.unavailable and "markov-v2 could not be loaded" in first.unavailable[0]
    assert "not quarantined, tried again next cycle" in caplog.text
    statuses = {r["id"]: r["status"] for r in registry.list_models(db, kind="markov")}
    assert statuses == {"markov-v1": "retired", "markov-v2": "serving"}
    again = load_serving(db, home)  # the next cycle, the OS reads again: v2 serves
    assert again.models["markov"][0]["id"] == "markov-v2" and again.unavailable == []


def test_a_retrain_under_emfile_quarantines_nothing(
    db, home, monkeypatch: pytest.MonkeyPatch
) -> None:
    two_markov_versions(db, home)
    settings = config.load(home)
    with monkeypatch.context() as m:
        refuse_meta_reads(m, home)
        report = train(db, home, settings, kinds=["markov"])
    (result,) = report.results
    assert result.status == "candidate" and not result.promoted
    assert "could not read it" in result.reason and "Errno 24" in result.reason
    statuses = {r["id"]: r["status"] for r in registry.list_models(db, kind="markov")}
    assert statuses == {"markov-v1": "retired", "markov-v2": "serving", "markov-v3": "candidate"}


def test_quarantines_from_a_transient_error_are_lifted_newest_serves(
    db, home, caplog: pytest.LogCaptureFixture
) -> None:
    """What an EMFILE storm left (every version quarantined) heals at the next load."""
    two_markov_versions(db, home)
    registry.quarantine(db, "markov-v2", f"unusable artifact: {EMFILE}")  # v1 served then
    registry.quarantine(db, "markov-v1", f"unusable artifact: {EMFILE}")  # then none
    assert registry.serving(db, "markov") == []
    with caplog.at_level(logging.WARNING):
        serving = load_serving(db, home)
    assert serving.models["markov"][0]["id"] == "markov-v2"
    statuses = {r["id"]: r["status"] for r in registry.list_models(db, kind="markov")}
    assert statuses == {"markov-v1": "retired", "markov-v2": "serving"}
    assert "model markov-v2 quarantine lifted: its artifact reads back whole" in caplog.text
    assert registry.quarantines(db) == [] and serving.quarantines == []


def test_a_load_back_quarantine_lifted_is_a_candidate_and_a_broken_one_stays(db, home) -> None:
    two_markov_versions(db, home)
    settings = config.load(home)
    train(db, home, settings, kinds=["markov"])  # v3
    row = registry.get(db, "markov-v3")
    if row["status"] == "serving":
        registry.quarantine(db, "markov-v3", "x")  # v2 serves again
    registry.set_status(db, "markov-v3", "quarantined", f"{registry.LOAD_BACK}: {EMFILE}")
    # v2's artifact is truly broken now: its quarantine must stand
    victim = Path(home) / registry.get(db, "markov-v2")["artifact_path"] / artifacts.META
    victim.write_bytes(victim.read_bytes()[:-20])
    serving = load_serving(db, home)
    assert serving.quarantined == ["markov-v2"]
    assert serving.models["markov"][0]["id"] == "markov-v1"
    statuses = {r["id"]: r["status"] for r in registry.list_models(db, kind="markov")}
    assert statuses == {
        "markov-v1": "serving",
        "markov-v2": "quarantined",
        "markov-v3": "candidate",
    }
    load_serving(db, home)  # checked again: still broken, still quarantined
    assert registry.get(db, "markov-v2")["status"] == "quarantined"


CHILD = textwrap.dedent(
    """
    import os, resource, sys
    from pathlib import Path
    from assistant.modeling.serving import load_serving
    from models import catalog  # noqa: F401 - every module imported before the limit
    from store import registry
    from store.db import open_db

    home = Path(sys.argv[1])
    db = open_db(home)
    db.execute("PRAGMA temp_store = MEMORY")
    registry.list_models(db)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    used = len(os.listdir("/proc/self/fd")) - 1
    resource.setrlimit(resource.RLIMIT_NOFILE, (used, hard))  # no file can be opened now
    served = load_serving(db, home)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    print("under the limit:", sorted(served.models), served.quarantined, getattr(served, "unavailable", None))
    print("after:", {r["id"]: r["status"] for r in registry.list_models(db)})
    print("again:", sorted(load_serving(db, home).models))
    """
)


@pytest.mark.slow
def test_under_a_real_open_files_limit_nothing_is_quarantined(db, home) -> None:
    """RLIMIT_NOFILE in a subprocess: every open() fails with EMFILE, as in the field."""
    two_markov_versions(db, home)
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(home)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    print(r.stdout)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("under the limit: [] []") and "Too many open files" in lines[0]
    assert lines[1] == "after: {'markov-v1': 'retired', 'markov-v2': 'serving'}"
    assert lines[2] == "again: ['markov']"


def test_an_orphan_unreadable_now_is_left_for_later_not_deleted(
    db, home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`disk.tidy` removes an orphan that does not load; one the OS will not read now stays."""
    import shutil

    from assistant.modeling import disk

    two_markov_versions(db, home)
    orphan = Path(home) / "models" / "markov-v3"
    shutil.copytree(Path(home) / "models" / "markov-v2", orphan)  # a kill before register
    with monkeypatch.context() as m:
        refuse_meta_reads(m, home)
        notes = disk.tidy(db, home)
    assert notes == [
        f"left markov-v3 as it is: it cannot be read now (meta.json: not readable now "
        f"([Errno 24] Too many open files: '{orphan / 'meta.json'}'))"
    ]
    assert orphan.is_dir()
    assert "moved markov-v3 aside" in disk.tidy(db, home)[0]  # readable again: set aside


def test_a_quarantine_whose_path_leads_out_of_the_home_is_never_lifted(db, home) -> None:
    """The re-check loads through the confined artifact path: a registry row pointing at a
    whole model outside <home>/models stays quarantined (it would serve it otherwise)."""
    import shutil

    two_markov_versions(db, home)
    outside = Path(home).parent / "outside-model"
    shutil.copytree(Path(home) / registry.get(db, "markov-v2")["artifact_path"], outside)
    db.execute("UPDATE models SET artifact_path = ? WHERE id = 'markov-v2'", [str(outside)])
    registry.quarantine(db, "markov-v2", f"unusable artifact: {EMFILE}")
    assert quarantine.recheck(db, home) == []
    assert registry.get(db, "markov-v2")["status"] == "quarantined"
