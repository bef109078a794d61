"""Collection from the offline sample (real S&P 500 / NASDAQ history) and from a CSV folder."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from assistant.cli import main
from assistant.config import Settings
from assistant.errors import AssistantError, NoDataError
from assistant.ingest.collect import collect, make_source
from assistant.ingest.sources import sample
from assistant.ingest.sources.sample import SampleSource
from store import bars, symbols


def settings(**collect_):
    return Settings().replace("collect", **collect_)


def test_sample_source_serves_real_index_and_stock_history():
    src = SampleSource()
    gspc = src.history("^GSPC", pd.Timestamp("2008-10-01"), pd.Timestamp("2008-10-31"))
    # The October 2008 crash is in there: the S&P 500 closed near 968.75 on 2008-10-31.
    assert gspc.index[0] == pd.Timestamp("2008-10-01") and len(gspc) == 23
    assert gspc["close"].iloc[-1] == pytest.approx(968.75, abs=0.01)
    # Every series is served over the span they share (GOOG listed on 2004-08-19).
    span = (pd.Timestamp("2004-08-19"), pd.Timestamp("2013-03-01"))
    assert sample.common_span() == sample.SPAN == span
    assert all(src.coverage(s) == span for s in ("^IXIC", "AAPL", "GOOG", "IBM", "MSFT"))
    # AAPL split 2:1 on 2005-02-28: raw closes 88.99 then 44.86; adjusted, no jump is left.
    aapl = src.history("AAPL", pd.Timestamp("2005-02-24"), pd.Timestamp("2005-03-01"))
    assert aapl["raw_close"].tolist()[1:3] == pytest.approx([88.99, 44.86], abs=0.01)
    assert abs(aapl["close"].pct_change().iloc[2]) < 0.05 and aapl["flagged"].sum() == 0
    ratio = aapl["high"] / aapl["close"]
    assert (ratio >= 1 - 1e-9).all() and (ratio < 1.1).all()  # OHLC scaled like the close
    with pytest.raises(NoDataError, match=r"carries only \^GSPC \(S&P 500\), \^IXIC"):
        src.history("KO", pd.Timestamp("2010-01-01"), pd.Timestamp("2010-02-01"))


def test_collect_until_reveals_nothing_after_that_date(db):
    symbols.add(db, ["^GSPC", "^IXIC"], "sample")
    results = collect(db, settings(history_years=1), until="2008-09-15")
    assert [r.status for r in results] == ["added", "added"]
    assert bars.last_date(db, "^GSPC") == "2008-09-15"
    assert bars.load(db, "^GSPC").index[0] >= pd.Timestamp("2007-09-15")
    # One session per step, as the replay daemon does.
    [gspc, ixic] = collect(db, settings(), until="2008-09-16")
    assert (gspc.status, gspc.added) == ("added", 1) and bars.last_date(db, "^IXIC") == "2008-09-16"
    [gspc, _] = collect(db, settings(), until="2008-09-16")
    assert gspc.status == "current" and gspc.added == 0
    # A weekend step reveals nothing new.
    [gspc, _] = collect(db, settings(), until="2008-09-19")
    assert gspc.added == 3
    [gspc, _] = collect(db, settings(), until="2008-09-21")
    assert gspc.status == "current" and bars.last_date(db, "^GSPC") == "2008-09-19"


def test_collect_reports_unknown_sample_symbol_as_no_data(db):
    symbols.add(db, ["^GSPC", "KO"], "sample")
    results = {r.symbol: r for r in collect(db, settings(history_years=2))}
    assert results["KO"].status == "no-data" and "carries only" in results["KO"].message
    assert results["^GSPC"].status == "added"
    assert bars.last_date(db, "^GSPC") == "2013-03-01"  # anchored at the end of the sample


def test_collect_rejects_symbols_not_on_the_watchlist(db):
    with pytest.raises(AssistantError, match="not on the watchlist: ZZZ"):
        collect(db, settings(), ["ZZZ"])


def test_unknown_source_name_is_a_clear_error():
    with pytest.raises(AssistantError, match="unknown source 'bloomberg'"):
        make_source(settings(), "bloomberg")
    with pytest.raises(AssistantError, match="csv_dir"):
        make_source(settings(), "csv")


def test_csv_folder_source_collects_like_import(db, tmp_path):
    folder = tmp_path / "csvs"
    folder.mkdir()
    (folder / "AAPL.csv").write_text(
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-02,187.15,188.44,183.89,185.64,184.94,82488700\n"
        "2024-01-03,184.22,185.88,183.43,184.25,183.55,58414500\n"
    )
    symbols.add(db, ["AAPL", "MSFT"], "csv")
    results = {
        r.symbol: r
        for r in collect(db, settings(csv_dir=str(folder)), source="csv", until="2024-01-03")
    }
    assert results["AAPL"].added == 2 and results["MSFT"].status == "no-data"
    assert bars.load(db, "AAPL")["raw_close"].tolist() == [185.64, 184.25]


def test_cli_collect_prints_a_line_per_symbol(home, capsys):
    assert main(["--home", str(home), "watch", "add", "^GSPC", "KO"]) == 0
    capsys.readouterr()
    assert main(["--home", str(home), "collect", "--until", "2010-06-30"]) == 1  # KO: no data
    out = capsys.readouterr().out
    assert (  # ten years back, clipped to where the sample starts
        "^GSPC   added    1477" in out
        and "1477 rows added, 0 updated (2004-08-19 … 2010-06-30)" in out
    )
    assert "KO      no-data" in out
    assert main(["--home", str(home), "collect", "^GSPC", "--until", "2010-06-30", "--json"]) == 0
    [r] = json.loads(capsys.readouterr().out)
    assert r["status"] == "current" and r["message"] == "already current (last bar 2010-06-30)"


def test_collect_json_brings_and_reports_the_outside_series_too(tmp_path) -> None:
    """`collect --json` does the same work as `collect`: the market and macro series come
    with the bars, each as an item of its own kind (it used to skip them)."""
    from tests.cli_fixture import run_cli

    home = tmp_path / "home"
    env = {"ASSISTANT_HOME": None}
    assert run_cli(home, "watch", "add", "^GSPC", "AAPL", env=env).returncode == 0
    done = run_cli(home, "collect", "--json", env=env)
    assert done.returncode == 0, done.stderr
    items = json.loads(done.stdout)
    kinds = {(i["kind"], i["symbol"]) for i in items}
    assert {("bars", "^GSPC"), ("bars", "AAPL")} <= kinds
    assert ("series", "^VIX") in kinds
    assert any(kind == "macro" for kind, _ in kinds)
    assert all(i["status"] for i in items)
