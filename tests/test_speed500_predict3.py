"""Issue 34, the 500-symbol cycle (fifth pass): each faster path of the cycle gives exactly
what the computation it replaced gave (the old one written out here or in
tests/test_speed500.py, compared bit for bit)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from models import regime, volatility


def _design(rng: np.random.Generator, m: int, k: int, smallest: float) -> np.ndarray:
    """An (m, k) matrix whose singular values are 1 .. `smallest` (near rank-deficient: which
    of them the solve keeps depends on its rcond)."""
    u, _ = np.linalg.qr(rng.standard_normal((m, k)))
    v, _ = np.linalg.qr(rng.standard_normal((k, k)))
    return (u * np.geomspace(1.0, smallest, k)) @ v.T


def test_lstsq_is_numpys_lstsq_bit_for_bit():
    rng = np.random.default_rng(7)
    for m, k in ((50, 8), (200, 9), (537, 8), (8, 8), (9, 8)):
        for smallest in (1.0, 1e-3, 1e-11, 1e-12, 3e-13, 1e-13, 3e-14, 1e-14, 1e-16):
            a = _design(rng, m, k, smallest)
            b = rng.standard_normal(m)
            old = np.linalg.lstsq(a, b, rcond=None)[0]
            got = volatility._lstsq(a, b)
            assert got.tobytes() == old.tobytes(), (m, k, smallest)


def test_lstsq_fails_as_numpys_does():
    a = np.random.default_rng(1).standard_normal((60, 8))
    a[3, 2] = np.nan
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.lstsq(a, np.ones(60), rcond=None)
    with pytest.raises(np.linalg.LinAlgError):
        volatility._lstsq(a, np.ones(60))


def test_ewma_lasts_equal_the_ewma_of_each_prefix():
    rng = np.random.default_rng(4)
    r2 = rng.standard_normal(300) ** 2 * 1e-4
    r2[0] = np.nan
    r2[[5, 30, 31, 200]] = np.nan  # gaps: the recursion skips them
    lengths = list(range(0, 300, 7)) + [19, 20, 21, 24, 25, 26, 299, 300]
    got = volatility._ewma_lasts(r2, lengths)
    for m in lengths:
        old = volatility._ewma_last(r2[:m]) if m > 20 else float("nan")
        assert repr(got[m]) == repr(old), m
    assert np.isfinite(got[300]) and got[300] != got[299]


def _old_with_rank(c, ranks):
    """run._with_rank as it was (a `replace` per call)."""
    if ranks is None:
        return c
    got = ranks.by_symbol.get(c.symbol, {}).get(c.horizon)
    if got is None or ranks.as_of != c.as_of:
        return c
    rank, n, rel = got
    return replace(c, rank=rank, rank_of=n, relative_pct=100 * math.expm1(rel))


def _old_with_context(c, world):
    """run._with_context as it was (a `replace` per call)."""
    w = world.get(c.symbol)
    if w is None:
        return c
    return replace(
        c,
        context=w.line(c.horizon),
        event_within=w.event_within(c.horizon),
        vix=w.vix,
        vix_pct=w.vix_pct,
    )


def test_decided_calls_equal_the_calls_replaced_with_rank_and_context(home):
    """`decide` makes each call with its rank and context in one construction; it must be
    the call the old path gave (made bare, then `replace`d twice), field for field, and
    `_replace_new` must be `replace(c, new=...)`."""
    from assistant.cycle import run
    from assistant.cycle.context import WorldContext
    from assistant.cycle.predict import skill_lines
    from assistant.modeling.ranking import Ranks
    from tests.cycle_fixture import synthetic_home

    db, settings = synthetic_home(home, names=("AAA", "BBB", "CCC"))
    read = run.read_cycle(db, home, settings, as_of=date(2024, 3, 28))
    db.close()
    day = read.analyses["AAA"].as_of
    world = dict(read.world)
    world["AAA"] = WorldContext("AAA", day, vix=21.5, vix_pct=0.8, event_sessions=2)
    world["BBB"] = WorldContext("BBB", day, next_event="FOMC", calendar_ends="2024-04-01")
    world.pop("CCC", None)  # no context at all
    by_symbol = {"AAA": {1: (1, 3, 0.012), 5: (3, 3, -0.02)}, "CCC": {1: (2, 3, 0.0)}}
    ranked = []
    stale = Ranks("rank-v", date(2024, 3, 27), by_symbol)  # ranked as of another session
    for ranks in (None, Ranks("rank-v", day, by_symbol), stale):
        read_now = replace(read, ranks=ranks, world=world)
        writes = run.decide(read_now)
        plans = [p for _, p in writes.calls]
        skills = skill_lines(read_now.live, plans)
        old = [
            _old_with_context(_old_with_rank(run._call(p, read.exchange, skills), ranks), world)
            for p in plans
        ]
        got = [c for c, _ in writes.calls]
        assert [c.to_dict() for c in got] == [c.to_dict() for c in old]
        assert repr(got) == repr(old)
        ranked.append(sorted((c.symbol, c.horizon) for c in got if c.rank is not None))
        for c in got:
            for new in (True, False):
                assert repr(run._replace_new(c, new)) == repr(replace(c, new=new))
    assert ranked == [[], [("AAA", 1), ("AAA", 5), ("CCC", 1)], []]
    assert {c.vix for c in got} == {21.5, None}
    assert {c.symbol for c in got if c.context} == {"AAA", "BBB"}


def _old_regime_rows(a, frame, after):
    """analyze.regime_rows as it was (no early return; the regimes a frame)."""
    from store import regimes as regime_store

    dates = pd.DatetimeIndex(frame.index)
    start = 0 if after is None else int(dates.searchsorted(pd.Timestamp(after), side="right"))
    trend = frame["trend"].to_numpy(float)[start:]
    vol = frame["volatility"].to_numpy(float)[start:]
    return [
        regime_store.RegimeRow(
            symbol=a.symbol,
            date=d,
            regime=g,
            trend=None if t != t else float(t),
            volatility=None if v != v else float(v),
        )
        for d, g, t, v in zip(
            dates[start:].date, frame["regime"].to_numpy()[start:], trend, vol, strict=True
        )
    ]


def test_regime_rows_equal_the_old_rows_after_any_stored_date():
    from assistant.cycle import analyze as az

    dates = pd.bdate_range("2024-01-01", periods=30, name="date")
    frame = pd.DataFrame(
        {
            "regime": ["bullish", "sideways", "volatile"] * 10,
            "trend": np.r_[np.nan, np.linspace(-0.1, 0.1, 29)],
            "volatility": np.r_[np.linspace(0.1, 0.3, 28), np.nan, 0.2],
        },
        index=dates,
    )
    base = az.analyze(
        "AAA", _ohlc(300), [1], {"bull_trend": 0.02, "bear_trend": -0.02, "volatile": 0.4}
    )
    # the analysis' regimes are the frame analyze_many built before, from the same arrays
    close = _ohlc(300)[["close"]].rename(columns={"close": 0})
    labels, trend, vol = regime.states(close, bull_trend=0.02, bear_trend=-0.02, volatile=0.4)
    keep = slice(-az.REGIME_ROWS, None)
    old = pd.DataFrame(
        {
            "regime": labels[keep, 0],
            "trend": trend.to_numpy()[keep, 0],
            "volatility": vol.to_numpy()[keep, 0],
        },
        index=close.index[keep],
    )
    pd.testing.assert_frame_equal(base.regimes.frame(), old, check_exact=True)
    histories = []
    for regimes in (frame, frame.iloc[:0], frame.iloc[:1]):
        history = az.RegimeHistory(
            pd.DatetimeIndex(regimes.index),
            regimes["regime"].to_numpy(dtype=str),  # as the labels come: a numpy str array
            regimes["trend"].to_numpy(),
            regimes["volatility"].to_numpy(),
        )
        assert history.frame().equals(regimes) and len(history) == len(regimes)
        a = replace(base, regimes=history)
        histories.append(a)
        afters = [None, "2023-12-29", "2024-01-01", "2024-01-15", "2024-01-16", "2024-02-08"]
        afters += ["2024-02-09", "2024-02-12", "2030-01-01"]
        for after in afters:
            got = az.regime_rows(a, after)
            assert repr(got) == repr(_old_regime_rows(a, regimes, after)), (len(regimes), after)
            assert all(type(r.regime) is str for r in got)
    assert len(az.regime_rows(histories[0], "2024-02-08")) == 1


def _ohlc(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(n)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    return pd.DataFrame(
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close},
        index=pd.bdate_range("2023-01-02", periods=n, name="date"),
    )


def _same_sessions(n: int, symbols: int = 5) -> list[pd.DataFrame]:
    from tests.test_speed500 import _bars

    out = [_bars(n, seed=10 * n + i) for i in range(symbols)]
    for b in out[1:]:
        b.index = out[0].index
    if n > 60 and symbols > 3:
        out[2].iloc[40:44, 0] = np.nan  # opens missing: those days' proxy is the return
        out[3].iloc[n - 3, 3] = out[3].iloc[n - 4, 3]  # an unchanged close near the end
    return out


def test_forecasts_of_many_symbols_equal_each_symbols_old_forecast():
    """`forecasts_at_end` computes the arrays of all the symbols on the same sessions at
    once (a row each); each symbol's forecasts must be what the old one-symbol path (with
    the rise factor's forecast recomputed from the shorter bars) gave, bit for bit, at the
    lengths where a branch changes, with and without exog."""
    from tests.test_speed500 import _old_forecast_at_end

    for n in (8, 21, 26, 121, 125, 126, 300):
        group = _same_sessions(n)
        exog = np.log(np.abs(np.random.default_rng(n).normal(4e-4, 1e-4, n)))
        exog[: n // 4] = np.nan  # the regressor's history starts late
        for ex, horizons, rise in (
            (None, (1, 3, 5), True),
            (exog, (5, 1), True),
            (None, [3], False),
        ):
            got = volatility.forecasts_at_end(group, horizons, ex, rise)
            old = [_old_forecast_at_end(b, horizons, ex, rise) for b in group]
            assert repr(got) == repr(old), (n, horizons)
    assert {f.model for f in got[0].values()} == {"har"}


def test_forecasts_of_frames_on_other_sessions_or_columns_are_each_their_own():
    from tests.test_speed500 import _old_forecast_at_end

    group = _same_sessions(300, symbols=3)
    closes_only = group[1][["close"]]  # no range: its proxy is the squared return
    shorter = group[2].iloc[:-10]
    for frames in ([group[0], closes_only], [group[0], shorter, group[1]], [closes_only]):
        got = volatility.forecasts_at_end(frames, (1, 3, 5))
        assert repr(got) == repr([_old_forecast_at_end(b, (1, 3, 5)) for b in frames])


def test_the_row_helpers_equal_the_one_symbol_helpers_row_by_row():
    v = volatility
    group = _same_sessions(300)
    r, r2, rv = v._returns_rows(group)
    pre_rv = v._prefix_rows(rv)
    month = v._trailing_mean_rows(rv, 22, pre_rv)
    x = v._har_matrix_rows(rv, r, r2, pre_rv, month)
    for s, bars in enumerate(group):
        _, r_s, r2_s, rv_s = v._returns(bars)
        for got, old in (
            (r[s], r_s),
            (r2[s], r2_s),
            (rv[s], rv_s),
            (x[s], v._har_matrix(rv_s, r_s)),
        ):
            assert got.tobytes() == old.tobytes()
        for h in (1, 3, 5):
            assert (
                v._har_target_rows(rv, h, pre_rv, month)[s].tobytes()
                == v.har_target(rv_s, h).tobytes()
            )
    assert np.isnan(rv[2, 40:44]).sum() == 0 and rv[2, 41] == r2[2, 41]


def _old_moves(close: np.ndarray, h: int) -> tuple:
    """What `analyze._one` computed per symbol and horizon before (sigma, drift, FLAT band,
    majority, last move, baseline rate)."""
    from assistant.cycle.analyze import SIGMA_WINDOW
    from models import outcomes

    logc = np.log(close)
    r = logc[h:] - logc[:-h]
    sigma = float(np.std(r[-SIGMA_WINDOW:], ddof=1)) if len(r) > 2 else 0.0
    drift = float(np.mean(r[-SIGMA_WINDOW:])) if len(r) else 0.0
    band, majority, last = outcomes.at_end(close, h)
    return sigma, drift, band, majority, last, outcomes.baseline_rate(close, h)


@pytest.mark.parametrize("n", [3, 8, 21, 22, 60, 300])
def test_moves_of_all_rows_equal_each_symbols_own(n):
    from assistant.cycle import analyze as az

    rng = np.random.default_rng(n)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (6, n)), axis=1))
    close[1, n // 2] = np.nan  # a gap: the moves over it are unknown
    close[2, :] = 40.0  # never moves: no majority, every move flat
    close[3, -1] = close[3, -2]  # the last move is flat
    close[4, : n - 1] = np.nan  # one known close: no move known
    close[5, -1] = np.nan
    # the closes of a sessions group: columns of a dates x symbols frame, as analyze_many has them
    wide = np.column_stack(list(close))
    with np.errstate(invalid="ignore"):
        got = az._moves_at_end(np.log(np.ascontiguousarray(wide.T)), [1, 3, 5])
    for h in (1, 3, 5):
        for j in range(6):
            with np.errstate(invalid="ignore", divide="ignore"):
                old = _old_moves(wide[:, j], h)
            new = tuple(float(a[j]) for a in got[h])
            assert repr(new) == repr(tuple(float(x) for x in old)), (h, j)
            assert int(got[h][3][j]) == old[3] and int(got[h][4][j]) == old[4]


def _old_load_many(db, symbols, *, start=None, end=None, final_only=False):
    """store.bars.load_many as it was: a list and a tuple slice per row."""
    from store.bars import BAR_COLUMNS
    from store.db import date_range

    sql = "SELECT symbol, date, " + ", ".join(BAR_COLUMNS) + " FROM bars WHERE symbol IN ("
    sql += ",".join("?" * len(symbols)) + ")" + (" AND provisional = 0" if final_only else "")
    bounds, params = date_range(start, end)
    rows = db.execute(sql + bounds + " ORDER BY symbol, date", [*symbols, *params]).fetchall()
    if not rows:
        return {}
    syms = np.array([r[0] for r in rows], dtype=object)
    index = pd.DatetimeIndex(pd.to_datetime([r[1] for r in rows]), name="date")
    values = np.array([r[2:] for r in rows], dtype=float)
    frame = pd.DataFrame(values, index=index, columns=BAR_COLUMNS)
    frame["provisional"] = frame["provisional"].astype(int)
    frame["flagged"] = frame["flagged"].astype(int)
    edges = np.flatnonzero(syms[1:] != syms[:-1]) + 1
    starts, stops = np.r_[0, edges], np.r_[edges, len(rows)]
    return {str(syms[a]): frame.iloc[a:b] for a, b in zip(starts, stops, strict=True)}


def test_load_many_gives_the_frames_it_gave(db):
    from assistant.ingest.sources.synthetic import synthetic_bars
    from store import bars as bar_store
    from store import symbols
    from store.db import immediate

    names = ["AAA", "BBB", "CCC", "DDD"]
    symbols.add(db, names, "synthetic")
    with immediate(db):
        for i, name in enumerate(names):
            part = synthetic_bars(40 + 7 * i, seed=i)
            part["provisional"] = 0
            part["flagged"] = 0
            part.iloc[-2:, part.columns.get_loc("provisional")] = 1
            part.iloc[5, part.columns.get_loc("flagged")] = 1
            part.iloc[6, part.columns.get_loc("volume")] = 0.0
            bar_store.upsert(db, name, part, "synthetic")
    for kwargs in ({}, {"final_only": True}, {"start": "2010-01-20", "end": date(2010, 2, 20)}):
        for wanted in (names, ["CCC", "AAA"], ["DDD"]):
            got = bar_store.load_many(db, wanted, **kwargs)
            old = _old_load_many(db, wanted, **kwargs)
            assert list(got) == list(old) and got
            for sym in old:
                pd.testing.assert_frame_equal(got[sym], old[sym], check_exact=True)
                assert got[sym].to_numpy().tobytes() == old[sym].to_numpy().tobytes()
    assert bar_store.load_many(db, ["AAA"], start="2030-01-01") == {}


def test_columns_of_a_frame_are_its_columns_as_float_arrays():
    from models import indicators

    bars = _ohlc(50)
    bars["volume"] = np.arange(50.0)
    bars["provisional"] = np.zeros(50, dtype=int)
    bars.iloc[7, 1] = np.nan
    text = bars.assign(source="synthetic")  # a column that does not convert to float
    for frame in (bars, text, bars.iloc[10:20], bars[["close"]]):
        names = ["close", "high", "low", "open"] if "open" in frame else ["close"]
        got = indicators.columns_of(frame, names)
        for name, values in zip(names, got, strict=True):
            assert values.tobytes() == frame[name].to_numpy(dtype=float).tobytes()
            assert values.dtype == np.float64
    with pytest.raises(KeyError):
        indicators.columns_of(bars, ["close", "nope"])


def test_bars_through_a_date_are_the_frame_loc_up_to_it():
    from assistant.modeling.serving import _through

    bars = _ohlc(40)
    last = bars.index[-1]
    for as_of in (
        last,
        last + pd.Timedelta(days=3),
        bars.index[20],
        bars.index[0] - pd.Timedelta(days=1),
    ):
        for frame in (bars, bars.iloc[:0], bars.iloc[5:30]):
            got, old = _through(frame, as_of), frame.loc[:as_of]
            pd.testing.assert_frame_equal(got, old, check_exact=True, check_freq=False)
    assert len(_through(bars, bars.index[20])) == 21


def test_a_call_already_in_the_ledger_is_left_as_it_was_and_new_ones_go_in(home):
    """`write_cycle` no longer builds the rows of calls the ledger already has; the ledger
    must be what inserting them all (INSERT OR IGNORE) left: the stored calls unchanged,
    the new ones added."""
    from assistant.cycle import run
    from store import predictions as ledger
    from tests.cycle_fixture import synthetic_home

    db, settings = synthetic_home(home, names=("AAA", "BBB"))
    writes = run.decide(run.read_cycle(db, home, settings, as_of=date(2024, 3, 28)))
    first = [(c, p) for c, p in writes.calls if c.symbol == "AAA"]
    assert run.write_cycle(db, replace(writes, calls=first)) == set()
    stored = {r["id"]: r for r in ledger.listing(db)}
    moved = [(replace(c, base_price=c.base_price + 1.0), p) for c, p in writes.calls]
    known = run.write_cycle(db, replace(writes, calls=moved))
    assert known == {(c.symbol, c.as_of, c.horizon, c.model_version) for c, _ in first}
    after = {r["id"]: r for r in ledger.listing(db)}
    assert {i: after[i] for i in stored} == stored  # the stored calls as they were
    new = [r for i, r in after.items() if i not in stored]
    assert sorted((r["symbol"], r["horizon"]) for r in new) == sorted(
        (c.symbol, c.horizon) for c, _ in writes.calls if c.symbol == "BBB"
    )
    assert {r["base_price"] for r in new} == {
        c.base_price + 1.0 for c, _ in writes.calls if c.symbol == "BBB"
    }


def test_lstsq_without_numpys_private_gufuncs_is_numpys_lstsq(monkeypatch):
    rng = np.random.default_rng(3)
    a, b = _design(rng, 80, 8, 1e-13), rng.standard_normal(80)
    monkeypatch.setattr(volatility, "_umath_linalg", None)
    assert volatility._lstsq(a, b).tobytes() == np.linalg.lstsq(a, b, rcond=None)[0].tobytes()
