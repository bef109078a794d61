"""Replay: a simulated clock that walks exchange sessions over stored or sample history.

The clock's sessions come from the exchange calendar, from the start date to the last
date the source can serve or the home stores (whichever is later: imported history
replays with no source at all). Each step reveals one more session (collect with `until`),
so every job sees only bars up to the simulated session. The default start is 250
sessions before the end (for the bundled sample, which ends 2013-03-01, early 2012). A
restarted replay resumes after the last session the previous run completed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol, runtime_checkable

import pandas as pd

from assistant import calendar
from assistant.errors import AssistantError, NoDataError, TemporaryError
from assistant.ingest.sources.base import Source
from store.daemon_state import DaemonRow
from vocab.dates import session_date

DEFAULT_SESSIONS_BACK = 250


@runtime_checkable
class Covering(Protocol):
    """A source that knows its range without loading bars (the bundled sample)."""

    def coverage(self, symbol: str) -> tuple[pd.Timestamp, pd.Timestamp]: ...


def source_ends(source: Source, symbols: list[str]) -> dict[str, date]:
    """The last session date the source can serve, per symbol it has (others left out).

    A temporary failure (network, rate limit) propagates: it says nothing about the data.
    """
    out: dict[str, date] = {}
    if isinstance(source, Covering):
        for symbol in symbols:
            try:
                out[symbol] = pd.Timestamp(source.coverage(symbol)[1]).date()
            except (NoDataError, KeyError, ValueError):
                continue
        return out
    today = pd.Timestamp.today().normalize()
    for symbol in symbols:
        try:
            frame = source.history(symbol, pd.Timestamp("1970-01-01"), today)
        except NoDataError:
            continue
        if len(frame):
            out[symbol] = pd.Timestamp(frame.index.max()).date()
    return out


def source_end(source: Source, symbols: list[str]) -> date:
    """The last session date the source can serve for any of `symbols`."""
    ends = source_ends(source, symbols)
    if not ends:
        raise AssistantError(f"the source has no data for {', '.join(symbols)}: nothing to replay")
    return max(ends.values())


@dataclass(frozen=True)
class Range:
    """What a replay walks: up to `end`; `collect` are the symbols the source can serve."""

    end: date
    first_stored: date | None
    collect: frozenset[str]


def find_range(
    source: Source | None,
    stored: tuple[str, str] | None,
    symbols: list[str],
    source_error: str = "",
) -> Range:
    """The replay's range over the source's data and the bars already stored in the home.

    Stored history replays when the source has none (imported CSVs, an offline source).
    With neither, AssistantError: there is nothing to replay, and waiting will not help.
    A temporary source failure with nothing stored propagates (the caller retries).
    """
    ends: dict[str, date] = {}
    if source is not None:
        try:
            ends = source_ends(source, symbols)
        except TemporaryError:
            if stored is None:
                raise
        except AssistantError as exc:
            source_error = str(exc)
    candidates = list(ends.values()) + ([session_date(stored[1])] if stored else [])
    if not candidates:
        why = f" ({source_error})" if source_error else ""
        raise AssistantError(
            f"nothing to replay: the source has no data for {', '.join(symbols)}{why} "
            "and the home stores no bars for them (import CSVs or collect first)"
        )
    return Range(max(candidates), session_date(stored[0]) if stored else None, frozenset(ends))


def default_from(exchange: str, end: date, back: int = DEFAULT_SESSIONS_BACK) -> date:
    days = pd.Timestamp(end) - pd.Timedelta(days=int(back * 1.6) + 30)
    sessions = calendar.sessions(exchange, days, end)
    return sessions[max(0, len(sessions) - 1 - back)].date()


class ReplayClock:
    """Sessions from `start` to `end` (inclusive) and a cursor on the next one to run."""

    def __init__(self, exchange: str, start: date, end: date):
        # start > end is a replay resumed after its last session: finished at once.
        self.start, self.end = start, end
        self.sessions = [d.date() for d in calendar.sessions(exchange, start, end)]
        self.index = 0

    @property
    def current(self) -> date | None:
        """The session the next step simulates; None once the data is used up."""
        return self.sessions[self.index] if self.index < len(self.sessions) else None

    @property
    def finished(self) -> bool:
        return self.index >= len(self.sessions)

    @property
    def done(self) -> int:
        return self.index

    def advance(self) -> None:
        self.index += 1

    def fraction(self) -> float:
        return self.index / len(self.sessions) if self.sessions else 1.0


def resume_date(previous: DaemonRow | None, exchange: str) -> date | None:
    """The session after the last one a previous replay completed (from its daemon row)."""
    last = previous.get("sim_date") if previous and previous.get("mode") == "replay" else None
    if not last:
        return None
    return calendar.add_sessions(exchange, last, 1).date()
