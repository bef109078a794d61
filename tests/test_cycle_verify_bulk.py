"""The set-based verify pass against a straightforward per-row reference on a random backlog:
FLAT calls, calls without ranges or signals, missing and provisional bars, horizons that
reach past the last bar, expired calls, and a second pass over what is left."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from assistant.calendar import sessions_between
from assistant.cycle.learn import VOTERS, verify
from assistant.cycle.plan import DEFAULT_MODEL_WEIGHT, DEFAULT_WEIGHT, RULES_VERSION
from models import outcomes
from models.outcomes import buckets_of
from store import predictions as ledger
from store.db import immediate
from tests.cycle_fixture import make_home, price_path
from vocab.dates import session_date

SUMS = "calls, n, hits, ups, majs, n80, in80, n95, in95"
SUMS_OVER_CALLS = (
    "SELECT target_date, COUNT(*), COUNT(hit), COALESCE(SUM(hit), 0), "
    "SUM(CASE WHEN hit IS NOT NULL THEN COALESCE(up_hit, 0) ELSE 0 END), "
    "SUM(CASE WHEN hit IS NOT NULL THEN COALESCE(majority_hit, 0) ELSE 0 END), "
    "COUNT(covered80), COALESCE(SUM(covered80), 0), COUNT(covered95), "
    "COALESCE(SUM(covered95), 0) FROM predictions WHERE status = 'verified' "
    "GROUP BY target_date ORDER BY target_date"
)


def _backlog(home, rng, *, sessions=70, names=("AAA", "BBB", "CCC", "DDD"), horizons=(1, 3, 5)):
    """Four symbols' bars with holes and a provisional last bar; ~600 random calls (more with
    more sessions, symbols or horizons). Some calls' base price is their target's close
    exactly: an unchanged price, a FLAT move and a miss for every directional call."""
    days = pd.bdate_range("2024-01-02", periods=sessions)
    frames = {}
    for k, sym in enumerate(names):
        closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, len(days))))
        closes[rng.integers(0, len(days), 4)] = np.round(closes[0], 2)  # unchanged prices
        frame = price_path(closes, dates=days)
        keep = rng.random(len(days)) > 0.08  # missing bars
        keep[-1] = True
        frame = frame[keep]
        if k == 0:
            frame.loc[frame.index[-1], "provisional"] = 1
        frames[sym] = frame.iloc[: len(frame) - 3 * k]  # BBB..DDD end earlier
    db, settings = make_home(home, frames)
    rows = []
    for sym in frames:
        closes = frames[sym]["close"]
        for i, h in ((i, h) for i in range(len(days) - 1) for h in horizons):
            if rng.random() > 0.7:
                continue
            as_of, target = days[i], days[min(i + h, len(days) - 1)]
            base = float(100 * np.exp(rng.normal(0, 0.05)))
            if target in closes.index and rng.random() < 0.05:
                base = float(closes[target])
            votes = {v: float(rng.choice([-1.0, 0.0, 1.0])) for v in VOTERS if rng.random() < 0.8}
            info: dict = {"votes": votes, "last_move": "up", "contributions": {}}
            for key, value in (
                ("flat_band", float(rng.uniform(0, 0.02))),
                ("raw_confidence", float(rng.uniform(0.3, 0.7))),
                ("majority", int(rng.choice([-1, 1]))),
                ("model_return", float(rng.normal(0, 0.01))),
                ("lean", float(rng.choice([-0.4, 0.0, 0.3]))),
            ):
                if rng.random() < 0.75:
                    info[key] = value
            ranged = rng.random() < 0.8
            rows.append(
                (
                    sym,
                    f"{as_of:%Y-%m-%d}",
                    h,
                    RULES_VERSION if rng.random() < 0.6 else "xgb-7",
                    "2024-01-01T00:00:00+00:00",
                    f"{target:%Y-%m-%d}",
                    base,
                    float(rng.normal(0, 1)),
                    base,
                    base * 0.98 if ranged else None,
                    base * 1.02 if ranged else None,
                    base * 0.95 if ranged and rng.random() < 0.8 else None,
                    base * 1.05 if ranged else None,
                    None,
                    0.4,
                    0.2,
                    0.4,
                    str(rng.choice(["up", "down", "flat"])),
                    0.5,
                    None if rng.random() < 0.2 else str(rng.choice(["bullish", "bearish"])),
                    json.dumps(info),
                )
            )
    with immediate(db):
        ledger.insert_many(db, rows)
    return db, settings


def _reference(db, settings, day: str):
    """One call at a time, as the rules read: what the pass must store and learn."""
    calls = db.execute(
        "SELECT id, symbol, horizon, target_date, base_price, pred_change_pct, direction, "
        "regime, model_version, lower, upper, lower95, upper95, signals FROM predictions "
        "WHERE status = 'pending' AND target_date <= ? ORDER BY id",
        [day],
    ).fetchall()
    verdicts, expired = {}, []
    tally: dict[tuple[str, str, str], list[int]] = {}
    calibration: dict[tuple[str, int, int], list[float]] = {}
    for (
        pid,
        sym,
        h,
        target,
        base,
        pred,
        direction,
        regime,
        version,
        lo,
        hi,
        lo95,
        hi95,
        doc,
    ) in calls:
        bar = db.execute(
            "SELECT close FROM bars WHERE symbol = ? AND date = ? AND provisional = 0",
            [sym, target],
        ).fetchone()
        if bar is None:
            if sessions_between("XNYS", target, day) >= settings.cycle.expire_after_sessions:
                expired.append(pid)
            continue
        close = bar[0]
        info = json.loads(doc)
        r = outcomes.realized_return([base], [close])
        hit = outcomes.hit(np.array([direction], dtype=object), r)[0]
        majority = info.get("majority", 1)
        went = outcomes.direction(r)[0]

        def flag(x: float) -> int | None:
            return None if math.isnan(x) else int(x)

        def covered(a, b, close=close) -> int | None:
            return None if a is None or b is None else int(a <= close <= b)

        verdicts[pid] = (
            close,
            100.0 * np.expm1(r[0]) - pred,
            flag(hit),
            outcomes.move_class(r, info.get("flat_band", 0.0))[0],
            flag(outcomes.baseline_hit(1, r)[0]),
            flag(outcomes.baseline_hit(-1 if majority < 0 else 1, r)[0]),
            covered(lo, hi),
            covered(lo95, hi95),
        )
        for name in (*VOTERS, "model"):
            vote = info.get("model_return") if name == "model" else info["votes"].get(name)
            if vote and went != 0:
                counts = tally.setdefault((sym, regime or "sideways", name), [0, 0])
                counts[0 if np.sign(vote) == went else 1] += 1
        lean = info.get("lean")
        if lean is not None:
            leaned = "up" if lean > 0 else "down" if lean < 0 else "flat"
            hit = outcomes.hit(np.array([leaned], dtype=object), r)[0]
        raw = info.get("raw_confidence")
        if raw is not None and not math.isnan(hit):
            scope = "rules" if version == RULES_VERSION else "model"
            key = (scope, h, int(buckets_of(np.array([raw]))[0]))
            got = calibration.setdefault(key, [0, 0, 0.0])
            got[0], got[1], got[2] = got[0] + 1, got[1] + int(hit), got[2] + raw
    cycle = settings.cycle
    weights = {}
    for (sym, regime, name), (right, wrong) in sorted(tally.items()):
        old = DEFAULT_MODEL_WEIGHT if name == "model" else DEFAULT_WEIGHT
        stored = db.execute(
            "SELECT weight FROM weights WHERE symbol = ? AND regime = ? AND signal = ?",
            [sym, regime, name],
        ).fetchone()
        old = stored[0] if stored else old
        step = math.exp(cycle.learning_rate * (right - wrong) / (right + wrong))
        new = min(cycle.weight_max, max(cycle.weight_min, old * step))
        if abs(new - old) >= 1e-9:
            weights[(sym, regime, name)] = (stored[0] if stored else None, round(new, 6))
    return verdicts, expired, weights, calibration


def _stored(db, ids):
    got = {}
    for row in db.execute(
        "SELECT id, actual_price, error_pct, hit, outcome, up_hit, majority_hit, covered80, "
        "covered95, status FROM predictions"
    ):
        if row[0] in ids:
            got[row[0]] = row[1:]
    return got


def _check_pass(db, settings, day: str) -> int:
    verdicts, expired, weights, calibration = _reference(db, settings, day)
    changes_before = db.execute("SELECT COUNT(*) FROM weight_changes").fetchone()[0]
    calibration_before = db.execute("SELECT COUNT(*) FROM calibration_passes").fetchone()[0]
    report = verify(db, settings, as_of=session_date(day))
    assert (report.verified, report.expired) == (len(verdicts), len(expired))
    assert report.hits == sum(v[2] or 0 for v in verdicts.values())
    assert report.flat == sum(v[2] is None for v in verdicts.values())
    stored = _stored(db, set(verdicts) | set(expired))
    for pid, want in verdicts.items():
        got = stored[pid]
        assert got[-1] == "verified"
        assert got[0] == want[0] and got[1] == want[1], pid  # the same arithmetic, bit for bit
        assert got[2:-1] == want[2:], pid
    assert all(stored[pid][-1] == "expired" for pid in expired)
    assert db.execute(
        f"SELECT target_date, {SUMS} FROM verified_by_target ORDER BY 1"
    ).fetchall() == (db.execute(SUMS_OVER_CALLS).fetchall())
    logged = db.execute(
        "SELECT symbol, regime, signal, old_weight, new_weight FROM weight_changes WHERE id > ?",
        [changes_before],
    ).fetchall()
    assert {(s, r, g): (old, new) for s, r, g, old, new in logged} == weights
    assert len(logged) == len(weights) == len(report.weight_changes)
    passed = db.execute(
        "SELECT scope, horizon, bucket, n, hits, stated_sum FROM calibration_passes WHERE id > ?",
        [calibration_before],
    ).fetchall()
    assert {(s, h, b): (n, k) for s, h, b, n, k, _ in passed} == {
        key: (n, k) for key, (n, k, _) in calibration.items()
    }
    for s, h, b, _, _, stated in passed:
        assert stated == pytest.approx(calibration[(s, h, b)][2], rel=1e-12)
    return report.verified


@pytest.mark.parametrize("seed", [1, 2])
def test_the_bulk_pass_stores_and_learns_what_a_call_by_call_pass_would(home, seed):
    db, settings = _backlog(home, np.random.default_rng(seed))
    caches = [db.execute(f"PRAGMA {s}.cache_size").fetchone() for s in ("main", "temp")]
    first = _check_pass(db, settings, "2024-03-08")  # some targets still to come
    # the pass widens the page caches for itself only
    assert [db.execute(f"PRAGMA {s}.cache_size").fetchone() for s in ("main", "temp")] == caches
    assert first > 200
    assert db.execute("SELECT COUNT(*) FROM weights").fetchone()[0] > 0
    # the rest: later targets, calls whose bars never came now expire, weights move from
    # what the first pass stored
    assert _check_pass(db, settings, "2024-04-30") > 20
    assert db.execute("SELECT COUNT(*) FROM predictions WHERE status = 'expired'").fetchone()[0]
    assert _check_pass(db, settings, "2024-04-30") == 0  # nothing twice


def test_a_backlog_of_thousands_is_scored_exactly_as_call_by_call(home):
    """Thousands of calls over 160 sessions, four horizons up to ten sessions: every stored
    score (the error in % points bit for bit), the per-session sums, the weight steps and
    the calibration counts equal the per-row reference; then the rest of the backlog."""
    db, settings = _backlog(
        home,
        np.random.default_rng(7),
        sessions=160,
        names=("AAA", "BBB", "CCC", "DDD", "EEE"),
        horizons=(1, 2, 5, 10),
    )
    first = _check_pass(db, settings, "2024-07-01")
    assert first > 1500
    unchanged = db.execute(
        "SELECT COUNT(*) FROM predictions WHERE actual_price = base_price AND outcome = 'flat' "
        "AND up_hit = 0 AND majority_hit = 0 AND (hit = 0 OR direction = 'flat')"
    ).fetchone()[0]
    assert unchanged > 20
    assert db.execute("SELECT COUNT(*) FROM predictions WHERE status = 'expired'").fetchone()[0]
    assert _check_pass(db, settings, "2024-12-31") > 50
