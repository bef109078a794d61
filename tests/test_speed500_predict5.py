"""Issue 34, the 500-symbol cycle (seventh pass): each faster path of the cycle gives exactly
what the computation it replaced gave, bit for bit (the replaced one kept here as the
reference)."""

from __future__ import annotations

import math
import random
from datetime import date

import numpy as np
import pandas as pd
import pytest

from assistant.cycle import plan as plan_mod
from assistant.cycle.plan import (
    DEFAULT_MODEL_WEIGHT,
    DEFAULT_WEIGHT,
    RULE_SCALE,
    RULES_VERSION,
    Contribution,
    Evidence,
    ModelView,
    Plan,
    calibrate,
)
from models import features, outcomes, signals
from models import indicators as ind


def _old_phi(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def _old_normal_probs(mu: float, sigma: float, band: float) -> tuple[float, float, float]:
    if sigma <= 0:
        return (float(mu < -band), float(-band <= mu <= band), float(mu > band))
    down = _old_phi((-band - mu) / sigma)
    up = 1.0 - _old_phi((band - mu) / sigma)
    return (down, max(0.0, 1.0 - down - up), up)


def _old_norm(p: tuple[float, float, float]) -> tuple[float, float, float]:
    clipped = [max(0.0, float(x)) for x in p]
    s = sum(clipped)
    return (1 / 3, 1 / 3, 1 / 3) if s <= 0 else (clipped[0] / s, clipped[1] / s, clipped[2] / s)


def old_plan(evidence: Evidence, weights: dict[str, float]) -> Plan:
    """`plan` before the seventh pass (a source's probabilities by a generator per class,
    the call and its gate by `outcomes`' arrays of one row)."""
    sigma = max(float(evidence.sigma), 1e-9)
    width = float(evidence.vol_sigma) if evidence.vol_sigma > 0 else sigma
    band = float(evidence.flat_band)
    sources: list[tuple[str, float, float, float, tuple[float, float, float]]] = []
    for name, vote in sorted(evidence.votes.items()):
        v = max(-1.0, min(1.0, float(vote)))
        mu = v * RULE_SCALE * sigma
        w = float(weights.get(name, DEFAULT_WEIGHT))
        sources.append((name, v, w, mu, _old_normal_probs(mu, sigma, band)))
    if evidence.drift:
        mu = float(evidence.drift)
        vote = max(-1.0, min(1.0, mu / (RULE_SCALE * sigma)))
        w = float(weights.get("drift", DEFAULT_WEIGHT))
        sources.append(("drift", vote, w, mu, _old_normal_probs(mu, sigma, band)))
    model = evidence.model
    if model is not None:
        w = float(weights.get("model", DEFAULT_MODEL_WEIGHT))
        vote = max(-1.0, min(1.0, model.expected_return / sigma))
        sources.append(("model", vote, w, float(model.expected_return), _old_norm(model.probs)))
    total = sum(s[2] for s in sources)
    if total <= 0:
        raise ValueError("plan needs at least one source with a positive weight")
    contributions = tuple(Contribution(n, v, w, mu, w / total * mu) for n, v, w, mu, _ in sources)
    mu = sum(c.contribution for c in contributions)
    probs = tuple(float(sum(s[2] / total * s[4][k] for s in sources)) for k in range(3))
    call = outcomes.call_of(probs, mu)
    abstained = False
    gate = None
    if model is not None and model.gated:
        gate = (_old_norm(model.probs), model.threshold)
    elif model is None and evidence.rules_gated:
        gate = (probs, evidence.rules_threshold)
    if gate is not None:
        gated = outcomes.gate(call, gate[0], gate[1])
        abstained = bool(gated[0] == "flat" and call[0] != "flat")
        call = gated
    lean = str(call[0])
    raw = outcomes.hit_probability(probs, lean) if lean != "flat" else float(probs[1])
    lean_confidence = calibrate(raw, evidence.calibration) if lean != "flat" else 0.0
    direction = outcomes.keep_call(lean, lean_confidence, evidence.baseline_rate)
    return Plan(
        evidence=evidence,
        contributions=contributions,
        expected_return=mu,
        probs=(probs[0], probs[1], probs[2]),
        direction=direction,
        raw_confidence=raw,
        confidence=None if direction == "flat" else lean_confidence,
        interval=(mu - evidence.range_q[0] * width, mu + evidence.range_q[0] * width),
        interval95=(mu - evidence.range_q[1] * width, mu + evidence.range_q[1] * width),
        flat_band=band,
        model_version=model.version if model is not None else RULES_VERSION,
        rules_only=model is None,
        abstained=abstained,
        lean=lean,
        lean_confidence=lean_confidence,
        below_baseline=direction != lean,
    )


def _evidence(rng: random.Random, i: int) -> tuple[Evidence, dict[str, float]]:
    """Evidence of every shape a cycle plans: rules only (gated, a threshold or none), a
    model (gated or not, a threshold or none, skewed or degenerate probabilities), no drift,
    a zero or tiny sigma, no band, votes past +-1, zero and negative weights, calibration."""
    sigma = rng.choice([0.0, 1e-12, 0.004, 0.02, 0.05, rng.uniform(1e-4, 0.1)])
    votes = {
        name: rng.choice([0.0, 1.0, -1.0, 1.7, -3.0, rng.uniform(-1, 1)])
        for name in rng.sample(
            ["rsi", "macd", "sma_cross", "bollinger", "trend"], rng.randint(0, 5)
        )
    }
    model = None
    if rng.random() < 0.6:
        probs = rng.choice(
            [
                (rng.random(), rng.random(), rng.random()),
                (0.0, 0.0, 0.0),
                (-0.1, 0.3, 0.8),
                (0.2, 0.2, 0.2),
            ]
        )
        model = ModelView(
            f"xgboost-v{i % 3}",
            rng.choice([0.0, rng.gauss(0, 0.02), -0.05, 1.0]),
            probs,
            gated=rng.random() < 0.7,
            threshold=rng.choice([None, 0.0, 0.05, rng.random() * 0.3]),
        )
    calibration = {
        b: (rng.randint(0, 40), rng.randint(0, 20)) for b in range(10) if rng.random() < 0.5
    }
    ev = Evidence(
        symbol=f"S{i:03d}",
        as_of=date(2007, 11, 20),
        horizon=rng.choice([1, 5, 20]),
        base_price=rng.uniform(5, 500),
        sigma=sigma,
        regime=rng.choice(["bull", "bear", "chop"]),
        votes=votes,
        model=model,
        drift=rng.choice([0.0, rng.gauss(0, 0.01), 0.3]),
        baseline_rate=rng.choice([0.0, 0.5, rng.uniform(0.4, 0.7), 1.0]),
        flat_band=rng.choice([0.0, 0.002, rng.uniform(0, 0.02)]),
        vol_sigma=rng.choice([0.0, rng.uniform(0.001, 0.1)]),
        range_q=rng.choice([(1.2816, 1.96), (rng.uniform(0.5, 2), rng.uniform(1.5, 3))]),
        calibration=calibration,
        rules_gated=rng.random() < 0.8,
        rules_threshold=rng.choice([None, 0.0, 0.01, rng.random() * 0.2]),
    )
    names = [*votes, "drift", "model", "other"]
    weights = {
        n: rng.choice([0.0, 0.5, 1.0, 2.5, rng.uniform(0, 5)]) for n in names if rng.random() < 0.5
    }
    return ev, weights


def _bits(p: Plan) -> str:
    """Every field, floats by their bits (repr is exact), NaN and -0.0 included."""
    return repr(p)


def test_plan_equals_the_plan_it_replaced_bit_for_bit():
    rng = random.Random(34)
    made = directions = 0
    seen = set()
    for i in range(6000):
        ev, weights = _evidence(rng, i)
        try:
            want = old_plan(ev, weights)
        except ValueError as exc:
            with pytest.raises(ValueError, match=str(exc)):
                plan_mod.plan(ev, weights)
            continue
        got = plan_mod.plan(ev, weights)
        assert _bits(got) == _bits(want), i
        assert type(got.probs[0]) is type(want.probs[0]) is float
        made += 1
        directions += got.direction != "flat"
        seen.add((got.lean, got.abstained, got.below_baseline, got.rules_only))
    # every branch was taken: directional calls, gated ones, ones below the baseline
    assert made > 4000 and directions > 300
    assert {(True, False), (False, True)} <= {(a, b) for _, a, b, _ in seen}
    assert {True, False} == {r for *_, r in seen}
    assert {"up", "down", "flat"} == {lean for lean, *_ in seen}


def test_normal_probs_equal_the_old_ones_bit_for_bit():
    rng = random.Random(7)
    for _ in range(20000):
        mu = rng.choice([0.0, -0.0, rng.gauss(0, 0.05), 1e-300, -2.0])
        sigma = rng.choice([0.0, -1.0, 1e-9, rng.uniform(1e-5, 0.2)])
        band = rng.choice([0.0, rng.uniform(0, 0.03)])
        assert repr(plan_mod.normal_probs(mu, sigma, band)) == repr(
            _old_normal_probs(mu, sigma, band)
        )


def test_decide_finds_each_exchange_days_target_once_and_the_same(monkeypatch):
    """`_call`'s target dates, found once per (exchange, as_of, horizon), are the ones
    found per call (`add_sessions` of each)."""
    from assistant.cycle import run

    ev = _evidence(random.Random(1), 0)[0]
    calls = []
    seen: list[tuple[object, ...]] = []
    real = run.add_sessions

    def counted(*a):
        seen.append(a)
        return real(*a)

    monkeypatch.setattr(run, "add_sessions", counted)
    targets: dict = {}
    for sym in ("AAA", "BBB", "7203.T", "CCC"):
        for h in (1, 5, 20):
            e = Evidence(**{**ev.__dict__, "symbol": sym, "horizon": h})
            p = plan_mod.plan(e, {})
            calls.append((run._call(p, "XNYS", {}, None, None, targets), run._call(p, "XNYS", {})))
    assert all(a == b for a, b in calls)
    assert len(seen) == 2 * 3 + 4 * 3  # the memo's misses, then each call's own


@pytest.mark.parametrize("models", [1, 2, 3, 5, 7, 8, 9])
def test_pooled_means_equal_each_rows_own_mean_bit_for_bit(models):
    """`serving._pooled_means` against the mean of each row's list (what `_forecast_group`
    took symbol by symbol), with -0.0, NaN, infinities and magnitudes far apart."""
    import numpy as np

    from assistant.modeling import serving
    from models.base import Forecast

    rng = np.random.default_rng(models)
    special = np.array([-0.0, 0.0, np.nan, np.inf, -np.inf, 1e-320, 1e308, -1e308])
    usable = []
    for _ in range(models):
        er = rng.normal(size=(60, 3)) * 10.0 ** rng.integers(-6, 6, size=(60, 3))
        probs = rng.random(size=(60, 3, 3))
        er[rng.integers(0, 60, 8), rng.integers(0, 3, 8)] = rng.choice(special, 8)
        probs[rng.integers(0, 60, 8), rng.integers(0, 3, 8), rng.integers(0, 3, 8)] = rng.choice(
            special, 8
        )
        usable.append(Forecast((1, 5, 20), er, probs))
    got = serving._pooled_means(usable, 5)
    if models >= 8:
        assert got is None  # a row at a time: the mean along the models' axis differs
        stacked = np.mean(np.stack([f.expected_return[:, 1] for f in usable]), axis=0)
        rows = [float(np.mean([f.expected_return[j, 1] for f in usable])) for j in range(60)]
        assert repr(stacked.tolist()) != repr(rows)
        return
    assert got is not None
    for j in range(60):
        want_er = float(np.mean([f.expected_return[j, 1] for f in usable]))
        p = np.mean([f.probs[j, 1] for f in usable], axis=0)
        assert repr(got[0][j]) == repr(want_er), j
        assert repr(tuple(got[1][j])) == repr((float(p[0]), float(p[1]), float(p[2]))), j


def test_a_fits_rows_taken_as_runs_equal_the_element_gather():
    """`volatility._take` of `_rows_at` is `a[idx[:, None], np.flatnonzero(used)]`: the
    same values, shape and C order, for rows in one run (from the first, in the middle,
    to the end, one row, all) and rows with gaps or none."""
    import numpy as np

    from models import volatility

    rng = np.random.default_rng(5)
    x = rng.normal(size=(9, 40, 4))
    t = rng.normal(size=(9, 40))
    patterns = [np.zeros(40, bool), np.ones(40, bool)]
    for lo, hi in [(0, 10), (3, 40), (12, 13), (5, 37)]:
        used = np.zeros(40, bool)
        used[lo:hi] = True
        patterns.append(used)
    gaps = np.ones(40, bool)
    gaps[[4, 17]] = False
    patterns += [gaps, rng.random(40) < 0.5]
    for idx in (np.arange(9), np.array([0, 3, 8]), np.array([4])):
        for used in patterns:
            at = volatility._rows_at(used)
            one_run = bool(used.any()) and bool(np.all(np.diff(np.flatnonzero(used)) == 1))
            assert isinstance(at, slice) == one_run
            for a in (x, t):
                want = a[idx[:, None], np.flatnonzero(used)]
                got = volatility._take(a, idx, at)
                assert got.shape == want.shape and got.flags.c_contiguous
                assert got.tobytes() == want.tobytes()


def _old_ranks(today, pred, horizons, watched, out):
    """`ranks_as_of`'s last loop before the seventh pass (two Series look-ups a symbol)."""
    import pandas as pd

    from models import ranking

    for i, h in enumerate(horizons):
        score = pd.Series(pred[:, i], index=today.index)
        ranks = ranking.rank_of(score)
        for sym in today.index:
            if watched is not None and sym not in watched:
                continue
            out.by_symbol.setdefault(str(sym), {})[h] = (
                int(ranks[sym]),
                len(today),
                float(score[sym]),
            )
    return out


def test_ranks_equal_the_ranks_of_two_series_lookups_a_symbol(monkeypatch):
    """`ranking.ranks_as_of` (ranks and scores by position) against the loop it replaced,
    with the ranker's float32 scores, ties and symbols outside the watchlist."""
    import numpy as np

    from assistant.modeling import ranking as serve_ranking
    from tests.test_speed500 import _bars

    names = [f"S{i:02d}" for i in range(12)]
    bars = {s: _bars(300, seed=i)[["open", "high", "low", "close"]] for i, s in enumerate(names)}
    as_of = bars[names[0]].index[-1]
    seen = {}

    class Model:
        horizons = (1, 5, 20)

        def predict(self, today: pd.DataFrame) -> np.ndarray:
            rng = np.random.default_rng(3)
            pred = rng.normal(0, 0.01, (len(today), 3)).astype(np.float32)
            pred[2, 0] = pred[5, 0]  # a tie: ranked first come first
            pred[7, 1] = -0.0
            seen["today"], seen["pred"] = today, pred
            return pred

    row = {"id": "ranking-v1", "symbols": names[1:]}  # one symbol it was not trained on
    monkeypatch.setattr(serve_ranking, "load_ranking", lambda db, home, day: (row, Model()))
    watched = set(names[::2])
    got = serve_ranking.ranks_as_of(None, None, bars, as_of, None, watched=watched)
    assert got is not None and len(got.by_symbol) == len(watched) - 1
    want = _old_ranks(
        seen["today"],
        seen["pred"],
        Model.horizons,
        watched,
        serve_ranking.Ranks("ranking-v1", as_of.date()),
    )
    assert repr(got) == repr(want)
    everyone = serve_ranking.ranks_as_of(None, None, bars, as_of, None)
    want = _old_ranks(
        seen["today"],
        seen["pred"],
        Model.horizons,
        None,
        serve_ranking.Ranks("ranking-v1", as_of.date()),
    )
    assert repr(everyone) == repr(want)


def _old_pct_b(close, n=20, k=2.0):
    """`indicators.bollinger_pct_b` before the seventh pass."""
    from models import indicators as ind

    mid = ind.sma(close, n)
    sd = ind.rolling(close, n, "std", n, ddof=0)
    upper, lower = mid + k * sd, mid - k * sd
    return (close - lower) / (upper - lower)


def _old_zscore(x, n=20):
    """`indicators.zscore` before the seventh pass."""
    from models import indicators as ind

    mean = ind.rolling(x, n, "mean", n)
    sd = ind.rolling(x, n, "std", n)
    return (x - mean) / sd.replace(0, np.nan)


def old_build_wide(
    index: pd.Index,
    bars: dict[str, pd.DataFrame],
    out: np.ndarray | None = None,
    tail: int | None = None,
) -> np.ndarray:
    """(FEATURES, symbols, sessions) for symbols whose bars all have exactly `index`: every
    indicator runs once over the wide panel, column by column (the same values as one
    symbol at a time, at a fraction of the cost). Each feature is written into `out` (or a
    new array) as soon as it is computed: a 500-symbol panel never holds every feature
    twice. With `tail`, only the last `tail` sessions are written (each computed from the
    whole history, as without it)."""
    n = len(index)
    keep = n if tail is None else min(tail, n)
    if out is None:
        out = np.empty((len(features.FEATURES), len(bars), keep))
    column = {name: j for j, name in enumerate(features.FEATURES)}

    def put(name: str, value: object) -> None:
        values, rows = out[column[name]], np.asarray(value, dtype="float64")
        values[...] = rows[len(rows) - keep :].T  # the last `keep` sessions
        values[np.isinf(values)] = np.nan

    names = ["close", "high", "low", "volume"]
    arrays = [ind.columns_of(b, names) for b in bars.values()]  # one conversion a frame

    def wide(col: str) -> pd.DataFrame:
        k = names.index(col)
        data = np.column_stack([a[k] for a in arrays])
        return pd.DataFrame(data, index=index)

    close, high, low = wide("close"), wide("high"), wide("low")
    logc = np.log(close)
    r1 = logc.diff()
    vol = ind.rolling(r1, features.VOL_WINDOW, "std", features.VOL_WINDOW)
    nonzero = vol.where(vol != 0)
    for k in features.RETURN_LAGS:
        put(f"ret_{k}", logc - logc.shift(k))
    put("ret_1_z", r1 / nonzero)
    # what the signals' votes and regimes use too (the same calls, computed once)
    known = {"rsi": ind.rsi(close), "macd_hist": ind.macd_hist(close)}
    known |= {f"sma_{w}": ind.sma(close, w) for w in (20, *features.SMA_WINDOWS)}
    known["realized_vol"] = vol * np.sqrt(252)  # ind.realized_vol(close, 20): r1 is its returns
    put("rsi_14", known["rsi"] / 100 - 0.5)
    put("macd_hist", known["macd_hist"] / close)
    for w in features.SMA_WINDOWS:
        put(f"sma_{w}_ratio", close / known[f"sma_{w}"] - 1)
    put("bb_pct_b", _old_pct_b(close))
    put("atr_14", ind.atr(high, low, close) / close)
    put("vol_20", vol)
    put("vol_ratio", ind.rolling(r1, 5, "std", 5) / nonzero)
    volume = wide("volume")
    put("volume_z", _old_zscore(np.log1p(volume.clip(lower=0)), 20))
    # a row's wavelet features use its own window of returns only
    wv = features.wavelet_features(
        r1.to_numpy()[max(0, n - keep - (features.WAVELET_WINDOW - 1)) :]
    )
    for i in range(features.WAVELET_LEVEL):
        put(f"wv_energy_{i + 1}", wv[:, :, i])
    put("wv_trend", wv[:, :, features.WAVELET_LEVEL])
    del wv
    votes = signals.votes(close, known=known)
    for s in signals.SIGNALS:
        put(f"sig_{s}", votes[s])
    return out


def _panel_bars(n: int, seed: int):
    """Bars with volume, a close lost inside, a late start, a flat stretch (zero
    volatility: the z-scores' and ratios' division by zero), zero volume, a zero close."""
    from tests.test_speed500 import _bars

    out = {}
    for i in range(6):
        b = _bars(n, seed=seed + i)
        b["volume"] = np.random.default_rng(seed + i).integers(0, 10**6, n).astype(float)
        out[f"S{i}"] = b
    if n > 80:
        out["S1"].iloc[n // 2, 3] = np.nan
        out["S2"].iloc[: n // 4] = np.nan
        out["S3"].iloc[n - 45 :, :4] = 20.0  # flat: volatility 0 at the end
        out["S4"].iloc[n - 30 :, 4] = 0.0  # no volume
        out["S5"].iloc[n - 7, 3] = 0.0  # log(0): -inf returns
    return out


@pytest.mark.parametrize("n", [30, 90, 260])
@pytest.mark.parametrize("tail", [None, 1, 5, 21, 60, 400])
def test_features_of_the_rows_written_equal_the_whole_frames_features(monkeypatch, n, tail):
    """`features.build_panel` (element-wise steps on the rows written only) against the
    features computed on whole frames and then cut (`_build_wide` before the seventh
    pass), every value's bits, NaN included."""
    bars = _panel_bars(n, seed=n)
    got = features.build_panel(bars, tail=tail)
    with monkeypatch.context() as m:
        m.setattr(features, "_build_wide", old_build_wide)
        want = features.build_panel(bars, tail=tail)
    assert got.index.equals(want.index) and list(got.columns) == list(want.columns)
    assert got.to_numpy().tobytes() == want.to_numpy().tobytes()
    one = bars["S5"]
    with monkeypatch.context() as m:
        m.setattr(features, "_build_wide", old_build_wide)
        want_one = features.build(one)
    assert features.build(one).to_numpy().tobytes() == want_one.to_numpy().tobytes()


@pytest.mark.parametrize("n", [10, 60, 230])
def test_the_analysis_votes_of_the_last_session_equal_the_whole_frames_last_row(n):
    """`analyze_many`'s votes (of the last session only, the SMA50 the regimes computed
    shared) against the votes of every session (the old call), and its regimes against
    `regime.states`."""
    from assistant.cycle import analyze
    from models import regime

    bars = _panel_bars(max(n, 90), seed=n)
    close = pd.DataFrame({s: b["close"] for s, b in bars.items()}).iloc[-n:]
    close.iloc[-1, 1] = np.nan  # a missing last close
    close.iloc[:, 4] = np.linspace(10, 30, n)  # a steady rise: bullish ...
    close.iloc[-1, 4] = 90.0  # ... until a jump makes the last session volatile
    labels, trend, vol = regime.states(close)
    want = {k: v[-1] for k, v in signals.votes(close, labels).items()}
    got_labels, got_trend, got_vol, known = regime.states_with(close)
    assert (got_labels == labels).all()
    assert got_trend.to_numpy().tobytes() == trend.to_numpy().tobytes()
    assert got_vol.to_numpy().tobytes() == vol.to_numpy().tobytes()
    last = {k: f.iloc[-1:] for k, f in signals.inputs(close, known).items()}
    got = signals.votes(close.iloc[-1:], got_labels[-1:], known=last)
    assert list(got) == list(want)
    for k in want:
        assert got[k][-1].tobytes() == want[k].tobytes(), k
    if n >= 60:  # the regime changes at the last session (the votes must be of that one)
        assert labels[-2, 4] == "bullish" and labels[-1, 4] == "volatile"
    # and through the cycle's analysis: each symbol's votes are the full votes' last row
    full = {s: b.iloc[-max(n, analyze.MIN_SESSIONS) :].copy() for s, b in bars.items()}
    full["S4"]["close"] = np.linspace(10, 30, len(full["S4"]))
    full["S4"].iloc[-1, 3] = 90.0
    found, _ = analyze.analyze_many(full, [1, 5], {})
    wide = pd.DataFrame({s: b["close"] for s, b in full.items()})
    every = signals.votes(wide, regime.states(wide)[0])
    for j, s in enumerate(wide.columns):
        assert found[s].votes == {k: float(v[-1, j]) for k, v in every.items()}


def _old_exchange_for(symbol: str, default: str = "XNYS") -> str:
    """`calendar.exchange_for` before the seventh pass (its tables built at each call)."""
    if symbol.endswith("-USD") and symbol.split("-")[0] in {
        "BTC",
        "ETH",
        "SOL",
        "DOGE",
        "XRP",
        "ADA",
    }:
        return "24/7"
    if symbol.endswith("=X"):
        return "24/5"
    suffixes = {
        ".T": "XTKS",
        ".L": "XLON",
        ".NS": "XBOM",
        ".BO": "XBOM",
        ".DE": "XETR",
        ".PA": "XPAR",
        ".HK": "XHKG",
        ".TO": "XTSE",
        ".AX": "XASX",
    }
    for suffix, exchange in suffixes.items():
        if symbol.endswith(suffix):
            return exchange
    return default


def test_exchange_for_remembered_equals_the_old_one():
    """`calendar.exchange_for` (its tables once, its answers remembered) against the old
    one, each symbol asked twice and under two defaults (the memory is by both)."""
    from assistant.calendar import exchange_for

    symbols = [
        "AAPL", "BTC-USD", "ETH-USD", "ADA-USD", "FOO-USD", "BTC-USDX", "EURUSD=X", "7203.T",
        "VOD.L", "RELIANCE.NS", "TCS.BO", "SAP.DE", "MC.PA", "0700.HK", "RY.TO", "BHP.AX",
        "X.TO.L", "T", ".T", "", "^GSPC", "BRK-B",
    ]  # fmt: skip
    for default in ("XNYS", "XLON", "XNYS"):
        for sym in symbols * 2:
            assert exchange_for(sym, default) == _old_exchange_for(sym, default), (sym, default)
