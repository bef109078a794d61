"""The watchlist through the CLI: the symbol gate, add/remove/list, and refusals that change nothing."""

from __future__ import annotations

import json

import pytest

from assistant.cli import main
from store.db import open_db
from store.symbols import SymbolError, validate_symbol

ACCEPTED = ["AAPL", "BRK-B", "^GSPC", "EURUSD=X", "7203.T", "BTC-USD", "aapl", " MSFT "]
REJECTED = [
    "",
    " ",
    "AAPL,MSFT",
    "../x",
    "a/b",
    ";DROP TABLE symbols",
    "AA\x00PL",
    "AA\nPL",
    "A" * 200,
    "АAPL",  # Cyrillic А: a look-alike
    "ＡＡＰＬ",  # full-width letters
]


@pytest.mark.parametrize("raw", ACCEPTED)
def test_accepted_symbols_normalize_to_upper_case(raw):
    assert validate_symbol(raw) == raw.strip().upper()


@pytest.mark.parametrize("raw", REJECTED)
def test_rejected_symbols_raise_a_one_line_reason(raw):
    with pytest.raises(SymbolError) as info:
        validate_symbol(raw)
    assert "\n" not in str(info.value) and str(info.value)


def run(home, *argv):
    return main(["--home", str(home), *argv])


def test_watch_add_list_remove_round_trip(home, capsys):
    assert run(home, "watch", "add", "AAPL", "msft", "^GSPC", "ko") == 0
    out = capsys.readouterr().out
    assert "added: AAPL, MSFT, ^GSPC, KO" in out
    assert "note: the offline sample source has no KO (" in out  # it carries AAPL and MSFT
    assert run(home, "watch", "add", "AAPL") == 0
    assert "already watched: AAPL" in capsys.readouterr().out
    assert run(home, "watch", "list", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["symbol"] for r in rows] == ["AAPL", "KO", "MSFT", "^GSPC"]
    assert all(r["active"] == 1 and r["bars"] == 0 for r in rows)
    assert run(home, "watch", "remove", "MSFT") == 0
    assert "removed: MSFT" in capsys.readouterr().out
    assert run(home, "watch", "list") == 0
    out = capsys.readouterr().out
    assert "MSFT" not in out and "AAPL" in out and "^GSPC" in out


@pytest.mark.parametrize("bad", ["AAPL,MSFT", "../x", ";DROP TABLE symbols", "A" * 200, "АAPL"])
def test_watch_add_with_one_bad_symbol_adds_nothing(home, capsys, bad):
    assert run(home, "watch", "add", "AAPL") == 0
    capsys.readouterr()
    assert run(home, "watch", "add", "MSFT", bad) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    db = open_db(home)
    assert [r[0] for r in db.execute("SELECT symbol FROM symbols")] == ["AAPL"]
    db.close()


def test_removing_an_unwatched_symbol_is_an_error(home, capsys):
    home.mkdir()
    assert run(home, "watch", "remove", "ZZZZ") == 1
    assert "not on the watchlist: ZZZZ" in capsys.readouterr().err


def test_readding_a_deactivated_symbol_resets_its_empty_count(db):
    from store import symbols

    symbols.add(db, ["AAPL"], "yahoo")
    for _ in range(3):
        symbols.record_empty(db, "AAPL", message="no data", deactivate_after=3)
    row = symbols.get(db, "AAPL")
    assert row["active"] == 0 and "deactivated" in row["last_error"]
    assert symbols.add(db, ["AAPL"], "yahoo") == ["AAPL"]
    row = symbols.get(db, "AAPL")
    assert row["active"] == 1 and row["consecutive_empty"] == 0 and row["last_error"] is None
