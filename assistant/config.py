"""Settings: defaults, overridden by `<home>/config.toml`, overridden by environment variables.

An environment variable `ASSISTANT_<SECTION>_<KEY>` (e.g. `ASSISTANT_COLLECT_SOURCE=yahoo`)
overrides the key `<key>` of section `[<section>]`.

Each section is a frozen dataclass; `Settings` holds one of each. Code reads them by
attribute (`settings.cycle.expire_after_sessions`); a changed copy comes from
`settings.replace("models", epochs=1)`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from assistant.errors import AssistantError


@dataclass(frozen=True)
class Collect:
    source: str = "sample"  # sample | yahoo | csv
    csv_dir: str = ""
    refetch_sessions: int = (
        5  # re-fetch this many recent sessions: the last bar may have been provisional
    )
    history_years: int = 10  # first fetch of a new symbol
    deactivate_after_empty: int = 5
    jump_threshold: float = 0.25  # flag a day-over-day move larger than this (unexplained jump)


@dataclass(frozen=True)
class Calendar:
    exchange: str = "XNYS"


@dataclass(frozen=True)
class Schedule:
    collect_at: str = "16:30"
    timezone: str = "America/New_York"
    retrain_every_days: int = 7
    drift_check_at: str = "17:30"


@dataclass(frozen=True)
class Models:
    kinds: tuple[str, ...] = ("xgboost", "markov", "rules", "lstm", "gru", "transformer")
    horizons: tuple[int, ...] = (1, 3, 5)
    window: int = 30  # sessions a sequence model looks back (at most models.dataset.CONTEXT)
    epochs: int = 30
    max_train_rows: int = 500_000  # a bigger panel trains on its most recent sessions
    keep_versions: int = 3  # older model artifacts kept per kind beside the serving one
    min_dir_accuracy: float = 0.0
    min_profit_factor: float = 0.0
    max_drawdown: float = 1.0


@dataclass(frozen=True)
class Cycle:
    expire_after_sessions: int = 5
    bull_trend: float = 0.02
    bear_trend: float = -0.02
    volatile_annualized: float = 0.30
    weight_min: float = 0.1
    weight_max: float = 3.0
    learning_rate: float = 0.1
    psi_threshold: float = 0.25
    accuracy_drop: float = 0.10


@dataclass(frozen=True)
class Daemon:
    heartbeat_seconds: int = 5
    replay_speed: float = 5.0


@dataclass(frozen=True)
class Compute:
    scheduler: str = ""  # a Dask scheduler (tcp://HOST:8786) for train/backtest; "" runs here


@dataclass(frozen=True)
class Settings:
    collect: Collect = field(default_factory=Collect)
    calendar: Calendar = field(default_factory=Calendar)
    schedule: Schedule = field(default_factory=Schedule)
    models: Models = field(default_factory=Models)
    cycle: Cycle = field(default_factory=Cycle)
    daemon: Daemon = field(default_factory=Daemon)
    compute: Compute = field(default_factory=Compute)

    def replace(self, section: str, **values: Any) -> Settings:
        """A copy with some keys of one section changed (an unknown key is a TypeError)."""
        changed = dataclasses.replace(getattr(self, section), **values)
        return dataclasses.replace(self, **{section: changed})

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Plain sections of plain values (tuples as lists), for JSON and TOML output."""
        return {
            name: {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
            for name, values in dataclasses.asdict(self).items()
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
    if isinstance(like, tuple):
        items = [x.strip() for x in raw.split(",") if x.strip()]
        if like and isinstance(like[0], int):
            return tuple(int(x) for x in items)
        return tuple(items)
    return raw


def _checked(path: Path, section: str, key: str, value: Any, like: Any) -> Any:
    """A value from the file must have the default's type (an int is fine for a float)."""
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        tuple: lambda v: isinstance(v, list),
    }[type(like)](value)
    if not ok:
        shown = list(like) if isinstance(like, tuple) else like
        kind = "list" if isinstance(like, tuple) else type(like).__name__
        raise AssistantError(
            f"{path}: [{section}] {key} = {value!r} should be {kind}, like the default {shown!r}"
        )
    if isinstance(like, float):
        return float(value)
    if isinstance(like, tuple):
        return tuple(value)
    return value


def load(home: Path, environ: dict[str, str] | None = None) -> Settings:
    """The effective settings for `home`. Unknown keys are an error, not silently ignored."""
    environ = dict(os.environ if environ is None else environ)
    defaults = Settings()
    values: dict[str, dict[str, Any]] = dataclasses.asdict(defaults)
    path = Path(home) / "config.toml"
    if path.exists():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise AssistantError(f"{path}: not valid TOML ({exc})") from None
        for section, given in data.items():
            if section not in values or not isinstance(given, dict):
                raise AssistantError(f"{path}: unknown section [{section}]")
            for key, value in given.items():
                if key not in values[section]:
                    raise AssistantError(f"{path}: unknown key {key!r} in [{section}]")
                values[section][key] = _checked(path, section, key, value, values[section][key])
    for section, keys in values.items():
        for key, value in keys.items():
            name = f"ASSISTANT_{section.upper()}_{key.upper()}"
            if name in environ:
                try:
                    keys[key] = _coerce(environ[name], value)
                except ValueError:
                    raise AssistantError(f"{name}={environ[name]!r} is not a valid value") from None
    return Settings(
        **{section: type(getattr(defaults, section))(**keys) for section, keys in values.items()}
    )
