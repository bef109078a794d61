"""The LSTM backtest of 10 symbols, on a quiet machine and with 2 CPU-bound processes running.

Each measurement runs in a fresh process started the way the CLI starts (the `assistant`
package's thread defaults applied before torch or numpy load). Target: the loaded time stays
within 2x of the quiet time. Data: synthetic_bars for 10 symbols stored in SQLite.

    python bench/bench_backtest_load.py [SESSIONS] [EPOCHS]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = 2.0
BURNERS = 2


def child(home: Path, sessions: int, epochs: int) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_models_train import seed

    import assistant  # noqa: F401 - its thread defaults apply before numpy and torch load
    from assistant import config
    from assistant.modeling.backtest import backtest

    db = seed(home, sessions)
    settings = config.load(home).replace("models", kinds=("lstm",), epochs=epochs)
    start = time.perf_counter()
    report = backtest(db, settings, retrain_every=63)
    took = time.perf_counter() - start
    print(f"{took:.2f} {report.retrains} {report.n_predictions}")


def measure(sessions: int, epochs: int, label: str) -> float:
    home = Path(tempfile.mkdtemp()) / "home"
    cmd = [sys.executable, __file__, "--child", str(home), str(sessions), str(epochs)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True)
    took, retrains, n = out.stdout.split()[-3:]
    print(f"  {label:<28} {float(took):7.1f} s  ({retrains} retrains, {n} scored predictions)")
    return float(took)


def main() -> None:
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 900
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    print(
        f"LSTM walk-forward backtest, 10 synthetic symbols x {sessions} sessions, "
        f"{epochs} epochs, retrain every 63 sessions; {os.cpu_count()} cores"
    )
    quiet = measure(sessions, epochs, "quiet")
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(BURNERS)]
    try:
        time.sleep(1.0)
        loaded = measure(sessions, epochs, f"{BURNERS} CPU burners running")
    finally:
        for proc in burners:
            proc.kill()
            proc.wait()
    ratio = loaded / quiet
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    print(f"loaded / quiet = {ratio:.2f} (target <= {TARGET:g}) {verdict}")
    sys.exit(0 if verdict == "PASS" else 1)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
