"""What every forecaster returns. (The base class itself lands with the models issue.)"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CLASSES = ("down", "flat", "up")


@dataclass(frozen=True)
class Forecast:
    """Forecasts for n rows and len(horizons) horizons.

    expected_return: (n, H) expected forward log return per horizon.
    probs: (n, H, 3) class probabilities in CLASSES order (down, flat, up); rows sum to 1.
    """

    horizons: tuple[int, ...]
    expected_return: np.ndarray
    probs: np.ndarray

    def __post_init__(self) -> None:
        n, h = self.expected_return.shape
        if h != len(self.horizons) or self.probs.shape != (n, h, 3):
            raise ValueError("Forecast shapes do not match its horizons")
