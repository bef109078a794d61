"""trading-assistant: the application layer (config, sources, collection, cycle, daemon, CLI).

Importing it sets thread defaults for the math libraries (before numpy, which sqlite-utils
imports, or torch load): they start one thread per core in every thread that calls them,
and OpenMP threads spin while they wait, so training threads x torch x BLAS oversubscribe
the cores; on a busy machine spinning threads starve each other (a 30 s backtest took 12
minutes). Training sets its own per-job thread counts (`modeling.training.fit_all`);
everything else runs single-threaded, and waiting threads sleep. Values already set in
the environment are kept.
"""

import os

__version__ = "0.1.0"

THREAD_DEFAULTS = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_WAIT_POLICY": "PASSIVE",
}


def apply_thread_defaults() -> None:
    """Set THREAD_DEFAULTS where unset (only effective before numpy or torch is imported)."""
    for name, value in THREAD_DEFAULTS.items():
        os.environ.setdefault(name, value)


apply_thread_defaults()
