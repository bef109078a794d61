"""CLI commands of the decision loop: predict, verify, backfill, predictions, report."""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from assistant.cli.common import date_option, known_symbols, open_home, print_json, table
from assistant.cli.modeling import ranking_line, ranking_years
from assistant.errors import AssistantError
from vocab.scoring import PAIRED_TEST
from vocab.text import move_pct

if TYPE_CHECKING:
    import pandas as pd
    import sqlite_utils
    from rich.console import Console

    from assistant.config import Settings
    from assistant.cycle.run import Call

STATUSES = ("pending", "verified", "expired")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "predict",
        help="run one cycle now: analyze, plan, predict and record a call per symbol and horizon",
        description=(
            "Run one plan-then-act cycle for the watched symbols (or SYM...): analyze the bars "
            "up to --as-of (default: the latest stored), combine the rule signals and the "
            "serving model under the learned weights, and record each call in the ledger. "
            "Running it twice for the same session records nothing new."
        ),
    )
    p.add_argument("symbols", nargs="*", metavar="SYM", help="symbols (default: the watchlist)")
    p.add_argument(
        "--as-of",
        metavar="DATE",
        type=date_option("--as-of"),
        help="predict as if today were DATE (sees only bars up to it)",
    )
    p.add_argument("--json", action="store_true", help="print the calls as JSON")
    _hourly_options(p, "make the hour-ahead calls from the bar that closed last instead")
    p.set_defaults(func=cmd_predict)

    v = sub.add_parser(
        "verify",
        help="score every matured prediction against the close of its target session",
        description=(
            "Score pending predictions whose target session has a final bar (actual price, "
            "error, hit), expire those whose bar never came, then adapt the signal weights "
            "and the confidence calibration from the outcomes."
        ),
    )
    v.add_argument(
        "--as-of", metavar="DATE", type=date_option("--as-of"), help="verify as if today were DATE"
    )
    v.add_argument("--json", action="store_true", help="print the verification report as JSON")
    _hourly_options(v, "score the hour-ahead calls whose target bar has closed instead")
    v.set_defaults(func=cmd_verify)

    b = sub.add_parser(
        "backfill",
        help="replay predict + verify over the last N stored sessions (past-only models)",
        description=(
            "For each of the last N sessions D of the stored history, oldest first: run the "
            "cycle as of D (bars up to D only; a model trained on data past D is not served), "
            "then verify as of D. A new home gets a scored record at once. Running it again "
            "records nothing new."
        ),
    )
    b.add_argument("symbols", nargs="*", metavar="SYM", help="symbols (default: the watchlist)")
    b.add_argument(
        "--sessions", type=int, default=60, metavar="N", help="how many sessions (default 60)"
    )
    b.add_argument("--json", action="store_true", help="print the backfill report as JSON")
    b.set_defaults(func=cmd_backfill)

    ls = sub.add_parser(
        "predictions",
        help="list or export the prediction ledger",
        description="List the prediction ledger, newest first, or export it as JSON lines or CSV.",
    )
    ls.add_argument("--status", choices=STATUSES, help="only predictions with this status")
    ls.add_argument(
        "--symbol", action="append", metavar="SYM", help="only this symbol (repeatable)"
    )
    ls.add_argument(
        "--format", choices=("table", "jsonl", "csv"), default="table", help="output format"
    )
    ls.add_argument(
        "--limit",
        type=int,
        default=None,
        help="at most this many rows (table default 50; 0 means all)",
    )
    ls.set_defaults(func=cmd_predictions)

    r = sub.add_parser(
        "report",
        help="out-of-sample accuracy per symbol, horizon and regime, next to the baselines",
        description=(
            "Accuracy of verified predictions only: the hit rate of the UP/DOWN calls (FLAT "
            "calls make no directional claim) and how often one was made, the baselines on "
            "the same calls (always up, causal majority, last move; zero change for MAE), n, "
            "MAE, Brier and Brier skill, the calibration table and the weekly trend; the "
            "80%/95% ranges' realized coverage and interval score; the volatility forecast's "
            "QLIKE next to EWMA and trailing-20, pooled and per year; the ranking's daily "
            "Spearman IC and top-minus-bottom quintile spread; the context the latest calls "
            "saw (VIX, scheduled events, news). p-values: " + PAIRED_TEST + "."
        ),
    )
    r.add_argument(
        "symbols", nargs="*", metavar="SYM", help="symbols (default: all with predictions)"
    )
    r.add_argument(
        "--json",
        action="store_true",
        help='print the report as JSON (schema in README.md, "The cycle: plan, then act")',
    )
    r.set_defaults(func=cmd_report)


def _hourly_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--hourly",
        action="store_true",
        help=f"{what} ([cycle] hourly_horizons; docs/intraday.md)",
    )
    p.add_argument(
        "--at",
        metavar="TIME",
        help="with --hourly: as if it were TIME (past), e.g. 2024-11-27T15:35: the local time "
        "of [calendar] exchange (New York by default, also for a Tokyo symbol) unless it "
        "carries a UTC offset (2024-11-27T14:00+09:00)",
    )


def _hourly_at(
    args: argparse.Namespace, settings: Settings, *, pending: int = 0
) -> pd.Timestamp | None:
    """The wall-clock time of an --hourly command (None: now); refuses what does not fit.
    `pending`: hour-ahead calls still waiting; a verification scores them even once
    hourly_horizons is turned off (it makes no new calls)."""
    import pandas as pd

    from assistant.calendar import exchange_tz

    if getattr(args, "as_of", None):
        raise AssistantError("--as-of takes a session date; with --hourly use --at TIME")
    if not settings.cycle.hourly_horizons and not pending:
        raise AssistantError(
            "hour-ahead calls are off: set [cycle] hourly_horizons (e.g. [1, 3, 5]) in "
            "config.toml or ASSISTANT_CYCLE_HOURLY_HORIZONS=1,3,5 (docs/intraday.md)"
        )
    if args.at is None:
        return None
    # a date first (pandas alone reads '10:00' and 'now' as today and '' as NaT)
    bad = f"--at {args.at!r} is not a time like 2024-11-27T15:35"
    if not re.match(r"\d{4}-\d{2}-\d{2}([Tt ]|$)", args.at.strip()):
        raise AssistantError(bad)
    try:
        at = pd.Timestamp(args.at.strip())
    except ValueError:
        raise AssistantError(bad) from None
    if at.tzinfo is None:
        tz = exchange_tz(settings.calendar.exchange)
        try:
            at = at.tz_localize(tz)
        except ValueError:  # pandas' NonExistentTimeError / AmbiguousTimeError
            raise AssistantError(
                f"--at {args.at!r}: a clock change in {tz} skips or repeats that time; "
                "give its UTC offset (e.g. 2024-11-03T01:30-05:00)"
            ) from None
    if at > pd.Timestamp.now(tz="UTC"):  # verify would expire pending calls on bars to come
        raise AssistantError(f"--at {args.at!r} is in the future: give a time that has passed")
    return at


def _no_hourly_calls(
    db: sqlite_utils.Database, settings: Settings, wanted: list[str] | None
) -> str:
    """Why no call came, and the way on: around-the-clock symbols only, no hours at all, or
    none as new as the hour asked."""
    from assistant.calendar import exchange_for
    from store import hourly as store_hourly
    from store import symbols as symbol_store

    names = set(wanted or symbol_store.active_symbols(db))
    clock = {n for n in names if exchange_for(n, settings.calendar.exchange) in ("24/7", "24/5")}
    if names and clock == names:
        return (
            f"no hour-ahead calls: {', '.join(sorted(clock))} trade around the clock, and "
            "hour-ahead calls follow exchange sessions (docs/intraday.md)"
        )
    names -= clock
    held = [s for s in store_hourly.summary(db) if s.symbol in names]
    if not held:
        return (
            "no hour-ahead calls: no watched symbol has hourly bars (`assistant collect` "
            "brings them while [collect] hourly = true; `assistant import --hourly FILE`)"
        )
    newest = max(held, key=lambda s: s.last)
    return (
        "no hour-ahead calls: no watched symbol has a stored bar for the hour that closed "
        f"last (the newest stored hours: {newest.symbol}'s session of {newest.last}; "
        f"`assistant collect` brings newer ones, --at {newest.last}T16:00 calls as of then)"
    )


def cmd_predict_hourly(args: argparse.Namespace) -> int:
    from assistant.cycle.hourly import run_hourly

    _, settings, db = open_home(args)
    at = _hourly_at(args, settings)
    wanted = known_symbols(db, args.symbols)
    calls = run_hourly(db, settings, wanted, at=at)
    if args.json:
        print_json([c.to_dict() for c in calls])
        return 0
    if not calls:
        print(_no_hourly_calls(db, settings, wanted))
        return 0
    rows = [
        [
            c.symbol,
            c.as_of,
            f"{c.horizon}h",
            c.target,
            c.direction.upper(),
            move_pct(c.change_pct),
            f"{c.lower:.2f}-{c.upper:.2f}",
            f"{c.lower95:.2f}-{c.upper95:.2f}",
        ]
        for c in calls
    ]
    headers = ["symbol", "as of (bar)", "h", "target bar", "call", "change", "80%", "95%"]
    print(table(rows, headers))
    new = sum(c.new for c in calls)
    print(f"{len(calls)} hour-ahead calls ({new} new, {len(calls) - new} already recorded)")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from assistant.cycle.run import run_cycle
    from store import registry

    if args.hourly:
        return cmd_predict_hourly(args)
    if args.at is not None:
        raise AssistantError("--at is for --hourly calls; a daily call takes --as-of DATE")
    home, settings, db = open_home(args)
    day = args.as_of  # ISO, checked by date_option
    wanted = known_symbols(db, args.symbols)
    calls = run_cycle(db, home, settings, wanted, as_of=day)
    if args.json:  # each call's note carries the quarantines too
        print_json([c.to_dict() for c in calls])
        return 0
    for q in registry.quarantines(db, day):
        print(f"QUARANTINED: {registry.quarantine_notice(q)}")
    if not calls:
        when = f"in the two years up to {args.as_of}" if args.as_of else "recent enough"
        print(
            f"no calls: no watched symbol has enough final bars {when} "
            "(see `assistant watch list`; `assistant collect` fetches bars)"
        )
        return 0
    stale = {c.symbol: (c.as_of, c.stale_sessions) for c in calls if c.stale_sessions}
    for sym, (as_of, n) in sorted(stale.items()):
        print(
            f"STALE DATA: {sym}'s newest bar is {as_of}, {n:,} sessions ago: its calls are as of "
            "that date, not today (run `assistant collect`; use --as-of to backfill on purpose)"
        )
    print(predict_table(calls))
    for line in call_details(calls):
        print(line)
    new = sum(c.new for c in calls)
    print(f"{len(calls)} calls ({new} new, {len(calls) - new} already recorded)")
    return 0


PREDICT_COLUMNS = [
    "symbol",
    "sessions",
    "as of",
    "target date",
    "call",
    "change",
    "target",
    "80% range",
    "95% range",
    "confidence",
    "regime",
    "model",
]


def predict_table(calls: list[Call]) -> str:
    """One row per call: what it says, its target, its 80% and 95% ranges of the target close."""
    rows = [
        [
            c.symbol,
            c.horizon,
            c.as_of,
            c.target_date,
            "no call" if c.direction == "flat" else c.direction.upper(),
            move_pct(c.change_pct),
            f"{c.target_price:,.2f}",
            f"{c.lower:,.2f}..{c.upper:,.2f}",
            f"{c.lower95:,.2f}..{c.upper95:,.2f}",
            "-" if c.confidence is None or c.direction == "flat" else f"{100 * c.confidence:.0f}%",
            c.regime,
            c.model_version,
        ]
        for c in calls
    ]
    if not any(c.rank is not None for c in calls):
        return table(rows, PREDICT_COLUMNS, drop=NARROW_DROPS)
    # the ranking model's rank, when one serves: rank among the ranked symbols
    for row, c in zip(rows, calls, strict=True):
        ranked = c.rank is not None and c.relative_pct is not None
        row.insert(-1, f"{c.rank} of {c.rank_of}, {c.relative_pct:+.2f}%" if ranked else "-")
    return table(rows, [*PREDICT_COLUMNS[:-1], "relative", PREDICT_COLUMNS[-1]], drop=NARROW_DROPS)


# what a narrow terminal leaves out first: the call, its target and its 80% range stay
NARROW_DROPS = ("model", "relative", "as of", "confidence", "regime", "95% range", "target date")


def call_details(calls: list[Call]) -> list[str]:
    """Under the table, each thing said once: the signals behind a symbol's calls, the
    measured skill of each model that served, and the notes (with the calls they are on)."""
    out: list[str] = []
    by_symbol: dict[str, dict[str, list[str]]] = {}
    for c in calls:
        signals = (
            ", ".join(f"{s['signal']} {s['contribution_pct']:+.3f}%" for s in c.top_signals)
            or "none voted"
        )
        by_symbol.setdefault(c.symbol, {}).setdefault(signals, []).append(f"{c.horizon}d")
    for symbol, said in by_symbol.items():
        for signals, horizons in said.items():
            which = "" if len(said) == 1 else f" {', '.join(horizons)}"
            out.append(f"signals {symbol}{which}: {signals}")
    if calls and all(c.direction == "flat" for c in calls):
        out.append(
            "no call on direction: no model has a measured edge on these calls; the target, "
            "the 80%/95% ranges, the regime and the relative rank are what is known"
        )
    skills: dict[str, list[str]] = {}  # one line per model and measured skill, with horizons
    for c in calls:
        if c.skill:
            skills.setdefault(f"{c.model_version}\0{c.skill}", []).append(f"{c.horizon}d")
    for key, where in skills.items():
        version, skill = key.split("\0")
        on = ", ".join(dict.fromkeys(where))
        out.append(f"model {version} ({on}): {skill}")
    contexts: dict[str, dict[str, list[str]]] = {}  # what else a symbol's calls saw
    for c in calls:
        if getattr(c, "context", ""):
            contexts.setdefault(c.symbol, {}).setdefault(c.context, []).append(f"{c.horizon}d")
    for symbol, said in contexts.items():
        for context, horizons in said.items():
            which = "" if len(said) == 1 else f" {', '.join(horizons)}"
            out.append(f"context {symbol}{which}: {context}")
    if any(getattr(c, "rank", None) is not None for c in calls):
        out.append(
            "relative: rank of n among the ranked symbols (1 = best) and the expected move "
            "against their mean (the ranking model; `report` scores it)"
        )
    notes: dict[str, list[str]] = {}
    for c in calls:
        if c.note:
            notes.setdefault(c.note, []).append(f"{c.symbol} {c.horizon}d")
    for note, where in notes.items():
        on = "all calls" if len(where) == len(calls) else ", ".join(where)
        out.append(f"note ({on}): {note}")
    return out


def cmd_verify(args: argparse.Namespace) -> int:
    from assistant.cycle.learn import verify

    if args.at is not None and not args.hourly:
        raise AssistantError("--at is for --hourly; a daily verification takes --as-of DATE")
    _, settings, db = open_home(args)
    if args.hourly:
        from assistant.cycle.hourly import verify_hourly
        from store import hourly_calls

        waiting = hourly_calls.counts(db)["pending"]
        hourly = verify_hourly(db, settings, at=_hourly_at(args, settings, pending=waiting))
        if args.json:
            print_json(hourly.to_dict())
        else:
            print(
                f"hour-ahead calls: verified {hourly.verified} ({hourly.hits} hits, "
                f"{hourly.flat} FLAT), expired {hourly.expired}, waiting {hourly.pending} "
                f"(at {hourly.at})"
            )
        return 0
    report = verify(db, settings, as_of=args.as_of)
    if args.json:
        print_json(report.to_dict())
        return 0
    called = report.verified - report.flat
    rate = f" ({100 * report.hits / called:.0f}% of {called} UP/DOWN calls hit)" if called else ""
    print(
        f"verified {report.verified}{rate}, {report.flat} FLAT (no call), expired "
        f"{report.expired}, still waiting for a bar {report.pending} (as of {report.as_of})"
    )
    if report.expired_why:
        print(f"  {report.expired_why}")
    for ch in report.weight_changes[:20]:
        print(
            f"  {ch['symbol']} {ch['regime']} {ch['signal']}: "
            f"{ch['old'] if ch['old'] is not None else 'default'} -> {ch['new']:.3f}  {ch['reason']}"
        )
    if len(report.weight_changes) > 20:
        print(f"  ... and {len(report.weight_changes) - 20} more weight changes")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from assistant.cycle.backfill import backfill, last_sessions

    if args.sessions < 1:
        raise AssistantError("--sessions must be a positive number")
    home, settings, db = open_home(args)
    symbols = [s.upper() for s in args.symbols] or None
    days = last_sessions(db, symbols, args.sessions)
    if not days:
        raise AssistantError("no stored bars to backfill from (run `assistant collect` first)")
    columns = (TextColumn("backfill {task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=_stderr_console(), transient=True) as bar:
        task = bar.add_task(str(days[0]), total=len(days))
        rep = backfill(
            db,
            home,
            settings,
            days,
            symbols,
            on_session=lambda d: bar.update(task, advance=1, description=str(d)),
        )
    called = rep.verified - rep.flat
    if args.json:
        print_json(
            {
                "sessions": len(days),
                "from": days[0],
                "to": days[-1],
                "calls": rep.calls,
                "new": rep.new,
                "verified": rep.verified,
                "directional": called,
                "hits": rep.hits,
                "flat": rep.flat,
                "expired": rep.expired,
            }
        )
        return 0
    rate = f" ({100 * rep.hits / called:.0f}% of {called} UP/DOWN calls hit)" if called else ""
    print(
        f"backfilled {len(days)} sessions {days[0]} .. {days[-1]}: {rep.calls} calls "
        f"({rep.new} new), verified {rep.verified}{rate}, {rep.flat} FLAT, "
        f"expired {rep.expired}; `assistant report` compares them with the baselines"
    )
    return 0


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True)


LEDGER_COLUMNS = [
    "id",
    "symbol",
    "as_of",
    "horizon",
    "target_date",
    "direction",
    "pred_change_pct",
    "pred_price",
    "lower",
    "upper",
    "confidence",
    "regime",
    "model_version",
    "status",
    "actual_price",
    "error_pct",
    "hit",
]


def cmd_predictions(args: argparse.Namespace) -> int:
    from store import predictions as ledger

    _, _, db = open_home(args, writes=False)
    limit = args.limit if args.limit is not None else (50 if args.format == "table" else 0)
    if limit < 0:
        raise AssistantError("--limit must be 0 (all) or a positive number")
    symbols = known_symbols(db, args.symbol)
    rows = ledger.listing(db, status=args.status, symbols=symbols, limit=limit or None)
    if args.format == "jsonl":
        for r in rows:
            sys.stdout.write(json.dumps({**r, "signals": json.loads(r["signals"] or "{}")}) + "\n")
    elif args.format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else LEDGER_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    else:
        total = sum(
            ledger.counts(db, symbols).get(s, 0)
            for s in ([args.status] if args.status else STATUSES)
        )
        shown: Sequence[Mapping[str, object]] = rows
        body = [[_cell(r[k]) for k in LEDGER_COLUMNS] for r in shown]
        print(
            table(
                body,
                [
                    "id",
                    "symbol",
                    "as_of",
                    "h",
                    "target",
                    "dir",
                    "chg%",
                    "price",
                    "80% low",  # the 80% range of the target close
                    "80% high",
                    "conf",
                    "regime",
                    "model",
                    "status",
                    "actual",
                    "err%",
                    "hit",
                ],
            )
        )
        if total > len(rows):
            print(f"showing {len(rows)} of {total}; --limit 0 shows all")
    return 0


def _cell(v: object) -> object:
    return f"{v:.2f}" if isinstance(v, float) else v


def cmd_report(args: argparse.Namespace) -> int:
    from assistant.cycle import report
    from vocab.market import describe

    _, _, db = open_home(args, writes=False)
    wanted = known_symbols(db, args.symbols)
    data = report.build(db, wanted)
    pooled = "+".join(wanted) if wanted else "all symbols"  # what the pooled lines are over
    if args.json:
        print_json(data)
        return 0
    c = data["counts"]
    print(
        f"predictions: {c['verified']} verified, {c['pending']} pending, {c['expired']} expired "
        "(expired calls never count as misses or hits)"
    )
    if data.get("context"):
        print("\ncontext the latest calls saw:")
        for sym, ctx in sorted(data["context"].items()):
            print(f"    {sym:<8} as of {ctx['as_of']}: {describe(ctx) or 'nothing known'}")
    if data.get("hourly"):
        print_hourly(data["hourly"], pooled)
    if not data["groups"]:
        print("nothing verified yet: accuracy appears once target sessions have closed")
        return 0
    for hz in data["horizons"]:
        print(f"\n{pooled}, h={hz['horizon']}: " + format_ranges(hz))
        v = hz["volatility"]
        if v.get("n"):
            print(
                f"    volatility forecast QLIKE {v['qlike']:.3f} vs EWMA {v['qlike_ewma']:.3f} "
                f"({100 * v['gain_vs_ewma']:+.1f}%) and trailing-20 {v['qlike_trailing']:.3f} "
                f"({100 * v['gain_vs_trailing']:+.1f}%), n={v['n']} (lower is better)"
            )
            print(
                "    per year, QLIKE vs EWMA: "
                + "  ".join(
                    f"{y} {y_v['qlike']:.3f} vs {y_v['qlike_ewma']:.3f} "
                    f"({100 * y_v['gain_vs_ewma']:+.1f}%, n={y_v['n']})"
                    for y, y_v in v["by_year"].items()
                )
            )
        if hz["ranking"]:
            print(f"    ranking by expected return: {ranking_line(hz['ranking'])}")
    for rel in data.get("ranking", []):
        print(
            f"\nranking model, h={rel['horizon']}, {rel['n']} verified: "
            + ranking_line(rel["record"])
        )
        for line in ranking_years(rel["record"]):
            print(f"    {line}")
    for g in data["groups"]:
        print()
        print(format_metrics(f"{g['symbol']} h={g['horizon']}", g))
        print(f"    {format_ranges(g)}")
        for regime, m in g["by_regime"].items():
            print(format_metrics(f"    {regime}", m, short=True))
        cal = "  ".join(
            f"{b['lo']:.1f}-{b['hi']:.1f}: {100 * b['stated']:.0f}%->{100 * b['realized']:.0f}% "
            f"(n={b['n']})"
            for b in g["calibration"]
        )
        print(f"    calibration (stated -> realized): {cal}")
        weeks = "  ".join(
            f"{w['week']} {100 * w['hit_rate']:.0f}%/{100 * w['baseline']:.0f}%"
            for w in g["trend"][-6:]
        )
        print(f"    trend, 4-week rolling hit/baseline: {weeks}")
    return 0


def print_hourly(record: dict[str, Any], pooled: str = "all symbols") -> None:
    """The hour-ahead calls' record (docs/intraday.md): coverage per hour of the session."""
    c = record["counts"]
    print(
        f"\nhour-ahead calls: {c['verified']} verified, {c['pending']} pending, "
        f"{c['expired']} expired (horizons in session hours)"
    )
    for hz in record["horizons"]:
        print(f"  {pooled}, h={hz['horizon']}h: " + format_ranges(hz))
        print(
            "    by hour of the target bar (80% / 95% covered, n): "
            + "  ".join(
                f"#{s['slot'] + 1} {_pct(s['range80']['coverage'])}/"
                f"{_pct(s['range95']['coverage'])} ({s['range80']['n']})"
                for s in hz["by_slot"]
            )
        )
    for g in record["groups"]:
        print(format_metrics(f"  {g['symbol']} h={g['horizon']}h", g, short=True))
        print(f"{'':<16}-> {g['verdict_text']}")


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.0f}%"


def format_ranges(m: dict[str, Any]) -> str:
    parts = []
    for level in (80, 95):
        r = m[f"range{level}"]
        if r["n"]:
            parts.append(
                f"{level}% range covered {100 * r['coverage']:.1f}% of {r['n']:,} calls "
                f"(interval score {r['interval_score_pct']:.2f}%)"
            )
    return "; ".join(parts) or "no calls with ranges verified yet"


def format_metrics(label: str, m: dict[str, Any], short: bool = False) -> str:
    b = m["baselines"]
    p = "n/a" if m["p_value"] is None else f"{m['p_value']:.3g}"

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    text = (
        f"{label:<14} n={m['n']:<5} hit {pct(m['hit_rate'])} (called {pct(m['coverage'])})  "
        f"always-up {pct(b['always_up']['dir_accuracy'])}  "
        f"majority {pct(b['majority']['dir_accuracy'])}  p={p}"
    )
    if short:
        return text
    # rounded first: a skill of -0.0004 is "+0.000", not "-0.000"
    skill = "-" if m["brier_skill"] is None else f"{round(m['brier_skill'], 3) + 0.0:+.3f}"
    return (
        text + f"  last-move {pct(b['last_move']['dir_accuracy'])}\n"
        f"{'':<14} MAE {m['mae_pct']:.2f}% (zero change {b['zero_change']['mae_pct']:.2f}%)  "
        f"Brier {m['brier']:.3f} (skill {skill})  -> {m['verdict_text']}"
    )
