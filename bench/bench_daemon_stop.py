"""How long the daemon takes to exit after SIGTERM while it trains an LSTM.

README promises: on SIGTERM/SIGINT training stops between epochs, registers nothing, and the
daemon exits 0 within 10 s. The test (tests/test_daemon_training.py) checks the behaviour
with a generous wait; this bench measures the seconds, quiet or beside a CPU burner.

Each run: a fresh home watching ^GSPC and ^IXIC, `assistant daemon --replay --speed 0`
with only the LSTM kind at 200 epochs (its first-session retrain outlasts any stop), SIGTERM
once the training reports progress, then the wall time to exit and the exit code.

    .venv/bin/python bench/bench_daemon_stop.py [--runs 3] [--burner]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.daemon_fixture import cli, query, spawn, wait_for  # noqa: E402

TARGET_S = 10.0


def _burn() -> None:
    while True:
        pass


def _training(home: Path) -> bool:
    rows = query(
        home,
        "SELECT message FROM job_runs WHERE job = 'retrain' AND status = 'running' "
        "AND progress > 0",
    )
    return any("lstm" in (m or "") for (m,) in rows)


def one_stop() -> tuple[float, int]:
    home = Path(tempfile.mkdtemp(prefix="stop-")) / "home"
    assert cli(home, "watch", "add", "^GSPC", "^IXIC").returncode == 0
    proc = spawn(
        home,
        "daemon",
        "--replay",
        "--speed",
        "0",
        extra_env={"ASSISTANT_MODELS_KINDS": "lstm", "ASSISTANT_MODELS_EPOCHS": "200"},
    )
    wait_for(lambda: _training(home), 120, "LSTM training in progress", proc)
    t0 = time.monotonic()
    proc.terminate()
    code = proc.wait(120)
    return time.monotonic() - t0, code


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--burner", action="store_true", help="one busy process per core beside it")
    args = ap.parse_args()
    burners = [
        mp.Process(target=_burn, daemon=True) for _ in range(mp.cpu_count() if args.burner else 0)
    ]
    for b in burners:
        b.start()
    try:
        results = [one_stop() for _ in range(args.runs)]
    finally:
        for b in burners:
            b.terminate()
    secs = [s for s, _ in results]
    ok = all(code == 0 for _, code in results) and max(secs) <= TARGET_S
    print(
        f"stop during LSTM training{' beside a CPU burner' if args.burner else ''}: "
        f"exit codes {[c for _, c in results]}, seconds to exit median {statistics.median(secs):.1f}, "
        f"worst {max(secs):.1f} (target <= {TARGET_S:.0f} s, exit 0): {'PASS' if ok else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
