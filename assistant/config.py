"""Settings: defaults, overridden by `<home>/config.toml`, overridden by environment variables.

An environment variable `ASSISTANT_<SECTION>_<KEY>` (e.g. `ASSISTANT_COLLECT_SOURCE=yahoo`)
overrides the key `<key>` of section `[<section>]`.
"""

from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path
from typing import Any

import platformdirs

from assistant.errors import AssistantError

DEFAULTS: dict[str, dict[str, Any]] = {
    "collect": {
        "source": "sample",  # sample | yahoo | csv
        "csv_dir": "",
        "refetch_sessions": 5,  # re-fetch this many recent sessions: the last bar may have been provisional
        "history_years": 10,  # first fetch of a new symbol
        "deactivate_after_empty": 5,
        "jump_threshold": 0.25,  # flag a day-over-day move larger than this (unexplained jump)
    },
    "calendar": {"exchange": "XNYS"},
    "schedule": {
        "collect_at": "16:30",
        "timezone": "America/New_York",
        "retrain_every_days": 7,
        "drift_check_at": "17:30",
    },
    "models": {
        "kinds": ["xgboost", "markov", "rules", "lstm", "gru", "transformer"],
        "horizons": [1, 3, 5],
        "window": 30,
        "epochs": 30,
        "min_dir_accuracy": 0.0,
        "min_profit_factor": 0.0,
        "max_drawdown": 1.0,
    },
    "cycle": {
        "expire_after_sessions": 5,
        "bull_trend": 0.02,
        "bear_trend": -0.02,
        "volatile_annualized": 0.30,
        "weight_min": 0.1,
        "weight_max": 3.0,
        "learning_rate": 0.1,
        "psi_threshold": 0.25,
        "accuracy_drop": 0.10,
    },
    "daemon": {"heartbeat_seconds": 5, "replay_speed": 5.0},
    # a Dask scheduler (tcp://HOST:8786) for train/backtest tasks; "" runs them here
    "compute": {"scheduler": ""},
}


def default_home() -> Path:
    env = os.environ.get("ASSISTANT_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("trading-assistant", appauthor=False))


def _coerce(raw: str, like: Any) -> Any:
    if isinstance(like, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(like, int):
        return int(raw)
    if isinstance(like, float):
        return float(raw)
    if isinstance(like, list):
        items = [x.strip() for x in raw.split(",") if x.strip()]
        if like and isinstance(like[0], int):
            return [int(x) for x in items]
        return items
    return raw


def _checked(path: Path, section: str, key: str, value: Any, like: Any) -> Any:
    """A value from the file must have the default's type (an int is fine for a float)."""
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        list: lambda v: isinstance(v, list),
    }[type(like)](value)
    if not ok:
        raise AssistantError(
            f"{path}: [{section}] {key} = {value!r} should be {type(like).__name__}, "
            f"like the default {like!r}"
        )
    return float(value) if isinstance(like, float) else value


def load(home: Path, environ: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """The effective settings for `home`. Unknown keys are an error, not silently ignored."""
    environ = dict(os.environ if environ is None else environ)
    settings = copy.deepcopy(DEFAULTS)
    path = Path(home) / "config.toml"
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise AssistantError(f"{path}: not valid TOML ({exc})") from None
        for section, values in data.items():
            if section not in settings or not isinstance(values, dict):
                raise AssistantError(f"{path}: unknown section [{section}]")
            for key, value in values.items():
                if key not in settings[section]:
                    raise AssistantError(f"{path}: unknown key {key!r} in [{section}]")
                settings[section][key] = _checked(path, section, key, value, settings[section][key])
    for section, values in settings.items():
        for key, value in values.items():
            name = f"ASSISTANT_{section.upper()}_{key.upper()}"
            if name in environ:
                try:
                    values[key] = _coerce(environ[name], value)
                except ValueError:
                    raise AssistantError(f"{name}={environ[name]!r} is not a valid value") from None
    return settings
