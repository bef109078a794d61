"""Keep a long-running daemon's memory flat: glibc malloc tuning and trimming.

Each retrain allocates and frees a few hundred MB of pandas/numpy/XGBoost buffers on a
fresh thread. The Python objects are all freed (object counts and malloc's in-use bytes
stay flat across retrains), but glibc keeps the freed chunks in its heaps: large arrays
land on the heap once the dynamic mmap threshold has grown, long-lived objects pin the
heap tops, and the process RSS creeps up retrain after retrain (+60 MB over 20 in the
soak bench). Two measures stop it: a fixed mmap threshold, so big arrays are mapped and
go back to the OS when freed, and `malloc_trim(0)` after each training, which returns
the free pages inside the heaps. Both are no-ops where glibc is absent (macOS, musl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from functools import cache

log = logging.getLogger("assistant.daemon")

M_MMAP_THRESHOLD = -3  # mallopt parameter number in glibc's malloc.h
MMAP_THRESHOLD = (
    256 * 1024
)  # blocks at least this big are mmapped (a fixed value turns off the dynamic one)


@cache
def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # glibc only  # noqa: B018
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def tune() -> bool:
    """Set the daemon's malloc options; True when they took effect (glibc)."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def release() -> bool:
    """Give freed heap memory back to the OS; True when some was released."""
    libc = _libc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
