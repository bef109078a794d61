"""Issue 34, fifth pass: `report` at 500 symbols reads only what it uses. The code each change
replaced is kept here as the reference, and the new code must give the very same values: the
realized variance of every call from all symbols' closes at once; the ranking record from the
factors' cells instead of the whole dates x symbols frame, on stores whose symbols have
different calendars (sessions one lacks, one listed late, provisional bars, a ranked symbol
without bars); the signals' parts read by SQLite instead of json.loads; the daily IC in numpy
instead of pandas' groupby."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assistant.cycle import report
from assistant.cycle.report import Calls
from models import indicators, volatility
from store import bars as bar_store
from store import rankings as rank_store
from store import symbols as symbol_store
from tests.cycle_fixture import final_closes_many


def _same(a: object, b: object) -> bool:
    """Equal in nested dicts and lists, the same types, floats bit for bit (by repr, which
    round-trips: -0.0 is not 0.0, NaN is NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return repr(a) == repr(b)
    return type(a) is type(b) and a == b


def _runs(rng: np.random.Generator, lengths: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Closes of series of `lengths` laid end to end (some NaN), and each row's run start."""
    close = np.concatenate([100 * np.exp(np.cumsum(rng.normal(0, 0.02, n))) for n in lengths])
    close[rng.random(len(close)) < 0.04] = np.nan
    starts = np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
    return close, starts


def test_rolling_runs_equals_pandas_on_each_series_alone():
    rng = np.random.default_rng(1)
    lengths = [1, 2, 7, 40, 3, 120, 5]
    values, starts = _runs(rng, lengths)
    values = np.log(values)
    values[200:215] = 1.5  # a constant run
    for n in (1, 2, 3, 5, 8, 60):
        for min_periods in (1, n):
            got = indicators.rolling_runs(values, starts, n, "sum", min_periods)
            edges = np.r_[0, np.cumsum(lengths)]
            for a, b in zip(edges[:-1], edges[1:], strict=True):
                alone = pd.Series(values[a:b]).rolling(n, min_periods=min_periods).sum()
                np.testing.assert_array_equal(got[a:b], alone.to_numpy())


def test_future_realized_vars_of_runs_equal_each_series_alone():
    rng = np.random.default_rng(2)
    lengths = [1, 3, 6, 30, 2, 90]
    close, starts = _runs(rng, lengths)
    got = volatility.future_realized_vars_runs(close, starts, [1, 3, 5, 7])
    edges = np.r_[0, np.cumsum(lengths)]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        alone = volatility.future_realized_vars(pd.Series(close[a:b]), [1, 3, 5, 7])
        for h, values in alone.items():
            np.testing.assert_array_equal(got[h][a:b], values.to_numpy())
    assert np.isfinite(got[5]).sum() > 50


def _bars(close: pd.Series, provisional: int = 0) -> pd.DataFrame:
    bars = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1e6},
        index=close.index,
    )
    bars["raw_close"], bars["adj_factor"] = close, 1.0
    bars["provisional"], bars["flagged"] = provisional, 0
    return bars


def _store_closes(db, rng: np.random.Generator, names: list[str], days: pd.DatetimeIndex):
    """Each symbol's closes on its own calendar (sessions it lacks, one listed late, one
    with its newest bars provisional), stored; the dates x symbols frame of them."""
    symbol_store.add(db, names, "synthetic")
    moves = rng.normal(0.0003, 0.02, (len(days), len(names)))
    wide = pd.DataFrame(100 * np.exp(np.cumsum(moves, axis=0)), index=days, columns=names)
    wide.iloc[rng.random(wide.shape) < 0.05] = np.nan  # sessions a symbol lacks
    wide.iloc[: len(days) // 2, 0] = np.nan  # a symbol listed late
    for j, name in enumerate(names):
        close = wide[name].dropna()
        if j == 1:  # its last 4 bars provisional: the final closes end before them
            bar_store.upsert(db, name, _bars(close.iloc[:-4]), "synthetic")
            bar_store.upsert(db, name, _bars(close.iloc[-4:], provisional=1), "synthetic")
        else:
            bar_store.upsert(db, name, _bars(close), "synthetic")
    db.conn.commit()
    return wide


def _old_realized_var(db, calls: Calls) -> np.ndarray:
    """`report._realized_var` before the fifth pass: each symbol's bars as a frame, rolled
    per calendar, each call's row found by `get_indexer`."""
    out = np.full(len(calls), np.nan)
    first = str(min(calls["as_of"]))
    stored = bar_store.load_many(db, sorted(set(calls["symbol"].tolist())), start=first)
    each: dict[tuple[str, int], pd.Series] = {}
    for i, (sym, h, as_of) in enumerate(
        zip(calls["symbol"], calls["horizon"], calls["as_of"], strict=True)
    ):
        if sym in stored:
            if (sym, int(h)) not in each:
                each[(sym, int(h))] = volatility.future_realized_var(stored[sym]["close"], int(h))
            rv = each[(sym, int(h))]
            at = rv.index.get_indexer(pd.DatetimeIndex([as_of]))[0]
            out[i] = rv.to_numpy()[at] if at >= 0 else np.nan
    return out


def test_the_realized_variance_of_all_calls_equals_each_symbols_own(db):
    rng = np.random.default_rng(3)
    names = [f"S{i}" for i in range(6)]
    days = pd.bdate_range("2007-01-01", periods=80)
    _store_closes(db, rng, names, days)
    n = 900
    sym = rng.choice(np.array([*names, "GONE"], dtype=object), n)  # GONE: no bars
    as_of = days[rng.integers(10, len(days), n)]  # some on a session the symbol lacks
    calls = Calls(
        {
            "id": np.arange(n, dtype=float),
            "symbol": sym,
            "as_of": np.array([str(d.date()) for d in as_of], dtype=object),
            "horizon": rng.choice(np.array([1.0, 3.0, 5.0]), n),
        }
    )
    got = report._realized_var(db, calls)
    old = _old_realized_var(db, calls)
    np.testing.assert_array_equal(got, old)
    assert np.isfinite(got).sum() > n // 2 and np.isnan(got).sum() > 50


def _old_ranking_record(db, symbols: list[str] | None = None) -> list[object]:
    """`report.ranking_record` before the fifth pass: every ranked symbol's final closes from
    `_closes_start` on as Series, the dates x symbols frame of them, the factors on the whole
    frame (`scorecard.versus_factors`)."""
    from models.scorecard import judged, ranking_skill, versus_factors

    out: list[object] = []
    horizons = [h for (h,) in db.execute("SELECT DISTINCT horizon FROM rankings ORDER BY 1")]
    start = report._closes_start(db, symbols, [int(h) for h in horizons])
    for h in horizons:
        frame = pd.DataFrame(rank_store.history(db, int(h)))
        if symbols:
            frame = frame[frame["symbol"].isin(symbols)]
        frame = frame.drop_duplicates(["symbol", "as_of"], keep="last")
        names = sorted(set(frame["symbol"]))
        closes = final_closes_many(db, names, start)
        realized = np.full(len(frame), np.nan)
        as_of = pd.to_datetime(frame["as_of"].to_numpy())
        for key, idx in frame.groupby("symbol").indices.items():
            c = closes[str(key)]
            pos = c.index.get_indexer(as_of[idx])
            target = pos + int(h)
            ok = (pos >= 0) & (target < len(c))
            values = c.to_numpy()
            realized[idx[ok]] = np.log(values[target[ok]] / values[pos[ok]])
        calls = pd.DataFrame(
            {
                "date": as_of.to_numpy(),
                "symbol": frame["symbol"].to_numpy(),
                "expected": frame["relative"].to_numpy(float),
                "realized": realized,
            }
        )
        skill = ranking_skill(calls, int(h))
        wide = pd.DataFrame({s: closes[s] for s in names}).sort_index() if names else None
        versus = versus_factors(calls, wide, int(h)) if skill and wide is not None else None
        record = judged(skill, versus)
        out.append(
            {
                "horizon": int(h),
                "n": int(np.isfinite(realized).sum()),
                "record": record,
                "edge": bool(record and record["edge"]),
            }
        )
    return out


@pytest.fixture(params=["late", "early"])
def ranked_db(db, request):
    """Seven symbols on their own calendars over 400 sessions, ranked on the last 70 at
    horizons 1, 5 and 30 (GONE ranked too, without bars), one session ranked twice; "early":
    also on 10 sessions fewer than 252 after the first (the factors lack rows before them)."""
    rng = np.random.default_rng(9)
    names = [f"S{i}" for i in range(7)]
    days = pd.bdate_range("2004-01-01", periods=400)
    _store_closes(db, rng, names, days)
    ranked = days[-70:] if request.param == "late" else days[100:110].append(days[-70:])
    rows = [
        rank_store.RankRow(name, str(d.date()), h, "ranking-v1", 1 + i, len(names), rel)
        for d in ranked
        for h in (1, 5, 30)
        for i, (name, rel) in enumerate(
            zip([*names, "GONE"], rng.normal(0, 0.01, len(names) + 1), strict=True)
        )
    ]
    rank_store.upsert_many(db, rows)
    again = str(days[-20].date())
    rank_store.upsert_many(
        db,
        [
            rank_store.RankRow(n, again, 1, "ranking-v2", 1, 7, 0.01 * i)
            for i, n in enumerate(names)
        ],
    )
    db.conn.commit()
    return db


def test_the_ranking_record_from_the_cells_it_reads_equals_the_whole_frames(ranked_db, request):
    got = report.ranking_record(ranked_db)
    assert [r["horizon"] for r in got] == [1, 5, 30]
    assert all(r["record"] and r["record"]["versus"] for r in got)
    momentum = got[0]["record"]["versus"]["factors"]["momentum"]  # type: ignore[index]
    assert momentum["n_days"] > 0  # the frame reaches 252 sessions back
    assert _same(got, _old_ranking_record(ranked_db))
    # GONE (no bars) is the first ranked name: the closes are read from the first session on;
    # without it, from S1's 252nd session back (`_closes_start`)
    assert report._closes_start(ranked_db, None, [1, 5, 30]) is None
    picked = ["S1", "S2", "S3", "S4", "S5", "S6"]
    late = report._closes_start(ranked_db, picked, [1, 5, 30]) is not None
    assert late == (request.node.callspec.params["ranked_db"] == "late")
    mine = report.ranking_record(ranked_db, picked)
    assert mine[0]["record"]["versus"]["factors"]["momentum"]["n_days"] > 0  # type: ignore[index]
    assert _same(mine, _old_ranking_record(ranked_db, picked))


def test_a_factor_cell_from_the_wrong_row_changes_the_record(ranked_db, monkeypatch):
    """The test above can fail: the cells one row off give another record."""
    from models import scorecard

    good = report.ranking_record(ranked_db)
    monkeypatch.setattr(scorecard, "factor_lags", lambda h: sorted({0, h + 1, 21, 252}))
    monkeypatch.setattr(
        scorecard,
        "factor_scores",
        lambda back, h: {"reversal": -(back[0] - back[h + 1]), "momentum": back[21] - back[252]},
    )
    assert not _same(report.ranking_record(ranked_db), good)


def test_row_of_finds_each_pair_or_none():
    rng = np.random.default_rng(4)
    sym = np.array(["B", "A", "B", "C", "A", "D"], dtype=object)
    day = np.array(
        ["2007-01-02", "2007-01-02", "2007-01-03", "2006-12-29", "2007-01-05", "1969-12-31"],
        dtype="datetime64[D]",
    )
    wanted = rng.choice(np.array(["A", "B", "C", "D", "E"], dtype=object), 200)
    wanted_days = rng.choice(
        np.r_[day, np.array(["2007-01-04", "NaT"], dtype="datetime64[D]")], 200
    )
    pairs = {(s, d): i for i, (s, d) in enumerate(zip(sym, day, strict=True))}
    expect = [pairs.get((s, d), -1) for s, d in zip(wanted, wanted_days, strict=True)]
    np.testing.assert_array_equal(report.row_of(sym, day, wanted, wanted_days), expect)
    assert report.row_of(sym[:0], day[:0], wanted, wanted_days).tolist() == [-1] * 200
    order = np.argsort(sym, kind="stable")  # each symbol's rows one run, as the store reads them
    got = report.row_of(sym[order], day[order], wanted, wanted_days)
    np.testing.assert_array_equal(np.where(got >= 0, order[got], -1), expect)


PLAIN_SIGNALS = [
    '{"last_move":1,"majority":-1,"vol":{"model":"har","var":0.0001912238218257648,'
    '"ewma":9.883915279378359e-05,"trailing":0.00011302922776666565}}',
    '{"last_move":-1,"majority":1,"vol":{"var":1E-7,"ewma":0.30000000000000004,'
    '"trailing":1.000000000000000000000001}}',
    '{"last_move":0,"vol":{"var":2.5e+300,"ewma":5e-324,"trailing":123456789.12345678912}}',
    '{"last_move":"up","majority":"down","vol":{"var":-0.0,"ewma":1,"trailing":null}}',
    '{"last_move":null,"majority":null,"vol":null}',
    '{"majority":true,"last_move":false,"vol":{}}',
    '{"vol":{"var":0.5}}',
    "{}",
    '{"last_move":"flat","majority":"\\u0075p","note":"a \\"quoted\\" note"}',
    '{"last_move":1.0,"majority":-2.5e-3,"vol":{"var":0.1}}',  # reals: their digits as written
]
ODD_SIGNALS = [
    ' {"last_move":1,"vol":{"var":0.1}}',  # not read by SQLite: it starts with a space
    '{"last_move":1,"vol":{"var":NaN,"ewma":Infinity,"trailing":-Infinity}}',  # json.dumps
    '{"last_move":-1,"vol":{"var":0.2},"note":"NaN in a note"}',
    "",  # no JSON at all: json.loads reads '' as {} here
]


def _ledger_with(db, texts: list[str]) -> None:
    symbol_store.add(db, ["AAA", "BBB"], "synthetic")
    for i, text in enumerate(texts * 3):
        db.execute(
            "INSERT INTO predictions (symbol, as_of, horizon, model_version, made_at, "
            "target_date, base_price, pred_change_pct, pred_price, direction, signals, status, "
            "actual_price, error_pct, hit, outcome, p_up, p_flat, p_down) VALUES "
            "(?, ?, 1, 'm-v1', '2007-01-01', ?, 100, 0.5, 100.5, 'up', ?, 'verified', 101, "
            "0.5, 1, 'UP', 0.5, 0.2, 0.3)",
            ["AAA" if i % 2 else "BBB", f"2007-01-{1 + i:02d}", f"2007-02-{1 + i % 20:02d}", text],
        )
    db.conn.commit()


def _columns(calls: Calls | None) -> dict[str, list[object]]:
    assert calls is not None
    return {k: [repr(x) for x in v.tolist()] for k, v in calls.columns.items() if k != "signals"}


def test_the_signals_parts_read_by_sqlite_equal_json_loads(db, monkeypatch):
    """Where SQLite reads the signals (every text here is plain), each call's baseline signs
    and variance forecasts are those json.loads gives, bit for bit (repr), and the ledger
    is not read a second time."""
    from store import predictions as ledger

    _ledger_with(db, PLAIN_SIGNALS)
    old = _columns(_old_read_calls(db))
    monkeypatch.setattr(ledger, "scored", lambda *a: pytest.fail("read twice"))
    got = _columns(report._read_calls(db, None, None))
    assert got == old
    assert repr(5e-324) in got["vol_ewma"] and repr(1e-07) in got["vol_var"]
    assert set(got["majority"]) == {"-1", "0", "1"} and set(got["last_move"]) == {"-1", "0", "1"}


@pytest.mark.parametrize("odd", ODD_SIGNALS)
def test_signals_sqlite_may_read_otherwise_are_read_by_json_loads(db, odd):
    _ledger_with(db, [*PLAIN_SIGNALS, odd])
    assert _columns(report._read_calls(db, None, None)) == _columns(_old_read_calls(db))


def test_a_signals_text_json_loads_cannot_read_fails_as_before(db):
    import json

    _ledger_with(db, [*PLAIN_SIGNALS, "{not json"])
    with pytest.raises(json.JSONDecodeError):
        report._read_calls(db, None, None)


def _old_read_calls(db) -> Calls | None:
    """`report.build`'s calls before the fifth pass: the ledger's rows as dicts, each
    signals text parsed by json.loads."""
    import json

    from store import predictions as ledger

    rows = ledger.scored(db)
    if not rows:
        return None
    names = list(rows[0])
    cols = {}
    for name in names:
        values = [r[name] for r in rows]  # type: ignore[literal-required]
        kind = object if name in report.TEXT_COLUMNS else float
        cols[name] = np.array(values, dtype=kind)
    cols["position"] = np.arange(len(rows))
    calls = Calls(cols)
    info = [json.loads(sig or "{}") for sig in calls["signals"]]
    calls["last_move"] = np.array([report._sign(i.get("last_move")) for i in info])
    calls["majority"] = np.array([report._sign(i.get("majority", 1)) for i in info])
    vol = [i.get("vol") or {} for i in info]
    for key in ("var", "ewma", "trailing"):
        calls[f"vol_{key}"] = np.array([v.get(key, np.nan) for v in vol], dtype=float)
    return calls


def _old_daily_ic(frame: pd.DataFrame, min_symbols: int = 5) -> pd.Series:
    """`selective.daily_ic` before the fifth pass: pandas groupby rank, mean and sum."""
    df = frame[["date", "expected", "realized"]].dropna()
    ranks = df.groupby("date")[["expected", "realized"]].rank()
    ranks["date"] = df["date"].to_numpy()
    sizes = ranks.groupby("date")["expected"].transform("size")
    ranks = ranks[sizes >= min_symbols]
    g = ranks.groupby("date")
    dx = ranks["expected"] - g["expected"].transform("mean")
    dy = ranks["realized"] - g["realized"].transform("mean")
    parts = pd.DataFrame({"date": ranks["date"], "xy": dx * dy, "xx": dx**2, "yy": dy**2})
    s = parts.groupby("date")[["xy", "xx", "yy"]].sum()
    denom = np.sqrt(s["xx"] * s["yy"])
    return (s["xy"] / denom).where(denom > 0).dropna().rename("ic")


def _ic_frame(rng: np.random.Generator, dates: object, symbols: int) -> pd.DataFrame:
    n = len(dates) * symbols  # type: ignore[arg-type]
    frame = pd.DataFrame(
        {
            "date": np.repeat(np.asarray(dates), symbols),
            "expected": np.round(rng.normal(0, 1, n), 1),  # ties
            "realized": rng.normal(0, 0.02, n),
        }
    )
    frame.loc[rng.random(n) < 0.1, "expected"] = np.nan
    frame.loc[rng.random(n) < 0.05, "realized"] = np.nan
    frame.loc[rng.random(n) < 0.3, "realized"] = 0.0  # ties on the other side
    return frame.sample(frac=1.0, random_state=1).reset_index(drop=True)  # dates interleaved


@pytest.mark.parametrize("kind", ["datetime", "text"])
def test_daily_ic_equals_pandas_groupby(kind):
    from models import selective

    rng = np.random.default_rng(6)
    days = pd.bdate_range("2007-01-01", periods=40)
    dates = (
        days.to_numpy()
        if kind == "datetime"
        else np.array([str(d.date()) for d in days], dtype=object)
    )
    frame = _ic_frame(rng, dates, 12)
    few = frame["date"] == dates[3]  # a date with fewer than 5 complete rows
    frame = frame[~few | (np.arange(len(frame)) % 5 == 0)]
    flat = frame["date"] == dates[7]
    frame.loc[flat, "expected"] = 1.0  # a constant side: no IC that date
    frame = pd.concat([frame, _ic_frame(rng, dates[:2], 1000)], ignore_index=True)  # wide dates
    for min_symbols in (1, 5, 13):
        got = selective.daily_ic(frame, min_symbols=min_symbols)
        old = _old_daily_ic(frame, min_symbols)
        pd.testing.assert_series_equal(got, old, check_exact=True)
        assert len(old) > (30 if min_symbols <= 5 else 1) and dates[7] not in set(old.index)
    for empty in (frame.iloc[:0], frame.assign(realized=np.nan), frame.iloc[:3]):
        pd.testing.assert_series_equal(
            selective.daily_ic(empty), _old_daily_ic(empty), check_exact=True
        )
