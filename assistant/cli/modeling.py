"""CLI commands: `train` (fit, evaluate on held-out data, register, gate) and `backtest`
(walk-forward replay with baselines). Heavy imports happen inside the commands."""

from __future__ import annotations

import argparse
import csv
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from assistant.cli.common import date_option, known_symbols, open_home, print_json, table
from assistant.errors import AssistantError
from vocab.scoring import PAIRED_TEST

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from assistant.modeling.backtest import BacktestReport, Plan, Scored
    from models.metrics import Scores
    from models.scorecard import MeanT, RankingSkill, Versus

KINDS_HELP = (
    "comma-separated model kinds: lstm,gru,transformer,xgboost,markov,rules, and ranking (the "
    "ranks of 5+ symbols) (default: settings)"
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "train",
        help="train forecasters on stored bars and report held-out skill",
        description="Train the model kinds on stored bars (global across the symbols): fit on "
        "the first 70% of sessions, choose on the next 15% (validation), score the last 15% "
        "once (held-out test) next to the baselines always-up, causal majority and last move. "
        "Then refit the same recipe on every labelled session (so the serving model is not "
        "stale), register it, and promote it when it passes the gates on validation. A panel "
        "with more labelled rows than [models] max_train_rows uses its most recent ones. "
        "p-values: " + PAIRED_TEST + ".",
    )
    p.add_argument(
        "symbols",
        nargs="*",
        metavar="SYM",
        help="symbols to train on (default: the watchlist); the model serves only these",
    )
    p.add_argument("--models", type=_kinds, help=KINDS_HELP)
    p.add_argument(
        "--as-of",
        metavar="DATE",
        type=date_option("--as-of"),
        help="use only bars up to this date (YYYY-MM-DD)",
    )
    p.add_argument("--json", action="store_true", help="print the training report as JSON")
    _scheduler_arg(p)
    p.set_defaults(func=cmd_train)

    b = sub.add_parser(
        "backtest",
        help="walk-forward backtest: past-only retraining, scored vs baselines",
        description="Replay history walk-forward: at each session only the past is "
        "visible; models retrain every N sessions on every bar known then (the most recent "
        "63 labelled sessions for early stopping). Reports per model, symbol and horizon the "
        "hit rate of the UP/DOWN calls and how often it called, the baselines on the same "
        "rows (always up, causal majority, last move), the edge over the stronger one and "
        "its p-value, Brier skill, MAE, R², profit factor, drawdown and n. By default the "
        "fast kinds (no torch: under a minute on the sample on 2 cores); --full for every "
        "configured kind. It says what it will run and about how long before it starts, and "
        "the progress bar shows the time left. p-values: " + PAIRED_TEST + ".",
    )
    b.add_argument("symbols", nargs="*", metavar="SYM", help="symbols (default: the watchlist)")
    b.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        type=date_option("--from"),
        help="first session to predict (default: 3 years before --to)",
    )
    b.add_argument(
        "--to",
        dest="end",
        metavar="DATE",
        type=date_option("--to"),
        help="last session to predict (default: the last stored)",
    )
    b.add_argument(
        "--retrain-every",
        type=int,
        default=63,
        metavar="N",
        help="sessions between retrains (default 63)",
    )
    b.add_argument(
        "--horizons", type=_ints, default=(1, 3, 5), help="comma-separated horizons (default 1,3,5)"
    )
    b.add_argument(
        "--models",
        type=_kinds,
        help=KINDS_HELP.replace(
            "(default: settings)",
            "(default: the configured kinds without the torch ones, lstm, gru and "
            "transformer: 32 CPU s on the sample, under a minute on 2 cores; see --full)",
        ),
    )
    b.add_argument(
        "--full",
        action="store_true",
        help="every configured model kind, the torch ones (lstm, gru, transformer) too: "
        "about 13x the work (428 CPU s on the sample: some 4 min on 2 idle cores, 42 min "
        "measured on 2 busy ones)",
    )
    b.add_argument(
        "--json",
        action="store_true",
        help="print the report as JSON (every figure of the table, per model, symbol and horizon)",
    )
    b.add_argument(
        "--predictions-out",
        type=Path,
        metavar="FILE.csv",
        help="write every walk-forward prediction with its outcome to this CSV",
    )
    b.add_argument(
        "--paper",
        action="store_true",
        help="also run the paper account ([paper] in config.toml) on the walk-forward calls, "
        "next to buy-and-hold and always-long under the same costs",
    )
    b.add_argument(
        "--paper-model",
        metavar="KIND",
        help="the model whose calls the paper account follows (default: ensemble, else the first)",
    )
    _scheduler_arg(b)
    b.set_defaults(func=cmd_backtest)


def _scheduler_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run the training tasks on this Dask scheduler's workers ('local': here); "
        "default: [compute] scheduler in config.toml or $ASSISTANT_COMPUTE_SCHEDULER",
    )


def _kinds(text: str) -> list[str]:
    return [k.strip().lower() for k in text.split(",") if k.strip()]


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of session counts: {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("horizons must be positive")
    return values


class Bars:
    """One progress bar per model on stderr: rich's live bars on a terminal, else one
    plain line per change (logs and pipes get no escape codes). With `eta`, each bar's
    message starts with the time left at its pace so far (`clock`: seconds, monotonic)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        eta: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream, self.lock = stream or sys.stderr, threading.Lock()
        self.state: dict[str, tuple[float, str]] = {}
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.progress: Progress | None = None
        self.tasks: dict[str, TaskID] = {}
        self.eta, self.clock = eta, clock
        self.started: dict[str, float] = {}

    def __call__(self, kind: str, fraction: float, message: str) -> None:
        with self.lock:
            if self.state.get(kind) == (fraction, message):
                return
            self.state[kind] = (fraction, message)
            if self.eta:
                message = f"{self._eta(kind, fraction)} {message}"
            if not self.tty:
                self.stream.write(self._line(kind, fraction, message) + "\n")
                self.stream.flush()
                return
            if self.progress is None:
                self.progress = live_bars(self.stream)
            if kind not in self.tasks:
                self.tasks[kind] = self.progress.add_task(kind, total=1.0, note="")
            done = max(0.0, min(1.0, fraction))
            self.progress.update(self.tasks[kind], completed=done, note=message)
            if all(f >= 1.0 for f, _ in self.state.values()):
                self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None

    def _eta(self, kind: str, fraction: float) -> str:
        """The time left at the pace since this bar's first call: "ETA m:ss" ("ETA -"
        before any progress, "done in m:ss" at the end)."""
        now = self.clock()
        start = self.started.setdefault(kind, now)
        if fraction >= 1.0:
            return f"done in {_clock_text(now - start)}"
        if fraction <= 0.0 or now <= start:
            return "ETA -"
        return f"ETA {_clock_text((now - start) * (1 - fraction) / fraction)}"

    @staticmethod
    def _line(kind: str, f: float, m: str) -> str:
        return f"{kind:<12} {max(0.0, min(1.0, f)):4.0%} {m}"


def _clock_text(seconds: float) -> str:
    s = int(round(seconds))
    return (
        f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
    )


def live_bars(stream: TextIO) -> Progress:
    """A started rich Progress drawing on `stream`: name, bar, percent, message."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    progress = Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(bar_width=20),
        TaskProgressColumn(),
        TextColumn("{task.fields[note]}"),
        console=Console(file=stream),
        transient=False,
    )
    progress.start()
    return progress


def _fmt(v: object, pct: bool = False) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):  # -0.0 (or what rounds to it) reads "0", never "-0"
        v = round(v, 3 if pct else 12) + 0.0
    return f"{v:.1%}" if pct else (f"{v:.3g}" if isinstance(v, float) else str(v))


HEAD = [
    "model",
    "dir acc",
    "calls",
    "always up",
    "majority",
    "last move",
    "edge",
    "p",
    "p Holm",
    "verdict",
    "dates",
    "Brier skill",
    "MAE %",
    "R2 oos",
    "PF",
    "max DD",
    "n",
]


def _verdict_cell(m: Scores) -> str:
    """The row's verdict, with the busiest year when it holds most of the calls."""
    from models.metrics import ONE_YEAR_SHARE

    word = m.get("verdict", "-")
    share = m.get("top_year_share")
    if word == "edge" and share is not None and share >= ONE_YEAR_SHARE:
        return f"edge ({100 * share:.0f}% in {m.get('top_year')})"
    return word


def _metric_row(name: str, m: Scores) -> list[str]:
    """One scored model: hit rate of its directional calls and the baselines on the same
    rows, the edge over the stronger baseline and its paired p-value."""
    b = m["baselines"]
    label = f" ({m['label']})" if m.get("label") else ""
    return [
        name + label,
        _fmt(m.get("dir_accuracy"), True),
        _fmt(m.get("coverage"), True),
        _fmt(b["always_up"]["dir_accuracy"], True),
        _fmt(b["majority"]["dir_accuracy"], True),
        _fmt(b["last_move"]["dir_accuracy"], True),
        _fmt(m.get("edge"), True),
        _fmt(m.get("p_value")),
        _fmt(m.get("p_adjusted")),
        _verdict_cell(m),
        _fmt(m.get("n_dates")),
        _fmt(m.get("brier_skill")),
        _fmt(m.get("mae_pct")),
        _fmt(m.get("r2_oos")),
        _fmt(m.get("profit_factor")),
        _fmt(m.get("max_drawdown"), True),
        _fmt(m.get("n")),
    ]


LEGEND = (
    "dir acc: hits of the UP/DOWN calls (FLAT = no call); calls: share of rows called; "
    "always up / majority (causal) / last move: the baselines on the same rows; edge: dir acc "
    "minus the stronger of always up and majority; p: " + "{test}; "
    "p Holm: p adjusted for every row of the table tested together (Holm); verdict: edge "
    "(Holm p < 0.05 and edge > 0), too few calls to tell (under 20 call dates, or an edge "
    "of 10 points would go undetected), else no edge; dates: distinct call dates; "
    "Brier skill: vs the class frequencies known at each date"
)


RANGE_HEAD = [
    "model",
    "h",
    "80% cov",
    "95% cov",
    "IS80 %",
    "QLIKE",
    "vs EWMA",
    "vs trail20",
    "IC",
    "IC t",
    "n",
]


def _range_row(m: Scored) -> list[str]:
    """Coverage and interval score of the 80% / 95% ranges, the volatility forecast's QLIKE
    and its gain over the baselines, the information coefficient (5+ symbols)."""
    r80, r95, vol, ic = m["range80"], m["range95"], m["volatility"], m.get("ranking")
    return [
        m["model"],
        str(m["horizon"]),
        _fmt(r80["coverage"], True),
        _fmt(r95["coverage"], True),
        _fmt(r80["interval_score_pct"]),
        _fmt(vol.get("qlike")),
        _fmt(vol.get("gain_vs_ewma"), True),
        _fmt(vol.get("gain_vs_trailing"), True),
        _fmt(ic["mean"] if ic else None),
        _fmt(ic["t"] if ic else None),
        str(r80["n"]),
    ]


def cmd_train(args: argparse.Namespace) -> int:
    from assistant.modeling.training import train
    from models.metrics import judge

    home, settings, db = open_home(args)
    bars = Bars()
    try:
        report = train(
            db,
            home,
            settings,
            known_symbols(db, args.symbols),
            args.models,
            as_of=args.as_of,
            progress=bars,
            scheduler=args.scheduler,
        )
    finally:
        bars.close()
        db.close()
    if args.json:
        print_json(report.to_dict())
        return 0 if any(r.status != "failed" for r in report.results) else 1
    r = report.ranges
    print(
        f"trained on {', '.join(report.symbols)}"
        + (f" through {report.as_of}" if report.as_of else "")
    )
    for sym, why in report.skipped.items():
        print(f"skipped {sym}: {why}")
    print(
        f"train {r['train'][0]}..{r['train'][1]} ({report.rows['train']} rows) · val {r['val'][0]}..{r['val'][1]} "
        f"({report.rows['val']}) · test {r['test'][0]}..{r['test'][1]} ({report.rows['test']}); "
        "models were chosen on validation; the test rows below were scored once"
    )
    if "fit" in r:
        which = (
            "the most recent labelled sessions: [models] max_train_rows"
            if report.capped
            else "every labelled session"
        )
        print(f"serving models refit on {r['fit'][0]}..{r['fit'][1]} ({which})")
    ok = [x for x in report.results if x.metrics and x.kind != "ranking"]
    ranked = [x for x in report.results if x.kind == "ranking"]
    # every held-out row printed is one test of a family: models x horizons
    held = {(x.kind, h): dict(x.metrics["test"][str(h)]) for x in ok for h in report.horizons}
    judge(list(held.values()))
    for h in report.horizons:
        print(f"\nhorizon {h} session{'s' if h > 1 else ''} (held-out test)")
        print(table([_metric_row(x.kind, cast("Scores", held[x.kind, h])) for x in ok], HEAD))
    print("\n" + LEGEND.format(test=PAIRED_TEST))
    h0 = str(report.horizons[0])
    print(
        f"\nper-class precision / recall / F1 and confusion (rows true down/flat/up), horizon {h0}"
    )
    for x in ok:
        m = x.metrics["test"][h0]
        cls = "  ".join(
            f"{c} {v['precision']:.2f}/{v['recall']:.2f}/{v['f1']:.2f}"
            for c, v in m["classes"].items()
        )
        print(f"  {x.kind:<12} {cls}   confusion {m['confusion']}")
    for x in ranked:
        print("\nranking model, held-out test")
        for key, skill in (x.record or {}).items():
            print(f"  h={key}: {ranking_line(skill)}")
        if x.record is None:
            print(f"  {x.reason}")
    print("\npromotion")
    for x in report.results:
        verdict = (
            "PROMOTED"
            if x.promoted
            else ("failed" if x.status == "failed" else f"not promoted ({x.status})")
        )
        print(f"  {x.model_id or x.kind}: {verdict}: {x.reason}")
    if report.housekeeping:
        print("\nmodel artifacts on disk")
        for line in report.housekeeping:
            print(f"  {line}")
    return 0 if ok or any(x.model_id for x in ranked) else 1


def ranking_line(skill: MeanT | RankingSkill | None) -> str:
    """A ranking's record in one line: IC and Newey-West t, quintile spread, its verdict
    (with the one-line factors where it was compared with them)."""
    from models.scorecard import ranking_edge

    if not skill:
        return "no date with 5 or more ranked symbols"
    t = "-" if skill.get("t") is None else f"{skill['t']:.2f}"
    spread = skill.get("spread")
    sp = "-" if spread is None else f"{100 * spread:+.3f}%"
    st = "-" if skill.get("spread_t") is None else f"{skill['spread_t']:.2f}"
    edge = skill.get("edge", ranking_edge(skill))
    verdict = "an edge" if edge else "no measured edge"
    versus = cast("Versus | None", skill.get("versus"))
    if versus is not None and not versus["beats"] and ranking_edge(skill):
        verdict = f"no edge over the {versus['better']} factor"
    n_symbols = skill.get("n_symbols")
    symbols = f" x {n_symbols} symbols" if n_symbols else ""
    line = (
        f"IC {skill['mean']:+.3f} (Newey-West t {t}), top-minus-bottom quintile {sp} "
        f"(t {st}), {skill['n_days']} days{symbols} -> {verdict}"
    )
    return line + ("" if versus is None else "\n      " + versus_line(versus))


def versus_line(versus: Versus) -> str:
    """The one-line factors' IC on the same dates and symbols, and the model's difference
    from the better one with its Newey-West t."""
    parts = []
    for name, f in versus["factors"].items():
        t = "-" if f["t"] is None else f"{f['t']:.2f}"
        mean = "-" if f["mean"] is None else f"{f['mean']:+.3f}"
        parts.append(f"{name} IC {mean} (t {t})")
    if versus["better"] is None or versus["diff"] is None:
        return "one-line factors: " + ", ".join(parts) + "; no common dates to compare"
    dt = "-" if versus["diff_t"] is None else f"{versus['diff_t']:.2f}"
    word = "beats" if versus["beats"] else "does not beat"
    return (
        "one-line factors: " + ", ".join(parts) + f"; model minus {versus['better']} "
        f"{versus['diff']:+.3f} (t {dt}): {word} the better factor (needs t >= 2)"
    )


def ranking_years(skill: RankingSkill | None) -> list[str]:
    """One line per calendar year of a ranking's record, with the factors' IC that year."""
    years = skill.get("years") if skill else None
    versus = skill.get("versus") if skill else None
    out = []
    for y, v in (years or {}).items():
        line = f"{y}: {ranking_line(v)}"
        if versus is not None:
            factors = ", ".join(
                f"{name} {f['years'][y]:+.3f}"
                for name, f in versus["factors"].items()
                if f["years"].get(y) is not None
            )
            line += f" (factor IC: {factors or '-'})"
        out.append(line)
    return out


def write_predictions(report: BacktestReport, path: Path) -> None:
    """The --predictions-out CSV (every walk-forward prediction with its outcome), written
    whole or not at all; the sessions leave as their ISO text here."""
    import pandas as pd

    from assistant.modeling.backtest import CSV_FIELDS, CSV_RENAME

    frame = report.predictions.copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.strftime("%Y-%m-%d")
    frame = frame.rename(columns=CSV_RENAME)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        frame[CSV_FIELDS].to_csv(tmp, index=False, quoting=csv.QUOTE_MINIMAL, float_format="%.6g")
        tmp.replace(path)
    except OSError as exc:  # its disk full, past `ulimit -f`: the CSV's failure, not the home's
        tmp.unlink(missing_ok=True)
        raise AssistantError(
            f"cannot write {path} ({exc.strerror or exc}): nothing was written there"
        ) from None


def cmd_backtest(args: argparse.Namespace) -> int:
    from assistant.modeling.backtest import backtest
    from models.catalog import COMBINERS

    home, settings, db = open_home(args)
    if args.predictions_out and not args.predictions_out.parent.is_dir():
        raise AssistantError(f"cannot write {args.predictions_out}: no such directory")
    if args.full and args.models:
        raise AssistantError("--full runs every configured kind: leave out --models, or --full")
    configured = list(settings.models.kinds)
    kinds = args.models or (configured if args.full else fast_kinds(configured))
    if args.paper_model and args.paper_model not in [*kinds, *COMBINERS]:
        raise AssistantError(
            f"--paper-model {args.paper_model}: not among the backtested models ({', '.join(kinds)})"
            + ("; --full adds the torch kinds" if not args.models and not args.full else "")
        )
    if args.paper and settings.paper.horizon not in args.horizons:
        raise AssistantError(
            f"--paper follows the h={settings.paper.horizon} calls ([paper] horizon): "
            f"add it to --horizons"
        )
    bars = Bars(eta=True)
    left_out = [k for k in configured if k not in kinds] if not args.models else []
    try:
        report = backtest(
            db,
            settings,
            known_symbols(db, args.symbols),
            kinds,
            start=args.start,
            end=args.end,
            retrain_every=args.retrain_every,
            horizons=args.horizons,
            progress=lambda f, m: bars("backtest", f, m),
            scheduler=args.scheduler,
            on_plan=lambda plan: print(plan_line(plan, left_out), file=sys.stderr, flush=True),
        )
        books = _paper_books(db, settings, report, args.paper_model) if args.paper else None
    finally:
        bars.close()
        db.close()
    if args.predictions_out:
        write_predictions(report, args.predictions_out)
    if args.json:
        out = report.to_dict()
        if books is not None:
            out["paper"] = books
        print_json(out)
        return 0
    print(
        f"walk-forward {report.start}..{report.end}, retrain every {report.retrain_every} sessions "
        f"({report.retrains} retrains), {report.n_predictions} scored predictions"
    )
    for sym, why in report.skipped.items():
        print(f"skipped {sym}: {why}")
    rows = [[m["symbol"], m["horizon"], *_metric_row(m["model"], m)] for m in report.results]
    print(table(rows, ["symbol", "h", *HEAD]))
    print("\n" + LEGEND.format(test=PAIRED_TEST))
    pooled = [m for m in report.results if m["symbol"] == "ALL"]
    print("\nranges, volatility and ranking, every symbol pooled (as `report` scores them)")
    print(table([_range_row(m) for m in pooled], RANGE_HEAD))
    if report.ranking or report.ranking_note:
        print("\nranking model: its walk-forward record (column rank_score)")
        if report.ranking_note:
            print(f"  {report.ranking_note}")
        for h, skill in report.ranking.items():
            print(f"  h={h}: {ranking_line(skill)}")
            for line in ranking_years(skill):
                print(f"      {line}")
    if books is not None:
        from assistant.cli.paper import paper_table
        from vocab.paper import policy_text

        print(
            f"\npaper account on {books['model']}'s h={books['horizon']} calls, policy "
            f"{policy_text(books['rules']['policy'])}, "
            f"{books['rules']['cost_bps']:g} + {books['rules']['slippage_bps']:g} bps per side"
        )
        print(paper_table(books["report"]))
    if args.predictions_out:
        print(f"predictions written to {args.predictions_out}")
    return 0


def fast_kinds(kinds: list[str]) -> list[str]:
    """The kinds that fit in seconds: all but the torch ones (or all, if only those)."""
    from models.catalog import TORCH_KINDS

    return [k for k in kinds if k not in TORCH_KINDS] or kinds


def plan_line(plan: Plan, left_out: list[str]) -> str:
    """What a backtest will run and about how long, said before it starts."""
    kinds = ", ".join(plan.kinds) + (" + ranking" if plan.ranking else "")
    line = (
        f"backtest: {kinds} on {len(plan.symbols)} symbol{'s' if len(plan.symbols) != 1 else ''}, "
        f"{plan.start} .. {plan.end} ({plan.sessions} sessions, {plan.refits} refits, horizons "
        f"{','.join(map(str, plan.horizons))})"
    )
    if not plan.cores:
        return line + "; on the cluster's workers"
    cores = f"{plan.cores} idle core{'s' if plan.cores > 1 else ''}"
    line += f": about {_duration(plan.seconds())} on {cores} (longer on a busy machine)"
    if left_out:
        more = _duration(plan.seconds([*plan.kinds, *left_out]))
        line += f"; --full adds {', '.join(left_out)} (about {more} in all)"
    return line


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(10, round(seconds / 10) * 10):.0f} s"
    return f"{round(seconds / 60):.0f} min"


def _paper_books(db: Any, settings: Any, report: Any, model: str | None) -> dict[str, Any]:
    """The paper account on the backtest's calls (assistant.paper.from_backtest)."""
    import dataclasses

    from assistant.modeling.training import load_bars
    from assistant.paper import from_backtest, rules_of
    from models import paper

    rules = rules_of(settings)
    bars = load_bars(db, report.symbols, None)
    chosen, books = from_backtest(report.predictions, bars, rules, model)
    return {
        "model": chosen,
        "horizon": rules.horizon,
        "rules": dataclasses.asdict(rules),
        "report": paper.report(books),
    }
