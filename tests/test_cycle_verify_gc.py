"""A verify pass runs with the cyclic garbage collector paused (a 100k backlog's tuples made
it walk the heap again and again) and leaves the collector as it found it, however it ends."""

from __future__ import annotations

import gc
from datetime import date

import pytest

from assistant.cycle import learn
from store import predictions as ledger
from tests.cycle_fixture import add_call, make_home, price_path


@pytest.fixture
def matured(home):
    db, settings = make_home(home, {"AAA": price_path([100, 102, 99, 100.1])})
    add_call(db, "AAA", "2024-01-02", "2024-01-03", base=100, direction="up")
    add_call(db, "AAA", "2024-01-02", "2024-01-04", base=100, direction="down", horizon=2)
    yield db, settings
    gc.enable()


def test_the_pass_writes_with_the_collector_off_and_turns_it_back_on(matured, monkeypatch):
    db, settings = matured
    seen = []
    write = ledger.mark_verified

    def watched(*args, **kwargs):
        seen.append(gc.isenabled())
        write(*args, **kwargs)

    monkeypatch.setattr(ledger, "mark_verified", watched)
    gc.enable()
    assert learn.verify(db, settings, as_of=date(2024, 1, 5)).verified == 2
    assert seen == [False] and gc.isenabled()


def test_a_failed_pass_turns_the_collector_back_on_and_a_disabled_one_stays_off(
    matured, monkeypatch
):
    db, settings = matured

    def fails(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ledger, "mark_verified", fails)
    gc.enable()
    with pytest.raises(OSError):
        learn.verify(db, settings, as_of=date(2024, 1, 5))
    assert gc.isenabled()
    assert ledger.counts(db)["pending"] == 2  # nothing written
    monkeypatch.undo()
    gc.disable()  # a caller that turned it off itself keeps it off
    assert learn.verify(db, settings, as_of=date(2024, 1, 5)).verified == 2
    assert not gc.isenabled()
