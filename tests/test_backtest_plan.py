"""`assistant backtest` as long work: by default the fast kinds (a minute on the sample),
the full set one option away (--full); it says what it will run and about how long before
it starts, and its progress bar grows evenly and shows the time left."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from assistant import config
from assistant.cli import main
from assistant.cli.modeling import Bars, fast_kinds
from assistant.modeling.backtest import backtest
from tests.test_models_backtest import seed


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_progress_bar_shows_the_time_left_at_its_pace_so_far() -> None:
    out, clock = io.StringIO(), Clock()
    bars = Bars(out, eta=True, clock=clock)
    bars("backtest", 0.0, "blocks 1-2/12: training")
    clock.now += 30
    bars("backtest", 0.25, "block 2/12 b1/xgboost")
    clock.now += 60
    bars("backtest", 0.75, "block 9/12 b8/markov")
    clock.now += 3600
    bars("backtest", 1.0, "scoring")
    assert out.getvalue().splitlines() == [
        "backtest       0% ETA - blocks 1-2/12: training",
        "backtest      25% ETA 1:30 block 2/12 b1/xgboost",
        "backtest      75% ETA 0:30 block 9/12 b8/markov",
        "backtest     100% done in 1:01:30 scoring",
    ]


def test_the_default_kinds_leave_out_the_torch_ones() -> None:
    assert fast_kinds(list(config.Models().kinds)) == ["xgboost", "markov", "rules", "ranking"]
    assert fast_kinds(["lstm", "gru"]) == ["lstm", "gru"]  # nothing fast configured: as is


def test_progress_only_grows_and_ends_at_one(db, home) -> None:
    seed(db, edge=0.5, n=700)
    seen: list[float] = []
    plans = []
    backtest(
        db,
        config.load(home),
        kinds=["markov", "rules"],
        retrain_every=60,
        horizons=(1,),
        start="2011-03-01",
        progress=lambda f, m: seen.append(f),
        on_plan=plans.append,
    )
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 10
    (plan,) = plans
    assert plan.kinds == ["markov", "rules"] and plan.refits == -(-plan.sessions // 60)
    assert plan.train_rows == sorted(plan.train_rows) and plan.train_rows[0] > 0
    assert plan.seconds() > 0


def _config(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text('[models]\nkinds = ["markov", "rules", "lstm"]\nepochs = 1\n')


ARGS = ["backtest", "--retrain-every", "200", "--horizons", "1", "--from", "2011-06-01", "--json"]


def test_the_default_run_says_what_and_how_long_first_and_leaves_out_torch(
    db, home, capsys: pytest.CaptureFixture[str]
) -> None:
    _config(home)
    seed(db, edge=0.5, n=700)
    assert main(ARGS) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["models"] == ["markov", "rules", "ensemble"]
    first = out.err.splitlines()[0]
    assert first.startswith(f"backtest: markov, rules on 2 symbols, {report['from']} .. ")
    assert f"{report['retrains']} refits, horizons 1): about " in first
    assert "; --full adds lstm (about " in first
    assert "ETA" in out.err.splitlines()[1]

    assert main([*ARGS, "--full", "--models", "markov"]) == 1
    assert capsys.readouterr().err.startswith("error: --full runs every configured kind")
    with pytest.raises(SystemExit):
        main(["backtest", "--help"])
    assert "--full" in capsys.readouterr().out


@pytest.mark.slow
def test_full_runs_every_configured_kind(db, home, capsys: pytest.CaptureFixture[str]) -> None:
    _config(home)
    seed(db, edge=0.5, n=700)
    assert main([*ARGS, "--full"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["models"] == ["markov", "rules", "lstm", "ensemble"]
    assert "--full adds" not in out.err.splitlines()[0]
