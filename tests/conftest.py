"""Shared fixtures: a fresh data home per test, and synthetic bars."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from store.db import open_db


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    monkeypatch.setenv("ASSISTANT_HOME", str(h))
    return h


@pytest.fixture
def db(home: Path):
    database = open_db(home)
    yield database
    database.close()


@pytest.fixture(autouse=True)
def _no_daemon_outlives_its_test():
    """A test that fails halfway must not leave a daemon subprocess running."""
    yield
    fixture = sys.modules.get("tests.daemon_fixture")
    if fixture is not None:
        while fixture.SPAWNED:
            proc = fixture.SPAWNED.pop()
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
