"""CLI commands for market data: the watchlist, CSV import, collection, and the settings."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.cli.common import date_option, ensure_home, home_of, open_home, print_json, table
from assistant.config import Settings

if TYPE_CHECKING:
    import sqlite_utils

    from assistant.ingest.hourly import HourlyResult
    from assistant.ingest.importer import Imported


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    watch = sub.add_parser(
        "watch",
        help="manage the watchlist (add, remove, list symbols)",
        description="The watchlist: the symbols the assistant collects, predicts and verifies.",
    )
    wsub = watch.add_subparsers(dest="watch_command", metavar="ACTION", required=True)
    add = wsub.add_parser(
        "add",
        help="add symbols (e.g. AAPL MSFT ^GSPC BRK-B EURUSD=X)",
        description="Add symbols to the watchlist; all are checked before any is added.",
    )
    add.add_argument("symbols", nargs="+", metavar="SYM")
    add.add_argument("--json", action="store_true", help="machine-readable output")
    add.set_defaults(func=cmd_watch_add)
    rm = wsub.add_parser(
        "remove",
        help="take symbols off the watchlist (their history stays)",
        description="Take symbols off the watchlist; stored bars and predictions stay.",
    )
    rm.add_argument("symbols", nargs="+", metavar="SYM")
    rm.add_argument("--json", action="store_true", help="machine-readable output")
    rm.set_defaults(func=cmd_watch_remove)
    ls = wsub.add_parser(
        "list",
        help="show the watchlist with bar counts and last errors",
        description=(
            "Show the watchlist: bars stored, date range, last collection, last error; and "
            "the symbols the collector took off it, with the reason."
        ),
    )
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.add_argument("--all", action="store_true", help="include removed/deactivated symbols")
    ls.set_defaults(func=cmd_watch_list)

    imp = sub.add_parser(
        "import",
        help="import daily OHLCV CSV files (Yahoo, Stooq, Alpha Vantage layouts)",
        description=(
            "Import daily OHLCV CSV files exported by Yahoo Finance, Stooq or Alpha Vantage, "
            "or one-hour bars (--hourly; see docs/intraday.md). "
            "Each file imports whole or not at all. The symbol comes from --symbol, a ticker "
            "column, or the file name (AAPL.csv, aapl.us.txt, daily_adjusted_IBM.csv)."
        ),
    )
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    imp.add_argument("--symbol", help="store every file's bars under this symbol")
    imp.add_argument(
        "--hourly",
        action="store_true",
        help="the files hold one-hour bars (found without it when the times are not all "
        "midnight): times without a UTC offset are the exchange's local time; bars outside "
        "the session's hours are refused",
    )
    imp.add_argument(
        "--encoding",
        type=_encoding,
        default="utf-8-sig",
        help="the files' text encoding (default UTF-8, with or without a BOM); e.g. cp1252 "
        'for a file Excel saved as "CSV (Comma delimited)" on Windows',
    )
    imp.add_argument("--json", action="store_true", help="machine-readable output")
    imp.set_defaults(func=cmd_import)

    col = sub.add_parser(
        "collect",
        help="bring the watchlist's bars up to date from the configured source",
        description=(
            "Fetch new daily bars for the watchlist (or the given symbols) and print, per "
            "symbol, rows added / already current / failed and why; then one-hour bars "
            "(collect.hourly: Yahoo's last 730 days; simulated hourly bars for the sample), "
            "a line per symbol. Sources: sample "
            "(offline: ^GSPC, ^IXIC, AAPL, GOOG, IBM, MSFT, 2004-08 to 2013-03), yahoo (yfinance), csv (collect.csv_dir). "
            "Without SYM (the whole watchlist) it also brings the market series (^VIX, "
            "^TNX, ^IRX), the macro series (see `assistant macro`) and, from Yahoo, the "
            "headlines; with --json each thing collected is one item with its kind."
        ),
    )
    col.add_argument("symbols", nargs="*", metavar="SYM")
    col.add_argument("--source", help="sample | yahoo | csv (default: collect.source)")
    col.add_argument(
        "--until",
        metavar="DATE",
        type=date_option("--until"),
        help="reveal no bar after this date (replay)",
    )
    col.add_argument("--json", action="store_true", help="machine-readable output")
    col.set_defaults(func=cmd_collect)

    mac = sub.add_parser(
        "macro",
        help="collect and show the macro series (CPI, unemployment, GDP growth, policy rate)",
        description=(
            "Bring the macro series up to date and print, per series, what was added or "
            "revised, its latest known period and value, and from when a call may use it "
            "(its release lag). Sources: fred (FRED's keyless CSV at collect.macro_url: "
            "CPIAUCSL, CPILFESL, UNRATE, FEDFUNDS, A191RL1Q225SBEA), offline (shipped with "
            "arch and statsmodels, final vintages: core CPI 1957-2018, quarterly GDP growth, "
            "unemployment, T-bill 1959-2009). Default: fred for collect.source = yahoo, "
            "else offline."
        ),
    )
    mac.add_argument("--source", choices=("fred", "offline"), help="where to read the series")
    mac.add_argument(
        "--until",
        metavar="DATE",
        type=date_option("--until"),
        help="store nothing known after this date",
    )
    mac.add_argument("--json", action="store_true", help="machine-readable output")
    mac.set_defaults(func=cmd_macro)

    cfg = sub.add_parser(
        "config",
        help="print the effective settings (defaults, config.toml, environment)",
        description=(
            "Print the effective settings: defaults, overridden by <home>/config.toml, "
            "overridden by ASSISTANT_<SECTION>_<KEY> environment variables."
        ),
    )
    cfg.add_argument("--json", action="store_true", help="machine-readable output")
    cfg.add_argument(
        "--init",
        action="store_true",
        help="write <home>/config.toml listing every key, its default and its range",
    )
    cfg.add_argument("--force", action="store_true", help="with --init: replace an existing file")
    cfg.set_defaults(func=cmd_config)


def _encoding(name: str) -> str:
    import codecs

    from assistant.errors import AssistantError

    try:
        codec = codecs.lookup(name)
    except LookupError:
        codec = None
    if codec is None or not getattr(codec, "_is_text_encoding", True):  # base64, rot13...
        raise AssistantError(f"--encoding {name!r}: no such text encoding (e.g. cp1252, latin-1)")
    return "utf-8-sig" if codec.name == "utf-8" else codec.name  # a BOM is never a character


def cmd_watch_add(args: argparse.Namespace) -> int:
    from store import symbols

    clean = [symbols.validate_symbol(s) for s in args.symbols]  # refuse before opening anything
    _, settings, db = open_home(args)
    added = symbols.add(db, clean, settings.collect.source)
    already = [s for s in dict.fromkeys(clean) if s not in added]
    missing: list[str] = []
    note = None
    close: dict[str, str] = {}  # a typo of a symbol the source knows (APPL for AAPL)
    if settings.collect.source == "sample":
        import difflib

        from assistant.ingest.sources.sample import SERIES, carried

        missing = [s for s in added if s not in SERIES]
        if missing:
            note = (
                f"the offline sample source has no {', '.join(missing)} (it carries "
                f"{carried()}); `collect --source yahoo` or `import FILE` for those"
            )
        close = {s: m[0] for s in missing if (m := difflib.get_close_matches(s, list(SERIES), n=1))}
    elif settings.collect.source == "yahoo":
        # a US share class as brokers write it (BRK.B): Yahoo has it as BRK-B and nothing
        # under the dot (its one-letter exchange suffixes, .F .L .T .V, are not classes)
        close = {s: s.replace(".", "-") for s in added if re.fullmatch(r"[A-Z]{1,5}\.[A-E]", s)}
    if args.json:
        print_json(
            {
                "added": added,
                "already_watched": already,
                "not_in_source": missing,
                "note": note,
                "did_you_mean": close,
            }
        )
        return 0
    if added:
        print(f"added: {', '.join(added)}")
    if already:
        print(f"already watched: {', '.join(already)}")
    if note:
        print(f"note: {note}")
    for sym, match in close.items():
        print(
            f"did you mean {match}? (`assistant watch remove {sym}` takes {sym} off, "
            f"`assistant watch add {match}` adds {match})"
        )
    return 0


def cmd_watch_remove(args: argparse.Namespace) -> int:
    from assistant.errors import AssistantError
    from store import symbols

    clean = [symbols.validate_symbol(s) for s in args.symbols]
    _, _, db = open_home(args)
    watched = symbols.removable(db)
    unknown = [s for s in clean if s not in watched]
    if unknown:
        raise AssistantError(f"not on the watchlist: {', '.join(unknown)}")
    for sym in dict.fromkeys(clean):
        symbols.remove(db, sym)
    if args.json:
        print_json({"removed": list(dict.fromkeys(clean)), "history_kept": True})
        return 0
    print(f"removed: {', '.join(dict.fromkeys(clean))} (stored history kept)")
    return 0


def cmd_watch_list(args: argparse.Namespace) -> int:
    from store import symbols

    _, _, db = open_home(args, writes=False)
    rows = symbols.watchlist(db, include_removed=args.all)
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("the watchlist is empty; add symbols with `assistant watch add AAPL ^GSPC`")
        return 0
    print(
        table(
            [
                [
                    r["symbol"],
                    "yes" if r["active"] else f"no ({r['status']})",
                    r["source"],
                    r["bars"],
                    r["first_date"],
                    r["last_date"],
                    (r["last_collected_at"] or "")[:16],
                    r["last_error"] or "",
                ]
                for r in rows
            ],
            [
                "symbol",
                "active",
                "source",
                "bars",
                "first",
                "last",
                "collected (UTC)",
                "last error",
            ],
        )
    )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from assistant.ingest.importer import import_files
    from store import symbols

    symbol = symbols.validate_symbol(args.symbol) if args.symbol else None
    _, settings, db = open_home(args)
    results = import_files(
        db,
        args.files,
        symbol=symbol,
        settings=settings,
        encoding=args.encoding,
        hourly=True if args.hourly else None,
    )
    if args.json:
        print_json([r.to_dict() for r in results])
    for r in results:
        if r.error:
            print(f"error: {r.path}: {r.error}", file=sys.stderr)
        elif not args.json:
            for s in r.symbols:
                if s.kind == "hourly":
                    print(_hourly_line(r.path, s))
                    continue
                flagged = f", {s.flagged} flagged jumps" if s.flagged else ""
                print(
                    f"{r.path}: {s.symbol} {s.rows} rows ({s.first} … {s.last}), "
                    f"{s.added} added, {s.updated} updated, {s.unchanged} unchanged{flagged}"
                    f"{s.restated}"
                )
    return 1 if any(r.error for r in results) else 0


def _hourly_line(path: str, s: Imported) -> str:
    from assistant.ingest.hourly import flag_note

    return (
        f"{path}: {s.symbol} {s.rows} hourly bars ({s.first} … {s.last}), "
        f"{s.added} added, {s.updated} updated, {s.unchanged} unchanged"
    ) + flag_note(s.flagged_sessions)


def _progress_bar() -> Callable[[float, str], None] | None:
    """Collection progress as rich's bar on a terminal; nothing on a pipe."""
    if not sys.stderr.isatty():
        return None
    from assistant.cli.modeling import Bars

    bars = Bars(sys.stderr)
    return lambda fraction, message: bars("collect", fraction, message)


def cmd_collect(args: argparse.Namespace) -> int:
    from assistant.ingest.collect import collect

    _, settings, db = open_home(args)
    hourly: list[HourlyResult] = []
    results = collect(
        db,
        settings,
        args.symbols or None,
        source=args.source,
        until=args.until,
        progress=None if args.json else _progress_bar(),
        hourly=hourly,
    )
    # the whole watchlist: the outside series and headlines too (with --json as well)
    extras = _collect_series(db, settings, args) if not args.symbols else []
    if args.json:
        print_json(
            [{"kind": "bars", **r.to_dict(), **_hourly_item(r.symbol, hourly)} for r in results]
            + [{"kind": kind, "symbol": name, **row} for kind, name, row, _ in extras]
        )
    elif not results:
        print("nothing to collect: the watchlist is empty (`assistant watch add ^GSPC ^IXIC`)")
    else:
        print(
            table(
                [[r.symbol, r.status, r.added, r.updated, r.message] for r in results],
                ["symbol", "status", "added", "updated", "detail"],
            )
        )
    if not args.json:
        for h in hourly:
            said = "" if h.status in ("added", "current") else f"{h.status}: "
            print(f"hourly {h.symbol}: {said}{h.message}")
        for _, _, _, line in extras:
            print(line)
    failed = any(h.status == "failed" for h in hourly)
    return 1 if failed or any(r.status in ("failed", "no-data") for r in results) else 0


def _hourly_item(symbol: str, hourly: list[HourlyResult]) -> dict[str, object]:
    """A symbol's one-hour bars in its `collect --json` item (key `hourly`), when collected."""
    for h in hourly:
        if h.symbol == symbol:
            return {"hourly": {k: v for k, v in h.to_dict().items() if k != "symbol"}}
    return {}


def _collect_series(
    db: sqlite_utils.Database, settings: Settings, args: argparse.Namespace
) -> list[tuple[str, str, dict[str, object], str]]:
    """The outside series (^VIX, yields) from the source's own series source, the macro
    series (FRED with Yahoo, the offline ones with the sample), and the watchlist's
    headlines (Yahoo only): (kind, name, result, its line) each; their failures are said,
    never fatal (the bars do not depend on them)."""
    from assistant.ingest import macro
    from assistant.ingest.collect import make_source
    from assistant.ingest.market import collect_series, source_for
    from assistant.ingest.news import collect_news
    from store.symbols import active_symbols

    def said(row: dict[str, object], what: str) -> str:
        return (
            (f"{row['added']} {what} added" if row["added"] else str(row["status"]))
            + (f", {row['revised']} revised" if row.get("revised") else "")
            + (f" ({row['message']})" if row["message"] else "")
        )

    out: list[tuple[str, str, dict[str, object], str]] = []
    bars_source = make_source(settings, args.source, home=home_of(args))
    series_source = source_for(bars_source)
    if series_source is not None:
        for r in collect_series(db, settings, series_source, until=args.until):
            row: dict[str, object] = {k: v for k, v in r.to_dict().items() if k != "series"}
            out.append(
                ("series", r.series, row, f"market series {r.series}: {said(row, 'values')}")
            )
    macro_source = macro.source_for(bars_source, settings.collect.macro_url)
    if macro_source is not None:
        for m in macro.collect_macro(db, macro_source, until=args.until):
            row = {k: v for k, v in m.to_dict().items() if k != "series"}
            out.append(("macro", m.series, row, f"macro {m.series}: {said(row, 'values')}"))
    if not args.until:  # headlines are only ever "now": none for a capped collection
        for n in collect_news(db, bars_source, active_symbols(db)):
            row = {k: v for k, v in n.to_dict().items() if k != "symbol"}
            out.append(("news", n.symbol, row, f"news {n.symbol}: {said(row, 'headlines')}"))
    return out


def cmd_macro(args: argparse.Namespace) -> int:
    from assistant.ingest.macro import collect_macro, make
    from models import macro
    from store import macro as macro_store

    _, settings, db = open_home(args)
    name = args.source or ("fred" if settings.collect.source == "yahoo" else "offline")
    results = collect_macro(db, make(name, settings.collect.macro_url), until=args.until)
    rows: list[dict[str, object]] = []
    for r in results:
        stored = macro_store.rows(db, r.series)
        last = stored[-1] if stored else None
        spec = macro.SERIES[r.series]
        rows.append(
            {
                **r.to_dict(),
                "period": last[0] if last else None,
                "value": last[1] if last else None,
                "known_from": last[2] if last else None,
                "lag": spec.lag,
            }
        )
    if args.json:
        print_json(rows)
    else:
        print(
            table(
                [
                    [
                        row["series"],
                        row["status"],
                        row["added"],
                        row["revised"],
                        row["period"] or "",
                        "" if row["value"] is None else f"{row['value']:.3f}",
                        row["known_from"] or "",
                        row["message"],
                    ]
                    for row in rows
                ],
                ["series", "status", "added", "revised", "latest", "value", "known from", "detail"],
            )
        )
        print("release lags (a value enters a call only from its known-from date):")
        for row in rows:
            print(f"  {row['series']}: {row['lag']}")
    return 1 if any(r.status in ("failed", "no-data") for r in results) else 0


def cmd_config(args: argparse.Namespace) -> int:
    import os

    import tomli_w

    from assistant import config

    home = home_of(args)
    if args.init:
        ensure_home(home)
        path = config.write_template(home, force=args.force)
        config.load(home)  # what was written loads (and the environment's overrides with it)
        print(f"wrote {path}: every key with its default and range, commented out")
        return 0
    settings = config.load(home)
    why = config.universe_problem(settings)
    if why:  # (loads all the same: only what uses the universe refuses)
        print(f"warning: {why}", file=sys.stderr)
    if args.json:  # URLs masked: a password or token is never printed
        print_json(config.shown(settings))
        return 0
    path = home / "config.toml"
    overrides = sorted(
        k for k in os.environ if k.startswith("ASSISTANT_") and k != "ASSISTANT_HOME"
    )
    print(f"# home: {home}")
    print(f"# config file: {path} ({'read' if path.exists() else 'absent; defaults apply'})")
    if overrides:
        print(f"# environment overrides: {', '.join(overrides)}")
    print(tomli_w.dumps(config.shown(settings)).rstrip())
    return 0
