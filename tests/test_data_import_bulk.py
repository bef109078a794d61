"""The shortcuts of a big import (issue 34) give what the long way gives: `validate`'s numpy
path, the upsert in statements of fifty rows, the foreign-key check once per symbol in
`bars.bulk_write`, date texts from a table, a bulk file's tickers in any order."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from assistant.cli import main
from assistant.ingest.sources import validate as validation
from assistant.ingest.sources.csv import load_file
from assistant.ingest.sources.synthetic import synthetic_bars
from store import bars, symbols
from store.db import immediate, open_db


def _raw(n: int = 300, seed: int = 1) -> pd.DataFrame:
    """Raw bars as a CSV gives them: prices as traded, a line number per row."""
    bars_ = synthetic_bars(n, seed=seed, start="2001-03-01")
    raw = bars_[["open", "high", "low", "close", "volume"]].copy()
    raw["line"] = np.arange(2, n + 2)
    return raw


def _variants() -> dict[str, pd.DataFrame]:
    out = {"plain": _raw()}
    wide = _raw(seed=2)
    o, c = wide["open"].to_numpy(), wide["close"].to_numpy()
    wide.iloc[5, :3] = [o[5], max(o[5], c[5]) * 0.995, min(o[5], c[5]) * 0.99]  # widened, flagged
    wide.iloc[9, :3] = [o[9], max(o[9], c[9]) * 1.01, min(o[9], c[9]) * 1.005]
    wide.iloc[20:, :4] *= 1.6  # an unexplained jump: flagged
    out["widened and jump"] = wide
    adj = _raw(seed=3)
    adj["adj_close"] = adj["close"] * np.linspace(0.8, 1.0, len(adj))
    out["adjusted close"] = adj
    no_volume = _raw(seed=4).drop(columns="volume")
    out["no volume column"] = no_volume
    some_volume = _raw(seed=5)
    some_volume.iloc[::7, some_volume.columns.get_loc("volume")] = np.nan
    out["missing volumes"] = some_volume
    provisional = _raw(seed=6)
    provisional["provisional"] = np.where(np.arange(len(provisional)) == len(provisional) - 1, 1, 0)
    out["provisional last"] = provisional
    timed = _raw(seed=7)
    timed.index = pd.DatetimeIndex(timed.index) + pd.Timedelta(hours=16)
    out["times of day"] = timed
    events = _raw(seed=8)
    events["dividend"], events["split"] = 0.0, 1.0  # event columns without an event
    out["no events"] = events
    return out


@pytest.mark.parametrize("case", sorted(_variants()))
def test_numpy_path_of_validate_equals_the_long_way(monkeypatch, case):
    raw = _variants()[case]
    latest = pd.Timestamp("2030-01-02")
    assert validation._clean(raw, 0.25, False, latest) is not None  # the numpy path is taken
    fast = validation.validate(raw, jump_threshold=0.25, latest=latest)
    monkeypatch.setattr(validation, "_clean", lambda *args: None)
    slow = validation.validate(raw, jump_threshold=0.25, latest=latest)
    pd.testing.assert_frame_equal(fast, slow, check_freq=False)
    assert fast.index.name == "date" and list(fast.columns) == bars.BAR_COLUMNS


def _dirty() -> dict[str, pd.DataFrame]:
    out = {}
    unsorted = _raw(seed=9)
    out["dates out of order"] = unsorted.iloc[::-1]
    out["a date twice"] = pd.concat([unsorted.iloc[:5], unsorted.iloc[4:]])
    nan_price = _raw(seed=10)
    nan_price.iloc[3, 0] = np.nan
    out["missing price"] = nan_price
    low = _raw(seed=11)
    low.iloc[3, low.columns.get_loc("low")] = low["high"].iloc[3] * 2
    out["high below low"] = low
    dividend = _raw(seed=12)
    dividend["dividend"] = np.where(np.arange(len(dividend)) == 50, 0.5, 0.0)
    out["a dividend"] = dividend
    future = _raw(seed=13)
    out["from the future"] = future
    return out


@pytest.mark.parametrize("case", sorted(_dirty()))
def test_anything_but_clean_bars_takes_the_long_way(case):
    """Sorting, repeats, events and every refusal stay with the long way (its wording)."""
    latest = pd.Timestamp("2001-06-01") if case == "from the future" else None
    assert validation._clean(_dirty()[case], 0.25, False, latest) is None


def _frame(n: int, seed: int) -> pd.DataFrame:
    frame = synthetic_bars(n, seed=seed, start="1999-06-01")
    frame["flagged"] = (np.arange(n) % 11 == 0).astype(int)
    return frame


def test_upsert_in_statements_of_fifty_rows_counts_and_stores_each_row(db, monkeypatch):
    monkeypatch.setattr(bars, "BATCH", 70)  # batches of 70: a statement of 50, a tail of 20
    symbols.add(db, ["AAA"], "csv")
    first = _frame(163, seed=1)
    with immediate(db):
        done = bars.upsert(db, "AAA", first.iloc[:101], "csv")
    assert (done.added, done.updated, done.unchanged) == (101, 0, 0)
    second = first.copy()
    second.iloc[[0, 49, 50, 99], second.columns.get_loc("close")] *= 1.01
    second.iloc[100, second.columns.get_loc("volume")] += 1
    with immediate(db):
        done = bars.upsert(db, "AAA", second, "csv")
    assert (done.added, done.updated, done.unchanged) == (62, 5, 96)
    stored = bars.load(db, "AAA")
    pd.testing.assert_frame_equal(stored, second, check_freq=False, check_names=False)
    row = db.execute("SELECT date, source FROM bars WHERE symbol = 'AAA' ORDER BY date").fetchone()
    assert row == (f"{second.index[0]:%Y-%m-%d}", "csv")


def test_bulk_write_checks_each_symbol_once_and_turns_the_row_check_back_on(db):
    symbols.add(db, ["AAA"], "csv")
    with bars.bulk_write(db):
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 0  # off for the bulk write
        bars.upsert(db, "AAA", _frame(60, seed=2), "csv")
    assert bars.count(db, "AAA") == 60
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # A symbol without its row is refused before a bar is written, and the whole
    # transaction (AAA's new bars too) goes back.
    with pytest.raises(sqlite3.IntegrityError, match="no symbols row for 'NOPE'"):
        with bars.bulk_write(db):
            bars.upsert(db, "AAA", _frame(90, seed=3), "csv")
            bars.upsert(db, "NOPE", _frame(60, seed=4), "csv")
    assert bars.count(db, "NOPE") == 0 and bars.count(db, "AAA") == 60
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA foreign_key_check(bars)").fetchall() == []


@pytest.mark.parametrize(
    "spans",
    [
        [("2005-01-03", 300), ("1995-06-01", 40), ("2030-12-30", 5)],  # the table grows both ways
        [("0900-03-01", 3), ("2020-02-28", 3)],  # strftime's unpadded year
        [("1700-01-01", 3), ("2020-02-28", 3)],  # a table too long to keep: strftime
    ],
)
def test_date_texts_are_strftimes(spans):
    for start, n in spans:
        index = pd.DatetimeIndex(pd.date_range(start, periods=n, freq="D", unit="s"))
        assert bars._day_texts(index) == list(index.strftime("%Y-%m-%d"))


STOOQ_HEAD = "<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>\n"


def _bulk_lines(tickers: int, sessions: int) -> list[list[str]]:
    rows = []
    for t in range(tickers):
        frame = synthetic_bars(sessions, seed=t, start="2015-01-02")
        for day, bar in frame.iterrows():
            rows.append(
                [f"T{t}.US", "D", f"{day:%Y%m%d}", "000000"]
                + [f"{bar[c]:.4f}" for c in ("open", "high", "low", "close")]
                + [f"{bar['volume']:.0f}", "0"]
            )
    return rows


def test_bulk_file_gives_the_same_bars_whatever_the_order_of_its_rows(tmp_path, home):
    rows = _bulk_lines(3, 40)
    grouped = tmp_path / "grouped.csv"
    grouped.write_text(STOOQ_HEAD + "".join(",".join(r) + "\n" for r in rows))
    by_date = sorted(rows, key=lambda r: (r[2], r[0]))  # tickers interleaved, day by day
    interleaved = tmp_path / "interleaved.csv"
    interleaved.write_text(STOOQ_HEAD + "".join(",".join(r) + "\n" for r in by_date))
    a, b = dict(load_file(grouped)), dict(load_file(interleaved))
    assert sorted(a) == sorted(b) == ["T0", "T1", "T2"]
    for sym in a:
        pd.testing.assert_frame_equal(a[sym], b[sym])
    assert main(["--home", str(home), "import", str(grouped)]) == 0
    assert main(["--home", str(home), "import", str(interleaved)]) == 0
    db = open_db(home)
    assert [bars.count(db, s) for s in ("T0", "T1", "T2")] == [40, 40, 40]
    stored = bars.load(db, "T1")
    pd.testing.assert_frame_equal(stored, a["T1"], check_freq=False, check_names=False)
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    db.close()
