"""CSV layouts people export (Yahoo, yfinance, Stooq, Alpha Vantage) and the bad files `import` refuses."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from assistant.cli import main
from assistant.ingest.sources.csv import CsvError, load_file
from store import bars
from store.db import open_db

YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2024-01-02,187.15,188.44,183.89,185.64,184.94,82488700
2024-01-03,184.22,185.88,183.43,184.25,183.55,58414500
2024-01-04,182.15,183.09,180.88,181.91,181.22,71983600
"""

YFINANCE_MULTI = """Price,Close,High,Low,Open,Volume
Ticker,MSFT,MSFT,MSFT,MSFT,MSFT
Date,,,,,
2024-01-02,370.87,375.90,366.77,373.86,25258600
2024-01-03,370.60,373.26,368.51,369.01,23083500
"""

YFINANCE_HISTORY = """Date,Open,High,Low,Close,Volume,Dividends,Stock Splits
2024-01-02 00:00:00-05:00,187.15,188.44,183.89,185.64,82488700,0.0,0.0
2024-01-03 00:00:00-05:00,184.22,185.88,183.43,184.25,58414500,0.24,0.0
"""

STOOQ = """Date,Open,High,Low,Close,Volume
2024-01-02,187.15,188.44,183.89,185.64,82488700
2024-01-03,184.22,185.88,183.43,184.25,58414500
"""

STOOQ_PL = """Data;Otwarcie;Najwyzszy;Najnizszy;Zamkniecie;Wolumen
2024-01-02;187.15;188.44;183.89;185.64;82488700
2024-01-03;184.22;185.88;183.43;184.25;58414500
"""

STOOQ_BULK = """<TICKER>,<PER>,<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<VOL>,<OPENINT>
AAPL.US,D,20240102,000000,187.15,188.44,183.89,185.64,82488700,0
AAPL.US,D,20240103,000000,184.22,185.88,183.43,184.25,58414500,0
"""

# Alpha Vantage TIME_SERIES_DAILY_ADJUSTED: newest first, raw close, a 2:1 split on 01-04.
ALPHA = """timestamp,open,high,low,close,adjusted_close,volume,dividend_amount,split_coefficient
2024-01-04,100.0,101.0,99.0,100.0,100.0,2000,0.0000,2.0
2024-01-03,202.0,204.0,198.0,200.0,100.0,1000,0.0000,1.0
2024-01-02,198.0,201.0,197.0,199.0,99.5,1000,0.0000,1.0
"""

# Raw prices with event columns only: the factor is derived from the split.
EVENTS = """Date,Open,High,Low,Close,Volume,Dividend,Split
2024-01-02,198,201,197,199,1000,0,1
2024-01-03,202,204,198,200,1000,0,1
2024-01-04,100,101,99,100,2000,0,2
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_yahoo_layout_keeps_raw_close_and_adjustment_factor(tmp_path):
    [(sym, frame)] = load_file(write(tmp_path, "AAPL.csv", YAHOO))
    assert sym == "AAPL"
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03", "2024-01-04"]
    first = frame.iloc[0]
    assert first["raw_close"] == pytest.approx(185.64)
    assert first["close"] == pytest.approx(184.94)
    assert first["adj_factor"] == pytest.approx(184.94 / 185.64)
    assert first["open"] == pytest.approx(187.15 * 184.94 / 185.64)


def test_yfinance_multi_header_takes_symbol_from_ticker_row(tmp_path):
    [(sym, frame)] = load_file(write(tmp_path, "download.csv", YFINANCE_MULTI))
    assert sym == "MSFT" and len(frame) == 2 and frame["open"].iloc[0] == pytest.approx(373.86)


def test_yfinance_history_uses_local_session_date_and_is_already_adjusted(tmp_path):
    [(_, frame)] = load_file(write(tmp_path, "AAPL.csv", YFINANCE_HISTORY))
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]
    assert (frame["adj_factor"] == 1.0).all()


@pytest.mark.parametrize(
    "text,name", [(STOOQ, "aapl.us.txt"), (STOOQ_PL, "aapl.us.csv"), (STOOQ_BULK, "whatever.txt")]
)
def test_stooq_layouts(tmp_path, text, name):
    [(sym, frame)] = load_file(write(tmp_path, name, text))
    assert sym == "AAPL"
    assert list(frame.index.strftime("%Y-%m-%d")) == ["2024-01-02", "2024-01-03"]
    assert frame["close"].tolist() == pytest.approx([185.64, 184.25])


def test_alpha_vantage_newest_first_with_split(tmp_path):
    [(sym, frame)] = load_file(write(tmp_path, "daily_adjusted_IBM.csv", ALPHA))
    assert sym == "IBM"
    assert frame.index.is_monotonic_increasing
    assert frame["raw_close"].tolist() == [199.0, 200.0, 100.0]
    assert frame["close"].tolist() == pytest.approx([99.5, 100.0, 100.0])
    assert frame["flagged"].sum() == 0  # the split explains the halving


def test_split_column_without_adjusted_close_derives_the_factor(tmp_path):
    [(_, frame)] = load_file(write(tmp_path, "XYZ.csv", EVENTS))
    assert frame["adj_factor"].tolist() == pytest.approx([0.5, 0.5, 1.0])
    assert frame["close"].tolist() == pytest.approx([99.5, 100.0, 100.0])
    assert frame["flagged"].sum() == 0


def test_dividend_scales_earlier_sessions(tmp_path):
    text = "Date,Open,High,Low,Close,Dividend\n2024-01-02,100,100,100,100,0\n2024-01-03,98,98,98,98,2\n"
    [(_, frame)] = load_file(write(tmp_path, "XYZ.csv", text))
    assert frame["adj_factor"].tolist() == pytest.approx([0.98, 1.0])


@pytest.mark.parametrize(
    "dates",
    [
        ["20240102", "20240103"],
        ["2024/01/02", "2024/01/03"],
        ["Jan 02, 2024", "Jan 03, 2024"],
        ["02.01.2024", "03.01.2024"],
        ["01/02/2024", "01/13/2024"],
        ["13/01/2024", "02/01/2024"],
    ],
)
def test_date_formats(tmp_path, dates):
    rows = "".join(f'"{d}",10,11,9,10,100\n' for d in dates)
    [(_, frame)] = load_file(write(tmp_path, "X.csv", "Date,Open,High,Low,Close,Volume\n" + rows))
    assert frame.index.min() >= pd.Timestamp("2024-01-01") and frame.index.max() <= pd.Timestamp(
        "2024-02-01"
    )


def test_ambiguous_day_month_dates_are_refused(tmp_path):
    text = "Date,Open,High,Low,Close\n01/02/2024,10,11,9,10\n01/03/2024,10,11,9,10\n"
    with pytest.raises(CsvError, match="month/day or day/month"):
        load_file(write(tmp_path, "X.csv", text))


def test_yahoo_null_rows_are_skipped_and_quoted_thousands_read(tmp_path):
    text = (
        "Date,Open,High,Low,Close*,Adj Close**,Volume\n"
        "2024-01-02,null,null,null,null,null,null\n"
        '2024-01-03,"1,000.5","1,010.0",990,"1,000.0","1,000.0","12,345"\n'
    )
    [(_, frame)] = load_file(write(tmp_path, "X.csv", text))
    assert len(frame) == 1 and frame["open"].iloc[0] == 1000.5 and frame["volume"].iloc[0] == 12345


def test_identical_duplicate_rows_collapse(tmp_path):
    text = STOOQ + STOOQ.splitlines()[1] + "\n"
    [(_, frame)] = load_file(write(tmp_path, "X.csv", text))
    assert len(frame) == 2


def test_unexplained_jump_is_flagged_not_refused(tmp_path):
    text = "Date,Open,High,Low,Close\n2024-01-02,10,10,10,10\n2024-01-03,20,20,20,20\n2024-01-04,20,21,19,20.5\n"
    [(_, frame)] = load_file(write(tmp_path, "X.csv", text))
    assert frame["flagged"].tolist() == [0, 1, 0]


def test_symbol_option_overrides_file_name(tmp_path):
    [(sym, _)] = load_file(write(tmp_path, "export (3).csv", STOOQ), symbol="brk-b")
    assert sym == "BRK-B"


def test_file_name_that_is_no_symbol_asks_for_symbol(tmp_path):
    with pytest.raises(CsvError, match="pass --symbol"):
        load_file(write(tmp_path, "my prices (3).csv", STOOQ))


BAD_FILES = {
    "missing columns": ("Date,Open,Close\n2024-01-02,1,1\n", "missing column(s) high, low"),
    "non-numeric price": (
        "Date,Open,High,Low,Close\n2024-01-02,10,11,9,abc\n",
        "line 2: non-numeric close 'abc'",
    ),
    "non-positive price": (
        "Date,Open,High,Low,Close\n2024-01-02,10,11,9,10\n2024-01-03,0,11,9,10\n",
        "non-positive open price (0) on 2024-01-03",
    ),
    "negative price": (
        "Date,Open,High,Low,Close\n2024-01-02,10,11,-9,10\n",
        "non-positive low price",
    ),
    "high below low": (
        "Date,Open,High,Low,Close\n2024-01-02,10,9,11,10\n",
        "high below low on 2024-01-02",
    ),
    "conflicting duplicate": (
        "Date,Open,High,Low,Close\n2024-01-02,10,11,9,10\n2024-01-02,10,11,9,10.5\n",
        "conflicting rows for the same date 2024-01-02",
    ),
    "missing price": (
        "Date,Open,High,Low,Close\n2024-01-02,10,11,9,\n",
        "missing close price on 2024-01-02",
    ),
    "empty file": ("", "the file is empty"),
    "header only": ("Date,Open,High,Low,Close\n", "header but no rows"),
    "binary": (bytes(range(256)) * 4, "binary file"),
    "not utf-8": (
        "Date,Open,High,Low,Close\n2024-01-02,10,11,9,10\n# caf\xe9\n".encode("latin-1"),
        "not UTF-8",
    ),
    "bad date": (
        "Date,Open,High,Low,Close\n2024-01-02,10,11,9,10\n2024-13-45,10,11,9,10\n",
        "unreadable date '2024-13-45'",
    ),
    "weekly stooq": (STOOQ_BULK.replace(",D,", ",W,"), "not daily data"),
    # the first ticker is written before the second is validated: its bars and its
    # symbol go with the rolled-back transaction
    "second ticker bad": (
        STOOQ_BULK + "MSFT.US,D,20240102,000000,370.0,365.0,375.0,370.0,1000,0\n",
        "MSFT: line 4: high below low on 2024-01-02",
    ),
}


@pytest.fixture
def seeded(home):
    """A home with one good import, to prove bad files leave it exactly as it was."""
    path = home.parent / "GOOD.csv"
    path.write_text(YAHOO)
    assert main(["--home", str(home), "import", str(path)]) == 0
    return home


def snapshot(home):
    conn = sqlite3.connect(home / "assistant.db")
    rows = conn.execute("SELECT * FROM bars ORDER BY symbol, date").fetchall()
    syms = conn.execute("SELECT symbol FROM symbols ORDER BY symbol").fetchall()
    conn.close()
    return rows, syms


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_one_error_line_and_changes_nothing(seeded, tmp_path, capsys, case):
    content, reason = BAD_FILES[case]
    path = write(tmp_path, "AAPL.csv", content)
    capsys.readouterr()
    before = snapshot(seeded)
    assert main(["--home", str(seeded), "import", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: ")
    assert reason in err
    assert snapshot(seeded) == before


def test_import_reports_rows_and_good_files_land_next_to_bad_ones(home, tmp_path, capsys):
    good = write(tmp_path, "MSFT.csv", STOOQ)
    bad = write(tmp_path, "IBM.csv", "Date,Open,High,Low,Close\n2024-01-02,10,9,11,10\n")
    assert main(["--home", str(home), "import", str(good), str(bad)]) == 1
    captured = capsys.readouterr()
    assert "MSFT 2 rows (2024-01-02 … 2024-01-03), 2 added, 0 updated" in captured.out
    assert "IBM.csv: line 2: high below low on 2024-01-02" in captured.err
    db = open_db(home)
    assert bars.count(db, "MSFT") == 2 and bars.count(db, "IBM") == 0
    assert db.execute("SELECT source FROM symbols WHERE symbol = 'MSFT'").fetchone()[0] == "csv"
    # Importing the same file again adds nothing and keeps the values.
    assert main(["--home", str(home), "import", str(good)]) == 0
    assert "0 added, 0 updated, 2 unchanged" in capsys.readouterr().out
    loaded = bars.load(db, "MSFT")
    assert np.allclose(loaded["close"], [185.64, 184.25])
    db.close()


def test_re_importing_a_split_adjusted_export_restates_the_pending_calls(tmp_path):
    """The user imports a fresh export after a 4-for-1 split: every stored close moves to a
    quarter, and so do the prices of the call pending on it (else verify scores the split
    as a 75% fall)."""
    from store.predictions import CallRow, insert_many
    from tests.cli_fixture import run_cli

    home = tmp_path / "home"
    days = pd.bdate_range("2024-01-02", periods=60)
    close = 400 + np.arange(60.0)

    def export(scale: float) -> str:
        path = tmp_path / f"x{scale}.csv"
        c = close * scale
        pd.DataFrame(
            {
                "Date": days.strftime("%Y-%m-%d"),
                "Open": c,
                "High": c + 1,
                "Low": c - 1,
                "Close": c,
                "Volume": 1000,
            }
        ).to_csv(path, index=False)
        return str(path)

    assert run_cli(home, "import", "--symbol", "XYZ", export(1.0)).returncode == 0
    db = open_db(home)
    last = f"{days[-1]:%Y-%m-%d}"
    base = float(close[-1])
    with db.conn:
        insert_many(
            db,
            [
                CallRow(
                    "XYZ",
                    last,
                    1,
                    "rules-v1",
                    f"{last}T22:05:00Z",
                    "2024-03-26",
                    base,
                    0.1,
                    base * 1.001,
                    base * 0.98,
                    base * 1.02,
                    base * 0.97,
                    base * 1.03,
                    0.01,
                    0.5,
                    0.1,
                    0.4,
                    "up",
                    0.5,
                    None,
                    "{}",
                )
            ],
        )
    db.close()
    out = run_cli(home, "import", "--symbol", "XYZ", export(0.25))
    assert out.returncode == 0, out.stderr
    assert "0 added, 60 updated, 0 unchanged; 1 pending call re-scaled with it" in out.stdout
    db = open_db(home)
    row = db.execute("SELECT base_price, lower, upper95 FROM predictions").fetchone()
    db.close()
    assert row == pytest.approx((base / 4, base * 0.98 / 4, base * 1.03 / 4))
