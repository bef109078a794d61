"""The daemon's malloc tuning: freed training buffers go back to the OS (RSS stays flat)."""

from __future__ import annotations

import platform
from pathlib import Path

import pytest

from assistant.daemon import malloc

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc malloc only")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@glibc
def test_release_returns_freed_heap_memory_pinned_by_live_blocks() -> None:
    # 64 KB blocks sit on the heap (below the mmap threshold); a small live block after
    # each one pins the heap, so glibc's own top-trim cannot give the memory back.
    blocks, keep = [], []
    for _ in range(1500):
        block = bytearray(64 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page so it is resident
        blocks.append(block)
        keep.append(bytearray(1024))
    del blocks
    before = _rss_mb()
    malloc.release()
    after = _rss_mb()
    assert before - after > 50, f"RSS {before:.0f} -> {after:.0f} MB"
    assert len(keep) == 1500


@glibc
def test_tune_sets_a_fixed_mmap_threshold() -> None:
    assert malloc.tune() is True
