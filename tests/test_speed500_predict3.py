"""Issue 34, the 500-symbol cycle (fifth pass): each faster path of the cycle gives exactly
what the computation it replaced gave (the old one written out here or in
tests/test_speed500.py, compared bit for bit)."""

from __future__ import annotations

import numpy as np
import pytest

from models import volatility


def _design(rng: np.random.Generator, m: int, k: int, smallest: float) -> np.ndarray:
    """An (m, k) matrix whose singular values are 1 .. `smallest` (near rank-deficient: which
    of them the solve keeps depends on its rcond)."""
    u, _ = np.linalg.qr(rng.standard_normal((m, k)))
    v, _ = np.linalg.qr(rng.standard_normal((k, k)))
    return (u * np.geomspace(1.0, smallest, k)) @ v.T


def test_lstsq_is_numpys_lstsq_bit_for_bit():
    rng = np.random.default_rng(7)
    for m, k in ((50, 8), (200, 9), (537, 8), (8, 8), (9, 8)):
        for smallest in (1.0, 1e-3, 1e-11, 1e-12, 3e-13, 1e-13, 3e-14, 1e-14, 1e-16):
            a = _design(rng, m, k, smallest)
            b = rng.standard_normal(m)
            old = np.linalg.lstsq(a, b, rcond=None)[0]
            got = volatility._lstsq(a, b)
            assert got.tobytes() == old.tobytes(), (m, k, smallest)


def test_lstsq_fails_as_numpys_does():
    a = np.random.default_rng(1).standard_normal((60, 8))
    a[3, 2] = np.nan
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.lstsq(a, np.ones(60), rcond=None)
    with pytest.raises(np.linalg.LinAlgError):
        volatility._lstsq(a, np.ones(60))


def test_ewma_lasts_equal_the_ewma_of_each_prefix():
    rng = np.random.default_rng(4)
    r2 = rng.standard_normal(300) ** 2 * 1e-4
    r2[0] = np.nan
    r2[[5, 30, 31, 200]] = np.nan  # gaps: the recursion skips them
    lengths = list(range(0, 300, 7)) + [19, 20, 21, 24, 25, 26, 299, 300]
    got = volatility._ewma_lasts(r2, lengths)
    for m in lengths:
        old = volatility._ewma_last(r2[:m]) if m > 20 else float("nan")
        assert repr(got[m]) == repr(old), m
    assert np.isfinite(got[300]) and got[300] != got[299]
