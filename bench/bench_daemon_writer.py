"""A writer process inserts commands for 60 s while a replaying daemon writes flat out.

The issue's figure: zero "database is locked" errors on either side, every accepted
command served. (The default test, tests/test_daemon_concurrency.py, runs 10 s.)

    .venv/bin/python bench/bench_daemon_writer.py [--seconds 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.daemon_fixture import writer_scenario  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="writer-")) / "home"
    r = writer_scenario(home, args.seconds)
    locked = r["locked"] + r["daemon_locked_errors"]
    served = sum(r["commands"].values())
    ok = locked == 0 and r["other_errors"] == 0 and served == r["accepted"] and r["daemon_rc"] == 0
    print(
        f"writer: {r['writer_s']:.0f} s, {r['accepted']} commands accepted, "
        f"{r['queue_full']} refused with 'queue is full' (cap 1000 waiting)"
    )
    print(
        f"'database is locked': writer {r['locked']}, daemon log {r['daemon_locked_errors']} "
        f"(target 0) {'PASS' if locked == 0 else 'FAIL'}"
    )
    print(
        f"commands served: {served} of {r['accepted']} {r['commands']} "
        f"{'PASS' if served == r['accepted'] else 'FAIL'}"
    )
    print(
        f"daemon meanwhile replayed {r['sessions_replayed']} sessions; exit code after SIGTERM {r['daemon_rc']}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
