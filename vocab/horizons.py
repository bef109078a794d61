"""A horizon: how many sessions ahead a forecast looks, an `int` everywhere inside the
project. JSON objects (model metrics and gates stored in SQLite) can only have text keys,
so a horizon is a text key there and only there."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, overload

Horizon = int

V = TypeVar("V")
D = TypeVar("D")


def horizon_key(h: Horizon) -> str:
    """The key a horizon has in a JSON object."""
    return str(h)


@overload
def at_horizon(mapping: Mapping[Any, V], h: Horizon) -> V | None: ...
@overload
def at_horizon(mapping: Mapping[Any, V], h: Horizon, default: D) -> V | D: ...
def at_horizon(mapping: Mapping[Any, V], h: Horizon, default: Any = None) -> Any:
    """The entry for horizon `h` of a mapping keyed by horizon, whether it was built in
    memory (int keys) or read back from JSON (text keys); `default` when it has none."""
    if h in mapping:
        return mapping[h]
    return mapping.get(horizon_key(h), default)
