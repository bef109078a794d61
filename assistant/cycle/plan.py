"""plan(): from evidence and weights to one call — a pure function, no I/O.

Every source of evidence states an expected h-session log return and a distribution:
- each rule signal votes v in [-1, 1]; rules have no measured edge, so a full vote
  tilts the expectation by only RULE_SCALE trailing standard deviations;
- the drift (mean trailing h-session return) is a source of its own: with no other view
  the call leans the way the market has been going, like the majority baseline;
- the trained model (when one serves) brings its own expected return and P(down, flat, up).
The call is a linear opinion pool: each source's share is its weight over the sum of
weights, an abstaining rule pulls toward zero change (the honest default), and each
source's contribution is its share times its expected return. The call follows the
outcome rules (`models.outcomes.call_of`): UP or DOWN when that class is the most likely
and the pooled expectation agrees, else FLAT (no directional call), so a call never
reads "UP -0.01%". Whatever calls faces the same gate: the serving model its threshold
chosen on validation, the rule pool alone (no model serves) the threshold chosen on its
own verified past calls (`rules_gated`), so without measured evidence a call is FLAT.
The FLAT band is the one the outcome rules score with. Confidence is the probability
that the call hits (`outcomes.hit_probability`), recalibrated by realized hit rates when
enough calls in that bucket have been scored; a call whose confidence is below the
stronger baseline's hit rate is made FLAT (`outcomes.keep_call`); a FLAT call has no
confidence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, cast

from models import outcomes
from models.outcomes import bucket_of
from vocab.jsontypes import Json

if TYPE_CHECKING:
    from assistant.modeling.serving import Skill

RULES_VERSION = (
    "signals-v1"  # the untrained rule-signal pool; never a registry id (those are <kind>-v<N>)
)
RULE_SCALE = 0.1  # a unanimous rule vote moves the expectation by 0.1 sigma
DEFAULT_WEIGHT = 1.0
DEFAULT_MODEL_WEIGHT = 3.0  # a trained model starts with the say of three rules
CALIBRATION_MIN_N = 10  # calls in a bucket before realized outcomes move confidence
CALIBRATION_PRIOR = 20.0  # shrink toward the stated confidence with this many pseudo-calls


@dataclass(frozen=True)
class ModelView:
    """What the serving model says for one symbol and horizon."""

    version: str
    expected_return: float  # log return over the horizon
    probs: tuple[float, float, float]  # down, flat, up
    skill: dict[int, Skill] = field(default_factory=dict)
    gated: bool = False  # True: call only when |P(up) - P(down)| clears `threshold`
    threshold: float | None = None  # chosen on validation; None with gated: never call


@dataclass(frozen=True)
class Evidence:
    symbol: str
    as_of: date
    horizon: int
    base_price: float
    sigma: float  # std of trailing h-session log returns
    regime: str
    votes: dict[str, float]
    model: ModelView | None = None
    drift: float = 0.0  # mean trailing h-session log return
    last_move: int = 0  # sign of the h-session move ending at as_of (a baseline's call)
    majority: int = 1  # the causal majority direction at as_of (a baseline's call)
    baseline_rate: float = 0.5  # the stronger baseline's hit rate known at as_of
    flat_band: float = 0.0  # half-width of the FLAT zone (models.outcomes.band at as_of)
    vol_sigma: float = 0.0  # forecast std of the h-session log return (0: use sigma)
    range_q: tuple[float, float] = (1.2816, 1.96)  # sigma multipliers of the 80% / 95% ranges
    # the variance forecast, its model and baselines (stored as JSON with the call's signals)
    vol: dict[str, Json] = field(default_factory=dict)
    # stated-confidence bucket -> (n, hits) of scored calls like this one
    calibration: dict[int, tuple[int, int]] = field(default_factory=dict)
    note: str = ""  # why no model serves, when none does
    # with no model: call only when |P(up) - P(down)| clears the threshold chosen on the
    # rule pool's own verified past calls (None: none qualified, never call)
    rules_gated: bool = False
    rules_threshold: float | None = None


@dataclass(frozen=True)
class Contribution:
    name: str
    vote: float
    weight: float
    expected_return: float
    contribution: float  # share of the pooled expected log return


@dataclass(frozen=True)
class Plan:
    evidence: Evidence
    contributions: tuple[Contribution, ...]
    expected_return: float  # log
    probs: tuple[float, float, float]  # down, flat, up
    direction: str  # up | flat | down
    raw_confidence: float
    confidence: float | None  # None for FLAT: no directional claim, nothing to be confident of
    interval: tuple[float, float]  # the 80% range, log returns
    interval95: tuple[float, float]  # the 95% range, log returns
    flat_band: float
    model_version: str
    rules_only: bool
    abstained: bool = False  # the evidence did not clear its threshold (model's or rules')
    lean: str = "flat"  # the call before the baseline rule (calibration learns its hits)
    lean_confidence: float = 0.0  # its calibrated hit probability
    below_baseline: bool = False  # made FLAT: lean_confidence < evidence.baseline_rate

    @property
    def change_pct(self) -> float:
        return 100.0 * math.expm1(self.expected_return)

    def top(self, k: int = 3) -> list[Contribution]:
        moved = [c for c in self.contributions if c.contribution != 0.0]
        return sorted(moved, key=lambda c: -abs(c.contribution))[:k]


_SQRT2 = math.sqrt(2.0)


def _phi(z: float) -> float:
    return 0.5 * math.erfc(-z / _SQRT2)


def normal_probs(mu: float, sigma: float, band: float) -> tuple[float, float, float]:
    """P(down, flat, up) of a N(mu, sigma) log return against a +-band FLAT zone."""
    if sigma <= 0:
        return (float(mu < -band), float(-band <= mu <= band), float(mu > band))
    down = 0.5 * math.erfc(-((-band - mu) / sigma) / _SQRT2)
    up = 1.0 - 0.5 * math.erfc(-((band - mu) / sigma) / _SQRT2)
    return (down, max(0.0, 1.0 - down - up), up)


def calibrate(raw: float, table: dict[int, tuple[int, int]]) -> float:
    n, hits = table.get(bucket_of(raw), (0, 0))
    if n < CALIBRATION_MIN_N:
        return raw
    return (hits + CALIBRATION_PRIOR * raw) / (n + CALIBRATION_PRIOR)


def _call_of(probs: tuple[float, float, float], mu: float) -> str:
    """`outcomes.call_of` of one forecast, without its arrays (a cycle plans 1,500)."""
    down, flat, up = probs
    if up > down and up >= flat and mu >= 0:
        return "up"
    if down > up and down >= flat and mu <= 0:
        return "down"
    return "flat"


def _gate(call: str, probs: tuple[float, ...], threshold: float | None) -> str:
    """`outcomes.gate` of one call."""
    if threshold is None or abs(probs[2] - probs[0]) < threshold:
        return "flat"
    return call


def plan(evidence: Evidence, weights: dict[str, float]) -> Plan:
    """Combine the evidence with the current weights into one call for one horizon.
    (The same sums in the same order as one source at a time: each source's share is
    its weight over the total, once, and each probability the sum of shares times it.)"""
    sigma = max(float(evidence.sigma), 1e-9)
    width = float(evidence.vol_sigma) if evidence.vol_sigma > 0 else sigma
    band = float(evidence.flat_band)
    names: list[str] = []
    votes: list[float] = []
    ws: list[float] = []
    mus: list[float] = []
    ps: list[tuple[float, float, float]] = []
    get = weights.get
    scale = RULE_SCALE * sigma
    for name, vote in sorted(evidence.votes.items()):
        v = max(-1.0, min(1.0, float(vote)))
        mu = v * RULE_SCALE * sigma
        names.append(name)
        votes.append(v)
        ws.append(float(get(name, DEFAULT_WEIGHT)))
        mus.append(mu)
        ps.append(normal_probs(mu, sigma, band))
    if evidence.drift:
        mu = float(evidence.drift)
        names.append("drift")
        votes.append(max(-1.0, min(1.0, mu / scale)))
        ws.append(float(get("drift", DEFAULT_WEIGHT)))
        mus.append(mu)
        ps.append(normal_probs(mu, sigma, band))
    model = evidence.model
    normed = None
    if model is not None:
        normed = _norm(model.probs)
        names.append("model")
        votes.append(max(-1.0, min(1.0, model.expected_return / sigma)))
        ws.append(float(get("model", DEFAULT_MODEL_WEIGHT)))
        mus.append(float(model.expected_return))
        ps.append(normed)
    total = sum(ws)
    if total <= 0:
        raise ValueError("plan needs at least one source with a positive weight")
    shares = [w / total for w in ws]
    parts = [s * m for s, m in zip(shares, mus, strict=True)]
    contributions = tuple(map(Contribution, names, votes, ws, mus, parts))
    mu = sum(parts)
    probs = (
        float(sum([s * p[0] for s, p in zip(shares, ps, strict=True)])),
        float(sum([s * p[1] for s, p in zip(shares, ps, strict=True)])),
        float(sum([s * p[2] for s, p in zip(shares, ps, strict=True)])),
    )
    # Conflicting pooled distribution and expectation (a skewed model head, say) is FLAT.
    lean = _call_of(probs, mu)
    abstained = False
    if model is not None and model.gated:
        gated = _gate(lean, cast(tuple[float, float, float], normed), model.threshold)
        abstained, lean = gated == "flat" and lean != "flat", gated
    elif model is None and evidence.rules_gated:
        gated = _gate(lean, probs, evidence.rules_threshold)
        abstained, lean = gated == "flat" and lean != "flat", gated
    # Confidence is the probability that the call hits, calibrated by realized hit rates;
    # a call that would not beat the stronger baseline is not made (outcomes.keep_call).
    raw = outcomes.hit_probability(probs, lean) if lean != "flat" else float(probs[1])
    lean_confidence = calibrate(raw, evidence.calibration) if lean != "flat" else 0.0
    direction = outcomes.keep_call(lean, lean_confidence, evidence.baseline_rate)
    q80, q95 = evidence.range_q
    return Plan(
        evidence=evidence,
        contributions=contributions,
        expected_return=mu,
        probs=probs,
        direction=direction,
        raw_confidence=raw,
        confidence=None if direction == "flat" else lean_confidence,
        interval=(mu - q80 * width, mu + q80 * width),
        interval95=(mu - q95 * width, mu + q95 * width),
        flat_band=band,
        model_version=model.version if model is not None else RULES_VERSION,
        rules_only=model is None,
        abstained=abstained,
        lean=lean,
        lean_confidence=lean_confidence,
        below_baseline=direction != lean,
    )


def model_call(model: ModelView) -> str:
    """The serving model's own call, as the walk-forward backtest makes and scores it: the
    outcome rules' call of its distribution and expected return, gated by its threshold.
    (The call a cycle makes pools it with the rule signals and drift.)"""
    call = outcomes.call_of(model.probs, model.expected_return)
    if model.gated:
        call = outcomes.gate(call, model.probs, model.threshold)
    return str(call[0])


def _norm(p: tuple[float, float, float]) -> tuple[float, float, float]:
    clipped = [max(0.0, float(x)) for x in p]
    s = sum(clipped)
    return (1 / 3, 1 / 3, 1 / 3) if s <= 0 else (clipped[0] / s, clipped[1] / s, clipped[2] / s)
