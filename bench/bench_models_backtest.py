"""Walk-forward backtest of the default model set: 10 synthetic symbols, 3 years predicted
(756 sessions, after 2 years of history), retraining every 63 sessions.
Target: <= 10 minutes on this 2-core machine. Data: synthetic_bars stored in SQLite."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from assistant import config
from assistant.modeling.backtest import backtest

sys.path.insert(0, str(Path(__file__).parent))
from bench_models_train import seed  # noqa: E402


def main() -> None:
    home = Path(tempfile.mkdtemp()) / "home"
    db = seed(home, 1260)
    settings = config.load(home)
    print(
        f"synthetic symbols (synthetic_bars, edge 0.55): 10 x 1260 sessions; kinds {settings.models.kinds}"
    )
    start = time.perf_counter()
    report = backtest(db, settings, retrain_every=63)
    took = time.perf_counter() - start
    pooled = [r for r in report.results if r["symbol"] == "ALL" and r["horizon"] == 1]
    for r in pooled:
        print(
            f"  {r['model']:<12} h1 dir acc {r['dir_accuracy']:.3f} vs majority "
            f"{r['baselines']['majority']['dir_accuracy']:.3f}, p {r['p_value']:.2g}, n {r['n']}"
        )
    verdict = "PASS" if took <= 600 else "FAIL"
    print(
        f"backtest {report.start}..{report.end}, {report.retrains} retrains, "
        f"{report.n_predictions} scored predictions: {took:.1f} s (target <= 600 s) {verdict}"
    )
    sys.exit(0 if verdict == "PASS" else 1)


if __name__ == "__main__":
    main()
