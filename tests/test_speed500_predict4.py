"""Issue 34, the 500-symbol cycle (sixth pass): each faster path of the cycle gives exactly
what the computation it replaced gave, bit for bit (the replaced one kept here, in the
product's one-symbol path, or in tests/test_speed500*.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import features, indicators, signals, volatility


def _group(n: int, symbols: int = 7) -> list[pd.DataFrame]:
    """Frames on the same sessions whose fits do not all train on the same rows: a missing
    close inside two (their returns and design rows around it unknown: as many rows, not
    the same ones), a late start in
    another, a missing open (the proxy falls back to the squared return), a flat close."""
    from tests.test_speed500 import _bars

    out = [_bars(n, seed=100 * n + i) for i in range(symbols)]
    for b in out[1:]:
        b.index = out[0].index
    if n > 60:
        out[1].iloc[n // 2, 3] = np.nan  # a close missing inside
        out[6].iloc[n // 2 + 9, 3] = np.nan  # as many rows lost, others
        out[2].iloc[: n // 5, :] = np.nan  # a late start
        out[3].iloc[40:44, 0] = np.nan  # opens missing
        out[4].iloc[n - 3, 3] = out[4].iloc[n - 4, 3]  # an unchanged close near the end
        out[5].iloc[n - 2, 3] = np.nan  # a close missing at the end: no HAR at all there
    return out


def _one_by_one(frames, horizons, exog=None, rise=True):
    """The one-symbol path (`_forecasts_of`, a fit and a `_fit_forecast` at a time)."""
    return [volatility.forecasts_at_end([b], horizons, exog, rise)[0] for b in frames]


@pytest.mark.parametrize("n", [8, 21, 26, 121, 125, 126, 180, 300, 572])
def test_forecasts_of_a_group_equal_each_symbol_alone_bit_for_bit(n):
    """`forecasts_at_end` of several symbols solves the fits with the same training rows
    together (`_forecasts_rows`): each symbol's forecasts must be what it gets alone, with
    and without exog, at the lengths where a branch changes."""
    from tests.test_speed500 import _old_forecast_at_end

    group = _group(n)
    exog = np.log(np.abs(np.random.default_rng(n).normal(4e-4, 1e-4, n)))
    exog[: n // 4] = np.nan  # the regressor's history starts late
    models = set()
    for ex, horizons, rise in (
        (None, (1, 3, 5), True),
        (exog, (5, 1), True),
        (exog[:, None].repeat(2, axis=1), (1, 3), True),  # two regressors
        (None, [3], False),
    ):
        got = volatility.forecasts_at_end(group, horizons, ex, rise)
        assert repr(got) == repr(_one_by_one(group, horizons, ex, rise)), (n, horizons)
        if ex is None or ex.ndim == 1:  # and what the old forecast_at_end gave
            old = [_old_forecast_at_end(b, horizons, ex, rise) for b in group]
            assert repr(got) == repr(old), (n, horizons)
        models |= {f.model for one in got for f in one.values()}
    if n >= 300:  # each model served somewhere
        assert {"har+x", "har", "ewma"} <= models, models


def test_ewma_lasts_of_rows_equal_each_rows_own():
    """`_ewma_lasts_rows` (rows with the same finite positions: one seed mean and one
    lfilter over their block) against `_ewma_lasts` row by row; and the 20-session trailing
    means of all rows at once against each row's."""
    rng = np.random.default_rng(3)
    r2 = rng.normal(0, 0.02, (9, 300)) ** 2
    r2[:, 0] = np.nan  # no return on the first session
    r2[3, 50] = r2[4, 50] = np.nan  # two rows with a gap at the same place
    r2[5, 60:63] = np.nan  # one with its own
    r2[6, :285] = np.nan  # fewer than 20 values: no EWMA
    r2[7, :270] = np.nan  # a late start, 30 values
    for lengths in ([300, 295], [300], [25, 20], [21], [280, 275]):
        got = volatility._ewma_lasts_rows(r2, lengths)
        want = [volatility._ewma_lasts(row, lengths) for row in r2]
        assert repr(got) == repr(want), lengths
    for m in (21, 60, 300):
        rows = np.mean(r2[:, m - 20 : m], axis=1)
        assert rows.tobytes() == np.array([np.mean(row[m - 20 : m]) for row in r2]).tobytes()


def test_fit_forecasts_of_a_stack_equal_each_fit_alone():
    """`_fit_forecasts` (one gelsd call over a stack, the products and means row by row)
    against `_lstsq` + `_fit_forecast` a fit at a time, on near rank-deficient designs
    (which singular values the solve keeps depends on its rcond)."""
    from tests.test_speed500_predict3 import _design

    rng = np.random.default_rng(4)
    for rows, k, smallest in ((60, 8, 1e-3), (480, 9, 1e-14), (9, 9, 1e-16), (200, 8, 1e-17)):
        fits = 11
        x = np.stack([_design(rng, rows + 1, k, smallest) for _ in range(fits)])
        target = rng.standard_normal((fits, rows + 1))
        realized = np.exp(rng.standard_normal((fits, rows + 1)))
        realized[:, 3] = 0.0  # floored at EPS
        train = np.arange(rows)
        got = volatility._fit_forecasts(
            x[:, train], target[:, train], realized[:, train], x[:, rows]
        )
        for i in range(fits):
            coef = volatility._lstsq(x[i, train], target[i, train])
            want = volatility._fit_forecast(x[i], target[i], realized[i], train, coef, rows, 1)
            assert got[i].tobytes() == np.float64(want).tobytes(), (rows, k, i)


def _stored(db, names=("AAA", "BBB", "CCC")):
    from assistant.ingest.sources.synthetic import synthetic_bars
    from store import bars as bar_store
    from store import symbols
    from store.db import immediate

    symbols.add(db, list(names), "synthetic")
    with immediate(db):
        for i, name in enumerate(names):
            part = synthetic_bars(30 + 5 * i, seed=i)
            part["provisional"] = 0
            part.iloc[-1:, part.columns.get_loc("provisional")] = 1
            bar_store.upsert(db, name, part, "synthetic")


def _same_frames(got, old):
    assert list(got) == list(old) and got
    for sym in old:
        pd.testing.assert_frame_equal(got[sym], old[sym], check_exact=True)
        assert got[sym].to_numpy().tobytes() == old[sym].to_numpy().tobytes()


def test_load_many_reads_a_date_that_is_not_a_plain_day_as_it_did(db):
    """Sessions come over as day numbers (julianday); a stored date with a time of day is
    not one, and the frames are then read from the dates' text, as before."""
    from store import bars as bar_store
    from tests.test_speed500_predict3 import _old_load_many

    _stored(db)
    first = db.execute("SELECT MIN(date) FROM bars WHERE symbol = 'BBB'").fetchone()[0]
    with db.conn:
        db.execute("UPDATE bars SET date = date || ' 16:00' WHERE symbol = 'BBB'")
    got = bar_store.load_many(db, ["BBB"])
    _same_frames(got, _old_load_many(db, ["BBB"]))
    assert got["BBB"].index[0] == pd.Timestamp(first + " 16:00")
    with pytest.raises(ValueError, match="unconverted data remains"):  # as it did
        _old_load_many(db, ["CCC", "BBB", "AAA"])
    with pytest.raises(ValueError, match="unconverted data remains"):
        bar_store.load_many(db, ["CCC", "BBB", "AAA"])


def test_load_many_counts_and_rows_come_from_one_state_of_the_bars(db, home):
    """The symbols' runs (a count each) and the rows are two reads: a writer that commits
    between them (another connection) must not be seen by the second; inside a transaction
    the caller opened, the reads use it and leave it open."""
    from store import bars as bar_store
    from store.db import immediate, open_db
    from tests.test_speed500_predict3 import _old_load_many

    _stored(db)
    before = _old_load_many(db, ["AAA", "BBB", "CCC"])
    other = open_db(home)
    real_execute = db.execute
    wrote = []

    def execute(sql, *args, **kwargs):
        cur = real_execute(sql, *args, **kwargs)
        if "COUNT(*)" in sql and not wrote:  # after the runs are read: a new bar lands
            with other.conn:
                other.execute(
                    "INSERT INTO bars SELECT symbol, '2000-01-03', open, high, low, close, "
                    "volume, raw_close, adj_factor, provisional, flagged, source FROM bars "
                    "WHERE symbol = 'BBB' LIMIT 1"
                )
            wrote.append(True)
        return cur

    db.execute = execute  # type: ignore[method-assign]
    try:
        got = bar_store.load_many(db, ["AAA", "BBB", "CCC"])
    finally:
        del db.execute
    assert wrote
    _same_frames(got, before)
    assert len(_old_load_many(db, ["BBB"])["BBB"]) == len(before["BBB"]) + 1  # it did land
    with immediate(db):
        db.execute("DELETE FROM bars WHERE symbol = 'BBB' AND date = '2000-01-03'")
        _same_frames(bar_store.load_many(db, ["AAA", "BBB", "CCC"]), before)
        assert db.conn.in_transaction
    other.close()


def _panel(rng: np.random.Generator, rows: int = 400, columns: int = 30) -> pd.DataFrame:
    values = rng.standard_normal((rows, columns)).cumsum(axis=0) + 100.0
    values[rng.random(values.shape) < 0.02] = np.nan
    values[:70, 3] = np.nan  # a late start
    values[100:140, 7] = 5.0  # a constant run
    values[200, 9], values[201, 10] = np.inf, -np.inf  # NaN to pandas' kernels
    values[:, 11] = np.nan  # nothing at all
    values[:, 12] = np.nan
    values[-1, 12] = 1.0  # one value, at the end
    return pd.DataFrame(values, index=pd.bdate_range("2005-01-03", periods=rows))


@pytest.mark.parametrize("how", [{"span": 12}, {"span": 26}, {"span": 9}, {"alpha": 1 / 14}])
def test_ewm_mean_equals_pandas_column_by_column_bit_for_bit(how):
    """`indicators.ewm_mean` runs pandas' EWM kernel once over a wide frame's columns laid
    end to end (bounds restarting at each column) instead of once per column."""
    frame = _panel(np.random.default_rng(7))
    for min_periods in (1, 9, 14, 26, 500):
        old = frame.ewm(adjust=False, min_periods=min_periods, **how).mean()
        got = indicators.ewm_mean(frame, min_periods, **how)
        assert got.index.equals(old.index) and got.columns.equals(old.columns)
        assert np.ascontiguousarray(got.to_numpy()).tobytes() == (
            np.ascontiguousarray(old.to_numpy()).tobytes()
        ), min_periods
        for col in (0, 3, 9, 12):  # and each column alone (a Series: pandas' own call)
            alone = frame[col].ewm(adjust=False, min_periods=min_periods, **how).mean()
            assert got[col].to_numpy().tobytes() == alone.to_numpy().tobytes()
            assert indicators.ewm_mean(frame[col], min_periods, **how).equals(alone)


def test_features_and_votes_with_the_one_call_ewm_equal_pandas_ewm(monkeypatch):
    """The whole model features panel and the signals' votes (RSI, MACD, ATR: eleven EWMs a
    cycle) with pandas' EWM column by column (`_ewm_kernel` off) and with the one call."""
    from tests.test_speed500_predict import _bars, _bits

    bars = _bars(np.random.default_rng(5), symbols=12, rows=330)
    close = pd.DataFrame({s: b["close"] for s, b in bars.items()}).dropna()
    new = [features.build_panel(bars), features.build_panel(bars, tail=20)]
    new_votes = signals.votes(close)
    monkeypatch.setattr(indicators, "_ewm_kernel", None)
    old = [features.build_panel(bars), features.build_panel(bars, tail=20)]
    old_votes = signals.votes(close)
    for got, want in zip(new, old, strict=True):
        assert got.index.equals(want.index) and got.columns.equals(want.columns)
        assert _bits(got) == _bits(want)
    assert all(new_votes[k].tobytes() == old_votes[k].tobytes() for k in old_votes)


def test_coverings_are_each_symbols_covering():
    """`Serving.coverings` (each model's symbols made a set once) against `covering` symbol
    by symbol: the kinds in the models' order, none for a symbol no model was trained on."""
    from assistant.modeling.serving import Serving

    rows = {
        "xgboost": ["AAA", "BBB", "CCC"],
        "lstm": ["CCC", "AAA"],
        "markov": [],
        "ensemble": ["BBB", "CCC", "DDD"],
    }
    serving = Serving({k: ({"symbols": v}, object()) for k, v in rows.items()})
    serving.models["old"] = ({}, object())  # a row without symbols
    names = ["DDD", "AAA", "EEE", "CCC", "BBB"]
    got = serving.coverings(names)
    assert list(got) == names
    assert got == {s: serving.covering(s) for s in names}
    assert got["CCC"] == ("xgboost", "lstm", "ensemble") and got["EEE"] == ()
