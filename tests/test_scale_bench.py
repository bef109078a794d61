"""The scale benchmark runs end to end at a tiny size (its figures are the bench's job; this
only keeps the script in step with the code it drives)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # the bench script in its own process: it trains
def test_bench_scale_home_runs_at_a_tiny_size(tmp_path):
    out = subprocess.run(
        [sys.executable, "bench/bench_scale.py", "home", "--symbols", "4", "--years", "2"]
        + ["--kinds", "markov,rules", "--epochs", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TMPDIR": str(tmp_path)},  # the bench's home goes with the test
    )
    assert out.returncode == 0, out.stderr[-2000:]
    stages = [line.split()[0] for line in out.stdout.splitlines() if "peak RSS" in line]
    assert stages == ["import", "train", "load", "predict", "verify", "report", "tui"]
    assert "4 symbols" in out.stdout and "12 calls" in out.stdout
