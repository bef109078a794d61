"""Input that must never poison the store, as a user meets it through the CLI: absurd or
future-dated prices, FIFOs and devices, decimal commas, a source that goes silent, and
re-imports of what is already stored. Every case runs the `assistant` CLI (in-process; as a
subprocess where a hang is the fault: FIFOs, devices) on a real data home and real files."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from assistant.ingest.sources.synthetic import synthetic_bars
from store import symbols
from tests.cli_fixture import Ran, run_cli
from tests.tui_fixture import FIXED_NOW, fill, screen_text, settle, sync
from tui.app import make_app

ROOT = Path(__file__).resolve().parents[1]
HEADER = "Date,Open,High,Low,Close,Volume\n"
ROWS = [
    "2024-01-02,187.15,188.44,183.89,185.64,82488700",
    "2024-01-03,184.22,185.88,183.43,184.25,58414500",
    "2024-01-04,182.15,183.09,180.88,181.91,71983600",
]


def cli(home: Path, *args: str, env: dict[str, str] | None = None) -> Ran:
    return run_cli(home, *args, env=env)


def cli_process(home: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    """A real process, for input that would block a reader for good: the timeout catches it."""
    return subprocess.run(
        [sys.executable, "-m", "assistant", "--home", str(home), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def stored(home: Path, symbol: str) -> list[tuple]:
    if not (home / "assistant.db").exists():
        return []
    conn = sqlite3.connect(home / "assistant.db")
    rows = conn.execute(
        "SELECT date, open, high, low, close, volume, flagged FROM bars WHERE symbol = ? "
        "ORDER BY date",
        [symbol],
    ).fetchall()
    conn.close()
    return rows


def one_error(result: subprocess.CompletedProcess | Ran, path: Path) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    err = result.stderr
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: "), err
    return err


# ---- 1. absurd prices ----

ABSURD = {
    "close 1e308": ("2024-01-03,184.22,185.88,183.43,1e308,58414500", "close price 1e+308"),
    "inf high": ("2024-01-03,184.22,inf,183.43,184.25,58414500", "high price inf"),
    "inf volume": ("2024-01-03,184.22,185.88,183.43,184.25,inf", "volume inf"),
    "all inf": ("2024-01-03,inf,inf,inf,inf,inf", "open price inf"),
    "tiny close": ("2024-01-03,184.22,185.88,183.43,1e-300,58414500", "close price 1e-300"),
    "huge volume": ("2024-01-03,184.22,185.88,183.43,184.25,1e300", "volume 1e+300"),
}


@pytest.mark.parametrize("case", sorted(ABSURD))
def test_an_absurd_price_or_volume_is_refused_with_file_and_line(home, tmp_path, case):
    row, what = ABSURD[case]
    path = tmp_path / "AAPL.csv"
    path.write_text(HEADER + "\n".join([ROWS[0], row, ROWS[2]]) + "\n")
    err = one_error(cli(home, "import", str(path)), path)
    assert f"line 3: {what}" in err and "2024-01-03" in err
    assert "Traceback" not in err
    assert stored(home, "AAPL") == []


def test_open_or_close_outside_the_days_range_is_stored_flagged(home, tmp_path):
    path = tmp_path / "AAPL.csv"
    # The close is above the high: vendors emit such rows; the range widens, the row is flagged.
    path.write_text(
        HEADER + "\n".join([ROWS[0], "2024-01-03,184.22,185.88,183.43,186.5,1", ROWS[2]])
    )
    result = cli(home, "import", str(path))
    assert result.returncode == 0, result.stderr
    assert "3 added" in result.stdout and "1 flagged" in result.stdout
    day = stored(home, "AAPL")[1]
    assert day[2] == pytest.approx(186.5) and day[4] == pytest.approx(186.5) and day[6] == 1


def test_csv_folder_collect_refuses_an_absurd_price_too(home, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "AAPL.csv").write_text(HEADER + "\n".join([ROWS[0], ABSURD["close 1e308"][0]]))
    env = {"ASSISTANT_COLLECT_CSV_DIR": str(folder)}
    assert cli(home, "watch", "add", "AAPL", env=env).returncode == 0
    result = cli(home, "collect", "--source", "csv", "--json", env=env)
    assert result.returncode == 1
    [row] = json.loads(result.stdout)
    assert row["status"] == "failed" and "line 3: close price 1e+308" in row["message"]
    assert stored(home, "AAPL") == []


def _synthetic_csv(path: Path, n: int, seed: int) -> None:
    frame = synthetic_bars(n, seed=seed, start="2015-01-02")
    out = frame.rename(columns=str.title)[["Open", "High", "Low", "Close", "Volume"]]
    out.index.name = "Date"
    out.to_csv(path, float_format="%.4f")


@pytest.mark.slow  # trains
def test_train_skips_a_symbol_whose_stored_bars_are_absurd_and_trains_the_rest(home, tmp_path):
    for sym, seed in (("GOOD", 1), ("ALSO", 2), ("BAD", 3)):
        _synthetic_csv(tmp_path / f"{sym}.csv", 500, seed)
    result = cli(home, "import", *(str(tmp_path / f"{s}.csv") for s in ("GOOD", "ALSO", "BAD")))
    assert result.returncode == 0, result.stderr
    # A database written before prices were checked: one absurd close is already stored.
    conn = sqlite3.connect(home / "assistant.db")
    day = conn.execute(
        "SELECT date FROM bars WHERE symbol = 'BAD' ORDER BY date LIMIT 1 OFFSET 300"
    )
    date = day.fetchone()[0]
    conn.execute("UPDATE bars SET close = 1e308 WHERE symbol = 'BAD' AND date = ?", [date])
    conn.commit()
    conn.close()
    env = {"ASSISTANT_MODELS_EPOCHS": "1"}
    result = cli(home, "train", "--models", "xgboost", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"skipped BAD: close 1e+308 on {date} is not a sane price" in result.stdout
    assert "trained on ALSO, GOOD" in result.stdout
    result = cli(home, "train", "--models", "xgboost", "--json", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["symbols"] == ["ALSO", "GOOD"] and list(report["skipped"]) == ["BAD"]
    assert report["results"][0]["status"] != "failed"


@pytest.mark.slow  # trains
def test_backtest_skips_a_symbol_whose_stored_bars_are_absurd_and_scores_the_rest(home, tmp_path):
    for sym, seed in (("GOOD", 1), ("ALSO", 2), ("BAD", 3)):
        _synthetic_csv(tmp_path / f"{sym}.csv", 500, seed)
    result = cli(home, "import", *(str(tmp_path / f"{s}.csv") for s in ("GOOD", "ALSO", "BAD")))
    assert result.returncode == 0, result.stderr
    conn = sqlite3.connect(home / "assistant.db")  # stored by an older version, unchecked
    day = conn.execute(
        "SELECT date FROM bars WHERE symbol = 'BAD' ORDER BY date LIMIT 1 OFFSET 300"
    )
    date = day.fetchone()[0]
    conn.execute("UPDATE bars SET close = 1e308 WHERE symbol = 'BAD' AND date = ?", [date])
    conn.commit()
    conn.close()
    args = ("backtest", "--models", "markov,rules", "--retrain-every", "126")
    result = cli(home, *args, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    why = f"close 1e+308 on {date} is not a sane price"
    assert report["symbols"] == ["ALSO", "GOOD"] and report["skipped"] == {"BAD": why}
    scored = {r["symbol"] for r in report["results"]}
    assert scored == {"ALSO", "GOOD", "ALL"} and report["n_predictions"] > 0
    result = cli(home, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"skipped BAD: {why}" in result.stdout


# ---- 2. bars from the future ----


def test_a_future_dated_bar_is_refused_on_import(home, tmp_path):
    path = tmp_path / "AAPL.csv"
    path.write_text(HEADER + "\n".join([*ROWS, "2099-01-02,182.15,183.09,180.88,181.91,1"]))
    err = one_error(cli(home, "import", str(path)), path)
    assert "line 5: a bar from the future" in err and "2099-01-02" in err
    assert stored(home, "AAPL") == []
    # Tomorrow's session is within the slack (time zones); a year ahead is not.
    soon = pd.Timestamp.now(tz="UTC").tz_localize(None).normalize() + pd.Timedelta(days=370)
    path.write_text(HEADER + "\n".join([*ROWS, f"{soon:%Y-%m-%d},182.15,183.09,180.88,181.91,1"]))
    assert "a bar from the future" in one_error(cli(home, "import", str(path)), path)


def test_a_future_dated_bar_is_refused_on_collect_and_collect_keeps_working(home, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    path = folder / "AAPL.csv"
    path.write_text(HEADER + "\n".join([*ROWS, "2099-01-02,182.15,183.09,180.88,181.91,1"]))
    env = {"ASSISTANT_COLLECT_CSV_DIR": str(folder)}
    assert cli(home, "watch", "add", "AAPL", env=env).returncode == 0
    result = cli(home, "collect", "--source", "csv", "--json", env=env)
    [row] = json.loads(result.stdout)
    assert row["status"] == "failed" and "a bar from the future" in row["message"]
    assert stored(home, "AAPL") == []
    path.write_text(HEADER + "\n".join(ROWS))  # the vendor fixes the file
    result = cli(home, "collect", "--source", "csv", "--json", env=env)
    [row] = json.loads(result.stdout)
    assert row["status"] == "added" and row["added"] == 3
    assert stored(home, "AAPL")[-1][0] == "2024-01-04"


# ---- 3. files that are no regular files, and big ones ----


@pytest.mark.slow  # a real process: a blocked open() is the fault
def test_a_fifo_is_refused_at_once(home, tmp_path):
    fifo = tmp_path / "AAPL.csv"
    os.mkfifo(fifo)
    # No writer ever opens it: before, `import` blocked in open() for good.
    err = one_error(cli_process(home, "import", str(fifo), timeout=120), fifo)
    assert "is a FIFO, not a regular file" in err


@pytest.mark.slow  # a real process: reading a device for ever is the fault
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_at_once(home, device):
    err = one_error(
        cli_process(home, "import", device, "--symbol", "AAPL", timeout=120), Path(device)
    )
    assert "is a device, not a regular file" in err


def test_a_file_over_the_size_cap_is_refused_before_it_is_read(home, tmp_path):
    path = tmp_path / "AAPL.csv"
    with path.open("wb") as f:  # sparse: no disk is used
        f.write((HEADER + ROWS[0] + "\n").encode())
        f.truncate(257 << 20)
    err = one_error(cli(home, "import", str(path)), path)
    assert "larger than 256 MiB" in err and "split it" in err


# ---- 4. decimal commas ----


def test_semicolon_file_with_decimal_commas_imports_the_right_prices(home, tmp_path):
    path = tmp_path / "AAPL.csv"
    path.write_text(
        "Date;Open;High;Low;Close;Volume\n"
        "2024-01-02;58,25;59,38;57,90;58,10;1.204.500\n"
        "2024-01-03;1.058,25;1.059,38;1.057,90;1.058,10;1000\n"
    )
    result = cli(home, "import", str(path))
    assert result.returncode == 0, result.stderr
    rows = stored(home, "AAPL")
    assert [r[1:6] for r in rows] == [
        pytest.approx((58.25, 59.38, 57.90, 58.10, 1204500)),
        pytest.approx((1058.25, 1059.38, 1057.90, 1058.10, 1000)),
    ]


@pytest.mark.parametrize(
    "body, reason",
    [
        # Only three digits after each comma: 1.234 or 1234? Nothing in the file says.
        ("2024-01-02;1,234;1,250;1,200;1,240;100\n", "cannot tell a decimal comma"),
        (
            "2024-01-02;58,25;59,38;57,90;58,10;100\n2024-01-03;58.25;59.38;57.90;58.10;100\n",
            "decimal",
        ),
    ],
)
def test_ambiguous_or_mixed_decimal_marks_are_refused(home, tmp_path, body, reason):
    path = tmp_path / "AAPL.csv"
    path.write_text("Date;Open;High;Low;Close;Volume\n" + body)
    assert reason in one_error(cli(home, "import", str(path)), path)
    assert stored(home, "AAPL") == []


# ---- 5. deactivation ----


def test_a_symbol_with_stored_bars_is_never_deactivated_for_the_sources_silence(home, tmp_path):
    path = tmp_path / "XYZ.csv"
    path.write_text(HEADER + "\n".join(ROWS))
    assert cli(home, "import", str(path)).returncode == 0
    assert cli(home, "watch", "add", "ZZZZ").returncode == 0  # no bars anywhere
    env = {"ASSISTANT_COLLECT_DEACTIVATE_AFTER_EMPTY": "2"}
    for _ in range(2):  # the sample source has neither
        result = cli(home, "collect", "--source", "sample", "--json", env=env)
    rows = {r["symbol"]: r for r in json.loads(result.stdout)}
    assert rows["XYZ"]["status"] == "no-data" and "kept on the watchlist" in rows["XYZ"]["message"]
    assert "taken off the watchlist" in rows["ZZZZ"]["message"]
    listed = {r["symbol"]: r for r in json.loads(cli(home, "watch", "list", "--json").stdout)}
    assert listed["XYZ"]["active"] == 1 and listed["XYZ"]["status"] == "watched"
    # The deactivated one still shows, with why: in `watch list`, its --json, and `collect`.
    assert listed["ZZZZ"]["status"] == "deactivated"
    assert listed["ZZZZ"]["last_error"].startswith("deactivated: no data on 2 consecutive")
    table = cli(home, "watch", "list").stdout
    assert "ZZZZ" in table and "no (deactivated)" in table and "deactivated: no data" in table
    result = cli(home, "collect", "--source", "sample", env=env)
    line = next(x for x in result.stdout.splitlines() if x.startswith("ZZZZ"))
    assert "deactivated" in line and "no data on 2 consecutive" in line
    rows = {r["symbol"]: r for r in json.loads(cli(home, "collect", "--json", env=env).stdout)}
    assert rows["ZZZZ"]["status"] == "deactivated" and rows["XYZ"]["status"] != "deactivated"


def test_a_deactivated_symbol_can_be_removed_for_good(home):
    assert cli(home, "watch", "add", "ZZZZ", "AAPL").returncode == 0
    env = {"ASSISTANT_COLLECT_DEACTIVATE_AFTER_EMPTY": "1"}
    cli(home, "collect", "--source", "sample", env=env)  # the sample has no ZZZZ
    listed = {r["symbol"]: r for r in json.loads(cli(home, "watch", "list", "--json").stdout)}
    assert listed["ZZZZ"]["status"] == "deactivated"
    removed = cli(home, "watch", "remove", "ZZZZ")
    assert removed.returncode == 0, removed.stderr
    assert "removed: ZZZZ" in removed.stdout
    listed = {r["symbol"]: r for r in json.loads(cli(home, "watch", "list", "--json").stdout)}
    assert "ZZZZ" not in listed and listed["AAPL"]["status"] == "watched"
    every = {
        r["symbol"]: r for r in json.loads(cli(home, "watch", "list", "--all", "--json").stdout)
    }
    assert every["ZZZZ"]["status"] == "removed"
    assert every["ZZZZ"]["last_error"].startswith("no data on 1 consecutive")
    assert "ZZZZ" not in cli(home, "collect", "--source", "sample", env=env).stdout
    again = cli(home, "watch", "remove", "ZZZZ")  # removed already: refused, as before
    assert again.returncode == 1 and "not on the watchlist: ZZZZ" in again.stderr


# ---- 6. re-importing what is stored ----


def test_reimporting_identical_rows_reports_them_unchanged(home, tmp_path):
    path = tmp_path / "AAPL.csv"
    path.write_text(HEADER + "\n".join(ROWS))
    first = cli(home, "import", str(path))
    assert "3 added, 0 updated, 0 unchanged" in first.stdout, first.stderr
    again = cli(home, "import", str(path))
    assert again.returncode == 0 and "0 added, 0 updated, 3 unchanged" in again.stdout
    path.write_text(HEADER + "\n".join([ROWS[0], ROWS[1].replace("184.25", "184.30"), ROWS[2]]))
    changed = cli(home, "import", str(path), "--json")
    [entry] = json.loads(changed.stdout)[0]["symbols"]
    assert (entry["added"], entry["updated"], entry["unchanged"]) == (0, 1, 2)
    assert stored(home, "AAPL")[1][4] == pytest.approx(184.30)


@sync
async def test_the_tui_shows_why_a_symbol_left_the_watchlist(home, db):
    fill(db)
    symbols.add(db, ["ZZZZ"], "sample")
    assert symbols.record_empty(db, "ZZZZ", message="the sample has no ZZZZ", deactivate_after=1)
    app = make_app(home, clock=lambda: FIXED_NOW, poll_seconds=0.05)
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(pilot)
        text = screen_text(app)
    assert "ZZZZ OFF THE LIST: `assistant watch add ZZZZ` to retry · no data on 1" in text


def test_a_stored_future_bar_does_not_make_collect_say_current_for_ever(home, tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "AAPL.csv").write_text(HEADER + "\n".join(ROWS[:2]))
    env = {"ASSISTANT_COLLECT_CSV_DIR": str(folder)}
    assert cli(home, "watch", "add", "AAPL", env=env).returncode == 0
    assert cli(home, "collect", "--source", "csv", env=env).returncode == 0
    # A 2099 bar stored by a version that did not refuse it.
    conn = sqlite3.connect(home / "assistant.db")
    conn.execute(
        "INSERT INTO bars (symbol, date, open, high, low, close, volume, raw_close, adj_factor, "
        "provisional, flagged, source) VALUES ('AAPL', '2099-01-02', 1, 1, 1, 1, 1, 1, 1, 0, 0, 'csv')"
    )
    conn.commit()
    conn.close()
    (folder / "AAPL.csv").write_text(HEADER + "\n".join(ROWS))
    result = cli(home, "collect", "--source", "csv", "--json", env=env)
    [row] = json.loads(result.stdout)
    assert row["status"] == "added" and row["added"] == 1, row
