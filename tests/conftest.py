"""Shared fixtures: a fresh data home per test, homes built once and copied, synthetic bars."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
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


BuiltHome = Callable[..., Path]


@pytest.fixture(scope="session")
def _home_templates(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Homes built by CLI steps, once per session (per xdist worker: each has its own tmp)."""
    from tests.cli_fixture import cli

    built: dict[tuple[tuple[str, ...], ...], Path] = {}

    def template(*steps: tuple[str, ...]) -> Path:
        if steps not in built:
            home = tmp_path_factory.mktemp("template") / "home"
            for step in steps:
                done = cli(home, *step)
                assert done.returncode == 0, (step, done.stderr)
            built[steps] = home
        return built[steps]

    return template


@pytest.fixture
def built_home(_home_templates: Callable[..., Path], tmp_path: Path) -> BuiltHome:
    """`built_home(("watch", "add", "AAPL"), ("collect",))`: a copy (at tmp_path/"home") of
    the home those CLI steps (run with tests.daemon_fixture.FAST_ENV) build; the steps run
    once per session, each test gets its own copy."""

    def make(*steps: tuple[str, ...]) -> Path:
        home = tmp_path / "home"
        shutil.copytree(_home_templates(*steps), home)
        return home

    return make


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


@pytest.fixture
def fresh_calendars():
    """assistant.calendar caches calendars per end year, reading today's date: one built
    while time-travelling (time_machine) must not leak into later tests."""
    from assistant import calendar

    calendar._calendar_to.cache_clear()
    yield
    calendar._calendar_to.cache_clear()
