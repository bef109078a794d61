"""The ranges' checkpoint: a cycle resumes the adaptive conformal state where the last one
left it and feeds only the outcomes verified since, and its multipliers are exactly those
of a replay of the whole ledger — after several cycles, a watchlist change, an outcome
verified late, a date before the checkpoint, a row deleted or re-verified, a damaged
checkpoint. A real SQLite file; calls written by the ledger's own insert and verify writes."""

from __future__ import annotations

import json
import logging
import shutil
from contextlib import closing

import numpy as np
import pandas as pd
import pytest

from assistant.cycle import ranges
from assistant.cycle.learn import verify
from assistant.cycle.run import decide, read_cycle, write_cycle
from models import intervals
from store import predictions as ledger
from store import range_states, symbols
from store.db import immediate, open_db
from tests.cli_fixture import run_cli
from tests.cycle_fixture import synthetic_home
from vocab.dates import session_date

ALL = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2020-12-28", periods=165)]
DAYS = ALL[5:]  # target sessions; the calls on them were made h sessions before
HORIZONS = [1, 3]
NAMES = ["AAA", "BBB", "CCC"]


def _calls(db, names, first: int, last: int) -> None:
    """Pending calls (with a volatility forecast) whose target is DAYS[first:last]."""
    rows = []
    for i in range(first, last):
        for h in HORIZONS:
            for sym in names:
                rows.append(
                    (sym, ALL[i + 5 - h], h, "m", "2021-01-01T00:00:00+00:00", DAYS[i],
                     100.0, 0.0, 100.0, None, None, None, None, 0.01 * h**0.5, 0.4, 0.2, 0.4,
                     "flat", None, "sideways", "{}")
                )  # fmt: skip
    with immediate(db):
        ledger.insert_many(db, rows)


def _verify(db, through: str, seed: int = 0, skip: tuple[str, str] | None = None) -> None:
    """Verify every pending call whose target is on or before `through` (as `verify`
    writes it); a storm doubles the moves from the 60th session on; `skip`
    (symbol, target) stays pending, its bar late."""
    rng = np.random.default_rng(seed)
    storm = DAYS[60]
    rows = []
    for i, sym, h, target in db.execute(
        "SELECT id, symbol, horizon, target_date FROM predictions WHERE status = 'pending' "
        "AND target_date <= ? ORDER BY id",
        [through],
    ).fetchall():
        if skip == (sym, target):
            continue
        scale = 0.02 if target >= storm else 0.01
        actual = 100.0 * np.exp(rng.standard_t(4) * scale * h**0.5)
        rows.append(ledger.Verdict(actual, 0.0, None, "flat", 0, 0, None, None, f"v-{through}", i))
    with immediate(db):
        ledger.mark_verified(db, rows)


def _replayed(db, names, known_by, horizons=HORIZONS):
    """The multipliers of a replay of every verified outcome (the rule before checkpoints)."""
    rows = ledger.residuals(db, names, None if known_by is None else session_date(known_by))
    out = {}
    for h in horizons:
        mine = [r for r in rows if r[1] == h]
        sessions: dict[str, list] = {}
        for r, z in zip(mine, ranges._scores(mine), strict=True):
            sessions.setdefault(r[2], []).append((r[0], z))
        state = intervals.replay(list(sessions.values()))
        for sym in names:
            out[(sym, h)] = state.multipliers(sym)
    return out


def _cycle(db, names, known_by=None):
    """A cycle's ranges: read, then the write saves the checkpoints. (multipliers, what
    was read after each checkpoint, the checkpoints saved)."""
    fed: list[int] = []
    real = ledger.residuals

    def spy(*args, **kwargs):
        rows = real(*args, **kwargs)
        fed.append(len(rows))
        return rows

    ledger.residuals = spy
    try:
        got = ranges.read(db, names, HORIZONS, None if known_by is None else session_date(known_by))
    finally:
        ledger.residuals = real
    with immediate(db):
        range_states.save(db, got.checkpoints)
    return got.q, fed, {c.horizon: c.last_session for c in got.checkpoints}


def _saved(db, names):
    return {
        h: c.last_session for h, c in range_states.load(db, range_states.symbols_key(names)).items()
    }


@pytest.fixture
def ledger_db(db):
    symbols.add(db, NAMES, "synthetic")
    _calls(db, NAMES, 0, len(DAYS))
    return db


def test_each_cycle_feeds_only_the_new_sessions_and_equals_a_full_replay(ledger_db):
    db = ledger_db
    _verify(db, DAYS[99])
    q, fed, saved = _cycle(db, NAMES)
    assert q == _replayed(db, NAMES, None)
    assert fed == [300, 300] and saved == {1: DAYS[99], 3: DAYS[99]}  # a full replay at first
    for k, day in enumerate(DAYS[100:106]):
        _verify(db, day, seed=k + 1)
        q, fed, saved = _cycle(db, NAMES)
        assert q == _replayed(db, NAMES, None)
        assert fed == [3, 3]  # one session: three symbols, per horizon
        assert saved == {1: day, 3: day}
    # the storm moved the adaptive levels: the equality covers them, not only the pools
    state = json.loads(range_states.load(db, range_states.symbols_key(NAMES))[1].state)
    assert state["alpha"] != [0.2, 0.05] and len(state["own"]) == 3


def test_a_late_bar_holds_the_checkpoint_before_its_session_and_is_fed_when_verified(ledger_db):
    db = ledger_db
    _verify(db, DAYS[99], skip=("BBB", DAYS[97]))  # BBB's bar of DAYS[97] is not in yet
    q, _, saved = _cycle(db, NAMES)
    assert q == _replayed(db, NAMES, None)
    assert saved[1] == DAYS[96]  # outcomes of DAYS[97] may still come: not in the checkpoint
    _verify(db, DAYS[100], seed=1)  # the late outcome, older than the newest session fed
    q, fed, saved = _cycle(db, NAMES)
    assert q == _replayed(db, NAMES, None)
    assert fed[0] == 4 * 3 and saved[1] == DAYS[100]  # DAYS[97..100], not the whole ledger


def _late_call(db, sym: str, target: int, version: str) -> None:
    """A call for an old session, added after the fact (e.g. by a backfill)."""
    with immediate(db):
        ledger.insert_many(
            db,
            [(sym, DAYS[target - 1], 1, version, "x", DAYS[target], 100.0, 0.0, 100.0, None,
              None, None, None, 0.01, 0.4, 0.2, 0.4, "flat", None, "sideways", "{}")],
        )  # fmt: skip


def test_a_call_added_or_verified_into_a_session_the_checkpoint_fed(ledger_db):
    db = ledger_db
    _verify(db, DAYS[99])
    _cycle(db, NAMES)
    _late_call(db, "AAA", 50, "late")  # pending, before the checkpoint: it may not count yet
    q, fed, saved = _cycle(db, NAMES)
    assert q == _replayed(db, NAMES, None)
    assert fed == [300, 0] and saved == {1: DAYS[49]}  # horizon 1 replayed, stops before it
    _verify(db, DAYS[99], seed=7)  # its outcome comes, older than every session fed
    q, fed, saved = _cycle(db, NAMES)
    assert q == _replayed(db, NAMES, None)
    assert fed == [50 * 3 + 1, 0] and saved == {1: DAYS[99]}
    # added and verified between two cycles: verifying it voids the checkpoint that fed
    # its session (a replay orders it among that session's outcomes)
    _late_call(db, "BBB", 30, "late")
    _verify(db, DAYS[99], seed=8)
    assert set(_saved(db, NAMES)) == {3}
    q, fed, _ = _cycle(db, NAMES)
    assert q == _replayed(db, NAMES, None) and fed == [302, 0]


def test_a_row_deleted_edited_or_re_verified_voids_the_checkpoint(ledger_db):
    db = ledger_db
    _verify(db, DAYS[99])
    _cycle(db, NAMES)
    changes = [
        "DELETE FROM predictions WHERE symbol = 'AAA' AND horizon = 1 AND target_date = ?",
        "UPDATE predictions SET vol_sigma = vol_sigma * 2 WHERE symbol = 'BBB' AND horizon = 1 "
        "AND target_date = ?",
        "UPDATE predictions SET status = 'pending', actual_price = NULL WHERE symbol = 'CCC' "
        "AND horizon = 1 AND target_date = ?",  # a repair sets it back, to verify again
    ]
    for k, sql in enumerate(changes):
        with immediate(db):
            db.execute(sql, [DAYS[40 + k]])
        q, fed, _ = _cycle(db, NAMES)
        assert q == _replayed(db, NAMES, None)
        assert fed == [300 - 1 - (k == 2), 0]  # horizon 1 replayed in full
    assert _saved(db, NAMES)[1] == DAYS[41]  # before the call set back to pending
    _verify(db, DAYS[99], seed=3)  # verified again, at another price
    q, fed, _ = _cycle(db, NAMES)
    assert q == _replayed(db, NAMES, None) and fed == [58 * 3, 0]


def test_a_watchlist_change_replays_its_own_set_and_each_set_resumes_its_checkpoint(ledger_db):
    db = ledger_db
    _verify(db, DAYS[99])
    _cycle(db, NAMES)
    two = ["CCC", "AAA"]
    q, fed, _ = _cycle(db, two)  # another set: its own state, replayed
    assert q == _replayed(db, two, None) and fed == [200, 200]
    _verify(db, DAYS[101], seed=1)
    for names in (NAMES, two):
        q, fed, _ = _cycle(db, names)
        assert q == _replayed(db, names, None)
        assert fed == [2 * len(names)] * 2  # each resumed: two sessions since
    q, fed, _ = _cycle(db, ["AAA", "CCC", "AAA"])  # order and repeats: the same set
    assert q == _replayed(db, two, None) and fed == [0, 0]


def test_a_date_before_the_checkpoint_replays_and_keeps_the_newer_checkpoint(ledger_db):
    db = ledger_db
    _verify(db, DAYS[120])
    _cycle(db, NAMES)
    q, fed, saved = _cycle(db, NAMES, known_by=DAYS[80])  # a backfill or an as-of cycle
    assert q == _replayed(db, NAMES, DAYS[80]) and fed == [243, 243] and saved == {}
    assert _saved(db, NAMES) == {1: DAYS[120], 3: DAYS[120]}
    q, fed, _ = _cycle(db, NAMES, known_by=DAYS[130])  # later than it: resumed
    assert q == _replayed(db, NAMES, DAYS[130]) and fed == [0, 0]


def _other_rule(text: str) -> str:
    state = json.loads(text)
    state["rule"]["pool"] = 250  # written under another pool length
    return json.dumps(state)


def _cut_pool(text: str) -> str:
    state = json.loads(text)
    state["own"]["AAA"] = state["own"]["AAA"][:-3]  # not a whole number of float64s
    return json.dumps(state)


@pytest.mark.parametrize(
    "damage", [lambda text: '{"rule": [not json', _other_rule, _cut_pool, lambda text: "null"]
)
def test_a_damaged_checkpoint_is_replayed_with_one_log_line(ledger_db, caplog, damage):
    db = ledger_db
    _verify(db, DAYS[99])
    _cycle(db, NAMES)
    with immediate(db):
        for i, text in db.execute("SELECT id, state FROM range_states").fetchall():
            db.execute("UPDATE range_states SET state = ? WHERE id = ?", [damage(text), i])
    with caplog.at_level(logging.WARNING, logger="assistant.cycle.ranges"):
        q, fed, saved = _cycle(db, NAMES)
    assert q == _replayed(db, NAMES, None) and fed == [300, 300]
    lines = [r.getMessage() for r in caplog.records if r.name == "assistant.cycle.ranges"]
    assert len(lines) == 1 and "range checkpoint unreadable" in lines[0], lines
    assert saved == {1: DAYS[99], 3: DAYS[99]}  # rewritten whole
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="assistant.cycle.ranges"):
        assert _cycle(db, NAMES)[0] == q
    assert not caplog.records


def test_only_the_symbol_sets_saved_last_keep_a_checkpoint(ledger_db):
    db = ledger_db
    _verify(db, DAYS[99])
    sets = [["AAA"], ["BBB"], ["CCC"], ["AAA", "BBB"], ["BBB", "CCC"]]
    for names in sets:
        _cycle(db, names)
    kept = {k for (k,) in db.execute("SELECT DISTINCT symbols_key FROM range_states")}
    assert kept == {range_states.symbols_key(n) for n in sets[-range_states.KEEP :]}
    q, fed, _ = _cycle(db, ["AAA"])  # dropped: replayed
    assert q == _replayed(db, ["AAA"], None) and fed == [100, 100]


def test_a_verify_between_the_read_and_the_write_keeps_the_older_checkpoint(ledger_db):
    db = ledger_db
    _verify(db, DAYS[99])
    _cycle(db, NAMES)
    _verify(db, DAYS[100], seed=1)
    got = ranges.read(db, NAMES, HORIZONS, None)
    _verify(db, DAYS[101], seed=2)  # commits before the cycle's write
    with immediate(db):
        assert not range_states.save(db, got.checkpoints)
    assert _saved(db, NAMES) == {1: DAYS[99], 3: DAYS[99]}
    q, fed, _ = _cycle(db, NAMES)
    assert q == _replayed(db, NAMES, None) and fed == [6, 6]


def test_the_cycle_saves_the_checkpoint_in_its_write_and_resumes_from_it(home):
    """Real cycles (rules serve) with real verify passes: each cycle's multipliers are a
    full replay's, and its write moved the checkpoint."""
    db, settings = synthetic_home(home)
    days = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2024-01-02", periods=70)]
    _seed_verified(db, days[:60])
    syms = ["AAA", "BBB"]
    horizons = [int(h) for h in settings.models.horizons]
    moved = []
    for day in days[60:64]:
        verify(db, settings, as_of=session_date(day))
        read = read_cycle(db, home, settings, as_of=session_date(day))
        assert read.range_q == _replayed(db, syms, day, horizons)
        write_cycle(db, decide(read))
        saved = range_states.load(db, range_states.symbols_key(syms))
        for c in read.range_checkpoints:
            assert saved[c.horizon].last_session == c.last_session
        moved.append(saved[1].last_session)
    # the first replayed the seeded outcomes (to 03-25); then each cycle's write moved it
    # to the newest session verified (none targets 03-26, the first cycle's own day;
    # 03-29 is Good Friday, no session)
    assert moved == ["2024-03-25", "2024-03-27", "2024-03-28", "2024-03-28"]


def _seed_verified(db, days: list[str]) -> None:
    rng = np.random.default_rng(5)
    rows = []
    for i, target in enumerate(days):
        for h in (1, 3, 5):
            for sym in ("AAA", "BBB"):
                rows.append(
                    (sym, days[max(i - h, 0)], h, "old", "x", target, 100.0, 0.0, 100.0, None,
                     None, None, None, 0.01, 0.4, 0.2, 0.4, "flat", None, "sideways", "{}")
                )  # fmt: skip
    with immediate(db):
        ledger.insert_many(db, rows)
    ids = [r[0] for r in db.execute("SELECT id FROM predictions WHERE model_version = 'old'")]
    with immediate(db):
        ledger.mark_verified(
            db,
            [ledger.Verdict(100 * np.exp(rng.normal(0, 0.02)), 0.0, None, "flat", 0, 0, None, None, "x", i)
             for i in ids],
        )  # fmt: skip


def _cli(home, *args):
    run = run_cli(home, *args)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_predict_from_the_cli_draws_the_ranges_a_full_replay_draws(tmp_path):
    """Two homes with the same ledger take the same verify and predict commands; one keeps
    its checkpoints, the other has them deleted before every predict (a full replay): the
    calls' ranges are the same to the last digit, and the first home's checkpoint moved."""
    kept, replayed = tmp_path / "kept", tmp_path / "replayed"
    db, _ = synthetic_home(kept)
    days = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2024-01-02", periods=70)]
    _seed_verified(db, days[:60])
    db.close()
    shutil.copytree(kept, replayed)
    marks = []
    for day in days[60:62]:
        outs = []
        for home in (kept, replayed):
            _cli(home, "verify", "--as-of", day)
            if home == replayed:
                with closing(open_db(home)) as other, immediate(other):
                    other.execute("DELETE FROM range_states")
            outs.append(json.loads(_cli(home, "predict", "--as-of", day, "--json")))
        ranges_of = [
            [(c["symbol"], c["horizon"], c["lower"], c["upper"], c["lower95"], c["upper95"])
             for c in out]
            for out in outs
        ]  # fmt: skip
        assert ranges_of[0] == ranges_of[1] and len(ranges_of[0]) == 6
        with closing(open_db(kept)) as mine:
            marks.append(_saved(mine, ["AAA", "BBB"]))
    assert marks[0] == {1: days[59], 3: days[59], 5: days[59]}  # replayed, then saved
    assert marks[1][1] == days[61]  # resumed: the first call's outcome fed on
