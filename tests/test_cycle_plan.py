"""plan() on hand-built evidence: a pure function from evidence and weights to one call."""

from __future__ import annotations

import copy
import math

import pytest

from assistant.cycle.plan import RULES_VERSION, Evidence, ModelView, plan

VOTES = {"rsi": 0.0, "macd": 1.0, "cross": 1.0, "regime": 0.0}


def evidence(**kw) -> Evidence:
    base = dict(
        symbol="AAA",
        as_of="2024-03-01",
        horizon=5,
        base_price=100.0,
        sigma=0.03,
        regime="bullish",
        votes=dict(VOTES),
    )
    base.update(kw)
    return Evidence(**base)


def test_rules_alone_make_a_call_and_say_so():
    p = plan(evidence(), {})
    assert p.rules_only and p.model_version == RULES_VERSION
    assert p.direction == "up" and p.expected_return > 0
    assert p.probs[2] > p.probs[0] and math.isclose(sum(p.probs), 1.0)
    # contributions add up to the call; abstaining signals contribute nothing
    assert math.isclose(sum(c.contribution for c in p.contributions), p.expected_return)
    assert {c.name for c in p.top()} == {"macd", "cross"}
    lo, hi = p.interval
    assert lo < p.expected_return < hi


def test_weights_decide_between_disagreeing_signals():
    votes = {"rsi": -1.0, "macd": 1.0, "cross": 0.0, "regime": 0.0}
    trust_macd = plan(evidence(votes=votes), {"rsi": 0.1, "macd": 3.0})
    trust_rsi = plan(evidence(votes=votes), {"rsi": 3.0, "macd": 0.1})
    assert trust_macd.direction == "up" and trust_rsi.direction == "down"
    by_name = {c.name: c for c in trust_macd.contributions}
    assert by_name["macd"].weight == 3.0 and by_name["rsi"].weight == 0.1
    assert abs(by_name["macd"].contribution) > abs(by_name["rsi"].contribution)


def test_drift_breaks_a_tie_the_way_the_market_has_been_going():
    votes = {"rsi": 0.0, "macd": 1.0, "cross": -1.0, "regime": 0.0}
    assert plan(evidence(votes=votes, drift=-0.004), {}).direction == "down"
    assert plan(evidence(votes=votes, drift=0.004), {}).direction == "up"


def test_a_serving_model_joins_the_pool_and_names_the_version():
    model = ModelView("xgboost-3", expected_return=-0.02, probs=(0.6, 0.2, 0.2))
    p = plan(evidence(model=model), {})
    assert not p.rules_only and p.model_version == "xgboost-3"
    assert p.direction == "down"  # the model outweighs two mild rule votes
    assert [c.name for c in p.top(1)] == ["model"]
    assert p.probs[0] > 0.4


def test_confidence_is_recalibrated_by_realized_hit_rates():
    raw = plan(evidence(), {})
    bucket = int(raw.raw_confidence * 10)
    burnt = plan(evidence(calibration={bucket: (200, 20)}), {})  # stated ~45%, realized 10%
    assert burnt.raw_confidence == pytest.approx(raw.raw_confidence)
    assert burnt.lean_confidence < raw.raw_confidence - 0.2
    # below the stronger baseline's hit rate: no call, and no confidence shown
    assert burnt.direction == "flat" and burnt.confidence is None and burnt.below_baseline
    few = plan(evidence(calibration={bucket: (3, 0)}), {})  # too few calls to move it
    assert few.direction == raw.direction != "flat"
    assert few.confidence == pytest.approx(raw.raw_confidence)


def test_a_call_is_made_only_when_its_hit_probability_beats_the_stronger_baseline():
    model = ModelView("xgboost-3", expected_return=0.01, probs=(0.2, 0.2, 0.6))
    made = plan(evidence(model=model, baseline_rate=0.55), {})
    # the confidence is the probability that it hits: P(up) + half of P(flat)
    assert made.direction == "up"
    assert made.confidence == pytest.approx(made.probs[2] + made.probs[1] / 2)
    assert made.confidence >= 0.55
    strong_base = plan(evidence(model=model, baseline_rate=made.confidence + 0.01), {})
    assert strong_base.direction == "flat" and strong_base.confidence is None
    assert strong_base.lean == "up" and strong_base.below_baseline


def test_plan_is_pure():
    ev = evidence()
    weights = {"macd": 2.0}
    before = (copy.deepcopy(ev.votes), dict(weights))
    assert plan(ev, weights) == plan(ev, weights)
    assert (ev.votes, weights) == before


def test_zero_weights_are_refused():
    with pytest.raises(ValueError):
        plan(evidence(votes={"rsi": 1.0}), {"rsi": 0.0})


def test_a_call_never_contradicts_its_own_expected_change():
    # The model's class head leans up while its return head expects a fall: no call either way.
    skewed = ModelView("xgboost-v1", expected_return=-0.004, probs=(0.30, 0.10, 0.60))
    p = plan(
        evidence(votes={"rsi": 0.0, "macd": 0.0, "cross": 0.0, "regime": 0.0}, model=skewed), {}
    )
    assert p.expected_return < 0 and p.probs[2] > p.probs[0]
    assert p.direction == "flat" and p.raw_confidence == p.probs[1]
    agreeing = ModelView("xgboost-v1", expected_return=0.004, probs=(0.30, 0.10, 0.60))
    assert plan(evidence(model=agreeing), {}).direction == "up"


def test_a_gated_model_calls_only_past_its_validation_threshold():
    strong = ModelView("xgboost-v1", 0.02, (0.2, 0.1, 0.7), gated=True, threshold=0.3)
    p = plan(evidence(model=strong), {})
    assert p.direction == "up" and not p.abstained
    weak = ModelView("xgboost-v1", 0.02, (0.2, 0.1, 0.7), gated=True, threshold=0.6)
    p = plan(evidence(model=weak), {})
    assert p.direction == "flat" and p.abstained  # "no edge", whatever the rules say
    never = ModelView("xgboost-v1", 0.02, (0.05, 0.05, 0.9), gated=True, threshold=None)
    assert plan(evidence(model=never), {}).direction == "flat"
    ungated = ModelView("xgboost-v1", 0.02, (0.2, 0.1, 0.7))
    assert plan(evidence(model=ungated), {}).direction == "up"


def test_ranges_widen_with_the_volatility_forecast_and_the_multipliers():
    narrow = plan(evidence(vol_sigma=0.01), {})
    wide = plan(evidence(vol_sigma=0.02), {})
    for p, s in ((narrow, 0.01), (wide, 0.02)):
        assert p.interval[1] - p.interval[0] == pytest.approx(2 * 1.2816 * s)
        assert p.interval95[1] - p.interval95[0] == pytest.approx(2 * 1.96 * s)
    doubled = plan(evidence(vol_sigma=0.01, range_q=(2.5, 3.9)), {})
    assert doubled.interval[1] - doubled.interval[0] == pytest.approx(2 * 2.5 * 0.01)
