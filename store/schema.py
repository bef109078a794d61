"""The schema, as an ordered list of migrations. Never edit a released step: add one."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils import Migrations

MIGRATIONS = Migrations("trading-assistant")


@MIGRATIONS()
def m001_initial(db: sqlite_utils.Database) -> None:
    _run(
        db,
        """
        CREATE TABLE symbols (
            symbol TEXT PRIMARY KEY,
            active INTEGER NOT NULL DEFAULT 1,
            source TEXT NOT NULL DEFAULT 'sample',
            added_at TEXT NOT NULL,
            removed_at TEXT,
            last_collected_at TEXT,
            last_error TEXT,
            consecutive_empty INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE bars (
            symbol TEXT NOT NULL REFERENCES symbols(symbol),
            date TEXT NOT NULL,
            open REAL NOT NULL,
            high REAL NOT NULL,
            low REAL NOT NULL,
            close REAL NOT NULL,
            volume REAL NOT NULL DEFAULT 0,
            raw_close REAL NOT NULL,
            adj_factor REAL NOT NULL DEFAULT 1.0,
            provisional INTEGER NOT NULL DEFAULT 0,
            flagged INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL,
            PRIMARY KEY (symbol, date)
        ) WITHOUT ROWID;
        CREATE TABLE models (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            version INTEGER NOT NULL,
            trained_at TEXT NOT NULL,
            symbols TEXT NOT NULL DEFAULT '[]',
            horizons TEXT NOT NULL DEFAULT '[]',
            train_start TEXT, train_end TEXT,
            val_start TEXT, val_end TEXT,
            test_start TEXT, test_end TEXT,
            feature_hash TEXT NOT NULL,
            metrics TEXT NOT NULL DEFAULT '{}',
            artifact_path TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'candidate',
            reason TEXT
        );
        CREATE INDEX models_kind_status ON models(kind, status);
        CREATE TABLE predictions (
            id INTEGER PRIMARY KEY,
            symbol TEXT NOT NULL REFERENCES symbols(symbol),
            as_of TEXT NOT NULL,
            horizon INTEGER NOT NULL,
            model_version TEXT NOT NULL,
            made_at TEXT NOT NULL,
            target_date TEXT NOT NULL,
            base_price REAL NOT NULL,
            pred_change_pct REAL NOT NULL,
            pred_price REAL NOT NULL,
            lower REAL,
            upper REAL,
            p_up REAL, p_flat REAL, p_down REAL,
            direction TEXT NOT NULL,
            confidence REAL,
            regime TEXT,
            signals TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'pending',
            actual_price REAL,
            error_pct REAL,
            hit INTEGER,
            verified_at TEXT,
            UNIQUE (symbol, as_of, horizon, model_version)
        );
        CREATE INDEX predictions_status_target ON predictions(status, target_date);
        CREATE INDEX predictions_symbol_asof ON predictions(symbol, as_of);
        CREATE TABLE regimes (
            symbol TEXT NOT NULL REFERENCES symbols(symbol),
            date TEXT NOT NULL,
            regime TEXT NOT NULL,
            trend REAL,
            volatility REAL,
            PRIMARY KEY (symbol, date)
        ) WITHOUT ROWID;
        CREATE TABLE weights (
            symbol TEXT NOT NULL,
            regime TEXT NOT NULL,
            signal TEXT NOT NULL,
            weight REAL NOT NULL,
            updated_at TEXT NOT NULL,
            reason TEXT,
            PRIMARY KEY (symbol, regime, signal)
        ) WITHOUT ROWID;
        CREATE TABLE weight_changes (
            id INTEGER PRIMARY KEY,
            symbol TEXT NOT NULL,
            regime TEXT NOT NULL,
            signal TEXT NOT NULL,
            old_weight REAL,
            new_weight REAL NOT NULL,
            reason TEXT NOT NULL,
            changed_at TEXT NOT NULL
        );
        CREATE TABLE job_runs (
            id INTEGER PRIMARY KEY,
            job TEXT NOT NULL,
            scheduled_for TEXT,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'running',
            progress REAL,
            message TEXT
        );
        CREATE INDEX job_runs_job ON job_runs(job, started_at);
        CREATE TABLE commands (
            id INTEGER PRIMARY KEY,
            key TEXT UNIQUE,
            kind TEXT NOT NULL,
            args TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            claimed_at TEXT,
            finished_at TEXT,
            status TEXT NOT NULL DEFAULT 'queued',
            result TEXT,
            error TEXT
        );
        CREATE INDEX commands_status ON commands(status, id);
        CREATE TABLE daemon (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pid INTEGER,
            started_at TEXT,
            heartbeat_at TEXT,
            stopped_at TEXT,
            mode TEXT,
            sim_date TEXT,
            version TEXT
        );
        """,
    )


def _run(db: sqlite_utils.Database, script: str) -> None:
    # executescript() would commit the migration's transaction early: run statements one by one.
    for statement in script.split(";"):
        if statement.strip():
            db.execute(statement)


def known_migration_names() -> set[str]:
    return {m.name for m in MIGRATIONS._migrations}


@MIGRATIONS()
def m002_cycle_learning(db: sqlite_utils.Database) -> None:
    # outcome: the realized class (up/flat/down) of a verified call, for baselines.
    # calibration: realized hit rate per stated-confidence bucket, to recalibrate new calls.
    _run(
        db,
        """
        ALTER TABLE predictions ADD COLUMN outcome TEXT;
        CREATE TABLE calibration (
            scope TEXT NOT NULL,
            horizon INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            n INTEGER NOT NULL DEFAULT 0,
            hits INTEGER NOT NULL DEFAULT 0,
            stated_sum REAL NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (scope, horizon, bucket)
        ) WITHOUT ROWID
        """,
    )


@MIGRATIONS()
def m003_daemon_state(db: sqlite_utils.Database) -> None:
    # daemon.state: where the loop is (starting / running / finished replay / stopping /
    # stopped). commands.interruptions: how often a daemon died while running the command,
    # so one that keeps killing the daemon is failed with its reason instead of re-run forever.
    _run(
        db,
        """
        ALTER TABLE daemon ADD COLUMN state TEXT;
        ALTER TABLE commands ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0
        """,
    )


@MIGRATIONS()
def m004_tui_verified_stats(db: sqlite_utils.Database) -> None:
    # The dashboard's hit rates and accuracy trend read only verified calls: two partial
    # covering indexes let those reads scan index entries instead of 100k table rows.
    _run(
        db,
        """
        CREATE INDEX predictions_verified_by_target ON predictions(
            target_date, hit, outcome, actual_price, base_price) WHERE status = 'verified';
        CREATE INDEX predictions_verified_by_symbol ON predictions(
            symbol, as_of, hit, outcome, actual_price, base_price) WHERE status = 'verified'
        """,
    )


@MIGRATIONS()
def m005_one_truth(db: sqlite_utils.Database) -> None:
    # One scoring rule (models.outcomes), applied once by `verify`: `hit` is NULL for FLAT
    # calls (no directional claim); the baselines' hits on the same row are stored beside
    # it (always-up, and the causal majority known at the call), so every reader (report,
    # TUI) aggregates stored numbers and re-implements no rule. Earlier rows are re-scored.
    # Ranges: lower/upper are the 80% range of the target close, lower95/upper95 the 95%
    # one, vol_sigma the forecast std of the h-session log return they were built from;
    # verify stores whether each range covered the close (covered80, covered95).
    # As-of reads (what was known at a date D): models.data_end is the last bar a model's
    # training saw; weight changes and calibration passes carry the session they became
    # valid (the verify pass's date), so weights and calibration can be read as of D.
    _run(
        db,
        """
        ALTER TABLE predictions ADD COLUMN lower95 REAL;
        ALTER TABLE predictions ADD COLUMN upper95 REAL;
        ALTER TABLE predictions ADD COLUMN vol_sigma REAL;
        ALTER TABLE predictions ADD COLUMN covered80 INTEGER;
        ALTER TABLE predictions ADD COLUMN covered95 INTEGER;
        ALTER TABLE models ADD COLUMN data_end TEXT;
        UPDATE models SET data_end = COALESCE(test_end, val_end, train_end);
        ALTER TABLE weight_changes ADD COLUMN valid_from TEXT;
        UPDATE weight_changes SET valid_from = substr(changed_at, 1, 10);
        CREATE INDEX weight_changes_valid ON weight_changes(symbol, valid_from);
        CREATE TABLE calibration_passes (
            id INTEGER PRIMARY KEY,
            scope TEXT NOT NULL,
            horizon INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            n INTEGER NOT NULL,
            hits INTEGER NOT NULL,
            stated_sum REAL NOT NULL,
            valid_from TEXT NOT NULL
        );
        INSERT INTO calibration_passes (scope, horizon, bucket, n, hits, stated_sum, valid_from)
            SELECT scope, horizon, bucket, n, hits, stated_sum, substr(updated_at, 1, 10)
            FROM calibration;
        DROP TABLE calibration;
        ALTER TABLE predictions ADD COLUMN up_hit INTEGER;
        ALTER TABLE predictions ADD COLUMN majority_hit INTEGER;
        DROP INDEX predictions_verified_by_target;
        DROP INDEX predictions_verified_by_symbol;
        CREATE INDEX predictions_verified_by_target ON predictions(
            target_date, hit, up_hit, majority_hit) WHERE status = 'verified';
        CREATE INDEX predictions_verified_by_symbol ON predictions(
            symbol, as_of, hit, up_hit, majority_hit) WHERE status = 'verified';
        UPDATE predictions SET
            up_hit = CASE WHEN actual_price > base_price THEN 1 ELSE 0 END,
            hit = CASE direction
                WHEN 'up' THEN CASE WHEN actual_price > base_price THEN 1 ELSE 0 END
                WHEN 'down' THEN CASE WHEN actual_price < base_price THEN 1 ELSE 0 END
                ELSE NULL END
            WHERE status = 'verified'
        """,
    )


@MIGRATIONS()
def m006_range_coverage_in_index(db: sqlite_utils.Database) -> None:
    # The dashboard's range coverage is summed in the same index-only pass as its accuracy
    # trend: the covering index of verified calls carries covered80/covered95 too (without
    # them the sums read every verified row from the table: 80 ms at 100k calls).
    _run(
        db,
        """
        DROP INDEX predictions_verified_by_target;
        CREATE INDEX predictions_verified_by_target ON predictions(
            target_date, hit, up_hit, majority_hit, covered80, covered95)
            WHERE status = 'verified';
        """,
    )


@MIGRATIONS()
def m007_alert_outbox(db: sqlite_utils.Database) -> None:
    # alerts: the outbox the daemon's sender drains; `key` names the event, so one event
    # produced twice is one row (one message). alert_marks: how far the event scan has
    # read each source (prediction ids, verify and job-end times), so nothing is re-sent;
    # the two indexes keep that read from scanning every stored call and job run.
    _run(
        db,
        """
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            event TEXT NOT NULL,
            title TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            tries INTEGER NOT NULL DEFAULT 0,
            next_try_at TEXT NOT NULL,
            sent_at TEXT,
            last_error TEXT
        );
        CREATE INDEX alerts_due ON alerts(status, next_try_at);
        CREATE INDEX predictions_verified_at ON predictions(verified_at);
        CREATE INDEX job_runs_finished_at ON job_runs(finished_at);
        CREATE TABLE alert_marks (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID
        """,
    )


@MIGRATIONS()
def m008_session_calendar(db: sqlite_utils.Database) -> None:
    # The dashboard counts sessions as the CLI does, without an exchange calendar of its
    # own: the app records each watched symbol's exchange and that exchange's holidays
    # (weekdays with no session) over the span it has checked.
    _run(
        db,
        """
        ALTER TABLE symbols ADD COLUMN exchange TEXT;
        CREATE TABLE holidays (
            exchange TEXT NOT NULL,
            date TEXT NOT NULL,
            PRIMARY KEY (exchange, date)
        ) WITHOUT ROWID;
        CREATE TABLE calendar_spans (
            exchange TEXT PRIMARY KEY,
            start TEXT NOT NULL,
            end TEXT NOT NULL
        );
        """,
    )


@MIGRATIONS()
def m009_model_known_on(db: sqlite_utils.Database) -> None:
    # models.known_on: the session by whose close the model existed on the clock of whoever
    # trained it (the daemon's session: simulated in replay, today live; the --as-of date of
    # `train`, else its last bar). It may serve a call as of D only when known_on < D, so a
    # model trained after D on old data never changes D's calls. Earlier rows: their last
    # bar (the best that is known).
    _run(
        db,
        """
        ALTER TABLE models ADD COLUMN known_on TEXT;
        UPDATE models SET known_on = data_end
        """,
    )


@MIGRATIONS()
def m010_rankings(db: sqlite_utils.Database) -> None:
    # The ranking model's relative calls: per cycle, each watched symbol's rank among the
    # ranked symbols (1 = best), how many were ranked, and the expected move relative to
    # their mean (log return over the horizon), per horizon and ranking model.
    _run(
        db,
        """
        CREATE TABLE rankings (
            symbol TEXT NOT NULL,
            as_of TEXT NOT NULL,
            horizon INTEGER NOT NULL,
            model_version TEXT NOT NULL,
            rank INTEGER NOT NULL,
            of INTEGER NOT NULL,
            relative REAL NOT NULL,
            made_at TEXT NOT NULL,
            PRIMARY KEY (symbol, as_of, horizon, model_version)
        ) WITHOUT ROWID;
        CREATE INDEX rankings_as_of ON rankings (as_of)
        """,
    )


@MIGRATIONS()
def m011_world_context(db: sqlite_utils.Database) -> None:
    # market_series: outside series (^VIX, yields) with their own source; a value is stored
    # once its session has closed and is never revised afterwards (what a past call saw
    # stays what it saw). call_context: what the cycle saw around each symbol's calls as of
    # a session (VIX level and percentile, the next scheduled event, news count and mean
    # sentiment), for `report` and the dashboard. news: headlines per symbol, deduplicated
    # by the source's id (else the link), with their publish time and a lexicon sentiment.
    _run(
        db,
        """
        CREATE TABLE market_series (
            series TEXT NOT NULL,
            date TEXT NOT NULL,
            value REAL NOT NULL,
            source TEXT NOT NULL,
            collected_at TEXT NOT NULL,
            PRIMARY KEY (series, date)
        ) WITHOUT ROWID;
        CREATE TABLE call_context (
            symbol TEXT NOT NULL,
            as_of TEXT NOT NULL,
            vix REAL,
            vix_pct REAL,
            vix_date TEXT,
            next_event TEXT,
            next_event_date TEXT,
            event_sessions INTEGER,
            news_n INTEGER,
            news_sentiment REAL,
            PRIMARY KEY (symbol, as_of)
        ) WITHOUT ROWID;
        CREATE TABLE news (
            id INTEGER PRIMARY KEY,
            symbol TEXT NOT NULL,
            key TEXT NOT NULL,
            published_at TEXT NOT NULL,
            title TEXT NOT NULL,
            publisher TEXT,
            link TEXT,
            sentiment REAL NOT NULL,
            collected_at TEXT NOT NULL,
            UNIQUE (symbol, key)
        );
        CREATE INDEX news_by_symbol ON news(symbol, published_at)
        """,
    )


@MIGRATIONS()
def m012_paper_account(db: sqlite_utils.Database) -> None:
    # The paper account (models/paper.py), one row per session and book (paper, hold,
    # long): cash, equity, costs, the account after that session's close (positions with
    # their entry fills, last prices) and the orders decided after that close (`pending`,
    # filled at the next session's open). A session's rows and its fills are written in
    # one transaction, and a session already written is never stepped again: a cycle that
    # is re-run, or killed and re-run, cannot trade twice.
    _run(
        db,
        """
        CREATE TABLE paper_days (
            session TEXT NOT NULL,
            book TEXT NOT NULL,
            cash REAL NOT NULL,
            equity REAL NOT NULL,
            costs REAL NOT NULL,
            traded REAL NOT NULL,
            account TEXT NOT NULL,
            pending TEXT,
            written_at TEXT NOT NULL,
            PRIMARY KEY (session, book)
        ) WITHOUT ROWID;
        CREATE TABLE paper_fills (
            session TEXT NOT NULL,
            book TEXT NOT NULL,
            symbol TEXT NOT NULL,
            shares REAL NOT NULL,
            price REAL NOT NULL,
            cost REAL NOT NULL,
            PRIMARY KEY (session, book, symbol)
        ) WITHOUT ROWID;
        CREATE TABLE paper_trips (
            exit_session TEXT NOT NULL,
            book TEXT NOT NULL,
            symbol TEXT NOT NULL,
            side TEXT NOT NULL,
            entry_session TEXT NOT NULL,
            entry_price REAL NOT NULL,
            exit_price REAL NOT NULL,
            hit INTEGER NOT NULL,
            PRIMARY KEY (exit_session, book, symbol)
        ) WITHOUT ROWID
        """,
    )


@MIGRATIONS()
def m013_macro_and_cpi(db: sqlite_utils.Database) -> None:
    # Monthly / quarterly macro series (CPI, unemployment, GDP growth, policy rate), one row
    # per (series, reference period, revision): revision 0 is the first value stored, a
    # later different value is a new revision, never an overwrite. known_from is the first
    # date a call may use the row (its release by the series' stated lag, or for a revision
    # the day it was collected), so the picture as of a past date is never back-filled.
    # call_context gains the next (estimated) CPI release beside the next FOMC decision.
    _run(
        db,
        """
        CREATE TABLE macro_values (
            series TEXT NOT NULL,
            period TEXT NOT NULL,
            revision INTEGER NOT NULL,
            value REAL NOT NULL,
            known_from TEXT NOT NULL,
            source TEXT NOT NULL,
            collected_at TEXT NOT NULL,
            PRIMARY KEY (series, period, revision)
        ) WITHOUT ROWID;
        ALTER TABLE call_context ADD COLUMN cpi_date TEXT;
        ALTER TABLE call_context ADD COLUMN cpi_sessions INTEGER
        """,
    )


@MIGRATIONS()
def m014_range_states(db: sqlite_utils.Database) -> None:
    # A checkpoint of the ranges' adaptive conformal state per symbol set and horizon, so a
    # cycle feeds only the outcomes verified since instead of replaying the whole ledger.
    # last_session: the newest target session fed; state: JSON (models.intervals).
    # residual_changes counts the writes of verified calls (a cycle saves its checkpoint
    # only if none came between its read and its write). Verifying calls voids the
    # checkpoints that had fed their sessions (store.predictions.mark_verified); the
    # triggers do the same for any other write of a verified call with a volatility
    # forecast: inserted verified, deleted, or its key, prices, sigma or session edited.
    # They watch no column that verifying sets, so they cost the verify pass nothing.
    _run(
        db,
        """
        CREATE TABLE range_states (
            id INTEGER PRIMARY KEY,
            symbols_key TEXT NOT NULL,
            horizon INTEGER NOT NULL,
            last_session TEXT NOT NULL,
            saved_at TEXT NOT NULL,
            state TEXT NOT NULL,
            UNIQUE (symbols_key, horizon)
        );
        CREATE INDEX range_states_fed ON range_states(horizon, last_session);
        CREATE TABLE residual_changes (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            n INTEGER NOT NULL
        );
        INSERT INTO residual_changes (id, n) VALUES (1, 0)
        """,
    )
    fed = "{0}.status = 'verified' AND {0}.vol_sigma IS NOT NULL"
    void = (
        "DELETE FROM range_states WHERE horizon = {0}.horizon AND last_session >= {0}.target_date"
    )
    count = "UPDATE residual_changes SET n = n + 1"
    # one statement each: _run splits on ';', which a trigger's body holds
    db.execute(
        "CREATE TRIGGER predictions_ranges_insert AFTER INSERT ON predictions "
        f"WHEN {fed.format('NEW')} BEGIN {void.format('NEW')}; {count}; END"
    )
    db.execute(
        "CREATE TRIGGER predictions_ranges_update AFTER UPDATE OF id, symbol, as_of, horizon, "
        "target_date, base_price, pred_price, vol_sigma ON predictions "
        f"WHEN ({fed.format('OLD')}) OR ({fed.format('NEW')}) BEGIN "
        f"{void.format('OLD')}; {void.format('NEW')}; {count}; END"
    )
    db.execute(
        "CREATE TRIGGER predictions_ranges_delete AFTER DELETE ON predictions "
        f"WHEN {fed.format('OLD')} BEGIN {void.format('OLD')}; {count}; END"
    )


# What one verified call adds to its target session's row of verified_by_target (`r` is
# NEW or OLD): the per-session sums the accuracy trend and the range coverage are built from.
_VERIFIED_SUMS = (
    ("calls", "1"),
    ("n", "({r}.hit IS NOT NULL)"),
    ("hits", "COALESCE({r}.hit, 0)"),
    ("ups", "CASE WHEN {r}.hit IS NOT NULL THEN COALESCE({r}.up_hit, 0) ELSE 0 END"),
    ("majs", "CASE WHEN {r}.hit IS NOT NULL THEN COALESCE({r}.majority_hit, 0) ELSE 0 END"),
    ("n80", "({r}.covered80 IS NOT NULL)"),
    ("in80", "COALESCE({r}.covered80, 0)"),
    ("n95", "({r}.covered95 IS NOT NULL)"),
    ("in95", "COALESCE({r}.covered95, 0)"),
)


def _verified_add(r: str) -> str:
    names = ", ".join(name for name, _ in _VERIFIED_SUMS)
    values = ", ".join(expr.format(r=r) for _, expr in _VERIFIED_SUMS)
    sums = ", ".join(f"{name} = {name} + excluded.{name}" for name, _ in _VERIFIED_SUMS)
    return (
        f"INSERT INTO verified_by_target (target_date, {names}) VALUES ({r}.target_date, {values}) "
        f"ON CONFLICT (target_date) DO UPDATE SET {sums};"
    )


def _verified_remove(r: str) -> str:
    sums = ", ".join(f"{name} = {name} - {expr.format(r=r)}" for name, expr in _VERIFIED_SUMS)
    return (
        f"UPDATE verified_by_target SET {sums} WHERE target_date = {r}.target_date; "
        f"DELETE FROM verified_by_target WHERE target_date = {r}.target_date AND calls = 0;"
    )


@MIGRATIONS()
def m015_verified_by_target(db: sqlite_utils.Database) -> None:
    # The dashboard's accuracy trend and range coverage are per-target-session sums over
    # every verified call: summing them at each refresh scanned ~100k index entries (55 ms
    # of a 75 ms dashboard read). Triggers keep the sums per target session as calls are
    # verified (or inserted, rescored, deleted), so the read is one row per session.
    # (Predictions are written with INSERT OR IGNORE: an INSERT OR REPLACE would skip the
    # delete trigger unless recursive_triggers is on.)
    # The watchlist's 80% coverage over a symbol's last verified calls reads covered80 from
    # the partial index of verified calls by symbol too (it read each row from the table).
    scored = "status, target_date, hit, up_hit, majority_hit, covered80, covered95"
    names = ", ".join(name for name, _ in _VERIFIED_SUMS)
    columns = ", ".join(f"{name} INTEGER NOT NULL" for name, _ in _VERIFIED_SUMS)
    sums = ", ".join(f"SUM({expr.format(r='p')})" for _, expr in _VERIFIED_SUMS)
    _run(
        db,
        f"""
        DROP INDEX predictions_verified_by_symbol;
        CREATE INDEX predictions_verified_by_symbol ON predictions(
            symbol, as_of, hit, up_hit, majority_hit, covered80) WHERE status = 'verified';
        CREATE TABLE verified_by_target (
            target_date TEXT PRIMARY KEY,
            {columns}
        ) WITHOUT ROWID;
        INSERT INTO verified_by_target (target_date, {names})
            SELECT p.target_date, {sums}
            FROM predictions p WHERE p.status = 'verified' GROUP BY p.target_date
        """,
    )
    # (trigger bodies hold ';': one execute each, not through _run)
    for statement in (
        "CREATE TRIGGER predictions_verified_insert AFTER INSERT ON predictions "
        f"WHEN NEW.status = 'verified' BEGIN {_verified_add('NEW')} END",
        "CREATE TRIGGER predictions_verified_delete AFTER DELETE ON predictions "
        f"WHEN OLD.status = 'verified' BEGIN {_verified_remove('OLD')} END",
        f"CREATE TRIGGER predictions_verified_update_old AFTER UPDATE OF {scored} ON predictions "
        f"WHEN OLD.status = 'verified' BEGIN {_verified_remove('OLD')} END",
        f"CREATE TRIGGER predictions_verified_update_new AFTER UPDATE OF {scored} ON predictions "
        f"WHEN NEW.status = 'verified' BEGIN {_verified_add('NEW')} END",
    ):
        db.execute(statement)


@MIGRATIONS()
def m016_drop_unread_index(db: sqlite_utils.Database) -> None:
    # The accuracy trend reads verified_by_target (m015) now; no query reads the partial
    # index it used (EXPLAIN QUERY PLAN of the dashboard, ledger, report and alert reads),
    # and every verification paid for moving a row into it.
    _run(db, "DROP INDEX IF EXISTS predictions_verified_by_target")


@MIGRATIONS()
def m017_verify_in_bulk(db: sqlite_utils.Database) -> None:
    # A verify pass scores thousands of calls at once: per-row triggers kept the per-session
    # sums at ~40 us a row (half of a 100k pass). While a pass holds its row in
    # sums_paused (inside its own transaction, so no other connection ever sees it) the
    # update triggers stand aside and the pass adds its calls' sums once, per session
    # (`store.predictions.mark_verified`); every other write still goes through them.
    scored = "status, target_date, hit, up_hit, majority_hit, covered80, covered95"
    paused = "NOT EXISTS (SELECT 1 FROM sums_paused)"
    _run(
        db,
        """
        CREATE TABLE sums_paused (pass INTEGER PRIMARY KEY);
        DROP TRIGGER predictions_verified_update_old;
        DROP TRIGGER predictions_verified_update_new
        """,
    )
    for statement in (
        f"CREATE TRIGGER predictions_verified_update_old AFTER UPDATE OF {scored} ON predictions "
        f"WHEN OLD.status = 'verified' AND {paused} BEGIN {_verified_remove('OLD')} END",
        f"CREATE TRIGGER predictions_verified_update_new AFTER UPDATE OF {scored} ON predictions "
        f"WHEN NEW.status = 'verified' AND {paused} BEGIN {_verified_add('NEW')} END",
    ):
        db.execute(statement)


def verified_sums_of(table: str, *, pending: bool = False) -> str:
    """SQL adding the sums of the verified predictions whose ids are in `table` (column id)
    to their target sessions' rows of verified_by_target. With `pending`: the sums of the
    scores in `table` (columns named as in predictions) of the calls still pending, added
    before those calls are marked verified with them."""
    names = ", ".join(name for name, _ in _VERIFIED_SUMS)
    r = "t" if pending else "p"
    sums = ", ".join(f"SUM({expr.format(r=r)})" for _, expr in _VERIFIED_SUMS)
    add = ", ".join(f"{name} = {name} + excluded.{name}" for name, _ in _VERIFIED_SUMS)
    status = "pending" if pending else "verified"
    return (
        f"INSERT INTO verified_by_target (target_date, {names}) "
        f"SELECT p.target_date, {sums} FROM {table} t JOIN predictions p ON p.id = t.id "
        f"WHERE p.status = '{status}' GROUP BY p.target_date "
        f"ON CONFLICT (target_date) DO UPDATE SET {add}"
    )


@MIGRATIONS()
def m018_hourly_bars(db: sqlite_utils.Database) -> None:
    # One-hour bars in their own table. `ts` is the bar's start in the exchange's local time
    # with its UTC offset (2024-03-08T09:30:00-05:00): within one session the offset never
    # changes, so text order is time order. `session` is the exchange session the bar belongs
    # to and `slot` its 0-based hour of that session (the first bar of a session is slot 0,
    # whatever the clock says), so an early close simply has fewer slots.
    # `flagged` = 1 marks a bar whose session does not roll up to the stored daily bar.
    _run(
        db,
        """
        CREATE TABLE hourly_bars (
            symbol TEXT NOT NULL REFERENCES symbols(symbol),
            ts TEXT NOT NULL,
            session TEXT NOT NULL,
            slot INTEGER NOT NULL,
            open REAL NOT NULL,
            high REAL NOT NULL,
            low REAL NOT NULL,
            close REAL NOT NULL,
            volume REAL NOT NULL DEFAULT 0,
            flagged INTEGER NOT NULL DEFAULT 0,
            source TEXT NOT NULL,
            PRIMARY KEY (symbol, ts)
        ) WITHOUT ROWID;
        CREATE INDEX hourly_bars_session ON hourly_bars(symbol, session, slot)
        """,
    )


@MIGRATIONS()
def m019_hourly_calls(db: sqlite_utils.Database) -> None:
    # Hour-ahead calls in their own ledger, scored by the same functions as the daily one
    # (docs/intraday.md, "Hour-ahead calls"). Not the predictions table: there `horizon`
    # counts sessions and `target_date` is a session date for every reader (the per-session
    # sums of m015, the ranges' checkpoints of m014, calibration, weights, live records,
    # the dashboard), so an hourly row there would be read as a daily one by each of them.
    # `as_of` and `target` are bar starts as hourly_bars stores them (local ISO with the
    # UTC offset); a call is made at the close of its as_of bar and scored on the close of
    # its target bar, `horizon` session hours later. `session`/`slot` and
    # `target_session`/`target_slot` place both bars in their sessions.
    _run(
        db,
        """
        CREATE TABLE hourly_predictions (
            id INTEGER PRIMARY KEY,
            symbol TEXT NOT NULL REFERENCES symbols(symbol),
            as_of TEXT NOT NULL,
            horizon INTEGER NOT NULL,
            model_version TEXT NOT NULL,
            made_at TEXT NOT NULL,
            session TEXT NOT NULL,
            slot INTEGER NOT NULL,
            target TEXT NOT NULL,
            target_session TEXT NOT NULL,
            target_slot INTEGER NOT NULL,
            base_price REAL NOT NULL,
            pred_change_pct REAL NOT NULL,
            pred_price REAL NOT NULL,
            lower REAL,
            upper REAL,
            lower95 REAL,
            upper95 REAL,
            vol_sigma REAL,
            p_up REAL,
            p_flat REAL,
            p_down REAL,
            direction TEXT NOT NULL,
            flat_band REAL,
            majority INTEGER,
            last_move INTEGER,
            status TEXT NOT NULL DEFAULT 'pending',
            actual_price REAL,
            error_pct REAL,
            hit INTEGER,
            outcome TEXT,
            up_hit INTEGER,
            majority_hit INTEGER,
            covered80 INTEGER,
            covered95 INTEGER,
            verified_at TEXT,
            UNIQUE (symbol, as_of, horizon, model_version)
        );
        CREATE INDEX hourly_predictions_status_target
            ON hourly_predictions(status, target_session, target)
        """,
    )


@MIGRATIONS()
def m020_live_quotes(db: sqlite_utils.Database) -> None:
    # The latest quote per symbol while its exchange is open (assistant.ingest.quotes), one
    # row each, overwritten at every poll. Times are UTC ISO-8601 (in a replay: simulated).
    # `at` is the quote's own time, `polled_at` the last poll that asked for it,
    # `updated_at` the poll that last brought a newer quote; `misses` counts the polls in a
    # row since then that brought nothing newer (no answer, an error, the same quote) and
    # `stale` is set once that reaches [live] stale_polls; `fresh_until` is when the quote
    # turns stale should no poll come at all (a stopped daemon). `session` is the exchange
    # session the quote belongs to and `closes_at` its close. low/high: the session's lowest
    # and highest price polled; left95_at/left95_price: the first poll of the session that
    # found the price outside the day's 95% range (what the live-range alert says).
    _run(
        db,
        """
        CREATE TABLE quotes (
            symbol TEXT PRIMARY KEY REFERENCES symbols(symbol),
            session TEXT NOT NULL,
            price REAL NOT NULL,
            at TEXT NOT NULL,
            polled_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            source TEXT NOT NULL,
            misses INTEGER NOT NULL DEFAULT 0,
            stale INTEGER NOT NULL DEFAULT 0,
            fresh_until TEXT NOT NULL,
            closes_at TEXT NOT NULL,
            low REAL NOT NULL,
            high REAL NOT NULL,
            left95_at TEXT,
            left95_price REAL,
            last_error TEXT
        ) WITHOUT ROWID
        """,
    )


@MIGRATIONS()
def m021_verify(db: sqlite_utils.Database) -> None:
    # predictions_verified_at (m007) is read by no query: the alerts' reads of calls verified
    # since a mark (`status = 'verified' AND verified_at ...`) are planned on
    # predictions_status_target (EXPLAIN QUERY PLAN, with or without it), and nothing else
    # filters or sorts on verified_at. Every verified or expired call paid for an entry in
    # it: 0.18 s CPU of a 100k-call verify pass, and its pages at the commit.
    _run(db, "DROP INDEX IF EXISTS predictions_verified_at")
