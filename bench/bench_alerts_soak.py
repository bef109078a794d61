"""Alert sends against slow endpoints: threads and open files stay flat, each send ends
by its deadline.

Two receivers on 127.0.0.1 (tests/receivers.py): one that trickles a header line every
0.1 s and never finishes its answer (no per-read timeout ever trips), and one that reads
the request and answers nothing. SENDS sends go to each through one `Courier` (as the
daemon's sender does), with a deadline of DEADLINE seconds. Printed: this process's
threads and open files at start and end, the courier's open files and restarts, and the
wall time per send (median, p95, max) against the deadline.

Targets: threads and open files at the end equal those at the start; every send ends
within deadline + 1 s (the courier's grace is 2 s; past it the courier is killed).

    python bench/bench_alerts_soak.py [SENDS] [DEADLINE]
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.alerts.send import Courier, send  # noqa: E402
from tests.receivers import SlowReceiver  # noqa: E402

TARGET_OVER_S = 1.0  # a send may take its deadline plus this, no more


def fds(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def soak(mode: str, sends: int, deadline: float) -> bool:
    receiver = SlowReceiver(mode, gap=0.1)
    courier = Courier()
    try:
        send([receiver.url], "warm-up", "b", deadline, courier=courier)  # starts the courier
        while receiver.open:  # the warm-up's connection closed on the receiver's side too
            time.sleep(0.05)
        threads0, fds0, pid = threading.active_count(), fds(), courier.pid()
        child0 = fds(pid) if pid else -1
        took: list[float] = []
        statuses: dict[str, int] = {}
        for i in range(sends):
            t = time.perf_counter()
            out = send([receiver.url], f"soak {i}", "b", deadline, courier=courier)
            took.append(time.perf_counter() - t)
            statuses[out.status] = statuses.get(out.status, 0) + 1
        end = time.monotonic() + 10
        while receiver.open and time.monotonic() < end:
            time.sleep(0.05)
        threads1, fds1 = threading.active_count(), fds()
        pid1 = courier.pid()
        child1 = fds(pid1) if pid1 else -1
    finally:
        courier.close()
        receiver.close()
    took.sort()
    p95 = took[int(0.95 * (len(took) - 1))]
    print(f"\n{mode}: {sends} sends, deadline {deadline:g} s, outcomes {statuses}")
    print(f"  threads {threads0} -> {threads1}   open files {fds0} -> {fds1}   (target: flat)")
    print(
        f"  courier open files {child0} -> {child1}, restarts {courier.restarts}, "
        f"receiver saw {len(receiver.requests)} requests, {receiver.open} still open"
    )
    print(
        f"  wall per send: median {statistics.median(took):.3f} s, p95 {p95:.3f} s, "
        f"max {took[-1]:.3f} s  (target <= {deadline + TARGET_OVER_S:g} s)"
    )
    flat = threads1 == threads0 and fds1 == fds0
    in_time = took[-1] <= deadline + TARGET_OVER_S
    print(f"  flat: {'yes' if flat else 'NO'}   in time: {'yes' if in_time else 'NO'}")
    return flat and in_time


def main() -> int:
    sends = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    deadline = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
    ok = [soak(mode, sends, deadline) for mode in ("trickle", "hang")]
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
