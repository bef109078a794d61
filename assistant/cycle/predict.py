"""Predict-step helpers: the serving model's forecasts, the skill shown next to each call,
and the signals JSON stored with every prediction.

When nothing is trained, an artifact is broken or its feature schema changed,
`model_forecasts` returns nothing for that symbol and says why, and the rule signals
serve alone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import sqlite_utils

from assistant.cycle.plan import RULES_VERSION, Plan, model_call
from store import jobs as job_runs
from store import predictions as ledger
from vocab.horizons import at_horizon
from vocab.jsontypes import Json
from vocab.scoring import BASELINE_LABEL, stronger_baseline

if TYPE_CHECKING:
    from assistant.modeling.serving import SymbolForecast

log = logging.getLogger(__name__)

RULE_GATE_CALLS = 1000  # newest verified rule-pool calls per horizon its threshold is chosen on

NO_MODEL = "no usable model (none trained, artifact broken or feature schema changed): rules serve"
NOT_YET = "no model trained yet: rules serve"
TRAINING = "models training: none serves yet, rules serve meanwhile"
NOT_KNOWN = "no model was known by this date (see why above): rules serve"
NOT_PROMOTED = "no model promoted yet (every one trained is a candidate): rules serve"
NO_FORECAST = "the serving models gave no forecast for it (too few stored sessions?): rules serve"
BROKEN = "the models' artifacts are unusable (quarantined, see why above): rules serve"


@dataclass(frozen=True)
class ServingNote:
    """Why the rules serve a call instead of a model: `all` for every symbol unless
    `per_symbol` says otherwise, and `refused`, the serving models a call as of its day
    may not use (not known by it, or quarantined), said on every call."""

    all: str = ""
    per_symbol: dict[str, str] = field(default_factory=dict)
    refused: str = ""

    def for_symbol(self, symbol: str) -> str:
        return self.per_symbol.get(symbol, self.all)


# {model version: {(symbol, horizon): [(as_of, hit, up_hit, majority_hit)]}}
LiveRecords = dict[str, dict[tuple[str, int], list[tuple[str, int, int, int]]]]


def why_no_model(db: sqlite_utils.Database, refused: str = "", quarantined: bool = False) -> str:
    """Why no model serves, only what is true: training now, none trained yet, none known
    by the call's date (`refused` says why), none promoted, or unusable artifacts; the
    catch-all (a changed feature schema) only when none of those holds."""
    if any(r["job"] == "retrain" for r in job_runs.running(db)):
        return TRAINING
    if not db["models"].count:
        return NOT_YET
    if refused:
        return NOT_KNOWN
    if quarantined:
        return BROKEN
    if not db["models"].count_where("status IN ('serving', 'retired', 'pruned')"):
        return NOT_PROMOTED
    return NO_MODEL


def model_forecasts(
    db: sqlite_utils.Database,
    home: Path,
    bars: dict[str, pd.DataFrame],
    as_of: pd.Timestamp | None,
    horizons: list[int],
    day: date | None = None,
) -> tuple[dict[str, SymbolForecast], ServingNote]:
    """({symbol: SymbolForecast}, why the rules serve the others instead)."""
    if not bars or as_of is None:
        return {}, ServingNote(NO_MODEL)
    from assistant.modeling import serving as forecasting

    try:
        serving = forecasting.load_serving(db, home, day)
        out = forecasting.forecast(serving, bars, as_of, horizons) or {}
    except Exception as exc:  # one failing model never kills the cycle: rules serve
        log.warning("model forecast failed, rules serve: %s", exc)
        return {}, ServingNote(f"model forecast failed ({type(exc).__name__}: {exc}): rules serve")
    refused = "; ".join(serving.notes + serving.quarantines)
    why = (
        NO_FORECAST
        if serving
        else why_no_model(db, "; ".join(serving.notes), bool(serving.quarantines))
    )
    per_symbol = {}
    if serving:
        trained = ", ".join(serving.trained_on())
        for sym, kinds in serving.coverings(bars).items():
            if not kinds:
                per_symbol[sym] = (
                    f"no serving model was trained on {sym} (they were trained on {trained}): "
                    "rules serve"
                )
    return dict(out), ServingNote(why, per_symbol, refused)


def rule_thresholds(
    db: sqlite_utils.Database, horizons: list[int], known_by: date | None
) -> dict[int, float | None]:
    """Per horizon, the evidence threshold |P(up) - P(down)| the rule pool must clear to
    call, chosen as a trained model chooses its own on validation
    (`models.selective.choose_threshold`), on the rule pool's newest verified calls known
    by `known_by` (FLAT ones too: their evidence and outcome are stored). None until one
    qualifies: the rules never call without measured evidence."""
    from models import selective

    out: dict[int, float | None] = {}
    for h in horizons:
        rows = ledger.evidence_record(db, RULES_VERSION, h, known_by, RULE_GATE_CALLS)
        if not rows:
            out[h] = None
            continue
        up, down, realized, majority = (
            np.array([r[k] for r in rows], dtype=float) for k in range(4)
        )
        out[h] = selective.choose_threshold(up - down, realized, majority_up_val=majority > 0)
    return out


def skill_text(label: str, record: list[tuple[str, int, int, int]], h: int) -> str:
    """One line of measured skill from verified UP/DOWN calls [(as_of, hit, up_hit,
    majority_hit)]: hit rate next to the stronger baseline on the same calls, n and p."""
    from models.metrics import paired_p

    if not record:
        return f"{label}: no measured edge yet, n=0"
    dates = np.array([r[0] for r in record])
    hit, up, maj = (np.array([r[k] for r in record], dtype=float) for k in (1, 2, 3))
    which = stronger_baseline(float(up.mean()), float(maj.mean()))
    name, base = BASELINE_LABEL[which], (up if which == "always_up" else maj)
    p = paired_p(hit, base, dates, h)
    ptext = "n/a" if p is None else f"{p:.2g}"
    head = (
        f"hit {100 * hit.mean():.0f}% vs {name} {100 * base.mean():.0f}%, n={len(hit)}, p={ptext}"
    )
    if p is None or p >= 0.05 or hit.mean() <= base.mean():
        return f"{label}: no measured edge yet ({head})"
    return f"{label}: {head}"


def live_records(
    db: sqlite_utils.Database, versions: list[str], symbols: list[str], known_by: date | None
) -> LiveRecords:
    """The live record of each model version on `symbols`: its verified calls whose
    outcome was known by `known_by` (the calls' date)."""
    return {v: ledger.live_record(db, v, symbols, known_by) for v in versions}


def skill_lines(records: LiveRecords, plans: list[Plan]) -> dict[tuple[str, int], str]:
    """Measured skill of whatever serves each call: held-out metrics and the live record
    (`records`, by `live_records`)."""
    out = {}
    for p in plans:
        key = (p.evidence.symbol, p.evidence.horizon)
        live = records.get(p.model_version, {}).get(key, [])
        if p.rules_only:
            out[key] = skill_text("rules", live, p.evidence.horizon)
        else:
            held = _held_out(p.evidence.model.skill if p.evidence.model else {}, p.evidence.horizon)
            out[key] = (f"held-out: {held}; " if held else "") + skill_text(
                "live", live, p.evidence.horizon
            )
    return out


def _held_out(skill: Mapping[int, object], horizon: int) -> str:
    """The serving model's held-out record at one horizon, in words: its hit rate on the
    calls it made next to the baselines' on the same rows, or that it abstained."""
    part = at_horizon(skill, horizon, skill)
    if not isinstance(part, Mapping):
        return str(part)[:120]

    def pct(key: str) -> str | None:
        v = part.get(key)
        return f"{100 * v:.1f}%" if isinstance(v, int | float) else None

    rows = part.get("n_rows")
    on = f" of {rows:,} test rows" if isinstance(rows, int) else ""
    n = part.get("n")
    if not n or part.get("dir_accuracy") == "abstains":
        return f"no call on any{on} (it abstains); always-up {pct('always_up') or '-'}"
    bases = ", ".join(
        f"{label} {v}"
        for label, v in (("always-up", pct("always_up")), ("majority", pct("majority")))
        if v
    )
    p = part.get("p_value")
    ptext = f", p={p:.2g}" if isinstance(p, int | float) else ""
    return f"hit {pct('dir_accuracy') or '-'} on {n:,} calls{on} vs {bases or 'no baseline'}{ptext}"


def encode_signals(p: Plan) -> str:
    """The signals JSON of a stored prediction (read back by verification and the TUI)."""
    ev = p.evidence
    info: dict[str, Json] = {
        "contributions": {c.name: round(100 * c.contribution, 6) for c in p.contributions},
        "votes": {c.name: c.vote for c in p.contributions if c.name != "model"},  # drift too
        "weights": {c.name: c.weight for c in p.contributions},
        "flat_band": p.flat_band,
        "sigma": ev.sigma,
        "raw_confidence": p.raw_confidence,
        # the call before the baseline rule: calibration learns from its hits, so calls
        # made FLAT by it still teach what such calls are worth
        "lean": {"up": 1, "down": -1}.get(p.lean, 0),
        "last_move": ev.last_move,
        "majority": ev.majority,
        "range_q": list(ev.range_q),
        "vol": ev.vol,
        "serving": "rules" if p.rules_only else "model",
    }
    if ev.model is not None:
        info["model_return"] = ev.model.expected_return
        info["model_call"] = model_call(ev.model)  # what the backtest scores for this row
    if p.rules_only:
        info["note"] = ev.note or f"{RULES_VERSION}: rule signals only"
    elif ev.note:
        info["note"] = ev.note
    return json.dumps(info, separators=(",", ":"))
