"""Settings: defaults, overridden by `<home>/config.toml`, overridden by environment variables.

An environment variable `ASSISTANT_<SECTION>_<KEY>` (e.g. `ASSISTANT_COLLECT_SOURCE=yahoo`)
overrides the key `<key>` of section `[<section>]`.

Each section is a frozen dataclass; `Settings` holds one of each. Code reads them by
attribute (`settings.cycle.expire_after_sessions`); a changed copy comes from
`settings.replace("models", epochs=1)`.

Every value is range-checked at load (`RANGES`): a bad one is one error naming where it
came from (the file or the variable), the key, the value and what is allowed, so a
daemon never starts on settings that would spin, crash or store nonsense later.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from assistant.errors import AssistantError

# A setting's value: every key's default has one of these types, and a value from the file
# or the environment is made to have its default's type.
Value = str | int | float | bool | tuple[str, ...] | tuple[int, ...]
Values = dict[str, dict[str, Value]]  # section -> key -> value
# A range rule: the check (it is given a value of its key's type: types are checked first)
# and the words that say what is allowed.
Rule = tuple[Callable[[Any], bool], str]


@dataclass(frozen=True)
class Collect:
    source: str = "sample"  # sample | yahoo | csv
    csv_dir: str = ""
    macro_url: str = "https://fred.stlouisfed.org/graph/fredgraph.csv"  # FRED's keyless CSV
    refetch_sessions: int = (
        5  # re-fetch this many recent sessions: the last bar may have been provisional
    )
    history_years: int = 10  # first fetch of a new symbol
    deactivate_after_empty: int = 5
    jump_threshold: float = 0.25  # flag a day-over-day move larger than this (unexplained jump)
    hourly: bool = True  # one-hour bars too: Yahoo's last 730 days; simulated for the sample


@dataclass(frozen=True)
class Calendar:
    exchange: str = "XNYS"


@dataclass(frozen=True)
class Schedule:
    collect_at: str = "16:30"
    timezone: str = "America/New_York"
    retrain_every_days: int = 7
    drift_check_at: str = "17:30"


# What [models] kinds may name: models.catalog.TRAINABLE and the ranking (a test keeps
# them equal; importing the catalog here would load torch for every command).
MODEL_KINDS = ("lstm", "gru", "transformer", "xgboost", "markov", "rules", "ranking")


@dataclass(frozen=True)
class Models:
    kinds: tuple[str, ...] = ("xgboost", "markov", "rules", "lstm", "gru", "transformer", "ranking")
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
    # hour-ahead calls, in session hours (docs/intraday.md); none by default: they need
    # hourly bars, and nothing real has measured their direction (simulated hours only)
    hourly_horizons: tuple[int, ...] = ()


@dataclass(frozen=True)
class Daemon:
    heartbeat_seconds: int = 5
    replay_speed: float = 5.0


@dataclass(frozen=True)
class Live:
    """Live quotes while the exchange is open (assistant.ingest.quotes)."""

    poll_minutes: int = 5  # minutes between polls of the latest price; 0 = no polling
    stale_polls: int = 3  # polls in a row with no newer quote before a quote is stale


@dataclass(frozen=True)
class Compute:
    scheduler: str = ""  # a Dask scheduler (tcp://HOST:8786) for train/backtest; "" runs here


@dataclass(frozen=True)
class Alerts:
    urls: tuple[str, ...] = ()  # apprise URLs (json://, ntfy://, mailto://, tgram://, ...)
    calls: bool = True  # a directional call (one that passed its model's evidence gate)
    ranges: bool = True  # a verified close outside its 95% range
    jobs: bool = True  # a failed job
    stale: bool = True  # a symbol's newest bar is stale
    regimes: bool = True  # a symbol's market regime changed
    quarantine: bool = True  # a model was quarantined (its artifact is unusable)
    digest: bool = True  # after a cycle and its verify: the calls made, the calls scored
    daemon: bool = True  # the daemon stopping
    live_range: bool = True  # a live price left the day's 95% range (once a symbol a session)
    per_minute: int = 10  # at most this many sends a minute; the rest wait their turn
    timeout_seconds: float = 10.0  # one send; a hanging endpoint is given up after this
    retries: int = 3  # tries after the first, with a doubling pause
    max_age_minutes: int = 60  # an alert not sent by then is dropped (stale news)


@dataclass(frozen=True)
class Paper:
    """The paper account (models/paper.py): what it holds, how big, what a trade costs."""

    cash: float = 100_000.0  # starting cash
    # volatility (always long, sized by the volatility forecast; tilted by the ranking only
    # when its verdict passed) | calls (the direction calls: opt-in) | hold | long | ranking
    policy: str = "volatility"
    horizon: int = 1  # the calls (forecast, direction, ranking) of this horizon
    long_short: bool = False  # DOWN calls go short (else flat)
    # annualized volatility a full 1/N position is sized to; it, max_weight, max_exposure and
    # band chosen on validation years only (bench/bench_paper.py; docs/paper.md)
    vol_target: float = 0.15
    max_weight: float = 0.25  # cap per symbol, fraction of equity
    max_exposure: float = 0.8  # cap on the gross weight, fraction of equity (no leverage)
    tilt: float = 0.5  # `volatility`: the ranking's tilt (0: none), only when it passed
    band: float = 0.02  # re-size a position only when this far from its target
    cost_bps: float = 5.0  # commission per side, basis points of the traded notional
    slippage_bps: float = 2.0  # slippage per side, basis points of the traded notional
    top_n: int = 1  # `ranking`: how many top-ranked symbols to hold
    # a holding with no bar for this many sessions is closed at its last close (0: never)
    stale_exit_sessions: int = 20


@dataclass(frozen=True)
class Ranking:
    """What the ranking model learns on and ranks among (assistant/modeling/ranking.py)."""

    # watchlist | stored (every symbol with stored daily bars) | the absolute path of a
    # folder of CSV files, read as `import` reads them; the watchlist always belongs to it
    universe: str = "watchlist"


@dataclass(frozen=True)
class Events:
    # FOMC decision dates past models/events.py's table (it ends 2026-12-31), as the Fed
    # publishes them: e.g. fomc = ["2027-01-27", ...]; the calendar is then complete to the
    # end of the latest year given
    fomc: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    collect: Collect = field(default_factory=Collect)
    calendar: Calendar = field(default_factory=Calendar)
    schedule: Schedule = field(default_factory=Schedule)
    models: Models = field(default_factory=Models)
    cycle: Cycle = field(default_factory=Cycle)
    daemon: Daemon = field(default_factory=Daemon)
    live: Live = field(default_factory=Live)
    compute: Compute = field(default_factory=Compute)
    alerts: Alerts = field(default_factory=Alerts)
    paper: Paper = field(default_factory=Paper)
    ranking: Ranking = field(default_factory=Ranking)
    events: Events = field(default_factory=Events)

    def replace(self, section: str, **values: Value) -> Settings:
        """A copy with some keys of one section changed (an unknown key is a TypeError)."""
        changed = dataclasses.replace(getattr(self, section), **values)
        return dataclasses.replace(self, **{section: changed})

    def as_dict(self) -> dict[str, dict[str, str | int | float | bool | list[str] | list[int]]]:
        """Plain sections of plain values (tuples as lists), for JSON and TOML output."""
        return {
            name: {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
            for name, values in dataclasses.asdict(self).items()
        }


def default_home() -> Path:
    env = os.environ.get("ASSISTANT_HOME")
    if env and env.strip():  # set but blank: as if unset, never the current directory
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("trading-assistant", appauthor=False))


# what an environment value is read as, where the default (empty) cannot say
_LIKE: dict[tuple[str, str], Value] = {("cycle", "hourly_horizons"): (1,)}


def _env_form(like: Value) -> str:
    """How a variable of this kind is written, for its error line."""
    if isinstance(like, bool):
        return " (true or false)"
    if isinstance(like, tuple):
        return " (a comma-separated list, e.g. 1,3,5)" if like and isinstance(like[0], int) else ""
    return ""


def _coerce(raw: str, like: Value) -> Value:
    if isinstance(like, bool):
        word = raw.strip().lower()
        if word not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
            raise ValueError(raw)  # a typo ('ture') is not a silent false
        return word in ("1", "true", "yes", "on")
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


def _checked(path: Path, section: str, key: str, value: object, like: Value) -> Value:
    """A value from the file must have the default's type (an int is fine for a float)."""
    ok: dict[type, Callable[[object], bool]] = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
        tuple: lambda v: isinstance(v, list),
    }
    if not ok[type(like)](value):
        shown = list(like) if isinstance(like, tuple) else like
        kind = "list" if isinstance(like, tuple) else type(like).__name__
        raise AssistantError(
            f"{path}: [{section}] {key} = {value!r} should be {kind}, like the default {shown!r}"
        )
    if isinstance(value, int | float) and isinstance(like, float):
        return float(value)
    if isinstance(value, list):
        return tuple(value)
    return value  # type: ignore[return-value]  # checked above: the default's type


SOURCES = ("sample", "yahoo", "csv", "synthetic")
PAPER_POLICIES = ("volatility", "calls", "hold", "long", "ranking")  # models.paper.POLICIES
UNIVERSES = ("watchlist", "stored")  # or the absolute path of a folder of CSV files
CSV_SUFFIXES = (".csv", ".txt")  # the files a universe folder's symbols are read from
MAX_HORIZON = 63  # sessions (a quarter): the labels of a longer horizon eat most of the history
MAX_HOURLY_HORIZON = 35  # session hours: five full US sessions
MAX_WINDOW = 64  # models.dataset.CONTEXT: the look-back every dataset keeps
_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


# Every number has a maximum as well as a minimum: a huge one (epochs = 99999999999999,
# timeout_seconds = 1e10) would otherwise be accepted here and overflow or spin later.
def _whole(lo: int, hi: int, unit: str = "") -> tuple[Callable[[int], bool], str]:
    unit = f" {unit}" if unit else ""
    return (lambda v: lo <= v <= hi), f"a whole number from {lo:,} to {hi:,}{unit}"


def _number(lo: float, hi: float, *, above: bool = False) -> tuple[Callable[[float], bool], str]:
    low = f"above {lo:g}" if above else f"at least {lo:g}"
    return (
        lambda v: math.isfinite(v) and (v > lo if above else v >= lo) and v <= hi
    ), f"a number {low} and at most {hi:g}"


def _zone(name: str) -> bool:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _exchange(name: str) -> bool:
    if name in ("XNYS", "24/7", "24/5"):  # the default and the two the calendar module adds
        return True
    import exchange_calendars  # only for a non-default exchange: it loads pandas

    return name in exchange_calendars.get_calendar_names(include_aliases=True)


def _iso_date(text: str) -> bool:
    from vocab.dates import iso_date

    try:
        iso_date(text)
    except ValueError:
        return False
    return True


def _distinct(items: tuple[str | int, ...], kind: type, ok: Callable[[Any], bool]) -> bool:
    typed = all(isinstance(x, kind) and not isinstance(x, bool) for x in items)
    return bool(items) and typed and len(set(items)) == len(items) and all(ok(x) for x in items)


RANGES: dict[tuple[str, str], Rule] = {
    ("collect", "source"): (lambda v: v in SOURCES, "one of " + ", ".join(SOURCES)),
    ("collect", "refetch_sessions"): _whole(1, 250, "sessions"),
    ("collect", "history_years"): _whole(1, 100, "years"),
    ("collect", "deactivate_after_empty"): _whole(1, 1000, "empty fetches"),
    ("collect", "jump_threshold"): _number(0, 100, above=True),
    ("collect", "macro_url"): (
        lambda v: v.startswith(("https://", "http://")),
        "an http(s) URL answering FRED's graph CSV for ?id=SERIES",
    ),
    ("calendar", "exchange"): (
        _exchange,
        "an exchange_calendars code such as XNYS, XLON, XTKS (or 24/7, 24/5)",
    ),
    ("schedule", "collect_at"): (lambda v: bool(_HHMM.fullmatch(v)), "a 24-hour time HH:MM"),
    ("schedule", "drift_check_at"): (lambda v: bool(_HHMM.fullmatch(v)), "a 24-hour time HH:MM"),
    ("schedule", "timezone"): (_zone, "an IANA time zone such as America/New_York"),
    ("schedule", "retrain_every_days"): _whole(1, 3660, "days"),
    ("models", "kinds"): (
        lambda v: _distinct(v, str, lambda k: k in MODEL_KINDS),
        "one or more distinct model kinds from " + ", ".join(MODEL_KINDS),
    ),
    ("models", "horizons"): (
        lambda v: _distinct(v, int, lambda h: 1 <= h <= MAX_HORIZON),
        f"one or more distinct session counts from 1 to {MAX_HORIZON}",
    ),
    ("models", "window"): _whole(1, MAX_WINDOW, "sessions"),
    ("models", "epochs"): _whole(1, 10_000),
    ("models", "max_train_rows"): _whole(1, 1_000_000_000, "rows"),
    ("models", "keep_versions"): _whole(0, 1000, "versions"),
    ("models", "min_dir_accuracy"): _number(0, 1),
    ("models", "min_profit_factor"): _number(0, 1000),
    ("models", "max_drawdown"): _number(0, 1),
    ("cycle", "expire_after_sessions"): _whole(1, 1000, "sessions"),
    ("cycle", "bull_trend"): _number(0, 1),
    ("cycle", "bear_trend"): _number(-1, 0),
    ("cycle", "volatile_annualized"): _number(0, 100, above=True),
    ("cycle", "weight_min"): _number(0, 1000),
    ("cycle", "weight_max"): _number(0, 1000, above=True),
    ("cycle", "learning_rate"): _number(0, 1, above=True),
    ("cycle", "psi_threshold"): _number(0, 100, above=True),
    ("cycle", "accuracy_drop"): _number(0, 1, above=True),
    ("cycle", "hourly_horizons"): (
        lambda v: not v or _distinct(v, int, lambda h: 1 <= h <= MAX_HOURLY_HORIZON),
        f"distinct whole numbers of session hours from 1 to {MAX_HOURLY_HORIZON}, "
        "e.g. [1, 3, 5] ([] for no hour-ahead calls)",
    ),
    ("daemon", "heartbeat_seconds"): _whole(1, 600, "seconds"),
    ("daemon", "replay_speed"): _number(0, 1_000_000),
    # Yahoo answers about 2,000 requests an hour from one address (unofficial): one a
    # symbol a poll, so a 5-minute pace keeps a watchlist of 150 inside it
    ("live", "poll_minutes"): _whole(0, 60, "minutes (0 = off)"),
    ("live", "stale_polls"): _whole(1, 100, "polls"),
    ("alerts", "per_minute"): _whole(1, 6000),
    ("alerts", "timeout_seconds"): _number(0, 3600, above=True),
    ("alerts", "retries"): _whole(0, 20),
    ("alerts", "max_age_minutes"): _whole(1, 525_600, "minutes"),
    ("paper", "cash"): _number(0, 1e15, above=True),
    ("paper", "policy"): (lambda v: v in PAPER_POLICIES, "one of " + ", ".join(PAPER_POLICIES)),
    ("paper", "horizon"): _whole(1, MAX_HORIZON, "sessions"),
    ("paper", "vol_target"): _number(0, 5, above=True),
    ("paper", "max_weight"): _number(0, 1, above=True),
    ("paper", "max_exposure"): _number(0, 1, above=True),
    ("paper", "tilt"): _number(0, 1),
    ("paper", "band"): _number(0, 1),
    ("paper", "cost_bps"): _number(0, 1000),
    ("paper", "slippage_bps"): _number(0, 1000),
    ("paper", "top_n"): _whole(1, 10_000),
    ("paper", "stale_exit_sessions"): _whole(0, 2520, "sessions"),
    ("ranking", "universe"): (
        lambda v: v in UNIVERSES or Path(v).expanduser().is_absolute(),
        "watchlist, stored, or the absolute path of a folder of CSV files (as `import` reads)",
    ),
    ("events", "fomc"): (
        lambda v: all(isinstance(d, str) and _iso_date(d) for d in v) and len(set(v)) == len(v),
        "a list of distinct dates YYYY-MM-DD",
    ),
    # [compute] scheduler is checked where it is used (modeling.compute.scheduler_address).
}


def _check_ranges(values: Values, origin: dict[tuple[str, str], str]) -> None:
    for (section, key), (ok, allowed) in RANGES.items():
        value = values[section][key]
        if not ok(value):
            shown = list(value) if isinstance(value, tuple) else value
            raise AssistantError(
                f"{origin.get((section, key), 'default')}: [{section}] {key} = {shown!r} "
                f"is not allowed: it must be {allowed}"
            )
    p, m = values["paper"], values["models"]
    horizons = m["horizons"]
    assert isinstance(horizons, tuple)  # checked by RANGES
    if p["horizon"] not in horizons:  # no call is ever made at it: it would never trade
        raise AssistantError(
            f"[paper] horizon = {p['horizon']!r} is not one of [models] horizons "
            f"{list(horizons)} ({origin.get(('paper', 'horizon'), 'default')})"
        )
    c = values["cycle"]
    low, high = c["weight_min"], c["weight_max"]
    assert isinstance(low, float) and isinstance(high, float)  # checked by RANGES
    if low > high:
        raise AssistantError(
            f"[cycle] weight_min = {c['weight_min']!r} is above weight_max = {c['weight_max']!r} "
            f"({origin.get(('cycle', 'weight_min'), 'default')}, "
            f"{origin.get(('cycle', 'weight_max'), 'default')})"
        )


def universe_problem(settings: Settings) -> str | None:
    """Why the `[ranking] universe` folder cannot serve now (None: it can, or the universe
    is not a folder). Checked where the universe is used (training or scoring the ranking,
    a backtest with it), not when the settings load: a folder on a drive since unplugged
    must not stop `status`, `stop` or the dashboard; `config` shows it as a warning."""
    value = settings.ranking.universe
    if value in UNIVERSES:
        return None
    folder = Path(value).expanduser()
    why = ""
    try:
        if folder.is_file():
            why = "a file, not a folder: give the folder that holds the CSV files"
        elif not folder.is_dir():
            why = (
                "no such folder (moved or unmounted? plug it back, or set universe = "
                '"watchlist" or "stored" in config.toml)'
            )
        elif not any(p.suffix.lower() in CSV_SUFFIXES and p.is_file() for p in folder.iterdir()):
            why = "the folder holds no .csv or .txt file"
    except OSError as exc:
        why = f"cannot read the folder ({exc.strerror or exc})"
    return f"[ranking] universe = {value!r}: {why}" if why else None


def load(home: Path, environ: dict[str, str] | None = None) -> Settings:
    """The effective settings for `home`. Unknown keys are an error, not silently ignored."""
    environ = dict(os.environ if environ is None else environ)
    defaults = Settings()
    values: Values = dataclasses.asdict(defaults)
    origin: dict[tuple[str, str], str] = {}
    path = Path(home) / "config.toml"
    if path.exists():
        try:
            # utf-8-sig: Windows Notepad saves UTF-8 with a byte-order mark
            data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise AssistantError(f"{path}: not valid TOML ({exc})") from None
        for section, given in data.items():
            if not isinstance(given, dict):  # `daemon = 5` above every [section]
                raise AssistantError(
                    f"{path}: unknown key {section!r} at the top level: every key belongs "
                    f"under a section ({', '.join(f'[{s}]' for s in values)})"
                )
            if section not in values:
                raise AssistantError(f"{path}: unknown section [{section}]")
            for key, value in given.items():
                if key not in values[section]:
                    raise AssistantError(f"{path}: unknown key {key!r} in [{section}]")
                values[section][key] = _checked(path, section, key, value, values[section][key])
                origin[section, key] = str(path)
    for section, keys in values.items():
        for key, value in keys.items():
            name = f"ASSISTANT_{section.upper()}_{key.upper()}"
            if name in environ:
                like = _LIKE.get((section, key), value)
                try:
                    keys[key] = _coerce(environ[name], like)
                except ValueError:
                    raise AssistantError(
                        f"{name}={environ[name]!r} is not a valid value{_env_form(like)}"
                    ) from None
                origin[section, key] = name
    _check_ranges(values, origin)
    settings = Settings(
        **{section: type(getattr(defaults, section))(**keys) for section, keys in values.items()}
    )
    check_alerts(path, settings.alerts)
    return settings


def check_alerts(path: Path | str, alerts: Alerts) -> None:
    """Alert URLs must be ones apprise can send to (the limits are checked with RANGES)."""
    if not alerts.urls:
        return
    import apprise  # only when alerts are configured: it takes a moment to import

    for url in alerts.urls:
        if apprise.Apprise.instantiate(url) is None:
            # the scheme only: the rest of a URL may hold a token or a password
            raise AssistantError(
                f"{path}: [alerts] urls: {url.split('://')[0]}://... is not a URL apprise can send to"
            )


_MASK = "****"


def masked_url(url: str, *, alert: bool = False) -> str:
    """`url` as it may be printed or logged: no password, token or key in it.

    An alert URL is shown as apprise shows it with privacy on (it knows which parts of each
    service's URL are secrets: `tgram://1...N/987654/`), without the query (apprise's own
    defaults); one apprise cannot read is shown by its scheme only. Any other URL keeps its
    user, host and path, with the password and every query value masked.
    """
    from urllib.parse import parse_qsl, urlsplit, urlunsplit

    if alert:
        try:
            import apprise

            plugin = apprise.Apprise.instantiate(url)
            if plugin is not None:
                return str(plugin.url(privacy=True)).split("?")[0]
        except Exception:  # a plugin that cannot print itself: the scheme alone is safe
            pass
        return url.split("://")[0] + "://..."
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.split(':')[0]}:{_MASK}@{host}"
        query = "&".join(f"{k}={_MASK}" for k, _ in parse_qsl(parts.query, keep_blank_values=True))
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:
        return url.split("://")[0] + "://..."


def holds_secret(settings: Settings) -> bool:
    """Whether the settings hold something to keep private: an alert URL (apprise URLs
    carry tokens or passwords), or a URL with a password or query values."""
    urls = [settings.collect.macro_url, settings.compute.scheduler]
    return bool(settings.alerts.urls) or any(u and masked_url(u) != u for u in urls)


def shown(
    settings: Settings,
) -> dict[str, dict[str, str | int | float | bool | list[str] | list[int]]]:
    """`settings.as_dict()` with every URL masked (`masked_url`): what `assistant config`
    prints."""
    out = settings.as_dict()
    out["alerts"]["urls"] = [masked_url(u, alert=True) for u in settings.alerts.urls]
    out["collect"]["macro_url"] = masked_url(settings.collect.macro_url)
    if settings.compute.scheduler:
        out["compute"]["scheduler"] = masked_url(settings.compute.scheduler)
    return out


def _allowed(section: str, key: str, default: Value) -> str:
    if (section, key) in RANGES:
        return RANGES[section, key][1]
    if isinstance(default, bool):
        return "true or false"
    if (section, key) == ("alerts", "urls"):
        return "a list of apprise URLs (json://, ntfy://, mailto://, tgram://, ...)"
    if (section, key) == ("compute", "scheduler"):
        return 'a Dask scheduler address tcp://HOST:PORT, or "" to run here'
    if (section, key) == ("collect", "csv_dir"):
        return "a folder of CSV files, for source = csv"
    return "text"


def template() -> str:
    """A config.toml holding every key with its default and what it allows, commented out
    (so a later release's defaults still apply); uncomment a line to change it."""
    import tomli_w

    lines = [
        "# trading-assistant settings, written by `assistant config --init`.",
        "# Every key is listed with its default, commented out: remove the leading '# ' of",
        "# a key's line to change it. ASSISTANT_<SECTION>_<KEY> environment variables",
        "# override this file; `assistant config` prints the settings in effect.",
    ]
    defaults = Settings()
    for section, keys in defaults.as_dict().items():
        lines += ["", f"[{section}]"]
        for key, value in keys.items():
            default = getattr(getattr(defaults, section), key)
            lines.append(f"# {key}: {_allowed(section, key, default)}")
            if isinstance(value, list):  # on one line, so one '# ' comments it out
                items = (tomli_w.dumps({"x": v}).split(" = ", 1)[1].strip() for v in value)
                lines.append(f"# {key} = [{', '.join(items)}]")
            else:
                lines.append("# " + tomli_w.dumps({key: value}).strip())
    return "\n".join(lines) + "\n"


def write_template(home: Path, *, force: bool = False) -> Path:
    """Write `template()` to `<home>/config.toml` (0600: it may come to hold alert
    secrets), atomically; an existing file is kept unless `force`."""
    path = Path(home) / "config.toml"
    if path.exists() and not force:
        raise AssistantError(f"{path} exists; --force replaces it")
    tmp = path.with_name(f".config.toml.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(template())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AssistantError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path
