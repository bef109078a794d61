"""`[ranking] universe`: the ranking learns on, is scored on and ranks among a wider set of
symbols than the watchlist, and serves the watched symbols' ranks; a bad setting is one
error line before anything runs."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.cli_fixture import Ran, run_cli
from tests.daemon_fixture import query

SAMPLE = ("^GSPC", "^IXIC", "AAPL", "GOOG", "IBM", "MSFT")
COLLECTED = (("watch", "add", *SAMPLE), ("collect",))  # the template test_ranking_cli uses
WATCHED = ["AAPL", "GOOG", "IBM", "MSFT"]  # 4: too few to rank among themselves
EXTRA = ["XA", "XB", "XC", "XD"]


def _plain(home, *args: str, **env: str) -> Ran:
    clean: dict[str, str | None] = {k: None for k in os.environ if k.startswith("ASSISTANT_")}
    return run_cli(home, *args, env={**clean, **env})


def _one_error(out: Ran) -> str:
    assert out.returncode == 1, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ('"everything"', "must be watchlist, stored, or the absolute path of a folder"),
        ('"csv/universe"', "must be watchlist, stored, or the absolute path of a folder"),
    ],
)
def test_a_bad_universe_is_one_error_line(tmp_path, value, why):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f"[ranking]\nuniverse = {value}\n")
    for command in (("config",), ("train", "--models", "ranking")):
        line = _one_error(_plain(home, *command))
        assert "[ranking] universe = " in line and why in line, line
        assert str(home / "config.toml") in line
    line = _one_error(_plain(tmp_path / "h2", "config", ASSISTANT_RANKING_UNIVERSE="nowhere"))
    assert line.startswith("error: ASSISTANT_RANKING_UNIVERSE: "), line


def test_the_default_universe_is_the_watchlist_and_a_folder_loads(tmp_path):
    from assistant import config

    assert config.load(tmp_path, environ={}).ranking.universe == "watchlist"
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "XA.csv").write_text("Date,Close\n")
    got = config.load(tmp_path, environ={"ASSISTANT_RANKING_UNIVERSE": str(tmp_path / "u")})
    assert got.ranking.universe == str(tmp_path / "u")


def run(home, *args: str, **env: str) -> str:
    from tests.daemon_fixture import FAST_ENV

    done = run_cli(home, *args, env={**FAST_ENV, "ASSISTANT_HOME": None, **env})
    assert done.returncode == 0, done.stderr
    return done.stdout


def _write_universe(home, folder) -> None:
    """Four more stocks as Yahoo-style CSV files on the sample's sessions (random walks
    with a common market move), the format `import` reads."""
    dates = [
        d
        for (d,) in query(
            home, "SELECT date FROM bars WHERE symbol = 'AAPL' AND provisional = 0 ORDER BY date"
        )
    ]
    rng = np.random.default_rng(7)
    market = rng.normal(0.0003, 0.01, len(dates))
    folder.mkdir()
    for sym in EXTRA:
        r = rng.uniform(0.7, 1.3) * market + rng.normal(0, 0.015, len(dates))
        close = 40 * np.exp(np.cumsum(r))
        lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
        lines += [
            f"{d},{c:.4f},{c * 1.01:.4f},{c * 0.99:.4f},{c:.4f},{c:.4f},1000000"
            for d, c in zip(dates, close, strict=True)
        ]
        (folder / f"{sym}.csv").write_text("\n".join(lines) + "\n")


@pytest.mark.slow  # trains the ranking
def test_a_csv_universe_ranks_a_watchlist_too_small_to_rank_alone(tmp_path, built_home):
    home = built_home(*COLLECTED)
    run(home, "watch", "remove", "^GSPC", "^IXIC")
    alone = run_cli(home, "train", "--models", "ranking", "--as-of", "2012-06-29")
    assert "a ranking needs at least 5 symbols; the panel has 4: no ranking" in alone.stdout
    folder = tmp_path / "universe"
    _write_universe(home, folder)
    universe = {"ASSISTANT_RANKING_UNIVERSE": str(folder)}

    out = json.loads(
        run(home, "train", "--models", "ranking", "--as-of", "2012-06-29", "--json", **universe)
    )
    ranked = next(r for r in out["results"] if r["kind"] == "ranking")
    assert ranked["status"] == "serving", ranked
    assert "among 8 symbols" in ranked["reason"]
    for h in ("1", "3", "5"):  # scored on the universe's held-out cross-section
        held = ranked["metrics"]["test"][h]
        assert held["n_symbols"] == 8 and held["n_days"] > 50, held
    (symbols,) = query(home, "SELECT symbols FROM models WHERE id = ?", (ranked["model_id"],))[0]
    assert sorted(json.loads(symbols)) == sorted(WATCHED + EXTRA)
    shown = run(home, "train", "--models", "ranking", "--as-of", "2012-06-29", **universe)
    assert "x 8 symbols" in shown

    # served for the watchlist: each watched symbol's place among the universe's 8
    calls = json.loads(run(home, "predict", "--as-of", "2012-08-15", "--json", **universe))
    assert {c["symbol"] for c in calls} == set(WATCHED)
    assert {c["rank_of"] for c in calls} == {8}
    for h in (1, 3, 5):
        ranks = [c["rank"] for c in calls if c["horizon"] == h]
        assert len(ranks) == 4 and len(set(ranks)) == 4 and set(ranks) <= set(range(1, 9))
    stored = query(
        home, "SELECT DISTINCT symbol, of FROM rankings WHERE as_of = '2012-08-15' ORDER BY symbol"
    )
    assert stored == [(s, 8) for s in sorted(WATCHED)]  # only the watched symbols are stored


@pytest.mark.slow  # trains the ranking twice
def test_a_stored_universe_trains_and_scores_more_symbols_than_the_watchlist(built_home):
    home = built_home(*COLLECTED)
    run(home, "watch", "remove", "^IXIC")  # watched: 5; stored: 6
    counts = {}
    for universe in ("watchlist", "stored"):
        out = json.loads(
            run(
                home,
                "train",
                "--models",
                "ranking",
                "--as-of",
                "2012-06-29",
                "--json",
                ASSISTANT_RANKING_UNIVERSE=universe,
            )
        )
        ranked = next(r for r in out["results"] if r["kind"] == "ranking")
        counts[universe] = {h: r["n_symbols"] for h, r in ranked["metrics"]["test"].items()}
    assert counts == {"watchlist": dict.fromkeys(("1", "3", "5"), 5)} | {
        "stored": dict.fromkeys(("1", "3", "5"), 6)
    }
    calls = json.loads(
        run(home, "predict", "--as-of", "2012-08-15", "--json", ASSISTANT_RANKING_UNIVERSE="stored")
    )
    assert {c["symbol"] for c in calls} == set(SAMPLE) - {"^IXIC"}
    assert {c["rank_of"] for c in calls} == {6}
    # the backtest scores the ranking's walk-forward record on the universe too
    data = json.loads(
        run(
            home,
            "backtest",
            "--models",
            "markov,ranking",
            "--from",
            "2012-07-02",
            "--to",
            "2012-12-31",
            "--retrain-every",
            "126",
            "--horizons",
            "1",
            "--json",
            ASSISTANT_RANKING_UNIVERSE="stored",
        )
    )
    assert data["ranking"]["1"]["n_symbols"] == 6 and data["ranking"]["1"]["n_days"] > 100
    assert {r["symbol"] for r in data["results"]} <= set(SAMPLE) - {"^IXIC"} | {"ALL"}


@pytest.mark.parametrize("gone", ["unplugged", "emptied", "a file"])
def test_a_universe_folder_gone_blocks_only_what_uses_it(tmp_path, gone):
    """The user's universe folder was on a drive since unplugged (or emptied, or a file was
    given for it): every command refused, `status` and `stop` included, so a daemon could
    not even be stopped. Now what does not use the universe works and `config` warns in
    one line; what would learn or rank on it refuses in one line with the way out (a
    ranking fitted on the watchlist alone would silently mean something else)."""
    home, folder = tmp_path / "home", tmp_path / "sp500"
    home.mkdir()
    folder.mkdir()
    (folder / "AAA.csv").write_text("Date,Close\n2024-01-02,10\n")
    (home / "config.toml").write_text(f'[ranking]\nuniverse = "{folder}"\n')
    assert _plain(home, "config").returncode == 0
    (folder / "AAA.csv").unlink()
    env = {}
    if gone == "unplugged":
        folder.rmdir()
        why = 'no such folder (moved or unmounted? plug it back, or set universe = "watchlist"'
    elif gone == "emptied":
        why = "the folder holds no .csv or .txt file"
    else:
        (tmp_path / "AAA.csv").write_text("Date,Close\n2024-01-02,10\n")
        env = {"ASSISTANT_RANKING_UNIVERSE": str(tmp_path / "AAA.csv")}
        why = "a file, not a folder"
    for command in (("status",), ("watch", "list"), ("stop",), ("report",)):
        ran = _plain(home, *command, **env)
        assert ran.returncode == 0, (command, ran.stdout, ran.stderr)
        assert "universe" not in ran.stderr, (command, ran.stderr)
    shown = _plain(home, "config", **env)
    assert shown.returncode == 0, shown.stderr
    warned = shown.stderr.strip().splitlines()
    assert len(warned) == 1 and warned[0].startswith("warning: [ranking] universe = "), warned
    assert why in warned[0], warned
    for command in (("train", "--models", "ranking"), ("backtest", "--models", "rules,ranking")):
        line = _one_error(_plain(home, *command, **env))
        assert "[ranking] universe = " in line and why in line, (command, line)


def test_the_ranking_never_falls_back_to_the_watchlist_alone(tmp_path, monkeypatch):
    """A cycle's or a training's universe read when the folder is gone raised nothing: the
    ranking silently ranked among the watched symbols alone, not the universe it was
    fitted on. It raises the one-line reason (the cycle logs it and makes its own calls;
    a retrain keeps the ranking in service)."""
    import pandas as pd

    from assistant import config
    from assistant.errors import AssistantError
    from assistant.modeling.ranking import universe_bars

    folder = tmp_path / "sp500"
    folder.mkdir()
    (folder / "AAA.csv").write_text(
        "Date,Open,High,Low,Close,Volume\n2024-01-02,10,10,10,10,1\n2024-01-03,11,11,11,11,1\n"
    )
    monkeypatch.setenv("ASSISTANT_RANKING_UNIVERSE", str(folder))
    settings = config.load(tmp_path / "home")
    watched = {"BBB": pd.DataFrame({"close": [1.0]}, index=pd.to_datetime(["2024-01-02"]))}
    assert set(universe_bars(None, settings, watched, None)) == {"AAA", "BBB"}
    (folder / "AAA.csv").unlink()
    folder.rmdir()
    with pytest.raises(AssistantError, match=r"\[ranking\] universe = .*no such folder"):
        universe_bars(None, settings, watched, None)


@pytest.mark.slow  # trains
def test_a_retrain_with_the_universe_gone_trains_the_others_and_says_why(tmp_path, built_home):
    """The daemon's scheduled retrain (and a plain `train`) asks for the configured set:
    the forecasters train; the ranking reports why it did not, and whatever ranking served
    before serves on."""
    home = built_home(*COLLECTED)
    env = {
        "ASSISTANT_MODELS_KINDS": "rules,ranking",
        "ASSISTANT_RANKING_UNIVERSE": str(tmp_path / "unplugged"),
    }
    out = run_cli(home, "train", "--as-of", "2012-06-29", "--json", env=env)
    results = {r["kind"]: r for r in json.loads(out.stdout)["results"]}
    assert results["rules"]["model_id"] is not None, out.stdout
    assert results["ranking"]["status"] == "failed"
    assert results["ranking"]["reason"].startswith("not trained: [ranking] universe = ")
    assert "no such folder" in results["ranking"]["reason"]
