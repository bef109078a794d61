"""What the CLI says is what a user can trust: a table for `predict`, help texts that point
at files that exist, no "-0" for a skill that rounds to nothing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tests.cli_fixture import Ran, run_cli
from tests.cycle_fixture import synthetic_home

ROOT = Path(__file__).resolve().parents[1]


def _assistant(home: Path, *args: str) -> Ran:
    return run_cli(home, *args)  # in-process: what it prints is the point, not the process


def test_help_texts_and_docstrings_point_at_files_in_the_repository(tmp_path):
    top = _assistant(tmp_path / "h", "--help")
    assert top.returncode == 0, top.stderr
    commands = sorted(set(re.findall(r"^\s{4}(\w[\w-]*)\s", top.stdout, re.M)))
    assert "report" in commands and "predict" in commands
    for cmd in commands:
        shown = _assistant(tmp_path / "h", cmd, "--help")
        assert shown.returncode == 0, (cmd, shown.stderr)
        for name in re.findall(r"[\w./-]+\.md\b", shown.stdout.replace("\n", " ")):
            assert (ROOT / name).is_file(), f"`assistant {cmd} --help` names {name}"
    design_in_repo = (ROOT / "DESIGN.md").is_file()
    for path in [*ROOT.glob("assistant/**/*.py"), *ROOT.glob("models/**/*.py")]:
        cited = "DESIGN §" in path.read_text(encoding="utf-8")
        assert design_in_repo or not cited, f"{path.relative_to(ROOT)} cites DESIGN.md"


def test_predict_prints_a_table_of_the_calls(home):
    synthetic_home(home)[0].close()
    done = _assistant(home, "predict", "AAA", "--as-of", "2024-03-01")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("symbol"))
    assert re.match(
        r"symbol +sessions +as of +target date +call +change +target +80% range +95% range "
        r"+confidence +regime +model$",
        lines[head],
    ), lines[head]
    assert set(lines[head + 1]) <= {"-", " "}
    rows = lines[head + 2 : head + 5]
    assert [r.split()[:3] for r in rows] == [["AAA", str(h), "2024-03-01"] for h in (1, 3, 5)]
    assert all(re.search(r"\d\.\.\d", r) and "signals-v1" in r for r in rows), rows
    assert "h=" not in done.stdout and "=" not in "\n".join(rows)
    assert "model signals-v1 (1d" in done.stdout and "3 calls (3 new" in done.stdout


def test_a_skill_that_rounds_to_nothing_reads_zero_not_minus_zero():
    from assistant.cli.cycle import format_metrics
    from assistant.cli.modeling import HEAD, _metric_row
    from models import metrics

    n = 400
    rng = np.random.default_rng(3)
    ret = rng.normal(0, 0.01, n)
    cls = np.where(ret > 0.001, 2, np.where(ret < -0.001, 0, 1))
    clim = np.tile([0.3, 0.2, 0.5], (n, 1))
    probs = clim.copy()
    probs[0] = [0.3 + 1e-3, 0.2, 0.5 - 1e-3]  # a hair worse than the reference on one row
    m = metrics.evaluate(
        ret,
        cls,
        np.zeros(n),
        probs,
        majority=1,
        last_move=np.sign(ret),
        h=1,
        climatology=clim,
    )
    assert m["brier_skill"] == 0 and str(m["brier_skill"]) == "0.0"  # not -0.0
    shown = _metric_row("xgboost", m)
    assert shown[HEAD.index("Brier skill")] == "0", shown  # the train/backtest table
    report = {**m, "hit_rate": m["dir_accuracy"], "verdict_text": "no edge"}
    assert "(skill +0.000)" in format_metrics("AAA h=1", report)
    report["brier_skill"] = -0.0004  # what the report computes before rounding
    assert "(skill +0.000)" in format_metrics("AAA h=1", report)
