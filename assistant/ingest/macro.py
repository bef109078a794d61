"""Collect the monthly / quarterly macro series (CPI, unemployment, GDP growth, policy rate).

Sources:
- **fred**: FRED's keyless graph CSV (`collect.macro_url`, by default
  https://fred.stlouisfed.org/graph/fredgraph.csv?id=CPIAUCSL), one request per series, read
  with the standard library. Its header is `observation_date,<ID>` (older files: `DATE,<ID>`),
  a period is named by its first day, and "." marks a period without a value (e.g. the
  October 2025 CPI, never collected): such rows are skipped.
- **offline** (the sample's and the tests' source): what installed packages ship — core CPI
  (`arch.data.core_cpi`, CPILFESL, 1957-01 … 2018-11) and statsmodels' quarterly macrodata
  (1959Q1 … 2009Q3: real GDP growth, unemployment, the 3-month bill rate). These are final
  vintages (today's revised numbers, not the first releases): fine for tests and benchmarks,
  said so wherever they are measured.

Every value is stored with the date it became known (`models.macro.known_from`, the
series' stated release lag); with `until` (replay), nothing known after `until` is stored.
A value the source later sends differently is stored as a revision known from the day it
was collected, never over the first (`store.macro`).
"""

from __future__ import annotations

import csv
import functools
import io
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import pandas as pd
import sqlite_utils

from assistant.errors import NoDataError, TemporaryError
from models import macro
from store import macro as macro_store

FRED_URL = "https://fred.stlouisfed.org/graph/fredgraph.csv"
FRED_SERIES = ("CPIAUCSL", "CPILFESL", "UNRATE", "FEDFUNDS", "A191RL1Q225SBEA")
OFFLINE_SERIES = ("CPILFESL", "SM_GDPGROWTH", "SM_UNEMP", "SM_TBILL")
TIMEOUT_SECONDS = 30.0  # one read that brings nothing
DEADLINE_SECONDS = 60.0  # the whole answer, however its bytes come (a trickle never times out)
MAX_BYTES = 5_000_000  # a FRED series CSV is well under 100 kB


@dataclass
class MacroResult:
    series: str
    status: str  # added | current | failed | no-data
    added: int = 0
    revised: int = 0  # values that differ from the stored release: stored as revisions
    kept: int = 0
    message: str = ""

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


def parse_fred_csv(text: str, series: str) -> pd.Series:
    """{period start: value} from a FRED graph CSV; "." (no value) rows skipped. Raises
    NoDataError when the file is not a FRED CSV of `series`."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if (
        not header
        or len(header) < 2
        or header[0].strip().lower() not in ("observation_date", "date")
        or header[1].strip() != series
    ):
        raise NoDataError(f"{series}: the answer is not a FRED CSV of {series} ({header})")
    periods, values = [], []
    for line in reader:
        if len(line) < 2 or line[1].strip() in (".", ""):
            continue
        try:
            periods.append(pd.Timestamp(line[0].strip()))
            values.append(float(line[1]))
        except ValueError as exc:
            raise NoDataError(f"{series}: unreadable row {line!r} ({exc})") from exc
    out = pd.Series(values, index=pd.DatetimeIndex(periods), dtype=float)
    out = out[np.isfinite(out.to_numpy())]
    if out.empty:
        raise NoDataError(f"{series}: the source has no values")
    return out.sort_index()


class FredCsv:
    """FRED's graph CSV over HTTP(S), no key. `fetch` is the network boundary (tests serve
    the same CSV from a local HTTP server)."""

    name = "fred"
    serves = FRED_SERIES

    def __init__(self, url: str = FRED_URL):
        self.url = url

    def fetch(self, series: str) -> str:
        query = urllib.parse.urlencode({"id": series})
        deadline = time.monotonic() + DEADLINE_SECONDS
        try:
            with urllib.request.urlopen(f"{self.url}?{query}", timeout=TIMEOUT_SECONDS) as r:
                body = _read_by(r, deadline, series)
        except urllib.error.HTTPError as exc:
            if exc.code in (400, 404):
                raise NoDataError(f"{series}: FRED answered {exc.code}") from exc
            raise TemporaryError(f"{series}: FRED answered {exc.code}") from exc
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            raise TemporaryError(f"{series}: FRED unreachable ({exc})") from exc
        if len(body) > MAX_BYTES:
            raise NoDataError(f"{series}: FRED's answer is over {MAX_BYTES} bytes")
        return body.decode("utf-8", errors="replace")

    def history(self, series: str) -> pd.Series:
        return parse_fred_csv(self.fetch(series), series)


def _read_by(r: io.BufferedIOBase, deadline: float, series: str) -> bytes:
    """The body, read as it comes, given up at `deadline` (each read waits at most
    TIMEOUT_SECONDS: the whole is bounded by DEADLINE_SECONDS plus one of those)."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BYTES:
        if time.monotonic() > deadline:
            raise TemporaryError(
                f"{series}: FRED's answer took over {DEADLINE_SECONDS:.0f} s to arrive "
                "(a slow or stalled connection)"
            )
        chunk = r.read1(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


class OfflineMacro:
    """The macro series that installed packages ship (final vintages)."""

    name = "offline"
    serves = OFFLINE_SERIES

    def history(self, series: str) -> pd.Series:
        if series not in self.serves:
            raise NoDataError(f"the offline source has no {series}")
        return _offline()[series]


@functools.cache
def _offline() -> dict[str, pd.Series]:
    import arch.data.core_cpi
    from statsmodels.datasets import macrodata  # the dataset module alone: a light import

    core = arch.data.core_cpi.load()["CPILFESL"].astype(float).dropna()
    core.index = pd.DatetimeIndex(core.index).normalize()
    m = macrodata.load_pandas().data
    periods = pd.DatetimeIndex(
        [
            pd.Timestamp(int(y), 3 * int(q) - 2, 1)
            for y, q in zip(m["year"], m["quarter"], strict=True)
        ]
    )
    gdp = pd.Series(m["realgdp"].to_numpy(float), index=periods)
    growth = (100.0 * ((gdp / gdp.shift(1)) ** 4 - 1.0)).dropna()  # % annualized q/q
    return {
        "CPILFESL": core.sort_index(),
        "SM_GDPGROWTH": growth,
        "SM_UNEMP": pd.Series(m["unemp"].to_numpy(float), index=periods),
        "SM_TBILL": pd.Series(m["tbilrate"].to_numpy(float), index=periods),
    }


def source_for(bars_source: object, url: str = FRED_URL) -> FredCsv | OfflineMacro | None:
    """The macro source that goes with a bar source: FRED for yahoo, offline for the sample."""
    name = getattr(bars_source, "name", bars_source)
    if name == "yahoo":
        return FredCsv(url)
    if name == "sample":
        return OfflineMacro()
    return None


def make(name: str, url: str = FRED_URL) -> FredCsv | OfflineMacro:
    if name == "fred":
        return FredCsv(url)
    if name == "offline":
        return OfflineMacro()
    raise ValueError(f"unknown macro source {name!r} (fred | offline)")


def collect_macro(
    db: sqlite_utils.Database,
    source: FredCsv | OfflineMacro,
    *,
    until: date | None = None,
    now: pd.Timestamp | None = None,
    log: Callable[[str], None] | None = None,
) -> list[MacroResult]:
    """Bring every series `source` serves up to date (one result per series; failures are
    results, never exceptions). A value is stored with its known_from by the series' release
    lag; with `until`, values known after it are left for later."""
    today = pd.Timestamp(now) if now is not None else pd.Timestamp.now(tz="UTC")
    today = (today.tz_convert(None) if today.tzinfo else today).normalize()
    cap = pd.Timestamp(until).normalize() if until else None
    out = []
    for series in source.serves:
        try:
            values = source.history(series)
        except TemporaryError as exc:
            out.append(MacroResult(series, "failed", message=str(exc)))
            continue
        except NoDataError as exc:
            out.append(MacroResult(series, "no-data", message=str(exc)))
            continue
        periods = pd.DatetimeIndex(values.index)
        known = macro.known_from_many(series, periods)
        keep = np.ones(len(periods), bool) if cap is None else np.asarray(known <= cap)
        rows = list(
            zip(
                periods[keep].date,
                values.to_numpy(float)[keep].tolist(),
                known[keep].date,
                strict=True,
            )
        )
        seen = (cap or today).date()
        added, revised, kept = macro_store.add_values(db, series, rows, source.name, seen)
        status = "added" if added or revised else "current"
        out.append(MacroResult(series, status, added, revised, kept))
        if log and (added or revised):
            log(f"macro {series}: {added} values added, {revised} revisions from {source.name}")
    return out


def known_rows(db: sqlite_utils.Database, series: str, known_by: str | None = None) -> pd.DataFrame:
    """A series' stored rows as the frame `models.macro.features` reads."""
    got = macro_store.rows(db, series, known_by)
    return pd.DataFrame(got, columns=list(macro_store.COLUMNS))
