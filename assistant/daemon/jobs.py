"""The daemon's jobs: thin calls into the services, each run inside one wrapper.

`run_job` records every execution in `job_runs` (start, throttled progress, finish with
a one-line summary). An exception is logged and recorded as `failed`, and the caller's
loop goes on; only BaseException (a signal, interpreter exit) propagates, after the
run is closed as `interrupted`, and a full disk, raised as `CannotWrite` after the run
is recorded failed (the daemon loop waits for room and redoes the work). The services
are imported inside each job, so the daemon starts fast and a broken service fails
that job only.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlite_utils

from assistant.config import Settings
from assistant.errors import AssistantError
from assistant.ingest.sources.base import Source
from store import jobs as job_runs
from store import symbols as watch
from store.db import cannot_write, cannot_write_error, checkpoint, file_of
from vocab.jsontypes import Json

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("assistant.daemon")

Progress = Callable[[float, str], None]
Job = Callable[[Progress], tuple[Json, str]]  # (result, one-line summary)


class Interrupted(AssistantError):
    """A job that stopped early because the daemon is shutting down."""


@dataclass
class Context:
    """What every job needs. `source` overrides the configured data source (tests, replay)."""

    db: sqlite_utils.Database
    home: Path
    settings: Settings
    source: Source | None = None


@dataclass
class Outcome:
    ok: bool
    result: object = None  # what the job returned, as it is (the caller's to read)
    error: str | None = None
    run_id: int | None = None
    interrupted: bool = False  # stopped early (shutdown, or a cancelled training)


class Throttled:
    """Progress writes at most every `every_s` seconds: a fast loop must not flood the db.

    Training reports from several joblib threads at once, and one sqlite connection must
    never run two transactions at a time: the lock serializes them (a busy caller skips).
    """

    def __init__(self, db: sqlite_utils.Database, run_id: int, every_s: float = 0.5):
        self.db, self.run_id, self.every_s, self._last = db, run_id, every_s, 0.0
        self._lock = threading.Lock()

    def __call__(self, fraction: float, message: str = "") -> None:
        if not self._lock.acquire(blocking=fraction >= 1.0):
            return
        try:
            now = time.monotonic()
            if now - self._last >= self.every_s or fraction >= 1.0:
                self._last = now
                job_runs.progress(self.db, self.run_id, fraction, message[:200])
        finally:
            self._lock.release()


def run_job(
    db: sqlite_utils.Database,
    name: str,
    fn: Callable[[Progress], tuple[object, str]],
    *,
    scheduled_for: str | date | None = None,
) -> Outcome:
    """Run `fn(progress) -> (result, summary)` as job `name`.

    Never raises an Exception but `CannotWrite` (the disk full, or the write lock held
    elsewhere: the run is recorded failed where the database still takes that, else the
    failure is logged and recorded later).
    """
    try:
        run_id = job_runs.start(db, name, scheduled_for=scheduled_for)
    except Exception as exc:
        if cannot_write(exc, file_of(db)):
            raise cannot_write_error(file_of(db), exc) from None
        raise
    try:
        result, summary = fn(Throttled(db, run_id))
    except Interrupted as exc:
        log.warning("%s: %s", name, exc)
        job_runs.finish(db, run_id, "interrupted", str(exc)[:500])
        return Outcome(False, error=str(exc), run_id=run_id, interrupted=True)
    except Exception as exc:
        if cannot_write(exc, file_of(db)):
            full = cannot_write_error(file_of(db), exc)  # the catcher logs it (once)
            _record(db, run_id, name, "failed", str(full))
            raise full from None
        error = str(exc) if isinstance(exc, AssistantError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, AssistantError):
            log.warning("%s failed: %s", name, error)
        else:
            log.exception("%s failed", name)
        _record(db, run_id, name, "failed", error[:500])
        return Outcome(False, error=error, run_id=run_id)
    except BaseException:
        job_runs.finish(db, run_id, "interrupted", "stopped by a signal during this run")
        raise
    _record(db, run_id, name, "ok", summary[:500])
    log.info("%s: %s", name, summary)
    try:
        checkpoint(db)  # after bulk writes (a first collection, a training) the WAL is cut back
    except Exception as exc:
        if not cannot_write(exc, file_of(db)):
            raise  # (full: the loop's periodic checkpoint tries again)
    return Outcome(True, result=result, run_id=run_id)


# Ends of runs the full disk did not take: written once there is room (`record_unrecorded`).
_unrecorded: deque[tuple[int, str, str]] = deque()


def _record(db: sqlite_utils.Database, run_id: int, name: str, status: str, message: str) -> None:
    """Close a run; on a full disk log that it could not be recorded, and go on."""
    try:
        job_runs.finish(db, run_id, status, message)
    except Exception as exc:
        if not cannot_write(exc, file_of(db)):
            raise
        log.warning("%s: its end (%s) is recorded once the disk has room", name, status)
        _unrecorded.append((run_id, status, message))


def record_unrecorded(db: sqlite_utils.Database) -> int:
    """Write the run ends a full disk refused (the disk has room again); how many."""
    n = 0
    while _unrecorded:
        run_id, status, message = _unrecorded[0]
        job_runs.finish(db, run_id, status, message)  # still full: raises, kept for next time
        _unrecorded.popleft()
        n += 1
    return n


def plain(value: object) -> Json:
    """A JSON-friendly view of a service's return value (stored on command rows)."""
    if hasattr(value, "to_dict"):  # a service's result view (a session in it: a date)
        return plain(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: plain(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


# ---- the jobs: each returns (result, one-line summary) ----


def collect(
    ctx: Context, progress: Progress, symbols: list[str] | None = None, until: date | None = None
) -> tuple[Json, str]:
    from assistant.calendar import record_sessions
    from assistant.ingest.collect import collect as run_collect
    from assistant.ingest.hourly import HourlyResult

    hourly: list[HourlyResult] = []
    results = run_collect(
        ctx.db,
        ctx.settings,
        symbols,
        source=ctx.source,
        until=until,
        progress=progress,
        hourly=hourly,
    )
    record_sessions(ctx.db, ctx.settings.calendar.exchange)  # the dashboard's session count
    series = _collect_world(ctx, symbols, until)
    by_status = Counter(r.status for r in results)
    failed = [f"{r.symbol}: {r.message}" for r in results if r.status == "failed"]
    summary = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "nothing to collect"
    if until:
        summary += f" (until {until})"
    if results and len(failed) == len(results):
        raise AssistantError("every symbol failed: " + "; ".join(failed)[:300])
    if failed:
        summary += "; " + "; ".join(failed)
    if series:
        summary += "; series " + ", ".join(series)
    if any(h.added or h.flagged or h.status == "failed" for h in hourly):
        added = sum(h.added for h in hourly)
        flagged = sum(h.flagged for h in hourly)
        failed_h = [h.symbol for h in hourly if h.status == "failed"]
        summary += (
            f"; hourly: {added} bars added"
            + (
                f", {flagged} sessions flagged (hours do not roll up to the daily bar)"
                if flagged
                else ""
            )
            + (f", failed for {', '.join(failed_h)}" if failed_h else "")
        )
    return plain(results), summary


def _collect_world(ctx: Context, symbols: list[str] | None, until: date | None) -> list[str]:
    """The outside series (^VIX, yields), the macro series and the headlines with the
    watchlist's collection:
    what was added or failed, in a few words (a series with nothing new, e.g. every session
    of a replay before its data starts, says nothing). They never fail the job: the bars
    and the calls do not depend on them."""
    from assistant.ingest import macro
    from assistant.ingest.collect import make_source
    from assistant.ingest.market import collect_series, source_for
    from assistant.ingest.news import collect_news

    if symbols:
        return []
    try:
        bars_source = ctx.source or make_source(ctx.settings, home=ctx.home)
        source = source_for(bars_source)
        results = (
            [] if source is None else collect_series(ctx.db, ctx.settings, source, until=until)
        )
        news = [] if until else collect_news(ctx.db, bars_source, watch.active_symbols(ctx.db))
        macro_source = macro.source_for(bars_source, ctx.settings.collect.macro_url)
        macros = (
            [] if macro_source is None else macro.collect_macro(ctx.db, macro_source, until=until)
        )
    except Exception as exc:  # noqa: BLE001 - logged and said; the collection stands
        if cannot_write(exc, file_of(ctx.db)):
            raise
        log.warning("market series / news not collected: %s", exc)
        return [f"not collected ({exc})"]
    said = [
        f"{r.series} {r.status}" + (f" +{r.added}" if r.added else "")
        for r in results
        if r.status in ("added", "failed")
    ]
    said += [
        f"macro {r.series} {r.status}" + (f" +{r.added}" if r.added else "")
        for r in macros
        if r.status in ("added", "failed")
    ]
    if news:
        said.append(f"news +{sum(r.added for r in news)} headlines")
        said += [f"{r.symbol} news failed ({r.message})" for r in news if r.status == "failed"]
    return said


def cycle(
    ctx: Context, progress: Progress, symbols: list[str] | None = None, as_of: date | None = None
) -> tuple[Json, str]:
    from assistant.cycle.run import run_cycle

    calls = run_cycle(ctx.db, ctx.home, ctx.settings, symbols, as_of=as_of)
    new = sum(1 for c in calls if getattr(c, "new", True))
    return plain(calls), f"{len(calls)} calls ({new} new)" + (f" as of {as_of}" if as_of else "")


def verify(
    ctx: Context,
    progress: Progress,
    as_of: date | None = None,
    *,
    leftover_hours_at: datetime | None = None,
) -> tuple[Json, str]:
    """The daily verification. With `leftover_hours_at` (the live daemon's clock) and
    hour-ahead calls turned off, it also scores the hour-ahead calls made while they were on:
    their own slot no longer runs."""
    from assistant.cycle.learn import verify as run_verify

    report = plain(run_verify(ctx.db, ctx.settings, as_of=as_of))
    if isinstance(report, dict):
        summary = (
            ", ".join(f"{k} {v}" for k, v in report.items() if isinstance(v, int | float)) or "done"
        )
    else:
        summary = str(report)
    if leftover_hours_at is not None and not ctx.settings.cycle.hourly_horizons:
        from store import hourly_calls

        if hourly_calls.counts(ctx.db)["pending"]:
            _, said = hourly_verify(ctx, progress, leftover_hours_at)
            summary += f"; hour-ahead calls left from before they were turned off: {said}"
    return report, summary


def hourly_collect(ctx: Context, progress: Progress, now: datetime) -> tuple[Json, str]:
    """The watchlist's one-hour bars over by `now` (the host's clock), before the hourly
    slot's calls: the hour that just closed. A symbol that failed (a rate limit) is said;
    every symbol failing fails the job, and the calls go on on the hours stored."""
    from assistant.ingest.hourly import collect_hourly

    source = ctx.source or _bars_source(ctx)
    results = collect_hourly(
        ctx.db,
        ctx.settings,
        watch.active_symbols(ctx.db),
        source,
        now=_utc(now),
        progress=progress,
    )
    failed = [f"{r.symbol}: {r.message}" for r in results if r.status == "failed"]
    if results and len(failed) == len(results):
        raise AssistantError("every symbol failed: " + "; ".join(failed)[:300])
    added = sum(r.added for r in results)
    summary = f"{added} hourly bars added for {len(results)} symbols"
    return plain(results), summary + ("; " + "; ".join(failed) if failed else "")


def live_hours(ctx: Context) -> bool:
    """Whether the bars' source has one-hour bars of the session under way (Yahoo's; the
    sample's simulated hours are a past window the daily collection writes)."""
    name = ctx.settings.collect.source if ctx.source is None else getattr(ctx.source, "name", "")
    return bool(ctx.settings.collect.hourly) and name == "yahoo"


def _bars_source(ctx: Context) -> Source:
    from assistant.ingest.collect import make_source

    return make_source(ctx.settings, home=ctx.home)


def _utc(when: datetime) -> pd.Timestamp:
    import pandas as pd

    stamp = pd.Timestamp(when)
    return stamp.tz_convert("UTC") if stamp.tz is not None else stamp.tz_localize("UTC")


def hourly_cycle(ctx: Context, progress: Progress, at: datetime) -> tuple[Json, str]:
    """The hour-ahead calls from the bar that closed by `at` (assistant.cycle.hourly)."""
    from assistant.cycle.hourly import run_hourly

    calls = run_hourly(ctx.db, ctx.settings, at=at)
    new = sum(1 for c in calls if c.new)
    return plain(calls), f"{len(calls)} hourly calls ({new} new)"


def hourly_verify(ctx: Context, progress: Progress, at: datetime) -> tuple[Json, str]:
    """Score the hourly calls whose target bar closed by `at`."""
    from assistant.cycle.hourly import verify_hourly

    report = verify_hourly(ctx.db, ctx.settings, at=at)
    return plain(report), (
        f"verified {report.verified} (hits {report.hits}, flat {report.flat}), "
        f"pending {report.pending}, expired {report.expired}"
    )


def paper(ctx: Context, progress: Progress, as_of: date | None = None) -> tuple[Json, str]:
    """Step the paper account through the session the cycle just called (assistant.paper)."""
    from assistant.paper import step_session

    return None, step_session(ctx.db, ctx.settings, as_of)


def drift(ctx: Context, progress: Progress, as_of: date | None = None) -> tuple[Json, str]:
    from assistant.cycle.drift import check_drift

    findings = check_drift(ctx.db, ctx.settings, as_of=as_of)
    return plain(findings), f"{len(findings)} drift findings" if findings else "no drift"


TRAINING_DEATHS = 2  # trainings in a row that died with the daemon: none more on its own


def trainings_die(db: sqlite_utils.Database) -> str | None:
    """Why no training starts on its own now: the newest TRAINING_DEATHS retrains died with
    the daemon's process (the kernel's out-of-memory killer, most likely; under systemd each
    death is a restart, which trained again at once). None otherwise: a retrain that ends,
    however it ends, clears it. A retrain asked for (a command) is not held back."""
    n = job_runs.died_in_a_row(db, "retrain")
    if n < TRAINING_DEATHS:
        return None
    return (
        f"the last {n} trainings died with the daemon (killed for memory? `journalctl -k` or "
        "`dmesg` says); it does not start another on its own: `assistant train` in a shell "
        "shows what happens, fewer [models] kinds or max_train_rows use less memory, and a "
        "retrain asked for (the dashboard's key, `assistant train`) still runs"
    )


def retrain(
    ctx: Context,
    progress: Progress,
    kinds: list[str] | None = None,
    as_of: date | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], date | None] | None = None,
    *,
    walk_forward: bool = False,
) -> tuple[Json, str]:
    """Retrain the models on the whole watchlist (every retrain does: a model serves only
    the symbols it was trained on, and the watchlist's models serve all of it)."""
    from assistant.modeling.training import train
    from models.catalog import TORCH_KINDS

    wanted = set(kinds or ctx.settings.models.kinds)
    if wanted & set(TORCH_KINDS):
        import torch

        # Training shares two cores with the loop: one intra-op thread keeps it responsive.
        torch.set_num_threads(1)
    report = train(
        ctx.db,
        ctx.home,
        ctx.settings,
        None,
        kinds,
        as_of=as_of,
        progress=lambda kind, fraction, message: progress(fraction, f"{kind}: {message}"),
        stop=stop,
        walk_forward=walk_forward,
        clock=clock,
    )
    if stop is not None and stop.is_set():
        raise Interrupted(
            "training stopped (daemon shutdown or replay end); nothing partial was registered"
        )
    results = report.results
    promoted = [str(r.model_id) for r in results if r.promoted]
    failed = [f"{r.kind}: {r.reason}" for r in results if r.status == "failed"]
    if failed and not any(r.model_id for r in results):
        # Nothing was stored (a full disk, an unwritable models folder, every kind broken):
        # the run failed, whatever each kind said, and job_runs and the log must say so.
        raise AssistantError("no model was stored: " + "; ".join(failed))
    summary = (
        f"trained as of {as_of}" if as_of else "trained"
    ) + f"; promoted: {', '.join(promoted) or 'none'}"
    if failed:
        summary += "; failed: " + "; ".join(failed)
    if report.skipped:  # the job's message is where a daemon user sees why
        summary += "; skipped: " + "; ".join(f"{s} ({w})" for s, w in report.skipped.items())
    if report.housekeeping:  # orphans cleared, artifacts pruned: the log says which
        summary += "; " + "; ".join(report.housekeeping)
    return plain(report), summary


def watch_add(ctx: Context, symbols: list[str]) -> list[str]:
    return watch.add(ctx.db, symbols, ctx.settings.collect.source)


def watch_remove(ctx: Context, symbols: list[str]) -> list[str]:
    return [s for s in symbols if watch.remove(ctx.db, s)]
