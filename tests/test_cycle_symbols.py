"""A symbol the home has never held is an error in every command that takes symbols."""

from __future__ import annotations

import pytest

from tests.cli_fixture import cli

COMMANDS = [
    ("report", "NOPE"),
    ("report", "--json", "AAPL", "NOPE"),
    ("predictions", "--symbol", "NOPE"),
    ("predictions", "--symbol", "aapl", "--symbol", "NOPE", "--format", "csv"),
    ("predict", "NOPE"),
    ("predict", "AAPL", "NOPE"),
    ("train", "NOPE", "--models", "markov"),
    ("backtest", "NOPE", "--models", "markov"),
    ("collect", "NOPE"),
]


@pytest.fixture(scope="module")
def watched_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("symbols") / "home"
    assert cli(home, "watch", "add", "AAPL", "MSFT").returncode == 0
    assert cli(home, "watch", "remove", "MSFT").returncode == 0  # removed: its history stays known
    return home


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_an_unknown_symbol_is_one_error_line(watched_home, args):
    before = (watched_home / "assistant.db").stat().st_size
    out = cli(watched_home, *args)
    assert out.returncode == 1, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "NOPE" in lines[0], out.stderr
    assert "AAPL" not in lines[0]  # only the unknown one is named
    assert out.stdout == ""
    assert (watched_home / "assistant.db").stat().st_size == before


@pytest.mark.parametrize(
    "args",
    [("report", "AAPL"), ("report", "msft"), ("predictions", "--symbol", "MSFT")],
)
def test_a_known_symbol_without_calls_yet_is_not_an_error(watched_home, args):
    out = cli(watched_home, *args)
    assert out.returncode == 0, out.stderr
