"""The TUI's read API: short read queries that return typed dicts (TypedDict) and lists.

Every function here only reads. `dashboard()` gathers everything the dashboard shows in
ONE short read transaction (a consistent snapshot that never holds the WAL back for
long); the queries walk indexes (`predictions(symbol, as_of)`, `predictions(status,
target_date)`, the bars and regimes primary keys) and the accuracy trend reads the
per-session sums triggers keep (`verified_by_target`), so a 100-symbol, 100k-prediction
database answers in about 25 ms.

Two honest simplifications, stated where they are shown:
- "sessions left" is the horizon minus the sessions stored for the symbol since the
  call was made: bars are stored per exchange session, so holidays never count, but a
  session whose bar has not been collected yet still counts as ahead.
- the baseline next to every hit rate is the stronger of always-up and the causal
  majority over the same verified predictions (its name travels with it).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, NotRequired, TypedDict, cast

import sqlite_utils

from store import alerts, market, news, paper, quotes, registry, symbols
from store.freshness import sessions_between
from store.news import Headline
from store.paper import PaperPanel
from store.quotes import LiveQuote
from store.rankings import Ranking
from store.symbols import Deactivated
from vocab import commands as schema
from vocab.dates import session_date
from vocab.scoring import BASELINE_LABEL, edge_line, stale_sessions, stronger_baseline
from vocab.status import DaemonInfo, classify_daemon

HIT_WINDOW = 50  # verified predictions per symbol behind the watchlist's rolling hit rate
TREND_WINDOW = 20  # target sessions per point of the accuracy trend
TREND_POINTS = 250  # most recent target sessions shown in the trend chart
PENDING_LIMIT = 100


class RunningJob(TypedDict):
    id: int
    job: str
    started_at: str
    progress: float | None
    message: str | None


class Call(TypedDict):
    """What every prediction row shown carries: the call itself."""

    horizon: int
    direction: str  # up | down | flat
    pred_change_pct: float
    confidence: float | None
    model_version: str


class LatestCall(Call):
    id: int
    as_of: str
    status: str
    lower: float | None
    upper: float | None


class WatchRow(TypedDict):
    """One watched symbol on the dashboard."""

    symbol: str
    last_date: str | None
    stale_sessions: int  # 0: fresh
    close: float | None
    change_pct: float | None
    regime: str | None
    call: LatestCall | None
    n: int  # verified UP/DOWN calls behind hit_rate
    hit_rate: float | None
    baseline: float | None
    baseline_name: str
    n80: int  # verified calls with an 80% range behind coverage80
    coverage80: float | None
    ranking: Ranking | None
    live: LiveQuote | None  # the latest quote read against the day's call (store.quotes)


class PendingCall(Call):
    id: int
    symbol: str
    as_of: str
    target_date: str
    base_price: float
    pred_price: float
    lower: float | None
    upper: float | None
    sessions_left: int


class Trend(TypedDict):
    """The accuracy trend: rolling hit rate vs the stronger baseline, and range coverage."""

    dates: list[str]
    hit: list[float]
    base: list[float]
    window: int
    n: int
    hit_rate: float | None
    base_rate: float | None
    base_name: str
    ranges: dict[str, tuple[int, int]]  # "80" / "95": (calls with that range, inside it)
    range_dates: list[str]
    cov80: list[float]
    cov95: list[float]


class RegimeLine(TypedDict):
    symbol: str
    date: str
    regime: str
    trend: float | None
    volatility: float | None
    sessions: int  # how many stored sessions the regime has held
    at_least: bool  # it held through the whole look-back


class Quarantine(TypedDict):
    id: str
    kind: str
    reason: str | None
    serves: str | None  # the model serving instead (None: none of its kind)
    notice: str


class MarketLine(TypedDict):
    """The newest cycle's market-wide context and the line that says it."""

    as_of: str
    vix: float | None
    vix_pct: float | None
    next_event: str | None
    next_event_date: str | None
    event_sessions: int | None
    cpi_date: str | None  # the next CPI release, estimated (models.events)
    cpi_sessions: int | None
    line: str


class Dashboard(TypedDict):
    """Everything the dashboard shows, from one read transaction."""

    daemon: DaemonInfo
    jobs: list[RunningJob]
    queued: int
    commands: list[CommandLine]
    watchlist: list[WatchRow]
    deactivated: list[Deactivated]
    edge_line: str | None
    pending: list[PendingCall]
    trend: Trend
    regimes: list[RegimeLine]
    quarantined: list[Quarantine]
    paper: PaperPanel | None  # None until the daemon has stepped the paper account
    context: MarketLine | None
    alerts_failed: int  # alerts given up on in the last day
    stale_sources: list[
        str
    ]  # where the stale symbols' newest bars came from ("sample": never newer)


class HistoryCall(LatestCall):
    target_date: str
    base_price: float
    pred_price: float
    regime: str | None
    actual_price: float | None
    error_pct: float | None
    hit: int | None
    up_hit: int | None
    majority_hit: int | None
    signals: object  # the call's signals JSON, parsed (see signal_contributions)
    lower95: float | None
    upper95: float | None
    covered80: int | None
    covered95: int | None


class Bar(TypedDict):
    date: str
    close: float


class SymbolDetail(TypedDict):
    """One symbol's screen: closes, calls with outcomes, the latest call's signals, news."""

    symbol: str
    context: Mapping[str, object] | None
    context_line: str
    news: list[Headline]
    news_days: int
    news_needed_days: int
    bars: list[Bar]
    history: list[HistoryCall]
    signals: list[tuple[str, float]]
    latest: HistoryCall | None
    n: int
    hit_rate: float | None
    baseline: float | None
    baseline_name: str
    regime: RegimeLine | None  # the regime now (as of the detail's session)
    ranking: Ranking | None  # the ranking model's newest call at the latest call's horizon
    n80: int  # verified calls with an 80% range behind coverage80 (as on the watchlist)
    coverage80: float | None
    live: NotRequired[LiveQuote | None]  # the latest quote, as on the watchlist


@contextlib.contextmanager
def snapshot(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """One read transaction: every query inside sees the same committed state."""
    db.execute("BEGIN")
    try:
        yield db
    finally:
        db.execute("ROLLBACK")


def _rows(
    db: sqlite_utils.Database, sql: str, params: list[str | int] | tuple[str | int, ...] = ()
) -> list[dict[str, Any]]:
    cur = db.execute(sql, list(params))
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def daemon_info(
    db: sqlite_utils.Database, now: datetime, heartbeat_seconds: float = 5.0
) -> DaemonInfo:
    """The daemon row, with heartbeat age and whether it counts as online."""
    rows = _rows(db, "SELECT * FROM daemon WHERE id = 1")
    return classify_daemon(rows[0] if rows else None, now, heartbeat_seconds)


def running_jobs(db: sqlite_utils.Database) -> list[RunningJob]:
    return cast(
        list[RunningJob],
        _rows(
            db,
            "SELECT id, job, started_at, progress, message FROM job_runs "
            "WHERE status = 'running' ORDER BY id",
        ),
    )


class CommandLine(TypedDict):
    """One row of the dashboard's command panel: the command and what it did, typed."""

    id: int
    kind: str
    command: schema.Command | None  # None: its stored arguments do not parse (it fails)
    status: str
    created_at: str
    claimed_at: str | None
    finished_at: str | None
    error: str | None
    result: schema.Result | None
    count: int  # a burst of cancellations of one kind for one reason is one row
    cancelled: bool
    behind_training: bool  # a queued retrain waiting for the one that trains


def _command(kind: str, text: str | None) -> schema.Command | None:
    try:
        return schema.parse(kind, text)
    except schema.CommandArgsError:
        return None


def recent_commands(db: sqlite_utils.Database, limit: int = 8) -> list[CommandLine]:
    """The newest commands, newest first. A run of cancellations of one kind for one reason
    (a replay's end cancels every drift retrain still waiting) is one row: the newest of
    them, with `count` how many it stands for (1 for every other row)."""
    rows = _rows(
        db,
        "SELECT id, kind, args, status, created_at, claimed_at, finished_at, error, result "
        "FROM commands ORDER BY id DESC LIMIT ?",
        [limit * 8],  # enough that a burst of cancellations does not crowd the rest out
    )
    out: list[CommandLine] = []
    for r in rows:
        cancelled = r["status"] == "failed" and str(r["error"] or "").startswith("cancelled")
        last = out[-1] if out else None
        if (
            cancelled
            and last is not None
            and last["cancelled"]
            and (last["kind"], last["error"]) == (r["kind"], r["error"])
        ):
            last["count"] += 1
            continue
        if len(out) == limit:
            break
        out.append(
            CommandLine(
                id=r["id"],
                kind=r["kind"],
                command=_command(r["kind"], r["args"]),
                status=r["status"],
                created_at=r["created_at"],
                claimed_at=r["claimed_at"],
                finished_at=r["finished_at"],
                error=r["error"],
                result=schema.parse_result(r["kind"], r["result"]),
                count=1,
                cancelled=cancelled,
                behind_training=False,
            )
        )
    return out


def _json(text: str | None) -> object:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


# The scoring rules live in models.outcomes and are applied once, by `verify`, which
# stores each call's hit (NULL for a FLAT call) and the hits of the always-up and causal
# majority baselines on the same call. The dashboard only aggregates those columns.
SCORED_SQL = "hit, up_hit, majority_hit"


def _hit_stats(rows: list[tuple[int | None, int | None, int | None]]) -> tuple[int, int, int, int]:
    """(n, hits, always-up hits, majority hits) over directional calls (hit not NULL)."""
    n = hits = ups = majs = 0
    for hit, up, maj in rows:
        if hit is None:
            continue
        n += 1
        hits += int(hit)
        ups += int(up or 0)
        majs += int(maj or 0)
    return n, hits, ups, majs


def _baseline(n: int, ups: int, majs: int) -> tuple[float | None, str]:
    """The stronger of always-up and the causal majority on the same calls."""
    if not n:
        return None, BASELINE_LABEL["always_up"]
    which = stronger_baseline(ups, majs)
    return (ups if which == "always_up" else majs) / n, BASELINE_LABEL[which]


def watchlist(
    db: sqlite_utils.Database,
    window: int = HIT_WINDOW,
    today: str | None = None,
    as_of: date | None = None,
) -> list[WatchRow]:
    """One row per watched symbol: last close and change, regime, latest call, hit rate, and
    how many sessions old its newest bar is on `today` (stale beyond STALE_AFTER_SESSIONS).

    `as_of` (a replay's clock): the close, regime, latest call and rank as of that session,
    not the later ones a home may already hold."""
    until = as_of.isoformat() if as_of else MAX_DATE
    out = []
    active = db.execute(
        "SELECT symbol, exchange FROM symbols WHERE active = 1 ORDER BY symbol"
    ).fetchall()
    ranks = ranked_now(db, [symbol for symbol, _ in active], as_of)
    for symbol, exchange in active:
        bars = db.execute(
            "SELECT date, close FROM bars WHERE symbol = ? AND date <= ? "
            "ORDER BY date DESC LIMIT 2",
            [symbol, until],
        ).fetchall()
        age = sessions_between(db, exchange, bars[0][0], today) if bars and today else 0
        reg = db.execute(
            "SELECT regime FROM regimes WHERE symbol = ? AND date <= ? ORDER BY date DESC LIMIT 1",
            [symbol, until],
        ).fetchone()
        # The latest call: newest as_of, shortest horizon among that day's calls.
        call = _rows(
            db,
            "SELECT id, as_of, horizon, direction, pred_change_pct, confidence, "
            "model_version, status, lower, upper FROM predictions WHERE symbol = ? "
            "AND as_of <= ? ORDER BY as_of DESC, horizon ASC, made_at DESC LIMIT 1",
            [symbol, until],
        )
        latest = cast(LatestCall, call[0]) if call else None
        # (n, hits, always-up hits, majority hits) over the last `window` directional calls,
        # summed by SQLite (index-only) rather than row by row here
        n, hits, ups, majs = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(hit), 0), COALESCE(SUM(up_hit), 0), "
            "COALESCE(SUM(majority_hit), 0) FROM (SELECT hit, up_hit, majority_hit "
            "FROM predictions WHERE symbol = ? AND status = 'verified' AND hit IS NOT NULL "
            "ORDER BY as_of DESC LIMIT ?)",
            [symbol, window],
        ).fetchone()
        base, name = _baseline(n, ups, majs)
        # Realized coverage of the 80% range over the same window of verified calls that
        # carried a range (covered80 is NULL for a call made without one).
        n80, in80 = db.execute(
            "SELECT COUNT(c), COALESCE(SUM(c), 0) FROM (SELECT covered80 AS c FROM predictions "
            "WHERE symbol = ? AND status = 'verified' AND covered80 IS NOT NULL "
            "ORDER BY as_of DESC LIMIT ?)",
            [symbol, window],
        ).fetchone()
        # The ranking model's newest rank, at the same horizon as the latest call.
        mine = ranks.get(symbol, {})
        h = latest["horizon"] if latest else min(mine, default=None)
        out.append(
            WatchRow(
                symbol=symbol,
                last_date=bars[0][0] if bars else None,
                stale_sessions=stale_sessions(age),
                close=bars[0][1] if bars else None,
                change_pct=(
                    (bars[0][1] / bars[1][1] - 1) * 100 if len(bars) == 2 and bars[1][1] else None
                ),
                regime=reg[0] if reg else None,
                call=latest,
                n=n,
                hit_rate=hits / n if n else None,
                baseline=base,
                baseline_name=name,
                n80=n80,
                coverage80=in80 / n80 if n80 else None,
                ranking=mine.get(h) if h is not None else None,
                live=None,
            )
        )
    return out


def with_live(
    db: sqlite_utils.Database, rows: list[WatchRow], now: datetime, replaying: bool
) -> list[WatchRow]:
    """The rows with their latest quotes read against the day's call, at `now` (in a
    replay: the replay's clock). A quote older than the symbol's newest bar is left out."""
    ref = quotes.reference_time(db, replaying, now)
    reads = quotes.read_all(db, ref, {r["symbol"]: r["last_date"] for r in rows})
    for r in rows:
        r["live"] = reads.get(r["symbol"])
    return rows


MAX_DATE = "9999-12-31"  # no as-of bound: every stored row counts


def ranked_now(
    db: sqlite_utils.Database, active: list[str], as_of: date | None = None
) -> dict[str, dict[int, Ranking]]:
    """Each watched symbol's newest rank per horizon (up to `as_of`), ranked among
    the watched symbols ranked that session: a symbol removed since then leaves the ranks
    (5 watched read 1/5 .. 5/5, not 1/6) and the mean the moves are relative to."""
    newest: dict[str, dict[int, Ranking]] = {}
    for symbol in active:
        cur = db.execute(
            "SELECT horizon, as_of, rank, of, relative, model_version FROM rankings "
            "WHERE symbol = ? AND as_of = (SELECT MAX(as_of) FROM rankings WHERE symbol = ? "
            "AND as_of <= ?) ORDER BY horizon, made_at",
            [symbol, symbol, as_of.isoformat() if as_of else MAX_DATE],
        )
        newest[symbol] = {
            int(h): Ranking(as_of=a, rank=rk, of=n, relative=rel, model_version=m)
            for h, a, rk, n, rel, m in cur
        }
    groups: dict[tuple[int, str], list[Ranking]] = {}
    for mine in newest.values():
        for h, r in mine.items():
            groups.setdefault((h, r["as_of"]), []).append(r)
    for group in groups.values():
        if all(r["of"] == len(group) for r in group):
            continue  # every symbol ranked that session is still watched: as stored
        mean = sum(r["relative"] for r in group) / len(group)
        for i, r in enumerate(sorted(group, key=lambda r: (r["rank"], -r["relative"]))):
            r["rank"], r["of"], r["relative"] = i + 1, len(group), r["relative"] - mean
    return newest


def deactivated(db: sqlite_utils.Database) -> list[Deactivated]:
    """Symbols the collector took off the watchlist, with the reason (they leave the table)."""
    return symbols.deactivated(db)


def pending(db: sqlite_utils.Database, today: str, limit: int = PENDING_LIMIT) -> list[PendingCall]:
    """Pending predictions, soonest target first, with sessions left to the target."""
    rows = _rows(
        db,
        "SELECT id, symbol, as_of, horizon, target_date, base_price, pred_change_pct, "
        "pred_price, direction, confidence, model_version, lower, upper FROM predictions "
        " WHERE status = 'pending' ORDER BY target_date, symbol, horizon, id LIMIT ?",
        [limit],
    )
    for r in rows:  # sessions stored up to `today` (a replay's home may hold later ones)
        elapsed = db.execute(
            "SELECT COUNT(*) FROM bars WHERE symbol = ? AND date > ? AND date <= ? "
            "AND provisional = 0",
            [r["symbol"], r["as_of"], today],
        ).fetchone()[0]
        r["sessions_left"] = max(0, int(r["horizon"]) - int(elapsed))
    return cast(list[PendingCall], rows)


def accuracy_trend(
    db: sqlite_utils.Database, window: int = TREND_WINDOW, points: int = TREND_POINTS
) -> Trend:
    """Rolling hit rate of the directional calls and the stronger baseline (always-up or the
    causal majority, whichever scored more over all of them) on the same calls, over the last
    `window` target sessions. The p-value lives in `assistant report`, which runs the test."""
    # The per-session sums are kept by triggers as calls are verified (schema m015): one
    # row per target session gives both the points and the totals.
    rows = db.execute(
        "SELECT target_date, n, hits, ups, majs, n80, in80, n95, in95 "
        "FROM verified_by_target ORDER BY target_date"
    ).fetchall()
    # realized coverage of the 80% and 95% ranges over the verified calls that carried them
    ranges = {
        level: (sum(r[k] for r in rows), sum(r[k + 1] or 0 for r in rows))
        for level, k in (("80", 5), ("95", 7))
    }
    per_day = [r[:5] for r in rows]
    tot_n = sum(r[1] for r in per_day)
    tot_hits = sum(r[2] or 0 for r in per_day)
    tot_ups = sum(r[3] or 0 for r in per_day)
    tot_majs = sum(r[4] or 0 for r in per_day)
    col = 3 if tot_ups >= tot_majs else 4
    per_day = per_day[-(points + window - 1) :]
    dates, hit, base = [], [], []
    full = len(per_day) >= window  # with enough history, plot only points over a full window
    for i, (day, *_rest) in enumerate(per_day):
        if full and i < window - 1:
            continue
        win = per_day[max(0, i - window + 1) : i + 1]
        wn = sum(r[1] for r in win)
        if wn:
            dates.append(day)
            hit.append(sum(r[2] or 0 for r in win) / wn)
            base.append(sum(r[col] or 0 for r in win) / wn)
    dates, hit, base = dates[-points:], hit[-points:], base[-points:]
    base_rate, base_name = _baseline(tot_n, tot_ups, tot_majs)
    range_dates, cov80, cov95 = _coverage_trend(rows, window, points)
    return {
        "dates": dates,
        "hit": hit,
        "base": base,
        "window": window,
        "n": tot_n,
        "hit_rate": tot_hits / tot_n if tot_n else None,
        "base_rate": base_rate,
        "base_name": base_name,
        "ranges": ranges,
        "range_dates": range_dates,
        "cov80": cov80,
        "cov95": cov95,
    }


# a verified_by_target row (schema m015): target_date, n, hits, ups, majs, n80, in80, n95, in95
TargetSums = tuple[str, int, int, int, int, int, int, int, int]


def _coverage_trend(
    rows: list[TargetSums], window: int, points: int
) -> tuple[list[str], list[float], list[float]]:
    """Rolling realized coverage of the 80% and 95% ranges over the last `window` target
    sessions (rows: accuracy_trend's per-session counts). Every verified call carries a
    range, FLAT ones too, so this is what the chart shows when no call was directional."""
    rows = rows[-(points + window - 1) :]
    full = len(rows) >= window
    dates: list[str] = []
    cov80: list[float] = []
    cov95: list[float] = []
    for i, row in enumerate(rows):
        if full and i < window - 1:
            continue
        win = rows[max(0, i - window + 1) : i + 1]
        n80 = sum(r[5] for r in win)
        n95 = sum(r[7] for r in win)
        if n80 and n95:
            dates.append(row[0])
            cov80.append(sum(r[6] or 0 for r in win) / n80)
            cov95.append(sum(r[8] or 0 for r in win) / n95)
    return dates[-points:], cov80[-points:], cov95[-points:]


def regime_states(
    db: sqlite_utils.Database, lookback: int = 60, as_of: date | None = None
) -> list[RegimeLine]:
    """Latest regime per watched symbol (up to `as_of`), how many stored sessions it has
    lasted, trend, vol."""
    out = []
    for (symbol,) in db.execute(
        "SELECT symbol FROM symbols WHERE active = 1 ORDER BY symbol"
    ).fetchall():
        state = regime_state(db, symbol, lookback, as_of)
        if state is not None:
            out.append(state)
    return out


def regime_state(
    db: sqlite_utils.Database, symbol: str, lookback: int = 60, as_of: date | None = None
) -> RegimeLine | None:
    """One symbol's latest regime up to `as_of` and how many stored sessions it has lasted."""
    recent = db.execute(
        "SELECT date, regime, trend, volatility FROM regimes WHERE symbol = ? "
        "AND date <= ? ORDER BY date DESC LIMIT ?",
        [symbol, as_of.isoformat() if as_of else MAX_DATE, lookback],
    )
    latest = recent.fetchone()
    if latest is None:
        return None
    run, held = 1, True  # held: the regime lasts through the whole look-back
    for _date, regime, _trend, _vol in recent:  # stepped only up to the first change
        if regime != latest[1]:
            held = False
            break
        run += 1
    return RegimeLine(
        {
            "symbol": symbol,
            "date": latest[0],
            "regime": latest[1],
            "trend": latest[2],
            "volatility": latest[3],
            "sessions": run,
            "at_least": held,
        }
    )


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
        rows = with_live(db, watchlist(db, today=today, as_of=as_of), now, replaying)
        line = edge_line([r["call"]["direction"] for r in rows if r["call"]])
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
            "watchlist": rows,
            "deactivated": deactivated(db),
            "edge_line": line,
            "pending": pending(db, today or now.date().isoformat()),
            "trend": accuracy_trend(db),
            "regimes": regime_states(db, as_of=as_of),
            "quarantined": quarantined(db),
            "paper": paper.panel(db),
            "context": market_context(db),
            "stale_sources": stale_sources(db, [r["symbol"] for r in rows if r["stale_sessions"]]),
            # alerts the sender gave up on in the last day: shown, never raised
            "alerts_failed": alerts.undelivered_since(
                db, (now - timedelta(days=1)).astimezone(UTC).isoformat(timespec="seconds")
            ),
        }


def stale_sources(db: sqlite_utils.Database, symbols: list[str]) -> list[str]:
    """The sources of the given symbols' newest bars, sorted: a symbol whose newest bar came
    from the bundled sample can never be brought up to date by collecting."""
    if not symbols:
        return []
    # one index seek per symbol for its newest date (a GROUP BY over the IN list read
    # every bar of every symbol: most of the dashboard's read at 500 symbols)
    rows = db.execute(
        "SELECT DISTINCT b.source FROM (SELECT s.value AS symbol, (SELECT MAX(x.date) "
        "FROM bars x WHERE x.symbol = s.value) AS date FROM json_each(?) s) n "
        "JOIN bars b ON b.symbol = n.symbol AND b.date = n.date",
        [json.dumps(symbols)],
    ).fetchall()
    return sorted(str(r[0]) for r in rows)


def market_context(db: sqlite_utils.Database) -> MarketLine | None:
    """The newest cycle's market-wide context (VIX, the next scheduled event) and its line
    (the nearer of the next FOMC decision and the next estimated CPI release, without its
    date: the dashboard's title is narrow)."""
    row = db.execute(
        "SELECT as_of, vix, vix_pct, next_event, next_event_date, event_sessions, cpi_date, "
        "cpi_sessions FROM call_context ORDER BY as_of DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    keys = (
        "as_of",
        "vix",
        "vix_pct",
        "next_event",
        "next_event_date",
        "event_sessions",
        "cpi_date",
        "cpi_sessions",
    )
    ctx = dict(zip(keys, row, strict=True))
    shown = dict(ctx)
    fomc, cpi = ctx["event_sessions"], ctx["cpi_sessions"]
    if fomc is not None and cpi is not None:  # the title has room for one: the nearer
        shown["cpi_sessions" if fomc <= cpi else "event_sessions"] = None
    line = market.describe(shown, dates=False)
    return cast(MarketLine, {**ctx, "line": line}) if line else None


def quarantined(db: sqlite_utils.Database) -> list[Quarantine]:
    """The quarantines in effect (a model newer than what serves its kind is unusable):
    id, kind, reason, the id that serves instead (or None) and the line that says so."""
    return [
        Quarantine(
            id=q["id"],
            kind=q["kind"],
            reason=q["reason"],
            serves=q["serves"],
            notice=registry.quarantine_notice(q),
        )
        for q in registry.quarantines(db)
    ]


def replay_clock(db: sqlite_utils.Database) -> str | None:
    """The session a replay has reached (None when not replaying, or before its first)."""
    row = db.execute("SELECT mode, sim_date FROM daemon WHERE id = 1").fetchone()
    return row[1] if row and row[0] == "replay" else None


def symbol_detail(
    db: sqlite_utils.Database,
    symbol: str,
    *,
    bars_limit: int = 120,
    history_limit: int = 200,
    as_of: date | None = None,
    now: datetime | None = None,
) -> SymbolDetail:
    """Price history, predictions (with outcomes) and the latest call's signals for one symbol,
    up to `as_of`; by default up to a replay's clock, where the dashboard stops too."""
    with snapshot(db):
        if as_of is None:
            clock = replay_clock(db)
            as_of = session_date(clock) if clock else None
        until = as_of.isoformat() if as_of else MAX_DATE
        bars = db.execute(
            "SELECT date, close FROM bars WHERE symbol = ? AND date <= ? "
            "ORDER BY date DESC LIMIT ?",
            [symbol, until, bars_limit],
        ).fetchall()[::-1]
        rows = _rows(
            db,
            "SELECT id, as_of, horizon, target_date, base_price, pred_change_pct, "
            "pred_price, direction, confidence, regime, model_version, status, "
            f"actual_price, error_pct, {SCORED_SQL}, signals, lower, upper, lower95, upper95, "
            "covered80, covered95 FROM predictions WHERE symbol = ? AND as_of <= ? "
            "ORDER BY as_of DESC, horizon ASC, id DESC LIMIT ?",
            [symbol, until, history_limit],
        )
        for h in rows:
            h["signals"] = _json(h["signals"])
        history = cast(list[HistoryCall], rows)
        latest = history[0] if history else None
        verified = [
            (h["hit"], h["up_hit"], h["majority_hit"]) for h in history if h["status"] == "verified"
        ]
        n, hits, ups, majs = _hit_stats(verified)
        base, name = _baseline(n, ups, majs)
        # the 80% range's realized coverage over the watchlist's window, and the rank
        ranged = [h["covered80"] for h in history if h["covered80"] is not None][:HIT_WINDOW]
        active = [s for (s,) in db.execute("SELECT symbol FROM symbols WHERE active = 1")]
        ranks = ranked_now(db, active, as_of).get(symbol, {})
        horizon = latest["horizon"] if latest else min(ranks, default=None)
        # the latest call's, in a replay
        seen = session_date(latest["as_of"]) if as_of and latest else None
        context = market.context_of(db, [symbol], seen).get(symbol)
        ref = quotes.reference_time(db, as_of is not None, now or datetime.now(UTC))
        live = quotes.read_all(db, ref, {symbol: bars[-1][0] if bars else None}).get(symbol)
        return {
            "symbol": symbol,
            "context": context,
            "context_line": market.describe(context) if context else "",
            "news": news.recent(db, symbol, 8),
            "news_days": news.history_days(db, symbol),
            "news_needed_days": news.MIN_HISTORY_DAYS,
            "bars": [{"date": d, "close": c} for d, c in bars],
            "history": history,
            "signals": signal_contributions(latest["signals"]) if latest else [],
            "latest": latest,
            "n": n,
            "hit_rate": hits / n if n else None,
            "baseline": base,
            "baseline_name": name,
            "regime": regime_state(db, symbol, as_of=as_of),
            "ranking": ranks.get(horizon) if horizon is not None else None,
            "n80": len(ranged),
            "coverage80": sum(ranged) / len(ranged) if ranged else None,
            "live": live,
        }


def signal_contributions(signals: object) -> list[tuple[str, float]]:
    """(name, contribution) pairs from a prediction's signals JSON, largest first.

    Accepts {name: number} or {name: {"contribution": x}} / {name: {"vote": v, "weight": w}};
    nested containers like {"signals": {...}} or {"contributions": {...}} are unwrapped.
    """
    if isinstance(signals, dict):
        for wrapper in ("contributions", "signals"):
            if isinstance(signals.get(wrapper), dict):
                signals = signals[wrapper]
                break
    out = []
    for name, value in signals.items() if isinstance(signals, dict) else []:
        if isinstance(value, int | float) and not isinstance(value, bool):
            out.append((str(name), float(value)))
        elif isinstance(value, dict):
            if isinstance(value.get("contribution"), int | float):
                out.append((str(name), float(value["contribution"])))
            elif isinstance(value.get("vote"), int | float):
                out.append(
                    (str(name), float(value["vote"]) * float(value.get("weight", 1.0) or 0.0))
                )
    return sorted(out, key=lambda kv: -abs(kv[1]))
