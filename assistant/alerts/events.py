"""Events worth a message, read from the store and put into the alert outbox.

The scan reads each source from where it last stopped (a mark in the store), so an
event is enqueued once; its key (`call:<id>`, `range:<id>`, `job:<id>`,
`stale:<symbol>:<last bar>`, `paper-stale:<book>:<symbol>:<last bar>`,
`regime:<symbol>:<date>`, `live95:<symbol>:<session>`,
`quarantine:<model id>`,
`digest:<scheduled slot>`) makes enqueuing it again a no-op. A first scan of a data
home only sets the marks: the history before alerts were switched on is not news.
A directional call is an UP or DOWN prediction: a call that did not pass its model's
evidence gate is stored FLAT, and FLAT calls are never sent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlite_utils

from assistant.config import Alerts
from store import alerts as outbox
from store import daemon_state, quotes
from store import paper as paper_ledger
from store.db import utcnow
from store.freshness import weekdays_between
from vocab.dates import session_date
from vocab.scoring import stale_sessions


def scan(db: sqlite_utils.Database, cfg: Alerts) -> int:
    """Enqueue the events found since the last scan; the number of new alerts."""
    new = 0
    new += _calls(db, cfg)  # a switched-off source still moves its mark: no backlog later
    new += _ranges(db, cfg)
    new += _jobs(db, cfg)
    if cfg.stale:
        new += _stale(db)
        new += _paper_stale(db)
    new += _regimes(db, cfg)
    new += _quarantined(db, cfg)
    if cfg.live_range:
        new += _live_ranges(db)
    return new


def daemon_stopping(db: sqlite_utils.Database, started_at: str | None) -> bool:
    """The daemon is stopping: one message per daemon run."""
    return outbox.enqueue(
        db,
        f"daemon:{started_at or utcnow()}",
        "daemon",
        "trading-assistant: daemon stopping",
        f"The daemon started {started_at or '?'} is stopping at {utcnow()}.",
    )


def _calls(db: sqlite_utils.Database, cfg: Alerts) -> int:
    mark = outbox.get_mark(db, "call")
    if mark is None:
        outbox.set_mark(db, "call", str(outbox.max_call_id(db)))
        return 0
    rows = outbox.calls_after(db, int(mark))
    new = 0
    for row in rows:
        if row["direction"] in ("up", "down") and cfg.calls:
            new += outbox.enqueue(db, f"call:{row['id']}", "call", *_call_text(row))
    if rows:
        outbox.set_mark(db, "call", str(rows[-1]["id"]))
    return new


def _call_text(row: outbox.CallRow) -> tuple[str, str]:
    sym, h, d = row["symbol"], row["horizon"], str(row["direction"]).upper()
    title = f"{sym} {d} over {h} session{'s' if h != 1 else ''}"
    body = (
        f"{sym} {d}: {row['pred_change_pct']:+.2f}% to {row['pred_price']:.2f} by "
        f"{row['target_date']} (close {row['base_price']:.2f} on {row['as_of']})"
    )
    if row.get("lower95") is not None and row.get("upper95") is not None:
        body += f"; 95% range {row['lower95']:.2f} .. {row['upper95']:.2f}"
    if row.get("confidence") is not None:
        body += f"; confidence {row['confidence']:.2f}"
    return title, body + f"; model {row['model_version']}"


def _since(db: sqlite_utils.Database, name: str) -> str | None:
    """The mark of a time-ordered source; a first scan sets it to now and reads nothing."""
    mark = outbox.get_mark(db, name)
    if mark is None:
        outbox.set_mark(db, name, utcnow())
    return mark


def _ranges(db: sqlite_utils.Database, cfg: Alerts) -> int:
    # Every heartbeat wakes the scan; reading the verified calls since the mark walks all of
    # them (65 ms CPU at 100k). Their count (kept per session by the store) says first
    # whether any was verified since. Counted before the mark and the read: a pass landing
    # in between moves the count past the one stored, so it is read (again) next time
    # (enqueue keeps one alert per call).
    count = str(outbox.verified_count(db))
    since = _since(db, "range")
    if since is None or outbox.get_mark(db, "range_count") == count:
        if since is None:
            outbox.set_mark(db, "range_count", count)
        return 0
    rows = outbox.verified_since(db, since)
    new = 0
    for row in rows:
        if cfg.ranges and row["covered95"] == 0:
            sym, actual = row["symbol"], row["actual_price"]
            new += outbox.enqueue(
                db,
                f"range:{row['id']}",
                "range",
                f"{sym} closed outside its 95% range",
                f"{sym} closed {actual:.2f} on {row['target_date']}, outside the 95% range "
                f"{row['lower95']:.2f} .. {row['upper95']:.2f} called on {row['as_of']} "
                f"({row['horizon']} sessions ahead, model {row['model_version']})",
            )
    if rows:
        outbox.set_mark(db, "range", max(str(r["verified_at"]) for r in rows))
    outbox.set_mark(db, "range_count", count)
    return new


def _jobs(db: sqlite_utils.Database, cfg: Alerts) -> int:
    since = _since(db, "job")
    if since is None:
        return 0
    rows = outbox.jobs_ended_since(db, since)
    new = 0
    for row in rows:
        if cfg.jobs and row["status"] == "failed":
            new += outbox.enqueue(
                db,
                f"job:{row['id']}",
                "job",
                f"trading-assistant: job {row['job']} failed",
                f"The {row['job']} job (run {row['id']}, for {row['scheduled_for'] or 'now'}) "
                f"failed: {row['message'] or 'no message'}",
            )
        if cfg.digest and row["job"] == "verify" and row["status"] == "ok":
            new += _digest(db, row)
    if rows:
        outbox.set_mark(db, "job", max(str(r["finished_at"]) for r in rows))
    return new


def _stale(db: sqlite_utils.Database) -> int:
    state = daemon_state.read(db)
    # a replay's today is its simulated session
    ref = (
        session_date(state["sim_date"])
        if state and state.get("mode") == "replay" and state["sim_date"]
        else datetime.now(UTC).date()
    )
    new = 0
    for sym, last in outbox.newest_bars(db).items():
        age = weekdays_between(last, ref)
        if stale_sessions(age):
            new += outbox.enqueue(
                db,
                f"stale:{sym}:{last}",
                "stale",
                f"{sym}: data is stale",
                f"The newest bar of {sym} is from {last}, {age} weekdays before {ref}.",
            )
    return new


def _paper_stale(db: sqlite_utils.Database) -> int:
    """A holding of the paper account with no bar for a while: valued at its last close,
    which no order can trade (models.paper, "Stale holdings"); once per symbol and last bar."""
    books = paper_ledger.latest(db)
    book = "paper" if "paper" in books else "hold"
    new = 0
    for h in paper_ledger.stale_holdings(db, book):
        sym = h["symbol"]
        new += outbox.enqueue(
            db,
            f"paper-stale:{book}:{sym}:{h['last_bar']}",
            "stale",
            f"{sym}: stale holding in the paper account",
            f"The {book} account holds {sym} ({h['weight']:.1%} of equity), which has had no "
            f"bar since {h['last_bar'] or 'ever'} ({h['sessions']} sessions): it is valued at "
            f"its last close {h['price']:,.2f} and no order can trade it. The account closes "
            "it at that close after [paper] stale_exit_sessions sessions without a bar.",
        )
    return new


def _live_ranges(db: sqlite_utils.Database) -> int:
    """A live price left the day's 95% range: once per symbol and session (the quote keeps
    the session's first poll outside it; the key makes a repeat, or a restart, a no-op)."""
    new = 0
    for sym, q in quotes.all_rows(db).items():
        if q["left95_at"] is None or q["left95_price"] is None:
            continue
        rng = quotes.day_range(db, sym, q["session"])
        where = ""
        if rng["lower95"] is not None and rng["upper95"] is not None:
            side = "above" if q["left95_price"] > rng["upper95"] else "below"
            where = (
                f" ({side} {rng['lower95']:.2f} .. {rng['upper95']:.2f}, called on "
                f"{rng['as_of']} from the close {rng['last_close']:.2f})"
            )
        new += outbox.enqueue(
            db,
            f"live95:{sym}:{q['session']}",
            "live_range",
            f"{sym} left today's 95% range",
            f"{sym} traded {q['left95_price']:.2f} at {q['left95_at']}, outside the 95% range "
            f"of its close on {q['session']}{where}; latest {q['price']:.2f} at {q['at']}",
        )
    return new


def _regimes(db: sqlite_utils.Database, cfg: Alerts) -> int:
    """A symbol's newest regime differs from the one the last scan saw (its first: none)."""
    new = 0
    for sym, (date, regime) in outbox.latest_regimes(db).items():
        name = f"regime:{sym}"
        mark = outbox.get_mark(db, name)
        seen = f"{date}|{regime}"
        if mark == seen:
            continue
        before_date, _, before = (mark or "").partition("|")
        if cfg.regimes and mark is not None and before != regime and date > before_date:
            new += outbox.enqueue(
                db,
                f"{name}:{date}",
                "regime",
                f"{sym}: regime now {regime}",
                f"{sym} turned {regime} on {date} (was {before} on {before_date})",
            )
        outbox.set_mark(db, name, seen)
    return new


def _quarantined(db: sqlite_utils.Database, cfg: Alerts) -> int:
    """Models quarantined since the last scan (the mark lists those already seen)."""
    mark = outbox.get_mark(db, "quarantine")
    rows = outbox.quarantined_models(db)
    seen = set(json.loads(mark)) if mark is not None else {r["id"] for r in rows}
    new = 0
    for row in rows:
        if row["id"] not in seen and cfg.quarantine:
            new += outbox.enqueue(
                db,
                f"quarantine:{row['id']}",
                "quarantine",
                f"trading-assistant: model {row['id']} quarantined",
                f"The {row['kind']} model {row['id']} was quarantined: "
                f"{row['reason'] or 'no reason given'}",
            )
    ids = sorted({r["id"] for r in rows})
    if mark is None or set(ids) != set(json.loads(mark)):
        outbox.set_mark(db, "quarantine", json.dumps(ids))
    return new


def _digest(db: sqlite_utils.Database, verify: outbox.JobRun) -> int:
    """The daily digest, once the verify after a cycle ended: the cycle's calls (UP, DOWN,
    FLAT), and the calls this verify scored: hits of the UP/DOWN ones, 95% coverage."""
    slot = verify["scheduled_for"] or verify["started_at"]
    cycle = outbox.last_ok_run(db, "cycle", slot) if verify["scheduled_for"] else None
    made = outbox.made_between(db, cycle["started_at"], cycle["finished_at"]) if cycle else []
    scored = outbox.verified_between(db, verify["started_at"], verify["finished_at"])
    lines = []
    directional = [r for r in made if r["direction"] in ("up", "down")]
    if made:
        lines.append(
            f"Calls: {len(made)} ({sum(r['direction'] == 'up' for r in made)} UP, "
            f"{sum(r['direction'] == 'down' for r in made)} DOWN, "
            f"{len(made) - len(directional)} FLAT = no edge)"
        )
        lines += [f"  {_call_text(r)[1]}" for r in directional[:20]]
    else:
        lines.append("Calls: none made in this cycle")
    hits = [r["hit"] for r in scored if r["hit"] is not None]
    ranged = [r["covered95"] for r in scored if r["covered95"] is not None]
    lines.append(
        f"Scored: {len(scored)} matured call(s); UP/DOWN hits {sum(hits)}/{len(hits)}; "
        f"closes inside their 95% range {sum(ranged)}/{len(ranged)}"
    )
    line = _paper_line(db)
    if line:
        lines.append(line)
    return int(
        outbox.enqueue(
            db, f"digest:{slot}", "digest", f"trading-assistant: digest {slot}", "\n".join(lines)
        )
    )


def _paper_line(db: sqlite_utils.Database) -> str | None:
    """The paper account's newest session next to buy-and-hold (None before it exists)."""
    books = paper_ledger.standing(db)
    main = books.get("paper") or books.get("hold")
    if main is None:
        return None
    text = (
        f"Paper account {main['session']}: equity {main['equity']:,.0f} "
        f"({main['equity'] / main['start'] - 1:+.1%}), {main['positions']} position(s)"
    )
    hold = books.get("hold")
    if hold is not None and main is not hold:
        text += f"; buy-and-hold {hold['equity'] / hold['start'] - 1:+.1%}"
    return text
