"""Hourly bars as data: the store's summaries, the refusals of bad hours, the roll-up flag
against the daily bars, simulated hours for the offline sample, and `collect` / `import`
of hourly bars through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from assistant.ingest.sources.csv import CsvError, load_hourly_file
from assistant.ingest.sources.intraday import synthetic_hours
from assistant.ingest.sources.synthetic import synthetic_bars
from store import bars, hourly
from store.db import open_db


def test_store_summary_last_session_and_flagged_sessions(tmp_path) -> None:
    db = open_db(tmp_path / "assistant.db")
    db["symbols"].insert({"symbol": "AAA", "added_at": "2020-01-01"})
    assert hourly.last_session(db, "AAA") is None and hourly.summary(db) == []
    hours = synthetic_hours(synthetic_bars(5, start="2019-11-20"), "XNYS")
    with db.conn:
        hourly.upsert(db, "AAA", hours, "simulated")
        hourly.flag_sessions(db, "AAA", ["2019-11-21", "2019-11-22"], True)
    assert hourly.last_session(db, "AAA") == f"{hours['session'].iloc[-1]:%Y-%m-%d}"
    assert hourly.flagged_sessions(db, "AAA") == ["2019-11-21", "2019-11-22"]
    (row,) = hourly.summary(db)
    assert (row.symbol, row.bars, row.sessions, row.flagged_sessions, row.sources) == (
        "AAA",
        len(hours),
        hours["session"].nunique(),
        2,
        "simulated",
    )
    assert row.first == "2019-11-20" and pd.Timestamp(row.last) == hours["session"].iloc[-1]
    # each session's hours rolled up; no daily bar stored, so nothing to compare with yet
    rolled = hourly.rollups(db, "AAA", "2019-11-21")
    first = hours[hours["session"] == "2019-11-21"]
    assert rolled.index[0] == "2019-11-21" and len(rolled) == hours["session"].nunique() - 1
    assert rolled.iloc[0][["open", "high", "low", "close"]].tolist() == [
        first["open"].iloc[0],
        first["high"].max(),
        first["low"].min(),
        first["close"].iloc[-1],
    ]
    assert rolled["d_close"].isna().all()


# --- import of hourly CSV files -------------------------------------------------------

HEAD = "Datetime,Open,High,Low,Close,Volume\n"


def session_rows(day: str, start: float = 100.0, times: list[str] | None = None) -> list[str]:
    """A normal New York session's seven bars, 9:30 ... 15:30, each up 0.25."""
    times = times or [f"{h:02d}:30" for h in range(9, 16)]
    rows, price = [], start
    for t in times:
        rows.append(f"{day} {t},{price},{price + 0.5},{price - 0.5},{price + 0.25},1000")
        price += 0.25
    return rows


def write(tmp_path, name: str, rows: list[str], head: str = HEAD):
    path = tmp_path / name
    path.write_text(head + "\n".join(rows) + "\n")
    return path


def hourly_rows(db, symbol: str) -> int:
    return hourly.count(db, symbol) if db["symbols"].count else 0


def test_an_hourly_file_is_found_by_its_times_and_stored_in_exchange_time(home, tmp_path) -> None:
    from tests.cli_fixture import cli

    naive = write(tmp_path, "AAPL.csv", session_rows("2024-03-08") + session_rows("2024-03-11"))
    done = cli(home, "import", str(naive))  # no --hourly: the times say so
    assert done.returncode == 0, done.stderr
    assert "AAPL 14 hourly bars (2024-03-08 09:30-0500 … 2024-03-11 15:30-0400)" in done.stdout
    db = open_db(home)
    frame = hourly.load(db, "AAPL", "America/New_York")
    assert frame.index[0].isoformat() == "2024-03-08T09:30:00-05:00"
    assert frame.index[7].isoformat() == "2024-03-11T09:30:00-04:00"  # after the DST change
    assert frame["slot"].tolist() == list(range(7)) * 2
    # the same bars written in UTC with an offset are the same bars: nothing changes
    utc = [
        f"{pd.Timestamp(r.split(',')[0], tz='America/New_York').tz_convert('UTC').isoformat()},"
        + r.split(",", 1)[1]
        for r in session_rows("2024-03-08") + session_rows("2024-03-11")
    ]
    again = cli(home, "import", "--hourly", "--symbol", "AAPL", str(write(tmp_path, "u.csv", utc)))
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 updated, 14 unchanged" in again.stdout
    # Tokyo's symbols: naive times are Tokyo's
    tokyo = write(tmp_path, "7203.T.csv", session_rows("2024-03-08", times=["09:00", "10:00"]))
    assert cli(home, "import", str(tokyo)).returncode == 0
    stamps = hourly.load(db, "7203.T", "Asia/Tokyo").index
    assert [t.isoformat() for t in stamps] == [
        "2024-03-08T09:00:00+09:00",
        "2024-03-08T10:00:00+09:00",
    ]
    # a daily yfinance file, midnight-stamped with an offset, is still a daily import
    daily = write(
        tmp_path,
        "MSFT.csv",
        [
            "2024-03-07 00:00:00-05:00,400,405,398,402,1e6",
            "2024-03-08 00:00:00-05:00,402,406,399,404,1e6",
        ],
        head="Date,Open,High,Low,Close,Volume\n",
    )
    assert cli(home, "import", str(daily)).returncode == 0
    assert hourly.count(db, "MSFT") == 0 and len(bars.load(db, "MSFT")) == 2


REFUSALS = [
    (["2024-03-08 09:30,100,inf,99,100,10"], "line 2: high price not finite"),
    (["2024-03-08 09:30,100,,99,100,10"], "line 2: missing high price"),
    (["2024-03-08 09:30,100,101,-1,100,10"], "line 2: non-positive low price"),
    (["2024-03-08 09:30,2e9,2e9,2e9,2e9,10"], "outside 1e-08 … 1e+09"),
    (["2024-03-08 09:30,100,101,99,100,-5"], "line 2: volume negative"),
    (["2024-03-08 09:30,100,101,99,100,inf"], "line 2: volume negative, not finite or above 1e+15"),
    (
        ["2024-03-08 09:30,100,101,99,100,1e16"],
        "line 2: volume negative, not finite or above 1e+15",
    ),
    (["2024-03-08 09:30,100,99,101,100,10"], "line 2: high below low"),
    (["2024-03-08 09:30,100,101,99,105,10"], "open or close outside the bar's low … high"),
    (["2099-03-09 09:30,100,101,99,100,10"], "a bar from the future"),
    (["2024-03-08 08:30,100,101,99,100,10"], "outside the XNYS session's hours (09:30-16:00)"),
    (["2024-03-08 16:00,100,101,99,100,10"], "outside the XNYS session's hours (09:30-16:00)"),
    (["2019-11-29 13:00,100,101,99,100,10"], "outside the XNYS session's hours (09:30-13:00)"),
    (["2024-03-09 10:30,100,101,99,100,10"], "not a XNYS trading day"),
    (["2024-12-25 10:30,100,101,99,100,10"], "not a XNYS trading day"),
    (
        ["2024-03-08 09:30,100,101,99,100,10", "2024-03-08 10:00,100,101,99,100,10"],
        "line 3: a second bar in the same hour of the session",
    ),
    (["2024-03-10 02:30,100,101,99,100,10"], "does not exist or is ambiguous in America/New_York"),
    (["2024-03-08 09:30,100,101,99,100,10", "2024-03-08T15:30:00Z,1,1,1,1,1"], "some times"),
    (["2024-03-08 9h30,100,101,99,100,10"], "line 2: unreadable bar time '2024-03-08 9h30'"),
]


@pytest.mark.parametrize(("rows", "message"), REFUSALS)
def test_each_refusal_names_its_line_and_reason(tmp_path, rows, message) -> None:
    path = write(tmp_path, "AAPL.csv", rows + session_rows("2024-03-07"))  # bad rows: line 2 on
    with pytest.raises(CsvError) as refused:
        load_hourly_file(path, symbol="AAPL")
    assert message in str(refused.value)


def test_a_refused_file_is_one_line_and_writes_nothing(home, tmp_path) -> None:
    from tests.cli_fixture import cli

    good = session_rows("2024-03-07")
    for i, (rows, message) in enumerate(REFUSALS[:3] + REFUSALS[7:9]):
        path = write(tmp_path, f"r{i}.csv", good + rows)  # good rows first: still nothing kept
        done = cli(home, "import", "--hourly", "--symbol", "AAPL", str(path))
        assert done.returncode == 1, (rows, done.stdout)
        assert message.removeprefix("line 2: ") in done.stderr, (rows, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    db = open_db(home)
    assert db["hourly_bars"].count == 0 and db["symbols"].count == 0  # all or nothing


def test_the_hour_still_forming_is_refused_on_import(home, tmp_path) -> None:
    import time_machine

    from tests.cli_fixture import cli

    path = write(
        tmp_path, "AAPL.csv", session_rows("2024-03-08", times=["09:30", "10:30", "11:30"])
    )
    with time_machine.travel(pd.Timestamp("2024-03-08 16:45Z").to_pydatetime(), tick=False):
        done = cli(home, "import", str(path))
    assert done.returncode == 1
    assert "line 4: a bar whose hour has not ended yet (still forming)" in done.stderr


def test_hours_that_do_not_roll_up_are_flagged_until_the_daily_bar_agrees(home, tmp_path) -> None:
    from tests.cli_fixture import cli

    # daily bars with Adj Close 10% under Close: the hours compare with the raw (as traded) bar
    daily_head = "Date,Open,High,Low,Close,Adj Close,Volume\n"
    daily = write(
        tmp_path,
        "AAPL.csv",
        [
            "2024-03-07,100,102,99.5,101.75,91.575,7000",
            "2024-03-08,100,102,99.5,101.75,91.575,7000",
        ],
        head=daily_head,
    )
    assert cli(home, "import", str(daily)).returncode == 0
    off = session_rows("2024-03-08")
    off[3] = "2024-03-08 12:30,100.75,103.5,100.25,101,1000"  # a high 1.5% over the day's
    hours = write(tmp_path, "h.csv", session_rows("2024-03-07") + off)
    done = cli(home, "import", "--symbol", "AAPL", str(hours))
    assert done.returncode == 0, done.stderr
    assert (
        "1 session flagged: their hours do not roll up to the daily bar within 0.5% (2024-03-08)"
        in done.stdout
    )
    db = open_db(home)
    assert hourly.flagged_sessions(db, "AAPL") == ["2024-03-08"]
    frame = hourly.load(db, "AAPL", "America/New_York")
    assert frame["flagged"].tolist() == [0] * 7 + [1] * 7
    checked = cli(home, "check")
    assert "hourly bars: 14 of 1 symbols (csv); 1 sessions flagged" in checked.stdout
    assert "AAPL 2024-03-08" in checked.stdout and checked.returncode == 0
    # the vendor's daily bar corrected: the daily import checks the hours again
    fixed = write(
        tmp_path,
        "AAPL2.csv",
        [
            "2024-03-07,100,102,99.5,101.75,91.575,7000",
            "2024-03-08,100,103.5,99.5,101.75,91.575,7000",
        ],
        head=daily_head,
    )
    assert cli(home, "import", "--symbol", "AAPL", str(fixed)).returncode == 0
    assert hourly.flagged_sessions(db, "AAPL") == []
    assert "none flagged" in cli(home, "check").stdout


# --- collect: simulated hours for the offline sample -----------------------------------


def test_collect_writes_simulated_hours_for_the_sample_that_roll_up(home) -> None:
    from tests.cli_fixture import cli, run_cli

    assert cli(home, "watch", "add", "AAPL").returncode == 0
    done = cli(home, "collect", "AAPL", "--until", "2013-01-31")
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("hourly AAPL"))
    assert "simulated hourly bars added" in line and "(2011-03-03 … 2013-01-31)" in line
    assert "flagged" not in line
    db = open_db(home)
    frame = hourly.load(db, "AAPL", "America/New_York")
    assert frame["session"].iloc[0] == pd.Timestamp("2011-03-03")
    assert frame["session"].iloc[-1] == pd.Timestamp("2013-01-31")
    assert set(frame.groupby("session").size()) == {7, 4}  # normal days and early closes
    assert db.execute("SELECT DISTINCT source FROM hourly_bars").fetchall() == [("simulated",)]
    assert hourly.flagged_sessions(db, "AAPL") == []
    # the next step reveals the next sessions' hours only; then nothing is new
    step = cli(home, "collect", "AAPL", "--until", "2013-02-04", "--json")
    [item] = json.loads(step.stdout)
    assert item["hourly"]["status"] == "added" and item["hourly"]["added"] == 2 * 7
    again = json.loads(cli(home, "collect", "AAPL", "--until", "2013-02-04", "--json").stdout)
    assert again[0]["hourly"]["status"] == "current"
    # off by the setting
    from tests.daemon_fixture import FAST_ENV

    env = {**FAST_ENV, "ASSISTANT_HOME": None, "ASSISTANT_COLLECT_HOURLY": "false"}
    off = run_cli(home, "collect", "AAPL", "--until", "2013-02-08", env=env)
    assert "hourly" not in off.stdout
    assert hourly.last_session(db, "AAPL") == "2013-02-04"


def test_yfinance_s_own_hourly_csv_imports(home, tmp_path) -> None:
    """`yf.download(..., interval="1h").to_csv()`: Price/Ticker/Datetime header rows, times
    with the New York offset."""
    from tests.cli_fixture import cli

    starts = pd.date_range("2024-03-08 09:30", periods=7, freq="h", tz="America/New_York")
    prices = 100 + np.arange(7) * 0.25
    frame = pd.DataFrame(
        {
            "Close": prices + 0.25,
            "High": prices + 0.5,
            "Low": prices - 0.5,
            "Open": prices,
            "Volume": 1000,
        },
        index=pd.DatetimeIndex(starts, name="Datetime"),
    )
    frame.columns = pd.MultiIndex.from_product([frame.columns, ["MSFT"]], names=["Price", "Ticker"])
    path = tmp_path / "download.csv"
    frame.to_csv(path)
    assert path.read_text().splitlines()[2].startswith("Datetime")
    done = cli(home, "import", str(path))
    assert done.returncode == 0, done.stderr
    assert "MSFT 7 hourly bars (2024-03-08 09:30-0500 … 2024-03-08 15:30-0500)" in done.stdout


def test_simulated_hours_follow_the_day_by_variance_share_not_by_the_clock() -> None:
    """Days drawn as a fine Brownian path whose per-minute variance follows the hourly
    profile: the daily bars are the path's open, high, low and close, and the path's own
    hours are the truth. Given only the daily bar, the simulated hours must lean on the
    day's move as those hours do (E[X_i | D] = D * w_i / sum(w): the first hour carries
    29% of the move, not 1/7) and must not trend within the day (the hours so far do not
    predict the next one). The old linear bridge put 18% of the move on the first hour and
    its hours trended (correlation 0.18)."""
    from assistant import calendar
    from assistant.ingest.sources.intraday import PROFILE

    rng = np.random.default_rng(11)
    n_days, per = 1500, 60
    share = PROFILE / PROFILE.sum()
    steps = rng.normal(0, 1, (n_days, 7 * per)) * 0.012 * np.sqrt(np.repeat(share, per) / per)
    path = np.cumsum(steps, axis=1)
    sessions = calendar.session_bounds("XNYS", "2010-01-04", "2017-12-29")
    full = sessions.index[sessions["bars"] == 7][:n_days]
    daily = pd.DataFrame(
        {
            "open": 100.0,
            "high": 100.0 * np.exp(np.maximum(path.max(axis=1), 0)),
            "low": 100.0 * np.exp(np.minimum(path.min(axis=1), 0)),
            "close": 100.0 * np.exp(path[:, -1]),
            "volume": 1e6,
        },
        index=full,
    )
    hours = synthetic_hours(daily, "XNYS", seed=5)
    x = np.log(hours["close"] / hours["open"]).to_numpy().reshape(n_days, 7)
    move = x.sum(axis=1)
    np.testing.assert_allclose(move, np.log(daily["close"] / 100.0).to_numpy(), atol=1e-9)
    slopes = np.array([np.polyfit(move, x[:, i], 1)[0] for i in range(7)])
    truth = steps.reshape(n_days, 7, per).sum(axis=2)
    true_slopes = np.array([np.polyfit(truth.sum(axis=1), truth[:, i], 1)[0] for i in range(7)])
    assert np.abs(slopes - share).max() < 0.04, slopes
    assert np.abs(true_slopes - share).max() < 0.04  # the truth the model states
    so_far, next_hour = np.cumsum(x, axis=1)[:, :-1].ravel(), x[:, 1:].ravel()
    assert np.corrcoef(so_far, next_hour)[0, 1] < 0.12


def test_an_import_on_another_hour_grid_is_refused_not_stored_twice(home, tmp_path) -> None:
    """A user imported Yahoo's hours (9:30, 10:30, ...) and then a vendor's clock hours
    (10:00, 11:00, ...) of the same days: the second file was stored next to the first,
    two bars in each hour of the session (a refusal within one file, not across files)."""
    from tests.cli_fixture import cli

    first = write(tmp_path, "AAPL.csv", session_rows("2024-03-07"))
    assert cli(home, "import", "--hourly", str(first)).returncode == 0
    clock = [f"{h:02d}:00" for h in range(10, 16)]
    second = write(tmp_path, "AAPL2.csv", session_rows("2024-03-07", times=clock))
    done = cli(home, "import", "--hourly", "--symbol", "AAPL", str(second))
    assert done.returncode == 1, done.stdout
    assert done.stderr.strip().count("\n") == 0 and "Traceback" not in done.stderr
    assert "the bar of 2024-03-07T10:00:00-05:00 falls in the same hour" in done.stderr
    assert hourly.count(open_db(home), "AAPL") == 7
    again = cli(home, "import", "--hourly", str(first))  # the same grid again: unchanged
    assert again.returncode == 0 and "7 unchanged" in again.stdout


def test_a_daily_file_given_with_hourly_says_so(home, tmp_path) -> None:
    """`import --hourly` of a daily file said "unreadable bar time '2024-03-07'", as if the
    date were garbled; it is a date without a time: daily bars, to import without --hourly."""
    from tests.cli_fixture import cli

    daily = "Date,Open,High,Low,Close,Adj Close,Volume\n2024-03-07,100,101,99.5,100.5,100.5,1000\n"
    path = tmp_path / "AAPL.csv"
    path.write_text(daily)
    done = cli(home, "import", "--hourly", str(path))
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "line 2: '2024-03-07' is a date without a time of day" in done.stderr
    assert "import daily bars without --hourly" in done.stderr
    assert cli(home, "import", str(path)).returncode == 0  # as the line says


def test_an_hourly_file_with_the_time_in_its_own_column_imports(home, tmp_path) -> None:
    """A vendor's `Date,Time,Open,...` file: without --hourly the import said "conflicting
    rows for the same date (if these are hourly bars, pass --hourly)", and with --hourly
    that the date had no time of day: each answer sent the user to the other."""
    from tests.cli_fixture import cli

    path = tmp_path / "AAPL.csv"
    path.write_text(
        "Date,Time,Open,High,Low,Close,Volume\n"
        "2024-03-07,09:30:00,100,101,99.5,100.5,1000\n"
        "2024-03-07,10:30:00,100.5,101.5,100,101,900\n"
    )
    done = cli(home, "import", "--hourly", str(path))
    assert done.returncode == 0, done.stderr
    assert "AAPL 2 hourly bars (2024-03-07 09:30-0500 … 2024-03-07 10:30-0500)" in done.stdout
    stamps = [t.isoformat() for t in hourly.load(open_db(home), "AAPL", "America/New_York").index]
    assert stamps == ["2024-03-07T09:30:00-05:00", "2024-03-07T10:30:00-05:00"]


def test_an_interval_in_the_file_name_is_not_taken_for_the_symbol(home, tmp_path) -> None:
    """`import --hourly AAPL_1h.csv` stored the hours under a new symbol "1H" (the part
    after the last underscore, as in daily_adjusted_IBM.csv), watched from then on."""
    from tests.cli_fixture import cli

    for name in ("AAPL_1h.csv", "aapl.us_60m.csv", "AAPL_hourly.csv"):
        path = write(tmp_path, name, session_rows("2024-03-07"))
        done = cli(home, "import", "--hourly", str(path))
        assert done.returncode == 0 and f"{path}: AAPL 7 hourly bars" in done.stdout, done
    assert [r["symbol"] for r in open_db(home)["symbols"].rows] == ["AAPL"]


def test_check_does_not_say_hours_roll_up_when_none_could_be_checked(home, tmp_path) -> None:
    """`check` after an hourly import with no daily bars said "none flagged (hours roll up
    to their daily bars within 0.5%)": a finding about a check that had not run."""
    from tests.cli_fixture import cli

    path = write(tmp_path, "AAPL.csv", session_rows("2024-03-07") + session_rows("2024-03-08"))
    assert cli(home, "import", "--hourly", str(path)).returncode == 0
    line = [x for x in cli(home, "check").stdout.splitlines() if x.startswith("hourly bars")]
    assert line == [
        "hourly bars: 14 of 1 symbols (csv); none checked yet (2 sessions, none with a final "
        "daily bar)"
    ]
