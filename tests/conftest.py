"""Shared fixtures: a fresh data home per test, and synthetic bars."""

from __future__ import annotations

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
