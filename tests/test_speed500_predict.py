"""Issue 34, the 500-symbol cycle (fourth pass): the model features' rolling windows run
once over a wide frame's columns laid end to end (`indicators.rolling`) and give exactly what
pandas' column-by-column rolling gives, bit for bit; so do the features built with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models import features, indicators, market_features, ranking, regime, signals


def _wide(rng: np.random.Generator, rows: int = 300, columns: int = 40) -> pd.DataFrame:
    values = rng.standard_normal((rows, columns)).cumsum(axis=0) * 1e3 + 1e5
    values[rng.random(values.shape) < 0.02] = np.nan
    if columns > 12:
        values[:60, 3] = np.nan  # a late start
        values[100:140, 7] = 5.0  # a constant run (pandas counts repeats)
        values[200, 9], values[201, 10] = np.inf, -np.inf  # rolled as NaN
        values[:, 11] = np.nan  # nothing at all
    return pd.DataFrame(values, index=pd.bdate_range("2005-01-03", periods=rows))


def _bits(frame: pd.DataFrame | pd.Series) -> bytes:
    return np.ascontiguousarray(frame.to_numpy()).tobytes()


@pytest.mark.parametrize("n", [1, 2, 5, 20, 200, 400])
def test_rolling_equals_pandas_column_by_column_bit_for_bit(n):
    frame = _wide(np.random.default_rng(n))
    for how, kwargs in [("sum", {}), ("mean", {}), ("std", {}), ("std", {"ddof": 0}), ("var", {})]:
        for min_periods in sorted({1, n}):
            old = getattr(frame.rolling(n, min_periods=min_periods), how)(**kwargs)
            got = indicators.rolling(frame, n, how, min_periods, **kwargs)
            assert got.index.equals(old.index) and got.columns.equals(old.columns)
            assert _bits(got) == _bits(old), (how, kwargs, min_periods)


def test_rolling_falls_back_where_there_is_nothing_to_stack():
    frame = _wide(np.random.default_rng(1), rows=30, columns=3)
    series, one = frame[0], frame[[0]]
    ints = pd.DataFrame({"a": np.arange(30), "b": np.arange(30) * 2})
    for x in (series, one, ints, frame.iloc[:0], frame.iloc[:1]):
        old = x.rolling(5, min_periods=2).mean()
        got = indicators.rolling(x, 5, "mean", 2)
        assert type(got) is type(old) and _bits(got) == _bits(old)


def test_a_running_sum_would_not_pass_the_bit_for_bit_check():
    """The check can fail: a cumulative-sum rolling mean (the usual vectorized one) differs
    from pandas' in the last bits."""
    frame = _wide(np.random.default_rng(7)).iloc[:, 12:20].ffill().bfill()
    csum = frame.cumsum().to_numpy()
    naive = (csum[20:] - csum[:-20]) / 20
    assert naive.tobytes() != _bits(frame.rolling(20).mean().iloc[20:])


def _column_by_column(x, n, how, min_periods, **kwargs):
    """What `indicators.rolling` replaced: pandas' own rolling, column by column."""
    return getattr(x.rolling(n, min_periods=min_periods), how)(**kwargs)


def _bars(rng: np.random.Generator, symbols: int, rows: int) -> dict[str, pd.DataFrame]:
    days = pd.bdate_range("2005-01-03", periods=rows)
    out = {}
    for i in range(symbols):
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, rows)))
        high, low = close * (1 + rng.random(rows) * 0.02), close * (1 - rng.random(rows) * 0.02)
        bars = pd.DataFrame({"open": close, "high": high, "low": low, "close": close}, days)
        bars["volume"] = rng.integers(1_000, 100_000, rows).astype(float)
        start = int(rng.integers(1, 60)) if i % 3 == 0 else 0  # more than one calendar
        out[f"S{i:02d}"] = bars.iloc[start:]
    return out


def _outputs(bars: dict[str, pd.DataFrame]) -> list[pd.DataFrame]:
    closes = pd.DataFrame({s: b["close"] for s, b in bars.items()})
    factors = ranking.raw_factors(closes)
    return [features.build_panel(bars), features.build_panel(bars, tail=30), *factors.values()]


def test_features_and_ranking_factors_equal_the_column_by_column_ones():
    bars = _bars(np.random.default_rng(11), symbols=12, rows=320)
    new = _outputs(bars)
    with pytest.MonkeyPatch.context() as patch:
        for module in (indicators, market_features, ranking):
            patch.setattr(module, "rolling", _column_by_column)
        old = _outputs(bars)
    assert len(new) == len(old) == 10
    for got, want in zip(new, old, strict=True):
        assert got.index.equals(want.index) and got.columns.equals(want.columns)
        assert _bits(got) == _bits(want)


@pytest.mark.parametrize("tail", [1, 5, 31, 32, 40, 400])
def test_build_panel_tail_equals_the_last_rows_of_the_whole_panel(tail):
    """Serving builds only the last `tail` rows of each symbol (every one still computed from
    the whole history; the wavelet rows from their own windows): the same bits as the last
    rows of the whole panel. (The market context is left out: with `tail` it is rolled from a
    later first session, as before this change, which moves the last bits of its sums.)"""
    bars = _bars(np.random.default_rng(tail), symbols=9, rows=300)
    own = list(features.FEATURES)
    whole = features.build_panel(bars)[own]
    got = features.build_panel(bars, tail=tail)[own]
    want = whole.groupby(level="symbol").tail(tail)
    assert got.index.equals(want.index) and got.columns.equals(want.columns)
    assert _bits(got) == _bits(want)


def test_votes_from_known_indicators_equal_votes_computed_afresh():
    bars = _bars(np.random.default_rng(5), symbols=6, rows=260)
    close = pd.DataFrame({s: b["close"] for s, b in bars.items()}).dropna()
    known = {"rsi": indicators.rsi(close), "macd_hist": indicators.macd_hist(close)}
    known |= {f"sma_{w}": indicators.sma(close, w) for w in (20, 50, 200)}
    r1 = pd.DataFrame(np.log(close)).diff()
    # features' 20-session volatility of the same returns, annualized
    known["realized_vol"] = indicators.rolling(r1, 20, "std", 20) * np.sqrt(252)
    assert _bits(known["realized_vol"]) == _bits(indicators.realized_vol(close, 20))
    got, want = signals.votes(close, known=known), signals.votes(close)
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].tobytes() == want[name].tobytes(), name
    for thresholds in ({}, {"bull_trend": 0.01, "volatile": 0.2}):
        got = signals.votes(close, known=known, **thresholds)
        want = signals.votes(close, **thresholds)
        assert all(got[k].tobytes() == want[k].tobytes() for k in want)
        trend = known["sma_20"] / known["sma_50"] - 1
        label = regime.labels(trend, known["realized_vol"], **thresholds)
        assert label.tobytes() == regime.states(close, **thresholds)[0].tobytes()


def test_the_cycles_bars_are_the_final_bars_the_per_symbol_filter_kept(db):
    """`load_bars` reads the final bars in its query (`load_many(final_only=True)`) instead of
    filtering each symbol's frame: the same frames, and a symbol with provisional bars only
    is absent, as before."""
    from assistant.cycle.analyze import CYCLE_COLUMNS, load_bars
    from assistant.ingest.sources.synthetic import synthetic_bars
    from store import bars as bar_store
    from store import symbols
    from store.db import immediate

    names = ["AAA", "BBB", "CCC"]
    symbols.add(db, names, "synthetic")
    frame = synthetic_bars(30)
    with immediate(db):
        for i, name in enumerate(names):
            part = frame.copy()
            part["provisional"] = 0
            if i == 1:  # the last three sessions provisional
                part.iloc[-3:, part.columns.get_loc("provisional")] = 1
            if i == 2:  # provisional only
                part["provisional"] = 1
            bar_store.upsert(db, name, part, "synthetic")
    as_of = frame.index[-1].date()
    got = load_bars(db, names, as_of)
    old = {}  # what load_bars did before: every bar, then each symbol's final ones
    for sym, bars in bar_store.load_many(db, names, end=as_of).items():
        bars = bars[bars["provisional"] == 0]
        if not bars.empty:
            old[sym] = bars
    assert list(got) == list(old) == ["AAA", "BBB"]
    assert len(got["BBB"]) == 27
    for sym in old:  # the columns a cycle uses (CYCLE_COLUMNS), the same values
        pd.testing.assert_frame_equal(got[sym], old[sym][CYCLE_COLUMNS], check_exact=True)


def test_load_many_reads_the_columns_asked_for_with_the_same_values(db):
    """`load_many(columns=)` hands over only those columns (the cycle reads 7 values a row,
    not 11): each is the full read's column, bit for bit, with its dtype and index."""
    from assistant.cycle.analyze import CYCLE_COLUMNS
    from assistant.ingest.sources.synthetic import synthetic_bars
    from store import bars as bar_store
    from store import symbols
    from store.db import immediate

    names = ["AAA", "BBB"]
    symbols.add(db, names, "synthetic")
    with immediate(db):
        for i, name in enumerate(names):
            part = synthetic_bars(40 + i)
            part["provisional"] = 0
            part.iloc[-2:, part.columns.get_loc("provisional")] = 1
            part["flagged"] = 0
            part.iloc[3, part.columns.get_loc("flagged")] = 1
            part["adj_factor"] = np.linspace(0.5, 1.0, len(part))
            bar_store.upsert(db, name, part, "synthetic")
    full = bar_store.load_many(db, names)
    for columns in (CYCLE_COLUMNS, ["flagged", "close"], ["provisional"], bar_store.BAR_COLUMNS):
        got = bar_store.load_many(db, names, columns=columns)
        assert list(got) == names
        for sym in names:
            want = full[sym][[c for c in bar_store.BAR_COLUMNS if c in columns]]
            pd.testing.assert_frame_equal(got[sym], want, check_exact=True)
            for c in columns:
                assert got[sym][c].to_numpy().tobytes() == want[c].to_numpy().tobytes()


def test_wide_closes_equal_the_frame_of_the_close_series():
    rng = np.random.default_rng(2)
    same = _bars(rng, symbols=7, rows=80)
    same = {s: b.iloc[-50:] for s, b in same.items()}  # one calendar
    mixed = _bars(rng, symbols=7, rows=80)  # two calendars
    shuffled = {s: same[s] for s in reversed(list(same))}
    unsorted = {s: b.iloc[::-1] for s, b in same.items()}  # one index, not sorted
    for bars in (same, mixed, shuffled, unsorted, {"S00": same["S00"]}, {}):
        old = pd.DataFrame({s: bars[s]["close"].astype(float) for s in sorted(bars)})
        got = market_features.wide_closes(bars)
        pd.testing.assert_frame_equal(got, old.sort_index(), check_exact=True)
        assert _bits(got) == _bits(old.sort_index())


def test_an_analysis_reads_its_regime_from_the_last_row_of_its_regimes():
    """`_one` takes the last regime, trend and volatility from the wide arrays, not from a row
    of the symbol's regimes frame: the same values (NaN where the history is short)."""
    from assistant.cycle.analyze import MIN_SESSIONS, analyze_many

    bars = _bars(np.random.default_rng(3), symbols=6, rows=150)
    gap = bars["S01"].iloc[-MIN_SESSIONS:].copy()
    gap.iloc[-10, gap.columns.get_loc("close")] = np.nan  # no trend or volatility at the end
    bars["GAP"] = gap
    found, errors = analyze_many(bars, [1, 5], {})
    assert not errors and len(found) == 7
    assert np.isnan(found["GAP"].trend) and np.isnan(found["GAP"].volatility)
    for a in found.values():
        now = a.regimes.frame().iloc[-1]
        assert a.regime == str(now["regime"])
        for got, want in ((a.trend, now["trend"]), (a.volatility, now["volatility"])):
            assert np.float64(got).tobytes() == np.float64(want).tobytes()
