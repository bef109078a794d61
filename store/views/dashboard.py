"""The dashboard's snapshot: everything it shows, read in ONE short read transaction (a
consistent snapshot that never holds the WAL back for long), from the panels' views.

The queries walk indexes (`predictions(symbol, as_of)`, `predictions(status,
target_date)`, the bars and regimes primary keys) and the accuracy trend reads the
per-session sums triggers keep (`verified_by_target`), so a 100-symbol, 100k-prediction
database answers in about 25 ms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypedDict

import sqlite_utils

from store import alerts, paper, registry, symbols
from store.paper import PaperPanel
from store.symbols import Deactivated
from store.views.activity import CommandLine, RunningJob, daemon_info, recent_commands, running_jobs
from store.views.market_line import MarketContext, market_context
from store.views.pending import PendingCall, pending
from store.views.read import snapshot
from store.views.regimes import RegimeLine, regime_states
from store.views.trend import Trend, accuracy_trend
from store.views.watchlist import WatchRow, stale_sources, watchlist, with_live
from vocab.dates import session_date
from vocab.status import DaemonInfo


class Quarantine(TypedDict):
    """A quarantine in effect: the model that cannot serve and the one that serves instead."""

    id: str
    kind: str
    reason: str | None
    serves: str | None  # the model serving instead (None: none of its kind)


class Dashboard(TypedDict):
    """Everything the dashboard shows, from one read transaction."""

    daemon: DaemonInfo
    jobs: list[RunningJob]
    queued: int
    commands: list[CommandLine]
    watchlist: list[WatchRow]
    deactivated: list[Deactivated]
    pending: list[PendingCall]
    trend: Trend
    regimes: list[RegimeLine]
    quarantined: list[Quarantine]
    paper: PaperPanel | None  # None until the daemon has stepped the paper account
    context: MarketContext | None  # the regimes panel's title says it
    alerts_failed: int  # alerts given up on in the last day
    # where the stale symbols' newest bars came from ("sample": never newer)
    stale_sources: list[str]


def dashboard(
    db: sqlite_utils.Database, *, now: datetime, heartbeat_seconds: float = 5.0
) -> Dashboard:
    """Everything the dashboard shows, read in one short transaction."""
    with snapshot(db):
        daemon = daemon_info(db, now, heartbeat_seconds)
        # In a replay "today" is the simulated session; before its first one is done there
        # is none yet, and the bars it revealed are as fresh as the replay (no staleness).
        replaying = daemon["mode"] == "replay"
        today = daemon["sim_date"] if replaying else now.date().isoformat()
        # what the replay's clock has reached, not the later rows a home may already hold
        as_of = session_date(daemon["sim_date"]) if replaying and daemon["sim_date"] else None
        watched = with_live(db, watchlist(db, today=today, as_of=as_of), now, replaying)
        jobs = running_jobs(db)
        cmds = recent_commands(db)
        training = any(j["job"] == "retrain" for j in jobs)
        for c in cmds:  # one training at a time: a queued retrain waits for the running one
            c["behind_training"] = training and c["kind"] == "retrain" and c["status"] == "queued"
        return {
            "daemon": daemon,
            "jobs": jobs,
            "queued": int(
                db.execute("SELECT COUNT(*) FROM commands WHERE status = 'queued'").fetchone()[0]
            ),
            "commands": cmds,
            "watchlist": watched,
            "deactivated": symbols.deactivated(db),
            "pending": pending(db, today or now.date().isoformat()),
            "trend": accuracy_trend(db),
            "regimes": regime_states(db, as_of=as_of),
            "quarantined": quarantined(db),
            "paper": paper.panel(db),
            "context": market_context(db),
            "stale_sources": stale_sources(
                db, [r["symbol"] for r in watched if r["stale_sessions"]]
            ),
            # alerts the sender gave up on in the last day: shown, never raised
            "alerts_failed": alerts.undelivered_since(
                db, (now - timedelta(days=1)).astimezone(UTC).isoformat(timespec="seconds")
            ),
        }


def quarantined(db: sqlite_utils.Database) -> list[Quarantine]:
    """The quarantines in effect (a model newer than what serves its kind is unusable):
    id, kind, reason and the id that serves instead (or None)."""
    return [
        Quarantine(
            id=q["id"],
            kind=q["kind"],
            reason=q["reason"],
            serves=q["serves"],
        )
        for q in registry.quarantines(db)
    ]
